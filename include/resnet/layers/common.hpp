#pragma once
/// Vocabulary shared by the layer templates: spatial extents, the bias switch, batch-norm
/// epsilons as types and statistics, and a seeded weight source for models that run
/// without a weight file (benchmarks, demos). Act and Fusion live in core/fusion.hpp.
///
/// The layer contract. Every layer and block (and a user's own) provides:
///   static constexpr int in_channels, out_channels;
///   static constexpr Extent output_extent(Extent in);
///   static constexpr long long parameter_count(), non_trainable_count(), macs(Extent in);
///   template <class Loader> void load(Loader&, <its site names>);
///   void init_random(RandomWeights&);
///   FeatureMap forward(const FeatureMap& in, Workspace& ws, const Fusion& fusion = {}) const;
/// forward() allocates its output from `ws` (and whatever it keeps alive meanwhile),
/// returns out = fusion.act(layer(in) + fusion.residual), and while ws.planning() only
/// allocates and asks for scratch. Pools and padding work on any channel count and have
/// no channel constants.

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "resnet/core/precision.hpp"
#include "resnet/core/error.hpp"
#include "resnet/core/fusion.hpp"
#include "resnet/core/tensor.hpp"

namespace resnet {

/// Height and width of a feature map; batch and channels travel separately.
struct Extent {
  int h = 0, w = 0;
};

enum class Bias : bool { none = false, with = true };

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

namespace detail {
/// A layer's run-time check of what its template fixes: a map of the wrong width is an error, never a stray read.
inline void expect_channels(const char* layer, const Shape& in, int channels) {
  if (in.c != channels)
    throw Error(ErrorKind::shape_mismatch, std::string(layer) + ": input " + in.str() + " has " +
                                               std::to_string(in.c) + " channels, expected " + std::to_string(channels));
}
}  // namespace detail

/// Batch-norm statistics as stored; folded or applied by the layer that owns them.
struct BatchNormParams {
  std::vector<float> gamma, beta, mean, var;
};

/// The weight members of the layer contract for layers that have none (pools, padding,
/// parameter-free shortcuts): nothing to count, load or draw.
struct Weightless {
  static constexpr long long parameter_count() noexcept { return 0; }
  static constexpr long long non_trainable_count() noexcept { return 0; }
  static constexpr long long macs(Extent) noexcept { return 0; }
  template <class Loader>
  void load(Loader&, const std::string&) {}
  template <class Rng>
  void init_random(Rng&) {}
};

/// Seeded random weights: He-normal kernels and mild batch-norm statistics, so a
/// model without a weight file still produces finite, input-dependent outputs.
class RandomWeights {
 public:
  explicit RandomWeights(std::uint64_t seed) : engine_(seed) {}

  /// What convolutions pack their weights for (ModelOptions::precision, lowp_layers).
  ConvArithmetic arithmetic;

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
