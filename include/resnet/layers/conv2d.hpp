#pragma once
/// Convolution as a compile-time description (Conv2d) and as the unit that runs it
/// (ConvUnit): a conv, the batch norm folded into it at load time and the activation
/// applied in the kernel's epilogue. Padding is always symmetric K/2, which equals both
/// PyTorch's `padding=K//2` and Keras' ZeroPadding + 'valid' for every ResNet conv
/// (docs/spec.md 1.7). Groups > 1 is PyTorch's grouped convolution (ResNeXt's
/// "cardinality"): Groups independent convs, each from InC/Groups inputs to OutC/Groups
/// outputs.

#include <string>
#include <type_traits>
#include <vector>

#include "resnet/core/workspace.hpp"
#include "resnet/kernels/conv2d.hpp"
#include "resnet/layers/batch_norm.hpp"
#include "resnet/layers/common.hpp"

namespace resnet {

template <int InC, int OutC, int K, int Stride = 1, Bias B = Bias::none, int Groups = 1>
struct Conv2d {
  static_assert(InC > 0 && OutC > 0, "Conv2d: channel counts must be positive");
  static_assert(Groups > 0, "Conv2d: the number of groups must be positive");
  static_assert(InC % Groups == 0 && OutC % Groups == 0,
                "Conv2d: InC and OutC must both be divisible by Groups (each group takes InC/Groups "
                "inputs to OutC/Groups outputs); choose a group count that divides both");
  static_assert(K > 0 && K % 2 == 1, "Conv2d: the kernel size must be odd (symmetric K/2 padding)");
  static_assert(Stride > 0, "Conv2d: the stride must be positive");

  static constexpr int in_channels = InC;
  static constexpr int out_channels = OutC;
  static constexpr int kernel = K;
  static constexpr int stride = Stride;
  static constexpr int pad = K / 2;
  static constexpr int groups = Groups;
  static constexpr bool has_bias = B == Bias::with;
  static constexpr kernels::ConvShape shape{InC, OutC, K, Stride, K / 2, Groups};

  static constexpr Extent output_extent(Extent in) noexcept {
    return {(in.h + 2 * pad - K) / Stride + 1, (in.w + 2 * pad - K) / Stride + 1};
  }
  static constexpr long long parameter_count() noexcept {
    return 1LL * OutC * K * K * (InC / Groups) + (has_bias ? OutC : 0);
  }
  static constexpr long long macs(Extent in) noexcept {
    const Extent out = output_extent(in);
    return 1LL * out.h * out.w * OutC * K * K * (InC / Groups);
  }
};

namespace detail {
/// The u8 quantization of conv `index`'s input from the model's calibrated ranges, or an
/// Error saying why the ranges do not fit this conv.
inline kernels::QuantParams int8_input(const ConvArithmetic& a, int index, int channels, const std::string& site) {
  const std::string conv = "conv " + std::to_string(index) + (site.empty() ? "" : " (" + site + ")");
  if (!a.ranges) throw Error(ErrorKind::invalid_argument, "int8: " + conv + " has no calibrated input range");
  const std::size_t held = a.ranges->convs.size();
  if (static_cast<std::size_t>(index) >= held)
    throw Error(ErrorKind::shape_mismatch, a.ranges->label() + ": " + std::to_string(held) +
                                               " conv inputs, but this model has more convs (were they calibrated "
                                               "for another model?)");
  const ConvInputRange& r = a.ranges->convs[static_cast<std::size_t>(index)];
  if (r.channels != channels)
    throw Error(ErrorKind::shape_mismatch, a.ranges->label() + ": " + conv + " takes " + std::to_string(channels) +
                                               " channels, the range was measured on " + std::to_string(r.channels) +
                                               " (were they calibrated for another model?)");
  try {
    return kernels::affine_u8_qparams(r.min, r.max);
  } catch (const Error& e) {
    throw Error(ErrorKind::invalid_argument, a.ranges->label() + ": " + conv + ": " + e.what());
  }
}
}  // namespace detail

template <class Conv, class Norm = NoNorm, Act A = Act::linear>
class ConvUnit {
  static constexpr bool normalised = !std::is_same_v<Norm, NoNorm>;
  static_assert(!normalised || Norm::channels == Conv::out_channels,
                "ConvUnit: the BatchNorm's channel count differs from the conv's out_channels; "
                "declare BatchNorm<OutC, Eps> with the conv's OutC");

