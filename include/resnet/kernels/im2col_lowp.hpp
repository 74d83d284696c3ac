#pragma once
/// Column sources for the reduced-precision GEMMs over a u8 (int8) or bf16 NHWC map: B
/// (K x N) with one column per output pixel, as im2col.hpp's float sources are for the
/// fp32 GEMM. run_length(K) says how the GEMM should ask for a column: whole (K), or in
/// runs it can read in place. Then segment(col, k0, len, tmp) returns those values, in
/// place where they lie in the map, else copied into tmp.
///
/// Padding is the value that stands for 0: the input's zero point for u8 (v means
/// scale * (v - zp)), 0 for bf16.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "resnet/core/error.hpp"
#include "resnet/kernels/lowp_common.hpp"

namespace resnet::kernels {

/// A dense K x N matrix, column j at base + j * ld (a 1x1 stride-1 conv's NHWC map with
/// ld = c), read in place.
template <class T>
struct DenseColumnsOf {
  const T* base;
  LowpIndex ld;

  LowpIndex run_length(LowpIndex k) const { return k; }
  const T* segment(LowpIndex col, LowpIndex k0, LowpIndex, T*) const { return base + col * ld + k0; }
};

/// A 1x1 convolution with stride s: column j is input pixel (n, s * oy, s * ox), whose c
/// values lie in place.
template <class T>
struct PixelColumnsOf {
  const T* in;
  LowpIndex h, w, c, oh, ow, stride;

  LowpIndex run_length(LowpIndex k) const { return k; }
  const T* segment(LowpIndex col, LowpIndex k0, LowpIndex, T*) const {
    const LowpIndex plane = oh * ow, n = col / plane, r = col % plane;
    return in + ((n * h + r / ow * stride) * w + r % ow * stride) * c + k0;
  }
};

namespace detail {
/// memcpy of a gathered window row: one of 16-64 bytes (the stem's 21) as two overlapping
/// fixed-size copies, which compile to two loads and two stores instead of a call: the
/// int8 stem's GEMM (7x7, 3 channels, 224 -> 112, every window gathered) took 543-546 us
/// against 603-625 us with memcpy (one thread, alternated).
inline void copy_run(void* to, const void* from, std::size_t bytes) noexcept {
  auto* d = static_cast<unsigned char*>(to);
  const auto* s = static_cast<const unsigned char*>(from);
  if (bytes >= 16 && bytes <= 32) {
    unsigned char a[16], b[16];
    std::memcpy(a, s, 16);
    std::memcpy(b, s + bytes - 16, 16);
    std::memcpy(d, a, 16);
    std::memcpy(d + bytes - 16, b, 16);
  } else if (bytes > 32 && bytes <= 64) {
    unsigned char a[32], b[32];
    std::memcpy(a, s, 32);
    std::memcpy(b, s + bytes - 32, 32);
    std::memcpy(d, a, 32);
    std::memcpy(d + bytes - 32, b, 32);
  } else {
    std::memcpy(d, s, bytes);
  }
}
}  // namespace detail

/// A k x k window with stride and padding: depth index (ky * k + kx) * c + ci (OHWI), so
/// a window row is k * c contiguous values of the map where it lies inside it. With rows
/// of whole 32-bit words and at least a cache line long (every ResNet 3x3 past the stem)
/// the GEMM reads one run per row, in place inside the map; otherwise it asks for whole
/// windows, gathered. Short runs cost more than the gather: the 7x7 stem on a 4-channel
/// u8 map (runs of 28 bytes) took 1.55 ms in place against 0.90 ms gathered on 3
/// channels.
template <class T>
struct PatchColumnsOf {
  const T* in;
  LowpIndex h, w, c, k, stride, pad, oh, ow;
  T pad_value;

  LowpIndex run_length(LowpIndex depth) const {
    const LowpIndex bytes = k * c * static_cast<LowpIndex>(sizeof(T));
    return bytes % 4 == 0 && bytes >= 64 ? k * c : depth;
  }

  /// Window rows [k0 / (k c), (k0 + len) / (k c)) of column col; k0 and len are whole rows.
  const T* segment(LowpIndex col, LowpIndex k0, LowpIndex len, T* tmp) const {
    const LowpIndex plane = oh * ow, n = col / plane, r = col % plane;
    return window_rows(n, r / ow, r % ow, k0 / (k * c), len / (k * c), tmp);
  }

