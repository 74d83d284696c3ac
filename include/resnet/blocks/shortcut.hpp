#pragma once
/// The four shortcuts of the ResNet family (docs/spec.md 1.4, 1.6): identity, a 1x1
/// projection (conv, with a BN in V1), CIFAR's option A (subsample and zero channels
/// on both sides) and Keras V2's 1x1 stride-2 max pool, which is plain subsampling.
/// Each follows the layer contract of layers/common.hpp; their weights are the block's.

#include <algorithm>
#include <cstring>
#include <string>

#include "resnet/core/workspace.hpp"
#include "resnet/layers/common.hpp"

namespace resnet {

template <int C>
struct Identity : Weightless {
  static constexpr int in_channels = C;
  static constexpr int out_channels = C;
  static constexpr Extent output_extent(Extent in) noexcept { return in; }
  /// The input itself, shared; a fusion needs an output of its own.
  FeatureMap forward(const FeatureMap& x, Workspace& ws, const Fusion& fusion = {}) const {
    if (!fusion.residual && fusion.act == Act::linear) return x;
    detail::expect_residual("Identity", x.shape(), fusion);
    FeatureMap out = ws.allocate(x.shape());
    if (ws.planning()) return out;
    std::memcpy(out.data(), x.data(), sizeof(float) * x.size());
    detail::apply_fusion(out.data(), 0, out.size(), fusion);
    return out;
  }
};

/// A 1x1 conv unit on the shortcut; the block's conv number 0 in every naming scheme.
template <class Unit>
class Projection {
 public:
  static constexpr int in_channels = Unit::in_channels;
  static constexpr int out_channels = Unit::out_channels;
  static constexpr Extent output_extent(Extent in) noexcept { return Unit::output_extent(in); }
  static constexpr long long parameter_count() noexcept { return Unit::parameter_count(); }
  static constexpr long long non_trainable_count() noexcept { return Unit::non_trainable_count(); }
  static constexpr long long macs(Extent in) noexcept { return Unit::macs(in); }

  template <class Loader>
  void load(Loader& loader, const std::string& block) {
    unit_.load(loader, loader.conv(block, 0), loader.bn(block, 0));
  }
  void init_random(RandomWeights& rng) { unit_.init_random(rng); }
  /// int8: how the projection quantizes its input (ConvUnit::u8_input()), or null.
  const kernels::QuantParams* u8_input() const noexcept { return detail::u8_input_of(unit_, 0); }
  /// bf16: whether the projection takes its input as bf16 values (ConvUnit::bf16_input()).
  bool bf16_input() const noexcept { return detail::bf16_input_of(unit_, 0); }
  FeatureMap forward(const FeatureMap& x, Workspace& ws, const Fusion& fusion = {}) const {
    return unit_.forward(x, ws, fusion);
  }

 private:
  Unit unit_;
};

/// x[:, ::2, ::2, :] with (Out - In) / 2 zero channels on each side, so output channel
/// c reads input channel c - (Out - In) / 2. With Out > In this is CIFAR's option A
/// (docs/spec.md 1.4); with Out == In it is Keras V2's MaxPooling2D(1, strides=2), whose 1x1
/// window makes it plain subsampling. Output side ceil(side / 2), as a stride-2 conv.
template <int In, int Out = In>
struct SubsampleShortcut : Weightless {
  static_assert(Out >= In && (Out - In) % 2 == 0,
                "SubsampleShortcut: Out must be In plus an even number of zero channels");
  static constexpr int in_channels = In;
  static constexpr int out_channels = Out;
  static constexpr Extent output_extent(Extent in) noexcept { return {(in.h + 1) / 2, (in.w + 1) / 2}; }

  FeatureMap forward(const FeatureMap& x, Workspace& ws, const Fusion& fusion = {}) const {
    const Shape s = x.shape();
    detail::expect_channels("SubsampleShortcut", s, In);
    const Extent e = output_extent({s.h, s.w});
    detail::expect_residual("SubsampleShortcut", {s.n, e.h, e.w, Out}, fusion);
    FeatureMap result = ws.allocate({s.n, e.h, e.w, Out});
    if (ws.planning()) return result;
    float* out = result.data();
    constexpr int offset = (Out - In) / 2;
    if (Out != In) std::fill(out, out + result.size(), 0.0f);
    for (int n = 0; n < s.n; ++n)
      for (int y = 0; y < e.h; ++y)
        for (int xx = 0; xx < e.w; ++xx)
          std::memcpy(out + ((static_cast<std::size_t>(n) * e.h + y) * e.w + xx) * Out + offset,
                      x.data() + ((static_cast<std::size_t>(n) * s.h + 2 * y) * s.w + 2 * xx) * In,
                      sizeof(float) * In);
    detail::apply_fusion(out, 0, result.size(), fusion);
    return result;
  }
};

/// CIFAR option A under its usual name.
template <int In, int Out>
using ZeroPadShortcut = SubsampleShortcut<In, Out>;

}  // namespace resnet
