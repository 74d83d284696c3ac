#pragma once
/// What every convolution kernel agrees on: the geometry of one conv layer and the
/// epilogue applied while the output tile is still in cache (see core/fusion.hpp for the layers' side).
///
/// Conventions shared by all kernels:
///   activations  NHWC, dense;
///   weights      OHWI  [out_c][kernel][kernel][in_c / groups]  (BN already folded in);
///   groups       output channel o sees input channels [g * in_c/groups, (g+1) * in_c/groups)
///                with g = o / (out_c/groups), as PyTorch's `groups` (ResNeXt);
///   padding      symmetric, zeros; output side = (side + 2*pad - kernel) / stride + 1.

#include <cstddef>
#include <cstdint>

namespace resnet::kernels {

struct ConvShape {
  int in_c = 0, out_c = 0, kernel = 1, stride = 1, pad = 0, groups = 1;

  constexpr int out_side(int side) const noexcept { return (side + 2 * pad - kernel) / stride + 1; }
  constexpr int group_in() const noexcept { return in_c / groups; }
  constexpr int group_out() const noexcept { return out_c / groups; }
  constexpr long long weight_count() const noexcept {
    return 1LL * out_c * kernel * kernel * group_in();
  }
};

namespace detail {
/// A layer's own bias joined with what its caller fuses (core/fusion.hpp):
/// out = act(conv + bias + residual). Built in one place, ConvKernel::run; null
/// pointers mean "absent".
struct OutputEpilogue {
  const float* bias = nullptr;      ///< [out_c]
  const float* residual = nullptr;  ///< NHWC, same shape as the output
  bool relu = false;
  /// A bf16 model's maps (ConvKernel::run_bf16_maps), which only the Winograd kernel
  /// takes here: not null, the residual as bf16 bits (widened) in place of `residual`, and
  /// the output as bf16 bits (to_bf16_bits' rounding) instead of fp32.
  const std::uint16_t* residual_bf16 = nullptr;
  std::uint16_t* out_bf16 = nullptr;
};
}  // namespace detail

}  // namespace resnet::kernels