 public:
  using conv_type = Conv;
  static constexpr int in_channels = Conv::in_channels;
  static constexpr int out_channels = Conv::out_channels;
  static constexpr Act activation = A;

  static constexpr Extent output_extent(Extent in) noexcept { return Conv::output_extent(in); }
  static constexpr long long parameter_count() noexcept {
    return Conv::parameter_count() + Norm::parameter_count();
  }
  static constexpr long long non_trainable_count() noexcept { return Norm::non_trainable_count(); }
  static constexpr long long macs(Extent in) noexcept { return Conv::macs(in); }

  /// Reads the conv at `conv_site` and, when normalised, folds the BN at `bn_site` into it.
  template <class Loader>
  void load(Loader& loader, const std::string& conv_site, const std::string& bn_site) {
    constexpr int k = Conv::kernel;
    // Grouped: PyTorch's [out][in/groups][k][k], each output row holding its group's inputs.
    std::vector<float> weight = loader.conv_kernel(conv_site, out_channels, in_channels / Conv::groups, k);
    std::vector<float> bias;
    if constexpr (Conv::has_bias) bias = loader.bias(conv_site, out_channels);
    BatchNormParams bn;
    if constexpr (normalised) bn = loader.batch_norm(bn_site, out_channels);
    build(std::move(weight), std::move(bias), bn, loader.arithmetic, conv_site);
  }

  void init_random(RandomWeights& rng) {
    constexpr int fan_in = in_channels / Conv::groups * Conv::kernel * Conv::kernel;
    auto weight = rng.normal(static_cast<std::size_t>(Conv::shape.weight_count()), std::sqrt(2.0f / fan_in));
    std::vector<float> bias;
    if constexpr (Conv::has_bias) bias = rng.uniform(out_channels, -0.1f, 0.1f);
    BatchNormParams bn;
    if constexpr (normalised) bn = Norm::random_params(rng);
    build(std::move(weight), std::move(bias), bn, rng.arithmetic, "");
  }

  /// The precision this unit's conv computes in.
  Precision precision() const { return kernel_.precision(); }

  /// int8: how the conv quantizes its input, so the layer before may hand it a u8 map
  /// (Fusion::u8_output); null at any other precision.
  const kernels::QuantParams* u8_input() const noexcept { return kernel_.int8_input(); }

  /// A bf16 model's conv (ConvKernel::takes_bf16(): a bf16 one, or an fp32 Winograd one)
  /// takes its input map as bf16 values (FeatureMap::bf16()), so the layer before may write
  /// bf16 (Fusion::bf16_output). A bf16 conv would round an fp32 input to those values.
  bool bf16_input() const noexcept { return kernel_.takes_bf16(); }

