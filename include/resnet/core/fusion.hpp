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
  /// that cannot ignores it. Set only inside a block's main path, whose maps no one else reads.
  const kernels::QuantParams* u8_output = nullptr;

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
}  // namespace detail

}  // namespace resnet
