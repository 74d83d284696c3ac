#pragma once
/// A main path: ConvUnits run one after another. Composed with a flat pack and fold
/// expressions, never by nesting, so symbols stay short and compiles stay fast.

#include <initializer_list>
#include <string>
#include <tuple>
#include <utility>

#include "resnet/core/workspace.hpp"
#include "resnet/io/weights.hpp"
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
  void load(WeightReader& reader, const std::string& prefix) {
    for_each([&](auto& unit, int i) {
      unit.load(reader, reader.block_conv(prefix, i + 1), reader.block_bn(prefix, i + 1));
    });
  }
  void init_random(RandomWeights& rng) {
    for_each([&](auto& unit, int) { unit.init_random(rng); });
  }

  Shape plan(Shape in, MemoryPlan& plan, int threads) const {
    for_each([&](const auto& unit, int) { in = unit.plan(in, plan, threads); });
    return in;
  }

  /// Runs the path; the last unit adds `residual` and applies the block's ReLU.
  /// Intermediate maps go to workspace buffers other than `in` and `keep`.
  FeatureMap forward(const FeatureMap& in, Workspace& ws, const float* keep, const float* residual,
                     bool relu_after_residual) const {
    FeatureMap x = in;
    for_each([&](const auto& unit, int i) {
      float* out = ws.free_buffer({in.data, x.data, keep});
      x = (i + 1 == static_cast<int>(count)) ? unit.forward(x, out, ws, residual, relu_after_residual)
                                             : unit.forward(x, out, ws);
    });
    return x;
  }

 private:
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