  /// column_table's work for columns [col0, col0 + count): the pixel steps along the rows
  /// instead of being divided out of each column index (three 64-bit divisions per
  /// column and run; 4 % of an int8 ResNet-50 pass).
  void columns(LowpIndex col0, LowpIndex count, LowpIndex run, LowpIndex segments, LowpIndex depth, const T** table,
               T* tmp) const {
    const LowpIndex plane = oh * ow, rows = run / (k * c);
    LowpIndex n = col0 / plane, oy = col0 % plane / ow, ox = col0 % ow;
    for (LowpIndex j = 0; j < count; ++j) {
      for (LowpIndex s = 0; s < segments; ++s)
        table[j * segments + s] = window_rows(n, oy, ox, s * rows, rows, tmp ? tmp + j * depth + s * run : nullptr);
      if (++ox == ow) {
        ox = 0;
        if (++oy == oh) oy = 0, ++n;
      }
    }
  }

 private:
  // Window rows [ky0, ky0 + rows) of output pixel (n, oy, ox).
  const T* window_rows(LowpIndex n, LowpIndex oy, LowpIndex ox, LowpIndex ky0, LowpIndex rows, T* tmp) const {
    const LowpIndex iy0 = oy * stride - pad, ix0 = ox * stride - pad;
    const LowpIndex kx_lo = std::max<LowpIndex>(0, -ix0), kx_hi = std::max(kx_lo, std::min(k, w - ix0));
    const LowpIndex row = k * c;
    if (rows == 1 && kx_lo == 0 && kx_hi == k && iy0 + ky0 >= 0 && iy0 + ky0 < h)
      return in + ((n * h + iy0 + ky0) * w + ix0) * c;  // inside the map: in place
    if (!tmp)
      throw Error(ErrorKind::invalid_argument,
                  "PatchColumnsOf: a window over the border is copied, but the GEMM was given no scratch");
    for (LowpIndex ky = ky0; ky < ky0 + rows; ++ky) {
      T* d = tmp + (ky - ky0) * row;
      const LowpIndex iy = iy0 + ky;
      if (iy < 0 || iy >= h) {
        std::fill(d, d + row, pad_value);
        continue;
      }
      std::fill(d, d + kx_lo * c, pad_value);
      if (kx_hi > kx_lo)
        detail::copy_run(d + kx_lo * c, in + ((n * h + iy) * w + ix0 + kx_lo) * c,
                         sizeof(T) * static_cast<std::size_t>((kx_hi - kx_lo) * c));
      std::fill(d + kx_hi * c, d + row, pad_value);
    }
    return tmp;
  }
};

namespace detail {
template <class Source, class = void>
struct has_columns : std::false_type {};
template <class Source>
struct has_columns<Source, std::void_t<decltype(&Source::columns)>> : std::true_type {};
}  // namespace detail

/// The GEMMs' column table for columns [col0, col0 + count), each in `segments` runs of
/// `run` values (segments * run = depth): table[j * segments + s] = src.segment(col0 + j,
/// s * run, run, tmp + j * depth + s * run), tmp null for a source that never copies.
/// A source with a columns() of its own fills it so.
template <class Source, class T>
void column_table(const Source& src, LowpIndex col0, LowpIndex count, LowpIndex run, LowpIndex segments,
                  LowpIndex depth, const T** table, T* tmp) {
  if constexpr (detail::has_columns<Source>::value) {
    src.columns(col0, count, run, segments, depth, table, tmp);
  } else {
    for (LowpIndex j = 0; j < count; ++j)
      for (LowpIndex s = 0; s < segments; ++s)
        table[j * segments + s] = src.segment(col0 + j, s * run, run, tmp ? tmp + j * depth + s * run : nullptr);
  }
}

using U8PixelColumns = PixelColumnsOf<std::uint8_t>;
using U8PatchColumns = PatchColumnsOf<std::uint8_t>;      ///< pad_value: the input's zero point
using Bf16PixelColumns = PixelColumnsOf<std::uint16_t>;   ///< bf16 bits
using Bf16PatchColumns = PatchColumnsOf<std::uint16_t>;   ///< pad_value: 0 (bf16 +0)

}  // namespace resnet::kernels
