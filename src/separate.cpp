// The library's heavy entry points compiled once, for a program whose other files define
// RESNET_SEPARATE_COMPILATION (core/separate.hpp says why; CMake: the option of that name
// builds this project's tests, examples and resnet command so).
#define RESNET_SEPARATE_SOURCE
#include "resnet/kernels/conv2d.hpp"
#include "resnet/io/safetensors.hpp"
#include "resnet/io/torch_checkpoint.hpp"
#include "resnet/transfer/logistic_regression.hpp"
