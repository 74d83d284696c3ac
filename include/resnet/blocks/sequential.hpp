#pragma once
/// A main path: ConvUnits run one after another. Composed with a flat pack and fold
/// expressions, never by nesting, so symbols stay short and compiles stay fast.

#include <string>
#include <tuple>
#include <utility>

#include "resnet/core/workspace.hpp"
#include "resnet/layers/common.hpp"

namespace resnet {

namespace detail {
template <class... Units>
constexpr int first_channel_mismatch() noexcept {
  constexpr int ins[] = {Units::in_channels...};
  constexpr int outs[] = {Units::out_channels...};
  for (std::size_t i = 0; i + 1 < sizeof...(Units); ++i)
    if (outs[i] != ins[i + 1]) return static_cast<int>(i);
  return -1;
}
}  // namespace detail

template <class... Units>
class Sequential {
  static_assert(sizeof...(Units) > 0, "Sequential: give at least one layer");
  static_assert(detail::first_channel_mismatch<Units...>() < 0,
                "Sequential: a layer's out_channels differ from the in_channels of the layer after it; "
                "make each layer's InC equal the previous layer's OutC");

  using Tuple = std::tuple<Units...>;
  static constexpr std::size_t count = sizeof...(Units);

 public:
  static constexpr int in_channels = std::tuple_element_t<0, Tuple>::in_channels;
  static constexpr int out_channels = std::tuple_element_t<count - 1, Tuple>::out_channels;

  static constexpr Extent output_extent(Extent in) noexcept {
    ((in = Units::output_extent(in)), ...);
    return in;
  }
  static constexpr long long parameter_count() noexcept { return (Units::parameter_count() + ...); }
  static constexpr long long non_trainable_count() noexcept { return (Units::non_trainable_count() + ...); }
  static constexpr long long macs(Extent in) noexcept {
    long long total = 0;
    ((total += Units::macs(in), in = Units::output_extent(in)), ...);
    return total;
  }

  /// Unit i (0-based) is the block's conv number i + 1 in every naming scheme.
  template <class Loader>
  void load(Loader& loader, const std::string& block) {
    for_each([&](auto& unit, int i) { unit.load(loader, loader.conv(block, i + 1), loader.bn(block, i + 1)); });
  }
  void init_random(RandomWeights& rng) {
    for_each([&](auto& unit, int) { unit.init_random(rng); });
  }

  /// The first unit's u8 input (ConvUnit::u8_input()), or null.
  const kernels::QuantParams* u8_input() const noexcept { return detail::u8_input_of(std::get<0>(units_), 0); }
  /// Whether the first unit takes a bf16 input (ConvUnit::bf16_input()).
  bool bf16_input() const noexcept { return detail::bf16_input_of(std::get<0>(units_), 0); }
  /// Whether the last unit adds a bf16 residual: an int8 or bf16 conv (ConvUnit::forward).
  bool bf16_residual() const noexcept {
    const auto& last = std::get<count - 1>(units_);
    return detail::u8_input_of(last, 0) != nullptr || detail::bf16_input_of(last, 0);
  }

  /// Runs the units in order; the fusion applies to the last one's output. A map that
  /// only an int8 conv reads goes to it as u8, quantized as that conv would (ConvUnit),
  /// and one that only a bf16 conv reads as bf16, rounded as that conv would; neither
  /// while a calibration observes the conv inputs.
  FeatureMap forward(const FeatureMap& in, Workspace& ws, const Fusion& fusion = {}) const {
    return forward_each(in, ws, fusion, std::make_index_sequence<count>{});
  }

 private:
  template <std::size_t... I>
  FeatureMap forward_each(const FeatureMap& in, Workspace& ws, const Fusion& last, std::index_sequence<I...>) const {
    FeatureMap x = in;
    (forward_unit<I>(x, ws, last), ...);
    return x;
  }
  // One statement per unit, not one fold of assignments: GCC ends the lifetime of
  // operator='s by-value parameter (x's previous map) with the full-expression, so a fold
  // would hold every unit's map until the last one (ResNet-50: 8 slots instead of 7).
  template <std::size_t I>
  void forward_unit(FeatureMap& x, Workspace& ws, const Fusion& last) const {
    x = std::get<I>(units_).forward(x, ws, fusion_of<I>(last, ws));
  }
  template <std::size_t I>
  Fusion fusion_of(const Fusion& last, const Workspace& ws) const {
    if constexpr (I + 1 == count) {
      return last;
    } else {
      Fusion f;
      if (ws.conv_input_observer()) return f;
      f.u8_output = detail::u8_input_of(std::get<I + 1>(units_), 0);
      f.bf16_output = !f.u8_output && detail::bf16_input_of(std::get<I + 1>(units_), 0);
      return f;
    }
  }

  template <class F>
  void for_each(F&& f) {
    for_each_impl(f, std::make_index_sequence<count>{});
  }
  template <class F>
  void for_each(F&& f) const {
    for_each_impl(f, std::make_index_sequence<count>{});
  }
  template <class F, std::size_t... I>
  void for_each_impl(F& f, std::index_sequence<I...>) {
    (f(std::get<I>(units_), static_cast<int>(I)), ...);
  }
  template <class F, std::size_t... I>
  void for_each_impl(F& f, std::index_sequence<I...>) const {
    (f(std::get<I>(units_), static_cast<int>(I)), ...);
  }

  Tuple units_;
};

}  // namespace resnet
