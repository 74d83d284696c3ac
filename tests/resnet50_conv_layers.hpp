#pragma once
// The convolutions of torchvision ResNet-50 (stride on the 3x3) at 224x224, batch 1: every
// distinct layer once, with its multiplicity, 53 convs in all. One table so that the kernel
// tests check exactly the shapes that bench_kernels times, filled with the same seeded values.
#include <cstddef>
#include <random>
#include <vector>

#include "resnet/kernels/conv_params.hpp"

namespace resnet50 {

struct ConvLayer {
  const char* kind;               // benchmark name tag: kernel size and stride
  resnet::kernels::ConvShape s;   // {in_c, out_c, kernel, stride, pad}
  int side;                       // input height = width
  int count;                      // how many times ResNet-50 has this layer
};

inline constexpr ConvLayer kConvLayers[] = {
    {"7x7_stem", {3, 64, 7, 2, 3}, 224, 1},      {"1x1_s1", {64, 64, 1, 1, 0}, 56, 1},
    {"3x3_s1", {64, 64, 3, 1, 1}, 56, 3},        {"1x1_s1", {64, 256, 1, 1, 0}, 56, 4},
    {"1x1_s1", {256, 64, 1, 1, 0}, 56, 2},       {"1x1_s1", {256, 128, 1, 1, 0}, 56, 1},
    {"3x3_s2", {128, 128, 3, 2, 1}, 56, 1},      {"1x1_s1", {128, 512, 1, 1, 0}, 28, 4},
    {"1x1_s2", {256, 512, 1, 2, 0}, 56, 1},      {"1x1_s1", {512, 128, 1, 1, 0}, 28, 3},
    {"3x3_s1", {128, 128, 3, 1, 1}, 28, 3},      {"1x1_s1", {512, 256, 1, 1, 0}, 28, 1},
    {"3x3_s2", {256, 256, 3, 2, 1}, 28, 1},      {"1x1_s1", {256, 1024, 1, 1, 0}, 14, 6},
    {"1x1_s2", {512, 1024, 1, 2, 0}, 28, 1},     {"1x1_s1", {1024, 256, 1, 1, 0}, 14, 5},
    {"3x3_s1", {256, 256, 3, 1, 1}, 14, 5},      {"1x1_s1", {1024, 512, 1, 1, 0}, 14, 1},
    {"3x3_s2", {512, 512, 3, 2, 1}, 14, 1},      {"1x1_s1", {512, 2048, 1, 1, 0}, 7, 3},
    {"1x1_s2", {1024, 2048, 1, 2, 0}, 14, 1},    {"1x1_s1", {2048, 512, 1, 1, 0}, 7, 2},
    {"3x3_s1", {512, 512, 3, 1, 1}, 7, 2},
};

/// `count` values uniform in [-1, 1), the same for the same seed.
inline std::vector<float> random_vector(std::size_t count, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (auto& x : v) x = dist(gen);
  return v;
}

}  // namespace resnet50
