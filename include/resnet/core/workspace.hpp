#pragma once
/// Per-caller scratch memory and threads, and the feature maps that live in it.
///
/// A loaded model is immutable and may be shared by any number of threads; each calling
/// thread brings its own Workspace. A forward pass runs twice through the same code
/// (Workspace::run): a planning pass, in which every layer allocates its output map and
/// asks for its scratch but computes nothing, and the computing pass. The planning pass
/// sizes each buffer slot for the largest map it will hold, so the computing pass cannot
/// run out of buffers, and the arena grows only when a pass needs more: repeated calls
/// with one input shape make no heap allocation.
///
/// Liveness is counted, not declared: a FeatureMap holds its slot until its last copy is
/// gone, and allocate() hands out only slots that no live map holds. A block that keeps
/// five maps alive simply holds five FeatureMaps; nothing is aliased, nothing is null.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "resnet/core/error.hpp"
#include "resnet/core/fusion.hpp"
#include "resnet/core/tensor.hpp"
#include "resnet/core/thread_pool.hpp"

namespace resnet {

class Workspace;

/// An NHWC activation in a Workspace slot. Copies share the slot. While planning, data()
/// is null: layers then only allocate, they never read or write.
///
/// A map between two int8 convs of a block's main path may hold u8 values instead
/// (Fusion::u8_output): u8() is then true, u8_data() points to one byte per element,
/// quantized by u8_scale() and u8_zero_point(), and data() holds no floats. A block's
/// output that the next int8 block reads (Fusion::bf16_output) holds bf16 values (bits,
/// bf16_data(), for that block's residual) followed by their u8 (for its convs): 3 of
/// the slot's 4 bytes per element. In a bf16 model a map that only bf16 convs read holds
/// bf16 values alone (bf16() and not u8()): 2 of the 4 bytes.
class FeatureMap {
 public:
  FeatureMap() = default;
  FeatureMap(const FeatureMap& other) noexcept
      : owner_(other.owner_), slot_(other.slot_), data_(other.data_), shape_(other.shape_), u8_(other.u8_) {
    retain();
  }
  FeatureMap(FeatureMap&& other) noexcept
      : owner_(other.owner_), slot_(other.slot_), data_(other.data_), shape_(other.shape_), u8_(other.u8_) {
    other.owner_ = nullptr;
  }
  FeatureMap& operator=(FeatureMap other) noexcept {
    std::swap(owner_, other.owner_);
    std::swap(slot_, other.slot_);
    std::swap(data_, other.data_);
    std::swap(shape_, other.shape_);
    std::swap(u8_, other.u8_);
    return *this;
  }
  ~FeatureMap() { release(); }

  float* data() const noexcept { return data_; }
  const Shape& shape() const noexcept { return shape_; }
  std::size_t size() const noexcept { return static_cast<std::size_t>(shape_.elements()); }

  bool u8() const noexcept { return u8_.scale > 0.0f; }
  std::uint8_t* u8_data() const noexcept {
    return reinterpret_cast<std::uint8_t*>(data_) + (u8_.bf16 ? 2 * size() : 0);
  }
  bool bf16() const noexcept { return u8_.bf16; }
  std::uint16_t* bf16_data() const noexcept { return reinterpret_cast<std::uint16_t*>(data_); }
  float u8_scale() const noexcept { return u8_.scale; }
  std::int32_t u8_zero_point() const noexcept { return u8_.zero_point; }
  /// Marks the map as holding u8 values quantized by scale (> 0) and zero_point; its
  /// writer calls this before writing them.
  void set_u8(float scale, std::int32_t zero_point) noexcept { u8_.scale = scale, u8_.zero_point = zero_point; }
  /// Marks the map as holding bf16 values, and its u8 ones (if any) after them.
  void set_bf16() noexcept { u8_.bf16 = true; }

 private:
  friend class Workspace;
  FeatureMap(Workspace* owner, int slot, float* data, const Shape& shape) noexcept
      : owner_(owner), slot_(slot), data_(data), shape_(shape) {}
  inline void retain() noexcept;
  inline void release() noexcept;

