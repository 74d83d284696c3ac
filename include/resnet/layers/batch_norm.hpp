#pragma once
/// Inference batch norm: y = x * a + (beta - mean * a), a = gamma / sqrt(var + eps).
/// Where a conv precedes it, ConvUnit folds it into the conv at load time; this class
/// runs it on its own only where it cannot be folded (Keras V2 pre-activation and
/// post-norm, which precede a ReLU and feed a shortcut or the head).

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "resnet/core/error.hpp"
#include "resnet/core/workspace.hpp"
#include "resnet/layers/common.hpp"

namespace resnet {

/// Marks "no normalisation" where a BatchNorm could stand.
struct NoNorm {
  static constexpr int channels = 0;  // matches nothing; ConvUnit checks BatchNorms only
  static constexpr long long parameter_count() noexcept { return 0; }
  static constexpr long long non_trainable_count() noexcept { return 0; }
};

template <int C, class Eps>
class BatchNorm {
  static_assert(C > 0, "BatchNorm: the channel count must be positive");

 public:
  static constexpr int channels = C;
  static constexpr int in_channels = C;
  static constexpr int out_channels = C;
  static constexpr float epsilon = Eps::value;
  static constexpr long long parameter_count() noexcept { return 2LL * C; }      // gamma, beta
  static constexpr long long non_trainable_count() noexcept { return 2LL * C; }  // mean, var

  /// The per-channel affine form (scale a, shift b) of stored statistics.
  static void affine(const BatchNormParams& p, std::vector<float>& scale, std::vector<float>& shift) {
    scale.resize(C);
    shift.resize(C);
    for (int c = 0; c < C; ++c) {
      scale[c] = p.gamma[c] / std::sqrt(p.var[c] + epsilon);
      shift[c] = p.beta[c] - p.mean[c] * scale[c];
    }
  }

  static BatchNormParams random_params(RandomWeights& rng) {
    return {rng.uniform(C, 0.5f, 1.0f), rng.uniform(C, -0.1f, 0.1f), rng.uniform(C, -0.1f, 0.1f),
            rng.uniform(C, 0.5f, 1.5f)};
  }

  template <class Loader>
  void load(Loader& loader, const std::string& site) {
    affine(loader.batch_norm(site, C), scale_, shift_);
  }
  void init_random(RandomWeights& rng) { affine(random_params(rng), scale_, shift_); }

  static constexpr Extent output_extent(Extent in) noexcept { return in; }
  static constexpr long long macs(Extent) noexcept { return 0; }

  /// out = fusion.act(x * a + b + fusion.residual), NHWC.
  FeatureMap forward(const FeatureMap& in, Workspace& ws, const Fusion& fusion = {}) const {
    detail::expect_channels("BatchNorm", in.shape(), C);
    detail::expect_residual("BatchNorm", in.shape(), fusion);
    FeatureMap out = ws.allocate(in.shape());
    if (ws.planning()) return out;
    const float* scale = scale_.data();
    const float* shift = shift_.data();
    const float* src = in.data();
    float* dst = out.data();
    ws.pool().parallel_for(static_cast<std::ptrdiff_t>(in.shape().n) * in.shape().h * in.shape().w,
                           [&](std::ptrdiff_t begin, std::ptrdiff_t end) {
                             for (std::ptrdiff_t p = begin; p < end; ++p)
                               for (int c = 0; c < C; ++c) dst[p * C + c] = src[p * C + c] * scale[c] + shift[c];
                             detail::apply_fusion(dst, static_cast<std::size_t>(begin) * C,
                                                  static_cast<std::size_t>(end) * C, fusion);
                           });
    return out;
  }

 private:
  std::vector<float> scale_, shift_;
};

}  // namespace resnet
