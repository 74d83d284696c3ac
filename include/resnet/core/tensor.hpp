#pragma once
/// An owning 4-D float tensor. The library computes in NHWC; users may hand in or
/// ask for NCHW (what PyTorch holds). A 2-D result (batch x features) is stored as
/// N x 1 x 1 x C, which is the same bytes in either layout.

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "resnet/core/error.hpp"

namespace resnet {

enum class Layout { nhwc, nchw };

inline const char* to_string(Layout layout) noexcept {
  return layout == Layout::nhwc ? "NHWC" : "NCHW";
}

/// Sizes of a 4-D activation; always given as (n, h, w, c) whatever the memory layout.
struct Shape {
  int n = 0, h = 0, w = 0, c = 0;
  long long elements() const noexcept { return 1LL * n * h * w * c; }
  friend bool operator==(const Shape& a, const Shape& b) noexcept {
    return a.n == b.n && a.h == b.h && a.w == b.w && a.c == b.c;
  }
  friend bool operator!=(const Shape& a, const Shape& b) noexcept { return !(a == b); }
  std::string str() const {
    return "(n=" + std::to_string(n) + ", h=" + std::to_string(h) + ", w=" + std::to_string(w) +
           ", c=" + std::to_string(c) + ")";
  }
};

namespace detail {
/// Copies an (n, h, w, c) activation from one memory layout to another; the one
/// NHWC <-> NCHW conversion of the library.
/// Pixels [begin, end) of the batch (image n's pixel p is n * h * w + p), from one
/// layout to the other: each with its channels.
inline void convert_layout_pixels(const float* src, float* dst, const Shape& s, Layout from, Layout to,
                                  std::size_t begin, std::size_t end) noexcept {
  const std::size_t c_count = static_cast<std::size_t>(s.c);
  if (from == Layout::nhwc && to == Layout::nhwc) {
    std::copy(src + begin * c_count, src + end * c_count, dst + begin * c_count);
    return;
  }
  const std::size_t plane = static_cast<std::size_t>(s.h) * s.w;
  for (std::size_t pixel = begin; pixel < end;) {
    const std::size_t image = pixel / plane * plane * c_count, first = pixel % plane;
    const std::size_t last = std::min(plane, first + (end - pixel));
    // Runs of 256 pixels, each channel in turn: the strided side's lines stay in L1.
    for (std::size_t p0 = first; p0 < last; p0 += 256) {
      const std::size_t p1 = std::min(last, p0 + 256);
      for (std::size_t c = 0; c < c_count; ++c) {
        const std::size_t nchw = image + c * plane, nhwc = image + c;
        if (from == Layout::nchw && to == Layout::nchw)
          std::copy(src + nchw + p0, src + nchw + p1, dst + nchw + p0);
        else if (from == Layout::nhwc)
          for (std::size_t p = p0; p < p1; ++p) dst[nchw + p] = src[nhwc + p * c_count];
        else
          for (std::size_t p = p0; p < p1; ++p) dst[nhwc + p * c_count] = src[nchw + p];
      }
    }
    pixel += last - first;
  }
}

inline void convert_layout(const float* src, float* dst, const Shape& s, Layout from, Layout to) noexcept {
  convert_layout_pixels(src, dst, s, from, to, 0, static_cast<std::size_t>(s.n) * s.h * s.w);
}
}  // namespace detail

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape, Layout layout = Layout::nhwc)
      : shape_(shape), layout_(layout), data_(checked_size(shape), 0.0f) {}
  Tensor(int n, int h, int w, int c, Layout layout = Layout::nhwc)
      : Tensor(Shape{n, h, w, c}, layout) {}

  const Shape& shape() const noexcept { return shape_; }
  Layout layout() const noexcept { return layout_; }
  int n() const noexcept { return shape_.n; }
  int h() const noexcept { return shape_.h; }
  int w() const noexcept { return shape_.w; }
  int c() const noexcept { return shape_.c; }
  std::size_t size() const noexcept { return data_.size(); }
  bool empty() const noexcept { return data_.empty(); }
  float* data() noexcept { return data_.data(); }
  const float* data() const noexcept { return data_.data(); }
  std::vector<float>& values() noexcept { return data_; }
  const std::vector<float>& values() const noexcept { return data_; }

  /// Element (n, y, x, c), wherever the layout puts it.
  float& at(int n, int y, int x, int c) noexcept { return data_[offset(n, y, x, c)]; }
  float at(int n, int y, int x, int c) const noexcept { return data_[offset(n, y, x, c)]; }

  /// A copy in the requested layout (a plain copy when it already is).
  Tensor to(Layout target) const {
    if (target == layout_) return *this;
    Tensor out(shape_, target);
    detail::convert_layout(data(), out.data(), shape_, layout_, target);
    return out;
  }

 private:
  static std::size_t checked_size(Shape s) {
    if (s.n < 0 || s.h < 0 || s.w < 0 || s.c < 0)
      throw Error(ErrorKind::invalid_argument, "Tensor: negative size in shape " + s.str());
    const long double total = static_cast<long double>(s.n) * s.h * s.w * s.c;
    if (total > static_cast<long double>(1LL << 40))
      throw Error(ErrorKind::too_large, "Tensor: shape " + s.str() + " is too large");
    return static_cast<std::size_t>(s.elements());
  }
  std::size_t offset(int n, int y, int x, int c) const noexcept {
    if (layout_ == Layout::nhwc)
      return ((static_cast<std::size_t>(n) * shape_.h + y) * shape_.w + x) * shape_.c + c;
    return ((static_cast<std::size_t>(n) * shape_.c + c) * shape_.h + y) * shape_.w + x;
  }

  Shape shape_{};
  Layout layout_ = Layout::nhwc;
  std::vector<float> data_;
};

}  // namespace resnet
