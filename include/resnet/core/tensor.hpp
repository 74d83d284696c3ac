#pragma once
/// An owning 4-D float tensor. The library computes in NHWC; users may hand in or
/// ask for NCHW (what PyTorch holds). A 2-D result (batch x features) is stored as
/// N x 1 x 1 x C, which is the same bytes in either layout.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "resnet/core/error.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

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
#if defined(__AVX512F__)
/// Pixels [first, last) of one image of 3 channel planes (`plane` floats apart) to
/// interleaved RGB: 16 pixels take three loads, six two-source permutes and three
/// stores, where the scalar loop below writes one float at a time (a 224 x 224 input
/// in a pass: 54 -> 22 us on one thread, work before the first layer can start).
inline void nchw3_to_nhwc(const float* image, std::size_t plane, std::size_t first, std::size_t last,
                          float* out) noexcept {
  // Output vector v holds floats 16v .. 16v + 15 of the interleaved run: float f is
  // channel f % 3 of pixel f / 3. Its first permute gathers the lanes from planes 0 and
  // 1 (index bit 4 picks the second source), the second puts plane 2's lanes in place.
  alignas(64) static const std::int32_t mix01[3][16] = {
      {0, 16, 0, 1, 17, 0, 2, 18, 0, 3, 19, 0, 4, 20, 0, 5},
      {21, 0, 6, 22, 0, 7, 23, 0, 8, 24, 0, 9, 25, 0, 10, 26},
      {0, 11, 27, 0, 12, 28, 0, 13, 29, 0, 14, 30, 0, 15, 31, 0}};
  alignas(64) static const std::int32_t mix2[3][16] = {
      {0, 1, 16, 3, 4, 17, 6, 7, 18, 9, 10, 19, 12, 13, 20, 15},
      {0, 21, 2, 3, 22, 5, 6, 23, 8, 9, 24, 11, 12, 25, 14, 15},
      {26, 1, 2, 27, 4, 5, 28, 7, 8, 29, 10, 11, 30, 13, 14, 31}};
  std::size_t p = first;
  for (; p + 16 <= last; p += 16) {
    const __m512 c0 = _mm512_loadu_ps(image + p), c1 = _mm512_loadu_ps(image + plane + p),
                 c2 = _mm512_loadu_ps(image + 2 * plane + p);
    for (int v = 0; v < 3; ++v) {
      const __m512 two = _mm512_permutex2var_ps(c0, _mm512_load_si512(mix01[v]), c1);
      _mm512_storeu_ps(out + 3 * p + 16 * v, _mm512_permutex2var_ps(two, _mm512_load_si512(mix2[v]), c2));
    }
  }
  for (; p < last; ++p)
    for (std::size_t c = 0; c < 3; ++c) out[3 * p + c] = image[c * plane + p];
}
#endif

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
#if defined(__AVX512F__)
    if (from == Layout::nchw && to == Layout::nhwc && c_count == 3) {
      nchw3_to_nhwc(src + image, plane, first, last, dst + image);
      pixel += last - first;
      continue;
    }
#endif
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