  /// out = act(fusion.act(A(conv(in) + bias) + fusion.residual)) in the kernel's epilogue.
  /// A unit with its own ReLU takes no residual: relu(relu(y) + r) has no single epilogue.
  /// An int8 unit also takes a u8 input map quantized as it would quantize it
  /// (FeatureMap::u8()) and a bf16 residual (FeatureMap::bf16()), and writes u8, bf16 or
  /// both where fusion.u8_output and fusion.bf16_output ask. A bf16 model's unit
  /// (bf16_input()) takes a bf16 input and residual, and writes bf16 where
  /// fusion.bf16_output asks; any other writes fp32.
  FeatureMap forward(const FeatureMap& in, Workspace& ws, const Fusion& fusion = {}) const {
    const Shape& s = in.shape();
    detail::expect_channels("ConvUnit", s, in_channels);
    if (A == Act::relu && fusion.residual)
      throw Error(ErrorKind::invalid_argument, "ConvUnit: a unit with its own ReLU cannot add a residual");
    const kernels::QuantParams* int8_in = kernel_.int8_input();
    if (in.u8() && !(int8_in && int8_in->scale == in.u8_scale() && int8_in->zero_point == in.u8_zero_point()))
      throw Error(ErrorKind::invalid_argument, "ConvUnit: a u8 input map (scale " + std::to_string(in.u8_scale()) +
                                                   ", zero point " + std::to_string(in.u8_zero_point()) +
                                                   ") for a conv that does not quantize its input so");
    const bool takes_bf16 = bf16_input();
    if (in.bf16() && !in.u8() && !takes_bf16)
      throw Error(ErrorKind::invalid_argument, "ConvUnit: a bf16 input map (without u8 values) for a conv that "
                                               "does not take one (not a bf16 model's)");
    const bool bf16_residual = fusion.residual && fusion.residual->bf16();
    if (fusion.residual && fusion.residual->u8() && !bf16_residual)
      throw Error(ErrorKind::invalid_argument, "ConvUnit: a u8 residual map (the residual stays fp32 or bf16)");
    if (bf16_residual && !int8_in && !takes_bf16)
      throw Error(ErrorKind::invalid_argument, "ConvUnit: a bf16 residual map for a conv that is neither int8 nor a "
                                               "bf16 model's");
    const Extent e = output_extent({s.h, s.w});
    const Shape out_shape{s.n, e.h, e.w, out_channels};
    detail::expect_residual("ConvUnit", out_shape, fusion);
    const kernels::QuantParams* u8_out = int8_in ? fusion.u8_output : nullptr;
    // int8: beside the u8 values, or alone (a projection's); a bf16 model's: alone.
    const bool bf16_out = (int8_in || takes_bf16) && fusion.bf16_output;
    FeatureMap out = ws.allocate(out_shape);
    if (bf16_out) out.set_bf16();
    if (u8_out) out.set_u8(u8_out->scale, u8_out->zero_point);
    float* scratch = ws.scratch(kernel_.scratch_floats(s.n, s.h, s.w, ws.threads()));
    if (ws.planning()) return out;
    const float* residual = fusion.residual && !bf16_residual ? fusion.residual->data() : nullptr;
    const bool relu = A == Act::relu || fusion.relu();
    if (!int8_in && (in.bf16() || bf16_out || bf16_residual)) {
      kernels::ConvKernel::Bf16Maps maps;
      if (in.bf16()) maps.in = in.bf16_data();
      if (bf16_residual) maps.residual = fusion.residual->bf16_data();
      if (bf16_out) maps.out = out.bf16_data();
      kernel_.run_bf16_maps(in.data(), s.n, s.h, s.w, out.data(), residual, relu, maps, scratch, ws.pool());
      return out;
    }
    if (in.u8() || u8_out || bf16_out || bf16_residual) {
      kernels::ConvKernel::U8Maps u8;
      if (in.u8()) u8.in = in.u8_data();
      if (u8_out) u8.out = out.u8_data(), u8.out_q = *u8_out;
      if (bf16_out) u8.out_bf16 = out.bf16_data();
      if (bf16_residual) u8.residual_bf16 = fusion.residual->bf16_data();
      kernel_.run_int8(in.data(), s.n, s.h, s.w, out.data(), residual, relu, u8, scratch, ws.pool());
      return out;
    }
    if (ConvInputObserver* observer = ws.conv_input_observer()) observer->conv_input(index_, in.data(), in.size(), in_channels);
    kernel_.run(in.data(), s.n, s.h, s.w, out.data(), residual, relu, scratch, ws.pool());
    return out;
  }

 private:
  // W' = W * a per output channel, b' = (b - mean) * a + beta (docs/spec.md 1.12).
  void build(std::vector<float> weight, std::vector<float> bias, const BatchNormParams& bn, ConvArithmetic& arithmetic,
             const std::string& site) {
    index_ = arithmetic.convs++;
    if constexpr (normalised) {
      std::vector<float> scale, shift;
      Norm::affine(bn, scale, shift);
      const std::size_t per_out = weight.size() / out_channels;
      std::vector<float> folded_bias(out_channels);
      for (int o = 0; o < out_channels; ++o) {
        for (std::size_t i = 0; i < per_out; ++i) weight[o * per_out + i] *= scale[o];
        const float b = bias.empty() ? 0.0f : bias[o];
        folded_bias[o] = b * scale[o] + shift[o];  // (b - mean) * a + beta
      }
      bias = std::move(folded_bias);
    }
    if (arithmetic.precision == Precision::int8)
      kernel_ = kernels::ConvKernel(Conv::shape, std::move(weight), std::move(bias),
                                    detail::int8_input(arithmetic, index_, in_channels, site));
    else
      kernel_ = kernels::ConvKernel(Conv::shape, std::move(weight), std::move(bias), arithmetic.precision,
                                    arithmetic.layers);
  }

  kernels::ConvKernel kernel_;
  int index_ = 0;  // in the model's build order: its entry in ActivationRanges
};

}  // namespace resnet
