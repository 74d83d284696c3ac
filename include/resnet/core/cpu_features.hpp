#pragma once
/// What the CPU running us can execute, and what this build compiled: the two halves of
/// "may the int8 / bf16 kernels run here". Asking for a precision either half lacks is a
/// resnet::Error that names the missing feature (core/precision.hpp), never a SIGILL.
///
/// Why the reduced-precision kernels carry GCC/Clang `target` attributes instead of
/// relying on -mavx512vnni / -mavx512bf16 (or -march=native) for the whole build: the
/// library is header-only, so its users choose the flags, and a distribution or CI build
/// for baseline x86-64 should still get the int8 path on a CPU that has it. The attribute
/// makes the compiler emit VPDPBUSD / VDPBF16PS inside those functions only; everything
/// else keeps the user's flags, and the CPUID check below decides at run time whether
/// they may be called. The price is nil where it matters: each kernel is one non-inlined
/// call per panel of the product, and its inner loop lives wholly inside the attributed
/// function. A build with -mavx512vnni gains nothing from the attributes but loses
/// nothing either.

#include <cstdint>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

namespace resnet {

/// The x86 features the reduced-precision kernels need. `os_zmm`: the OS saves and
/// restores the opmask and all 512-bit registers (XCR0 bits 1, 2, 5, 6, 7); without it
/// the instructions fault even where CPUID lists them.
struct CpuFeatures {
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512_vnni = false, avx512_bf16 = false;
  bool os_zmm = false;
};

/// Which kernels this build contains. Kernels exist whenever the compiler can target the
/// instructions from inside a function (`target` attribute), whatever the build's -m
/// flags; `native_*` says the build itself was compiled with the feature enabled
/// (__AVX512VNNI__ / __AVX512BF16__), for information (e.g. `resnet bench` output).
struct BuildFeatures {
  bool int8_kernels = false, bf16_kernels = false;
  bool native_vnni = false, native_bf16 = false;
};

// GCC 8 and Clang 6 first know avx512vnni as a target; GCC 10 and Clang 9 avx512bf16.
// RESNET_NO_LOWP_KERNELS leaves both out (a compiler that chokes on them).
#if !defined(RESNET_NO_LOWP_KERNELS) && defined(__x86_64__) && \
    ((defined(__clang__) && __clang_major__ >= 6) || (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 8))
#define RESNET_HAVE_INT8_KERNELS 1
#endif
#if !defined(RESNET_NO_LOWP_KERNELS) && defined(__x86_64__) && \
    ((defined(__clang__) && __clang_major__ >= 9) || (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 10))
#define RESNET_HAVE_BF16_KERNELS 1
#endif

/// The features of this build (a compile-time fact).
constexpr BuildFeatures build_features() noexcept {
  BuildFeatures b;
#if defined(RESNET_HAVE_INT8_KERNELS)
  b.int8_kernels = true;
#endif
#if defined(RESNET_HAVE_BF16_KERNELS)
  b.bf16_kernels = true;
#endif
#if defined(__AVX512VNNI__)
  b.native_vnni = true;
#endif
#if defined(__AVX512BF16__)
  b.native_bf16 = true;
#endif
  return b;
}

namespace detail {

/// Reads CPUID and XCR0; all false on a non-x86 build.
inline CpuFeatures query_cpu_features() noexcept {
  CpuFeatures f;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return f;
  const unsigned max_leaf = eax;
  if (max_leaf < 7) return f;
  __get_cpuid(1, &eax, &ebx, &ecx, &edx);
  const bool osxsave = (ecx >> 27) & 1u;  // XGETBV is usable
  if (osxsave) {
    std::uint32_t xcr0_lo = 0, xcr0_hi = 0;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    // SSE and AVX state (bits 1, 2), opmask (5), upper halves of zmm0-15 (6), zmm16-31 (7).
    f.os_zmm = (xcr0_lo & 0xE6u) == 0xE6u;
  }
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const unsigned leaf7_subleaves = eax;
  f.avx512f = (ebx >> 16) & 1u;
  f.avx512dq = (ebx >> 17) & 1u;
  f.avx512bw = (ebx >> 30) & 1u;
  f.avx512vl = (ebx >> 31) & 1u;
  f.avx512_vnni = (ecx >> 11) & 1u;
  if (leaf7_subleaves >= 1) {
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    f.avx512_bf16 = (eax >> 5) & 1u;
  }
#endif
  return f;
}

}  // namespace detail

/// The CPU's features, read once per process (CPUID does not change under us).
inline const CpuFeatures& cpu_features() noexcept {
  static const CpuFeatures features = detail::query_cpu_features();
  return features;
}

}  // namespace resnet
