#pragma once
/// The four shortcuts of the ResNet family (docs/spec.md 1.4, 1.6): identity, a 1x1
/// projection (conv, with a BN in V1), CIFAR's option A (subsample and zero channels
/// on both sides) and Keras V2's 1x1 stride-2 max pool, which is plain subsampling.

#include <algorithm>
#include <cstring>
#include <string>

#include "resnet/core/workspace.hpp"
#include "resnet/io/weights.hpp"
#include "resnet/layers/common.hpp"

namespace resnet {

template <int C>
struct Identity {
  static constexpr int in_channels = C;
  static constexpr int out_channels = C;
  static constexpr Extent output_extent(Extent in) noexcept { return in; }
  static constexpr long long parameter_count() noexcept { return 0; }
  static constexpr long long non_trainable_count() noexcept { return 0; }
  static constexpr long long macs(Extent) noexcept { return 0; }
  void load(WeightReader&, const std::string&) {}
  void init_random(RandomWeights&) {}
  Shape plan(const Shape& in, MemoryPlan&, int) const { return in; }
  FeatureMap forward(const FeatureMap& x, Workspace&, const float* = nullptr) const { return x; }
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

  void load(WeightReader& reader, const std::string& prefix) {
    unit_.load(reader, reader.block_conv(prefix, 0), reader.block_bn(prefix, 0));
  }
  void init_random(RandomWeights& rng) { unit_.init_random(rng); }
  Shape plan(const Shape& in, MemoryPlan& plan, int threads) const { return unit_.plan(in, plan, threads); }
  /// `keep`: a live map the result must not overwrite.
  FeatureMap forward(const FeatureMap& x, Workspace& ws, const float* keep = nullptr) const {
    return unit_.forward(x, ws.free_buffer({x.data, keep}), ws);
  }

 private:
  Unit unit_;
};

namespace detail {
/// x[:, ::2, ::2, :] written into channels [offset, offset + C) of an OutC-channel map
/// whose other channels are zero. Output side ceil(side / 2), as a stride-2 conv gives.
inline FeatureMap subsample_into(const FeatureMap& x, float* out, int out_channels, int offset) {
  const Shape s = x.shape;
  const Shape o{s.n, (s.h + 1) / 2, (s.w + 1) / 2, out_channels};
  if (out_channels != s.c) std::fill(out, out + o.elements(), 0.0f);
  for (int n = 0; n < s.n; ++n)
    for (int y = 0; y < o.h; ++y)
      for (int xx = 0; xx < o.w; ++xx)
        std::memcpy(out + ((static_cast<std::size_t>(n) * o.h + y) * o.w + xx) * out_channels + offset,
                    x.data + ((static_cast<std::size_t>(n) * s.h + 2 * y) * s.w + 2 * xx) * s.c,
                    sizeof(float) * s.c);
  return {out, o};
}
}  // namespace detail

/// x[:, ::2, ::2, :] with (Out - In) / 2 zero channels on each side, so output channel
/// c reads input channel c - (Out - In) / 2. With Out > In this is CIFAR's option A
/// (docs/spec.md 1.4); with Out == In it is Keras V2's MaxPooling2D(1, strides=2), whose 1x1
/// window makes it plain subsampling. Output side ceil(side / 2), as a stride-2 conv.
template <int In, int Out = In>
struct SubsampleShortcut {
  static_assert(Out >= In && (Out - In) % 2 == 0,
                "SubsampleShortcut: Out must be In plus an even number of zero channels");
  static constexpr int in_channels = In;
  static constexpr int out_channels = Out;
  static constexpr Extent output_extent(Extent in) noexcept { return {(in.h + 1) / 2, (in.w + 1) / 2}; }
  static constexpr long long parameter_count() noexcept { return 0; }
  static constexpr long long non_trainable_count() noexcept { return 0; }
  static constexpr long long macs(Extent) noexcept { return 0; }
  void load(WeightReader&, const std::string&) {}
  void init_random(RandomWeights&) {}
  Shape plan(const Shape& in, MemoryPlan& plan, int) const {
    const Shape out{in.n, (in.h + 1) / 2, (in.w + 1) / 2, Out};
    plan.need_activation(out);
    return out;
  }
  FeatureMap forward(const FeatureMap& x, Workspace& ws, const float* keep = nullptr) const {
    return detail::subsample_into(x, ws.free_buffer({x.data, keep}), Out, (Out - In) / 2);
  }
};

/// CIFAR option A under its usual name.
template <int In, int Out>
using ZeroPadShortcut = SubsampleShortcut<In, Out>;

}  // namespace resnet
