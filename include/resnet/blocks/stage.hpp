#pragma once
/// A stage: a first block (which may change width and resolution), then repeated
/// identical blocks, and optionally a distinct last block (Keras V2 strides in its
/// last block). Depth comes from Count, not from nesting, so ResNet-152's 36-block
/// stage is one type and a vector.

#include <string>
#include <type_traits>
#include <vector>

#include "resnet/core/workspace.hpp"
#include "resnet/layers/common.hpp"

namespace resnet {

struct NoBlock {};

template <class T>
struct type_tag {
  using type = T;
};

template <class First, class Repeated, int Count, class Last = NoBlock>
class Stage {
  static constexpr bool has_last = !std::is_same_v<Last, NoBlock>;

 public:
  static constexpr int block_count = Count;
  static constexpr int repeated_count = Count - 1 - (has_last ? 1 : 0);
  static_assert(repeated_count >= 0, "Stage: Count is too small for the first and last blocks given");
  static_assert(repeated_count == 0 || First::out_channels == Repeated::in_channels,
                "Stage: the repeated block's in_channels must equal the first block's out_channels");
  static_assert(repeated_count == 0 || Repeated::in_channels == Repeated::out_channels,
                "Stage: a repeated block must keep its channel count");

  static constexpr int in_channels = First::in_channels;
  static constexpr int out_channels = First::out_channels;

  static constexpr Extent output_extent(Extent in) noexcept {
    in = First::output_extent(in);
    if constexpr (has_last) in = Last::output_extent(in);
    return in;
  }
  static constexpr long long parameter_count() noexcept {
    long long total = First::parameter_count() + 1LL * repeated_count * Repeated::parameter_count();
    if constexpr (has_last) total += Last::parameter_count();
    return total;
  }
  static constexpr long long non_trainable_count() noexcept {
    long long total = First::non_trainable_count() + 1LL * repeated_count * Repeated::non_trainable_count();
    if constexpr (has_last) total += Last::non_trainable_count();
    return total;
  }
  static constexpr long long macs(Extent in) noexcept {
    long long total = First::macs(in);
    const Extent e = First::output_extent(in);
    total += 1LL * repeated_count * Repeated::macs(e);
    if constexpr (has_last) total += Last::macs(e);
    return total;
  }

  /// Calls visit(block_index, in_extent, out_extent, out_channels, params, non_trainable, macs)
  /// for every block, in order; a static walk used by model summaries.
  template <class Visitor>
  static Extent describe(Extent in, Visitor&& visit) {
    int b = 0;
    auto one = [&](auto tag) {
      using Block = typename decltype(tag)::type;
      const Extent out = Block::output_extent(in);
      visit(b++, in, out, Block::out_channels, Block::parameter_count(), Block::non_trainable_count(), Block::macs(in));
      in = out;
    };
    one(type_tag<First>{});
    for (int i = 0; i < repeated_count; ++i) one(type_tag<Repeated>{});
    if constexpr (has_last) one(type_tag<Last>{});
    return in;
  }

  Stage() : repeated_(static_cast<std::size_t>(repeated_count)) {}

  /// stage: 0-based index, mapped to block names by the loader's naming scheme.
  template <class Loader>
  void load(Loader& loader, int stage) {
    int b = 0;
    first_.load(loader, loader.block(stage, b++));
    for (auto& block : repeated_) block.load(loader, loader.block(stage, b++));
    if constexpr (has_last) last_.load(loader, loader.block(stage, b++));
  }
  void init_random(RandomWeights& rng) {
    first_.init_random(rng);
    for (auto& block : repeated_) block.init_random(rng);
    if constexpr (has_last) last_.init_random(rng);
  }

  /// The first block's u8 input (Residual::u8_input()), or null; and whether it adds its
  /// input as the residual: what the stage before may hand over (Network::forward).
  const kernels::QuantParams* u8_input() const noexcept { return detail::u8_input_of(first_, 0); }
  static constexpr bool adds_input = detail::adds_input_of<First>(0);
  /// Whether the first block takes its input as bf16 values (Residual::bf16_input()).
  bool bf16_input() const noexcept { return detail::bf16_input_of(first_, 0); }

  /// The blocks in order; the fusion applies to the last block's output. Between the
  /// blocks of an int8 stage a block's output goes to the next as u8 values where that
  /// block takes them (Residual::u8_input()), and as bf16 too where it adds them as its
  /// residual; in a bf16 stage as bf16 alone where the next block takes that
  /// (Residual::bf16_input()); never while a calibration observes the conv inputs. The u8
  /// values are the bytes the next block's convs would have quantized; the bf16 residual
  /// is half the bytes of fp32 to write and read again.
  FeatureMap forward(const FeatureMap& in, Workspace& ws, const Fusion& fusion = {}) const {
    const bool observed = ws.conv_input_observer() != nullptr;
    const auto into = [&](const auto& next) {  // the fusion of a block that `next` follows
      return observed ? Fusion{} : detail::handover_to(next);
    };
    const auto after = [&](std::size_t i) {  // ... of the block before repeated_[i], or before last_ at size()
      if (i < repeated_.size()) return into(repeated_[i]);
      if constexpr (has_last) return into(last_);
      return fusion;
    };
    FeatureMap x = first_.forward(in, ws, after(0));
    for (std::size_t i = 0; i < repeated_.size(); ++i) x = repeated_[i].forward(x, ws, after(i + 1));
    if constexpr (has_last) x = last_.forward(x, ws, fusion);
    return x;
  }

 private:
  First first_;
  std::vector<Repeated> repeated_;
  std::conditional_t<has_last, Last, NoBlock> last_;
};

}  // namespace resnet
