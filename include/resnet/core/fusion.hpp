#pragma once
/// What a layer's caller fuses into the layer's output, described once for every layer:
/// out = act(layer(x) + residual). The layer's own bias and activation stay the layer's
/// business; a conv applies all of it in its kernel's register epilogue, element-wise
/// layers in detail::apply_fusion() (core/workspace.hpp).

namespace resnet {

class FeatureMap;

/// What follows a layer: nothing, or a ReLU.
enum class Act { linear, relu };

struct Fusion {
  const FeatureMap* residual = nullptr;  ///< a map of the output's shape; null: no addition
  Act act = Act::linear;

  bool relu() const noexcept { return act == Act::relu; }
};

}  // namespace resnet
