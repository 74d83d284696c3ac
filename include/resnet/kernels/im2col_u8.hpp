#pragma once
/// Column sources for the int8 GEMM over a u8 NHWC map: B (K x N) with one column per
/// output pixel, as im2col.hpp's float sources are for the fp32 GEMM. run_length(K) says
/// how the GEMM should ask for a column: whole (K), or in runs it can read in place. Then
/// segment(col, k0, len, tmp) returns those bytes, in place where they lie in the map,
/// else copied into tmp.
///
/// Padding is the input's zero point, not 0: a u8 value v stands for scale * (v - zp),
/// so the real zero the convolution pads with is zp.

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "resnet/kernels/lowp_common.hpp"

namespace resnet::kernels {

/// A 1x1 convolution with stride s: column j is input pixel (n, s * oy, s * ox), whose c
/// bytes lie in place.
struct U8PixelColumns {
  const std::uint8_t* in;
  LowpIndex h, w, c, oh, ow, stride;

  LowpIndex run_length(LowpIndex k) const { return k; }
  const std::uint8_t* segment(LowpIndex col, LowpIndex k0, LowpIndex, std::uint8_t*) const {
    const LowpIndex plane = oh * ow, n = col / plane, r = col % plane;
    return in + ((n * h + r / ow * stride) * w + r % ow * stride) * c + k0;
  }
};

/// A k x k window with stride and padding: depth index (ky * k + kx) * c + ci (OHWI), so
/// a window row is k * c contiguous bytes of the map where it lies inside it. With rows
/// of whole words (k * c a multiple of 4: every ResNet 3x3 past the stem) the GEMM reads
/// one run per row, in place inside the map; otherwise (the 7x7 stem on 3 channels) it
/// asks for whole windows, gathered.
struct U8PatchColumns {
  const std::uint8_t* in;
  LowpIndex h, w, c, k, stride, pad, oh, ow;
  std::uint8_t zero_point;

  LowpIndex run_length(LowpIndex depth) const { return (k * c) % 4 == 0 ? k * c : depth; }

  /// Window rows [k0 / (k c), (k0 + len) / (k c)) of column col; k0 and len are whole rows.
  const std::uint8_t* segment(LowpIndex col, LowpIndex k0, LowpIndex len, std::uint8_t* tmp) const {
    const LowpIndex plane = oh * ow, n = col / plane, r = col % plane;
    const LowpIndex iy0 = r / ow * stride - pad, ix0 = r % ow * stride - pad;
    const LowpIndex kx_lo = std::max<LowpIndex>(0, -ix0), kx_hi = std::max(kx_lo, std::min(k, w - ix0));
    const LowpIndex row = k * c, ky0 = k0 / row, rows = len / row;
    if (rows == 1 && kx_lo == 0 && kx_hi == k && iy0 + ky0 >= 0 && iy0 + ky0 < h)
      return in + ((n * h + iy0 + ky0) * w + ix0) * c;  // inside the map: in place
    for (LowpIndex ky = ky0; ky < ky0 + rows; ++ky) {
      std::uint8_t* d = tmp + (ky - ky0) * row;
      const LowpIndex iy = iy0 + ky;
      if (iy < 0 || iy >= h) {
        std::memset(d, zero_point, static_cast<std::size_t>(row));
        continue;
      }
      std::memset(d, zero_point, static_cast<std::size_t>(kx_lo * c));
      if (kx_hi > kx_lo)
        std::memcpy(d + kx_lo * c, in + ((n * h + iy) * w + ix0 + kx_lo) * c,
                    static_cast<std::size_t>((kx_hi - kx_lo) * c));
      std::memset(d + kx_hi * c, zero_point, static_cast<std::size_t>((k - kx_hi) * c));
    }
    return tmp;
  }
};

}  // namespace resnet::kernels
