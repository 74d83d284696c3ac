#pragma once
/// What a layer's caller fuses into the layer's output, described once for every layer
/// and kernel: out = act(layer(x) + residual). The layer's own bias and activation stay
/// the layer's business; a conv kernel applies both and the fusion in its register
/// epilogue, element-wise layers in apply_fusion().

#include <algorithm>
#include <cstddef>

namespace resnet {

/// What follows a layer: nothing, or a ReLU.
enum class Act { linear, relu };

struct Fusion {
  const float* residual = nullptr;  ///< NHWC, the output's shape; null: no addition
  Act act = Act::linear;

  bool relu() const noexcept { return act == Act::relu; }
};

namespace detail {
/// out[i] = act(out[i] + residual[i]) for i in [begin, end); max(0, NaN) stays NaN, as in PyTorch.
inline void apply_fusion(float* out, std::size_t begin, std::size_t end, const Fusion& f) noexcept {
  if (f.residual)
    for (std::size_t i = begin; i < end; ++i) out[i] += f.residual[i];
  if (f.relu())
    for (std::size_t i = begin; i < end; ++i) out[i] = out[i] < 0.0f ? 0.0f : out[i];
}
}  // namespace detail

}  // namespace resnet
