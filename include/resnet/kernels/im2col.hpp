#pragma once
/// Column sources for the GEMM packer: they present an NHWC input as the K x N matrix B
/// (one column per output pixel) without ever materialising it. The packer asks for one
/// column's depth range at a time, so im2col happens in cache-sized slices inside the
/// packing step (kc x nc floats), not as a separate pass over a full im2col matrix.

#include <algorithm>
#include <cstring>

#include "resnet/kernels/gemm.hpp"

namespace resnet::kernels::detail {

/// B is a dense column-major matrix: column j at base + j * ld (1x1 stride 1 over NHWC).
struct DenseColumns {
  static constexpr bool kContiguousColumns = true;  // column j at base + j * ld: GEMM reads it in place
  const float* base;
  Index ld;
  const float* segment(Index col, Index k0, Index, float*) const { return base + col * ld + k0; }
};

/// 1x1 convolution with stride s: column j is input pixel (n, s*oy, s*ox).
struct StridedColumns {
  static constexpr bool kContiguousColumns = false;
  const float* in;
  Index h, w, c, oh, ow, stride;
  const float* segment(Index col, Index k0, Index, float*) const {
    const Index plane = oh * ow;
    const Index n = col / plane, r = col % plane;
    const Index oy = r / ow, ox = r % ow;
    return in + ((n * h + oy * stride) * w + ox * stride) * c + k0;
  }
};

/// k x k window with stride and zero padding: depth index = (ky * k + kx) * c + ci, the
/// OHWI order, so one window row (k * c floats) is contiguous in NHWC memory.
struct PatchColumns {
  static constexpr bool kContiguousColumns = false;
  const float* in;
  Index h, w, c, k, stride, pad, oh, ow;

  const float* segment(Index col, Index k0, Index len, float* tmp) const {
    const Index plane = oh * ow;
    const Index n = col / plane, r = col % plane;
    const Index iy0 = (r / ow) * stride - pad, ix0 = (r % ow) * stride - pad;
    const Index row_len = k * c;
    // Valid part of a window row, in row positions: kx in [kx_lo, kx_hi).
    const Index kx_lo = std::max<Index>(0, -ix0), kx_hi = std::min<Index>(k, w - ix0);
    const Index v_lo = kx_lo * c, v_hi = std::max(kx_hi * c, v_lo);
    Index ky = k0 / row_len, pos = k0 % row_len;
    const Index iy = iy0 + ky;
    if (pos + len <= row_len && iy >= 0 && iy < h && pos >= v_lo && pos + len <= v_hi)
      return in + ((n * h + iy) * w + ix0) * c + pos;  // whole segment inside the image
    Index done = 0;
    while (done < len) {
      const Index cnt = std::min(len - done, row_len - pos);
      const Index y = iy0 + ky;
      float* d = tmp + done;
      if (y < 0 || y >= h) {
        std::fill(d, d + cnt, 0.0f);
      } else {
        const float* row = in + (n * h + y) * w * c;  // position p of the window row is row[ix0 * c + p]
        const Index a = pos, b = pos + cnt;
        // zeros on [a, ca), image on [ca, cb), zeros on [cb, b)
        const Index ca = std::min(std::max(a, v_lo), b), cb = std::max(ca, std::min(b, v_hi));
        std::fill(d, d + (ca - a), 0.0f);
        if (cb > ca) std::memcpy(d + (ca - a), row + (ix0 * c + ca), sizeof(float) * static_cast<std::size_t>(cb - ca));
        std::fill(d + (cb - a), d + cnt, 0.0f);
      }
      done += cnt;
      ++ky;
      pos = 0;
    }
    return tmp;
  }
};

}  // namespace resnet::kernels::detail
