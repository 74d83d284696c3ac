#pragma once
/// Separate compilation, for programs of many translation units. Header-only (the
/// default), a few entry points into heavy code (the conv kernels, the weight-file
/// parsers, the head fit) are inline functions, and every translation unit that calls
/// one compiles all the code beneath it again: half of the machine code of a program
/// that uses one model (docs/design.md). A program may instead define
/// RESNET_SEPARATE_COMPILATION in every one of its translation units and compile
/// src/separate.cpp once with it (CMake: the option RESNET_SEPARATE_COMPILATION builds
/// this project's own programs so); those entry
/// points are then only declared in the headers, and compiled once, in that file, which
/// also defines RESNET_SEPARATE_SOURCE. The pattern of Asio's ASIO_SEPARATE_COMPILATION.
/// The named models' forward, loading and random initialisation (all the blocks and
/// layers beneath them) go the same way, by explicit instantiation: the headers declare
/// them `extern template` (RESNET_SEPARATE_MODEL, models/network.hpp) and
/// src/models_*.cpp compile them once, so such a program compiles those files too.
///
///   #if RESNET_SEPARATE_DEFINITIONS
///   RESNET_SEPARATE_INLINE void Thing::entry() { ... }
///   #endif

#if !defined(RESNET_SEPARATE_COMPILATION)
#define RESNET_SEPARATE_DEFINITIONS 1
#define RESNET_SEPARATE_INLINE inline
#elif defined(RESNET_SEPARATE_SOURCE)
#define RESNET_SEPARATE_DEFINITIONS 1
#define RESNET_SEPARATE_INLINE
#else
#define RESNET_SEPARATE_DEFINITIONS 0
#endif
