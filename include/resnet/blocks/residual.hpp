#pragma once
/// Residual blocks: post-activation (V1: out = act(main(x) + shortcut(x))) and
/// pre-activation (V2: a = relu(bn(x)); out = main(a) + shortcut(a or x)). The
/// addition and the ReLU after it run in the epilogue of the main path's last conv:
/// the block hands the shortcut's map down as that conv's Fusion.

#include <string>
#include <type_traits>

#include "resnet/core/error.hpp"
#include "resnet/core/workspace.hpp"
#include "resnet/kernels/lowp_common.hpp"

#include "resnet/blocks/sequential.hpp"
#include "resnet/blocks/shortcut.hpp"
#include "resnet/layers/batch_norm.hpp"
#include "resnet/layers/common.hpp"

namespace resnet {

namespace detail {
/// Whether a main path adds a bf16 residual (Sequential::bf16_residual()); false for one
/// that does not say.
template <class Main>
auto bf16_residual_of(const Main& main, int) -> decltype(bool(main.bf16_residual())) {
  return main.bf16_residual();
}
template <class Main>
bool bf16_residual_of(const Main&, long) {
  return false;
}

/// The Fusion a block gives its main path: add the shortcut's map (which must have the
/// main path's output shape), then the block's activation or the caller's.
template <class Main>
Fusion residual_fusion(const Shape& in, const FeatureMap& shortcut, Act block_act, const Fusion& caller) {
  if (caller.residual)
    throw Error(ErrorKind::invalid_argument, "residual block: it adds its own shortcut and cannot take a second residual");
  const Extent e = Main::output_extent({in.h, in.w});
  const Shape main_out{in.n, e.h, e.w, Main::out_channels};
  if (shortcut.shape() != main_out)
    throw Error(ErrorKind::shape_mismatch, "residual block: the shortcut gives " + shortcut.shape().str() +
                                               ", the main path " + main_out.str());
  Fusion f{&shortcut, block_act == Act::relu ? Act::relu : caller.act};
  f.u8_output = caller.u8_output;  // the block's output is the main path's
  f.bf16_output = caller.bf16_output;
  return f;
}
}  // namespace detail

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

  template <class Loader>
  void load(Loader& loader, const std::string& block) {
    main_.load(loader, block);
    shortcut_.load(loader, block);
  }
  void init_random(RandomWeights& rng) {
    main_.init_random(rng);
    shortcut_.init_random(rng);
  }

  /// Whether the block adds x itself (an identity shortcut).
  static constexpr bool adds_input = std::is_same_v<Shortcut, Identity<in_channels>>;

  /// int8: the u8 input of the main path's first conv where every reader of x can take
  /// x as u8 values so quantized: an identity shortcut, or a projection that quantizes as
  /// the first conv does (calibrated on the same map). The block before may then hand x
  /// over as u8 values, and as bf16 ones too where adds_input (Fusion::bf16_output): the
  /// convs read the u8 values, the last conv's epilogue adds the bf16 ones. Null otherwise.
  const kernels::QuantParams* u8_input() const noexcept {
    const kernels::QuantParams* main = detail::u8_input_of(main_, 0);
    if constexpr (adds_input) {
      return main;
    } else {
      const kernels::QuantParams* shortcut = detail::u8_input_of(shortcut_, 0);
      const bool same = main && shortcut && main->scale == shortcut->scale && main->zero_point == shortcut->zero_point;
      return same ? main : nullptr;
    }
  }

  /// bf16: whether every reader of x takes it as bf16 values: the main path's first conv,
  /// and the projection or, for an identity shortcut, the main path's last conv, which
  /// adds x as its residual (a bf16 conv adds a bf16 residual). The block before may then
  /// write x as bf16 only (Fusion::bf16_output).
  bool bf16_input() const noexcept {
    if (!detail::bf16_input_of(main_, 0)) return false;
    if constexpr (adds_input)
      return detail::bf16_residual_of(main_, 0);
    else
      return detail::bf16_input_of(shortcut_, 0);
  }

  /// out = After(main(x) + shortcut(x)), then the caller's activation. Where the main
  /// path's last conv is int8 or bf16 a projection writes its map as bf16 (if it computes
  /// in either), which only that conv reads (as its residual), except while a calibration
  /// observes the conv inputs.
  FeatureMap forward(const FeatureMap& x, Workspace& ws, const Fusion& fusion = {}) const {
    Fusion to_residual;
    if constexpr (!adds_input) to_residual.bf16_output = !ws.conv_input_observer() && detail::bf16_residual_of(main_, 0);
    const FeatureMap sc = shortcut_.forward(x, ws, to_residual);
    return main_.forward(x, ws, detail::residual_fusion<Main>(x.shape(), sc, After, fusion));
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

  template <class Loader>
  void load(Loader& loader, const std::string& block) {
    pre_.load(loader, loader.preact_bn(block));
    main_.load(loader, block);
    shortcut_.load(loader, block);
  }
  void init_random(RandomWeights& rng) {
    pre_.init_random(rng);
    main_.init_random(rng);
    shortcut_.init_random(rng);
  }

  /// a = relu(pre(x)); out = main(a) + shortcut(a or x), then the caller's activation.
  FeatureMap forward(const FeatureMap& x, Workspace& ws, const Fusion& fusion = {}) const {
    const FeatureMap a = pre_.forward(x, ws, Fusion{nullptr, Act::relu});
    const FeatureMap sc = shortcut_.forward(ShortcutOnPreactivation ? a : x, ws);
    return main_.forward(a, ws, detail::residual_fusion<Main>(a.shape(), sc, Act::linear, fusion));
  }

 private:
  PreNorm pre_;
  Main main_;
  Shortcut shortcut_;
};

}  // namespace resnet