  Workspace* owner_ = nullptr;
  int slot_ = -1;
  float* data_ = nullptr;
  Shape shape_{};
  struct {
    float scale = 0.0f;  // 0: no u8 values
    std::int32_t zero_point = 0;
    bool bf16 = false;   // bf16 values first
  } u8_;  // both unset: fp32 values
};

/// Sees the input map of every conv of a forward pass, in its computing pass, before the
/// conv runs; `conv` is the conv's index in the model's build order (ActivationRanges).
/// Calibration records ranges through it (models/calibration.hpp).
class ConvInputObserver {
 public:
  virtual void conv_input(int conv, const float* data, std::size_t count, int channels) = 0;

 protected:
  ~ConvInputObserver() = default;
};

class Workspace {
 public:
  /// threads <= 0: one per hardware core. The pool's workers spin spin_microseconds
  /// between jobs before they sleep (ThreadPool; 0 where other work shares the cores).
  explicit Workspace(int threads = 0, int spin_microseconds = ThreadPool::kDefaultSpinMicroseconds)
      : pool_(threads, spin_microseconds) {}
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  int threads() const noexcept { return pool_.size(); }
  ThreadPool& pool() noexcept { return pool_; }

  /// Passes later forward passes' conv inputs to `observer` (null: to nobody, the default).
  void observe_conv_inputs(ConvInputObserver* observer) noexcept { observer_ = observer; }
  ConvInputObserver* conv_input_observer() const noexcept { return observer_; }

  /// True during run()'s planning pass: allocate as usual, compute nothing.
  bool planning() const noexcept { return planning_; }

  /// A map of `shape` in a slot no live map holds.
  FeatureMap allocate(const Shape& shape) {
    const std::size_t need = round_up(static_cast<std::size_t>(shape.elements()));
    int index = 0;
    while (index < static_cast<int>(slots_.size()) && slots_[static_cast<std::size_t>(index)].users > 0) ++index;
    if (index == static_cast<int>(slots_.size())) {
      if (!planning_) throw plan_broken("needs more live maps than its planning pass");
      slots_.emplace_back();
    }
    Slot& slot = slots_[static_cast<std::size_t>(index)];
    if (planning_) {
      slot.planned = std::max(slot.planned, need);
    } else if (need > slot.capacity) {
      throw plan_broken("allocates a larger map than its planning pass");
    }
    ++slot.users;
    return FeatureMap(this, index, planning_ ? nullptr : aligned_base() + slot.offset, shape);
  }

  /// A map of `shape` holding a copy of `data` (NHWC or NCHW, as `layout` says).
  /// Large maps are copied on the pool's threads: a 224x224 NCHW image took ~55 us alone,
  /// serial before a pass's first job.
  FeatureMap import(const float* data, const Shape& shape, Layout layout) {
    FeatureMap x = allocate(shape);
    if (planning_) return x;
    const std::ptrdiff_t pixels = static_cast<std::ptrdiff_t>(shape.n) * shape.h * shape.w;
    float* to = x.data();
    const auto copy = [&](std::ptrdiff_t begin, std::ptrdiff_t end) {
      detail::convert_layout_pixels(data, to, shape, layout, Layout::nhwc, static_cast<std::size_t>(begin),
                                    static_cast<std::size_t>(end));
    };
    if (pixels >= 16384)
      pool_.parallel_for(pixels, copy);
    else
      copy(0, pixels);
    return x;
  }

  /// `floats` of scratch for the current layer, valid until the next layer asks; null while planning.
  float* scratch(std::size_t floats) {
    if (planning_) {
      planned_scratch_ = std::max(planned_scratch_, round_up(floats));
      return nullptr;
    }
    if (floats > scratch_capacity_) throw plan_broken("asks for more scratch than its planning pass");
    return aligned_base() + scratch_offset_;
  }

  /// Runs `pass` to plan, grows the arena if the plan needs more, then runs it to compute.
  /// The pass must allocate the same maps in the same order both times: it may test
  /// planning() only to skip work. Every map must be gone when the pass returns.
  template <class Pass>
  void run(Pass&& pass) {
    if (planning_ || running_) throw Error(ErrorKind::invalid_argument, "Workspace::run: already running a pass");
    {
      Phase planning(planning_);
      for (Slot& s : slots_) s.planned = 0;
      planned_scratch_ = 0;
      pass();
      check_all_released();
    }
    grow_to_plan();
    Phase running(running_);
    pass();
    check_all_released();
  }

  /// Fills every slot and the scratch with `value`: tests poison the arena with NaN so
  /// that a read of memory no layer wrote shows up in the output.
  void fill(float value) { std::fill(arena_.begin(), arena_.end(), value); }

