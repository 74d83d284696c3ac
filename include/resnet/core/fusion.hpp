#pragma once
/// What a layer's caller fuses into the layer's output, described once for every layer:
/// out = act(layer(x) + residual). The layer's own bias and activation stay the layer's
/// business; a conv applies all of it in its kernel's register epilogue, element-wise
/// layers in detail::apply_fusion() (core/workspace.hpp).

namespace resnet {

class FeatureMap;
namespace kernels {
struct QuantParams;
}

/// What follows a layer: nothing, or a ReLU.
enum class Act { linear, relu };

struct Fusion {
  const FeatureMap* residual = nullptr;  ///< a map of the output's shape; null: no addition
  Act act = Act::linear;
  /// Not null: the next layer is an int8 conv that quantizes its input by this, and the
  /// layer may write its output as u8 so (an int8 conv does, FeatureMap::u8()); a layer
  /// that cannot ignores it. Set only where no one else reads the map: inside a block's main
  /// path, and between blocks whose next block's convs and shortcut are the only readers.
  const kernels::QuantParams* u8_output = nullptr;
  /// With u8_output: the output is also the next block's residual, so the layer writes it
  /// as bf16 too (FeatureMap::bf16()). Set only between the blocks of an int8 model and by
  /// its stem. Without: every reader of the output is a bf16 conv (a bf16 model: the next
  /// conv of a main path, or the next block's convs and residual), so the layer may write
  /// it as bf16 values only (a bf16 conv does; any other layer ignores it).
  bool bf16_output = false;

  bool relu() const noexcept { return act == Act::relu; }
};

namespace detail {
/// The u8 input a layer takes (its u8_input(): ConvUnit), or null for one that has none;
/// call with 0.
template <class Layer>
auto u8_input_of(const Layer& layer, int) -> decltype(layer.u8_input()) {
  return layer.u8_input();
}
template <class Layer>
const kernels::QuantParams* u8_input_of(const Layer&, long) {
  return nullptr;
}

/// Whether a layer takes its input as bf16 values (its bf16_input(): a bf16 ConvUnit, and
/// a block whose every reader of its input is one); false for one that does not say.
template <class Layer>
auto bf16_input_of(const Layer& layer, int) -> decltype(bool(layer.bf16_input())) {
  return layer.bf16_input();
}
template <class Layer>
bool bf16_input_of(const Layer&, long) {
  return false;
}

/// Whether a block adds its own input as the residual (Residual::adds_input), so the map
/// handed to it with u8 values needs its bf16 ones too; true for one that does not say.
template <class Block>
constexpr auto adds_input_of(int) -> decltype(bool(Block::adds_input)) {
  return Block::adds_input;
}
template <class Block>
constexpr bool adds_input_of(long) {
  return true;
}

/// What a block (or stage) writes when `next` is the only reader of its output: the u8
/// values next's convs take (and the bf16 ones beside them where next adds its input as
/// its residual), or, in a bf16 model, bf16 values alone where next takes those.
template <class Next>
Fusion handover_to(const Next& next) {
  Fusion f;
  f.u8_output = u8_input_of(next, 0);
  f.bf16_output = f.u8_output ? adds_input_of<Next>(0) : bf16_input_of(next, 0);
  return f;
}
}  // namespace detail

}  // namespace resnet
