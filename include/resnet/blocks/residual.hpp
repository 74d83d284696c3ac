#pragma once
/// Residual blocks: post-activation (V1: out = act(main(x) + shortcut(x))) and
/// pre-activation (V2: a = relu(bn(x)); out = main(a) + shortcut(a or x)). The
/// addition and the ReLU after it run in the epilogue of the main path's last conv.

#include <string>

#include "resnet/blocks/sequential.hpp"
#include "resnet/blocks/shortcut.hpp"
#include "resnet/layers/batch_norm.hpp"

namespace resnet {

template <class Main, class Shortcut, Act After = Act::relu>
class Residual {
  static_assert(Main::in_channels == Shortcut::in_channels,
                "Residual: the main path and the shortcut take different input channel counts");
  static_assert(Main::out_channels == Shortcut::out_channels,
                "Residual: the main path and the shortcut give different channel counts; "
                "use Projection<...> or ZeroPadShortcut<In, Out> as the shortcut");

 public:
  static constexpr int in_channels = Main::in_channels;
  static constexpr int out_channels = Main::out_channels;

  static constexpr Extent output_extent(Extent in) noexcept { return Main::output_extent(in); }
  static constexpr long long parameter_count() noexcept {
    return Main::parameter_count() + Shortcut::parameter_count();
  }
  static constexpr long long non_trainable_count() noexcept {
    return Main::non_trainable_count() + Shortcut::non_trainable_count();
  }
  static constexpr long long macs(Extent in) noexcept { return Main::macs(in) + Shortcut::macs(in); }

  void load(WeightReader& reader, const std::string& prefix) {
    main_.load(reader, prefix);
    shortcut_.load(reader, prefix);
  }
  void init_random(RandomWeights& rng) {
    main_.init_random(rng);
    shortcut_.init_random(rng);
  }

  Shape plan(const Shape& in, MemoryPlan& plan, int threads) const {
    shortcut_.plan(in, plan, threads);
    return main_.plan(in, plan, threads);
  }

  FeatureMap forward(const FeatureMap& x, Workspace& ws) const {
    const FeatureMap sc = shortcut_.forward(x, ws);
    return main_.forward(x, ws, sc.data, sc.data, After == Act::relu);
  }

 private:
  Main main_;
  Shortcut shortcut_;
};

/// Pre-activation block (Keras V2, docs/spec.md 1.4). A projection shortcut reads the
/// pre-activated `a`; identity and subsampling shortcuts read the raw input `x`.
template <class PreNorm, class Main, class Shortcut, bool ShortcutOnPreactivation>
class PreActResidual {
  static_assert(PreNorm::channels == Main::in_channels,
                "PreActResidual: the pre-activation BatchNorm must have the block's input channel count");
  static_assert(Main::out_channels == Shortcut::out_channels,
                "PreActResidual: the main path and the shortcut give different channel counts");

 public:
  static constexpr int in_channels = Main::in_channels;
  static constexpr int out_channels = Main::out_channels;

  static constexpr Extent output_extent(Extent in) noexcept { return Main::output_extent(in); }
  static constexpr long long parameter_count() noexcept {
    return PreNorm::parameter_count() + Main::parameter_count() + Shortcut::parameter_count();
  }
  static constexpr long long non_trainable_count() noexcept {
    return PreNorm::non_trainable_count() + Main::non_trainable_count() + Shortcut::non_trainable_count();
  }
  static constexpr long long macs(Extent in) noexcept { return Main::macs(in) + Shortcut::macs(in); }

  void load(WeightReader& reader, const std::string& prefix) {
    pre_.load(reader, reader.preact_bn(prefix));
    main_.load(reader, prefix);
    shortcut_.load(reader, prefix);
  }
  void init_random(RandomWeights& rng) {
    pre_.init_random(rng);
    main_.init_random(rng);
    shortcut_.init_random(rng);
  }

  Shape plan(const Shape& in, MemoryPlan& plan, int threads) const {
    plan.need_activation(in);
    shortcut_.plan(in, plan, threads);
    return main_.plan(in, plan, threads);
  }

  FeatureMap forward(const FeatureMap& x, Workspace& ws) const {
    const FeatureMap a = pre_.forward(x, ws.free_buffer({x.data}), Act::relu, ws.pool());
    const FeatureMap sc = shortcut_.forward(ShortcutOnPreactivation ? a : x, ws, ShortcutOnPreactivation ? x.data : a.data);
    // Keep x alive too: an identity shortcut's sum reads it.
    return main_.forward(a, ws, sc.data == x.data ? x.data : sc.data, sc.data, false);
  }

 private:
  PreNorm pre_;
  Main main_;
  Shortcut shortcut_;
};

}  // namespace resnet