  /// Buffer slots planned so far, and the bytes the arena holds (slots and scratch).
  int slot_count() const noexcept { return static_cast<int>(slots_.size()); }
  std::size_t arena_bytes() const noexcept { return arena_.size() * sizeof(float); }

 private:
  friend class FeatureMap;
  struct Slot {
    std::size_t offset = 0, capacity = 0, planned = 0;
    int users = 0;
  };
  // Resets a flag however the pass ends; an exception unwinds every map first.
  struct Phase {
    explicit Phase(bool& flag) : flag_(flag) { flag_ = true; }
    ~Phase() { flag_ = false; }
    bool& flag_;
  };

  static Error plan_broken(const char* what) {
    return Error(ErrorKind::invalid_argument,
                 std::string("Workspace: a forward pass ") + what +
                     "; a layer may test planning() only to skip computation");
  }
  void check_all_released() const {
    for (const Slot& s : slots_)
      if (s.users != 0)
        throw Error(ErrorKind::invalid_argument, "Workspace::run: a feature map outlived its pass; copy results out");
  }

  // Lays the slots out one after another, each the larger of its old and planned size;
  // reallocates only when something grew, so repeated shapes reuse the arena.
  void grow_to_plan() {
    bool grows = planned_scratch_ > scratch_capacity_;
    for (const Slot& s : slots_) grows = grows || s.planned > s.capacity;
    if (!grows) return;
    std::size_t total = 0;
    std::vector<Slot> laid = slots_;
    for (Slot& s : laid) {
      s.capacity = std::max(s.capacity, s.planned);
      s.offset = total;
      total += s.capacity;
    }
    const std::size_t scratch = std::max(scratch_capacity_, planned_scratch_);
    // Allocate first: if it throws, the recorded layout still describes the old arena.
    arena_.assign(total + scratch + alignment_floats, 0.0f);
    slots_ = std::move(laid);
    scratch_offset_ = total;
    scratch_capacity_ = scratch;
  }

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
  std::vector<Slot> slots_;
  std::size_t scratch_offset_ = 0, scratch_capacity_ = 0, planned_scratch_ = 0;
  bool planning_ = false, running_ = false;
  ConvInputObserver* observer_ = nullptr;
};

namespace detail {
/// Errors unless the fusion's residual, if any, has the shape of the layer's output.
inline void expect_residual(const char* layer, const Shape& out, const Fusion& f) {
  if (f.residual && f.residual->shape() != out)
    throw Error(ErrorKind::shape_mismatch, std::string(layer) + ": the residual " + f.residual->shape().str() +
                                               " differs from the output " + out.str());
}
/// out[i] = act(out[i] + residual[i]) for i in [begin, end); max(0, NaN) stays NaN, as in PyTorch.
inline void apply_fusion(float* out, std::size_t begin, std::size_t end, const Fusion& f) noexcept {
  if (f.residual) {
    const float* r = f.residual->data();
    for (std::size_t i = begin; i < end; ++i) out[i] += r[i];
  }
  if (f.relu())
    for (std::size_t i = begin; i < end; ++i) out[i] = out[i] < 0.0f ? 0.0f : out[i];
}
}  // namespace detail

inline void FeatureMap::retain() noexcept {
  if (owner_) ++owner_->slots_[static_cast<std::size_t>(slot_)].users;
}
inline void FeatureMap::release() noexcept {
  if (owner_) --owner_->slots_[static_cast<std::size_t>(slot_)].users;
  owner_ = nullptr;
}

/// Runs one layer or block on an NHWC or NCHW tensor in its own planned pass and copies
/// the result out (NHWC): out = act(layer(input) + residual). For tests, examples and
/// custom compositions; models have their own forward().
template <class Layer>
Tensor run_layer(const Layer& layer, const Tensor& input, Workspace& ws, const Tensor* residual = nullptr,
                 Act act = Act::linear) {
  Tensor output;
  ws.run([&] {
    FeatureMap r;
    if (residual) r = ws.import(residual->data(), residual->shape(), residual->layout());
    const FeatureMap x = ws.import(input.data(), input.shape(), input.layout());
    const FeatureMap y = layer.forward(x, ws, Fusion{residual ? &r : nullptr, act});
    if (ws.planning()) return;
    if (output.shape() != y.shape()) output = Tensor(y.shape());
    std::memcpy(output.data(), y.data(), sizeof(float) * y.size());
  });
  return output;
}

}  // namespace resnet
