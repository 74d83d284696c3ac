#pragma once
/// Vocabulary shared by the layer templates: spatial extents, the bias and
/// activation switches, batch-norm epsilons as types, and a seeded weight source for
/// models that run without a weight file (benchmarks, demos).

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace resnet {

/// Height and width of a feature map; batch and channels travel separately.
struct Extent {
  int h = 0, w = 0;
};

enum class Bias : bool { none = false, with = true };

/// What follows a layer inside a fused unit.
enum class Act { linear, relu };

/// Batch-norm epsilons differ per family (docs/spec.md 1.9); a float cannot be a template
/// argument in C++17, so each one is a type.
struct TorchEps {
  static constexpr float value = 1e-5f;
};
struct KerasEps {
  static constexpr float value = 1.001e-5f;
};
struct KerasLegacyEps {
  static constexpr float value = 1e-3f;
};

/// Seeded random weights: He-normal kernels and mild batch-norm statistics, so a
/// model without a weight file still produces finite, input-dependent outputs.
class RandomWeights {
 public:
  explicit RandomWeights(std::uint64_t seed) : engine_(seed) {}

  std::vector<float> normal(std::size_t count, float stddev) {
    std::normal_distribution<float> dist(0.0f, stddev);
    std::vector<float> v(count);
    for (auto& x : v) x = dist(engine_);
    return v;
  }
  std::vector<float> uniform(std::size_t count, float lo, float hi) {
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(count);
    for (auto& x : v) x = dist(engine_);
    return v;
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace resnet
