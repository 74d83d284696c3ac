#pragma once
/// Per-caller scratch memory and threads. A loaded model is immutable and may be
/// shared by any number of threads; each calling thread brings its own Workspace.
/// The arena grows on the first forward pass with a given input shape and is reused
/// afterwards, so repeated calls with that shape make no heap allocation.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "resnet/core/error.hpp"
#include "resnet/core/tensor.hpp"
#include "resnet/core/thread_pool.hpp"

namespace resnet {

/// A non-owning NHWC activation.
struct FeatureMap {
  float* data = nullptr;
  Shape shape{};
};

/// The sizes a forward pass needs, found by walking the network once per input shape.
struct MemoryPlan {
  std::size_t activation_floats = 0;  ///< the largest activation of the pass
  std::size_t scratch_floats = 0;     ///< the largest kernel scratch of the pass

  void need_activation(const Shape& s) {
    activation_floats = std::max(activation_floats, static_cast<std::size_t>(s.elements()));
  }
  void need_scratch(std::size_t floats) { scratch_floats = std::max(scratch_floats, floats); }
};

class Workspace {
 public:
  /// Ping-pong, two main-path temporaries, the shortcut and the pre-activation.
  static constexpr int buffer_count = 5;

  /// threads <= 0: one per hardware core.
  explicit Workspace(int threads = 0) : pool_(threads) {}

  int threads() const noexcept { return pool_.size(); }
  ThreadPool& pool() noexcept { return pool_; }

  /// Makes room for a plan; grows only, so a smaller input reuses the arena.
  void reserve(const MemoryPlan& plan) {
    const std::size_t act = std::max(round_up(plan.activation_floats), activation_floats_);
    const std::size_t scratch = std::max(round_up(plan.scratch_floats), scratch_floats_);
    if (act == activation_floats_ && scratch == scratch_floats_) return;
    // Allocate first: if it throws, the recorded sizes still describe the old arena.
    arena_.assign(act * buffer_count + scratch + alignment_floats, 0.0f);
    activation_floats_ = act;
    scratch_floats_ = scratch;
  }

  float* buffer(int i) noexcept { return aligned_base() + static_cast<std::size_t>(i) * activation_floats_; }
  float* scratch() noexcept { return aligned_base() + activation_floats_ * buffer_count; }

  /// The first activation buffer that is none of `busy`.
  float* free_buffer(std::initializer_list<const float*> busy) noexcept {
    for (int i = 0; i < buffer_count; ++i) {
      float* b = buffer(i);
      if (std::find(busy.begin(), busy.end(), b) == busy.end()) return b;
    }
    return nullptr;  // unreachable: no block holds more than buffer_count - 1 live maps
  }

 private:
  static constexpr std::size_t alignment_floats = 16;  // 64-byte alignment for AVX-512 loads
  static std::size_t round_up(std::size_t n) {
    return (n + alignment_floats - 1) / alignment_floats * alignment_floats;
  }
  float* aligned_base() noexcept {
    auto address = reinterpret_cast<std::uintptr_t>(arena_.data());
    const std::uintptr_t mask = alignment_floats * sizeof(float) - 1;
    return reinterpret_cast<float*>((address + mask) & ~mask);
  }

  ThreadPool pool_;
  std::vector<float> arena_;
  std::size_t activation_floats_ = 0;
  std::size_t scratch_floats_ = 0;
};

}  // namespace resnet
