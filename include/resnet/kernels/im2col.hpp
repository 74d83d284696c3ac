#pragma once
/// Column sources for the GEMM: they present an NHWC input as the K x N matrix B (one
/// column per output pixel) without ever materialising it. The GEMM asks for one column's
/// depth range at a time, in runs of run_length() floats: segment() returns a run in
/// place when it lies inside the image, and copies it zero-padded otherwise; runs() does
/// the same for a slice of columns at once (the panel kernels' table of run pointers).
/// So im2col happens in cache-sized slices (kc x nc floats) and mostly not at all.

#include <algorithm>
#include <cstring>

#include "resnet/kernels/gemm.hpp"

namespace resnet::kernels::detail {

/// B is a dense column-major matrix: column j at base + j * ld (1x1 stride 1 over NHWC).
struct DenseColumns {
  const float* base;
  Index ld;
  Index run_length(Index, Index kk) const { return kk; }
  const float* segment(Index col, Index k0, Index, float*) const { return base + col * ld + k0; }
  void runs(Index col0, Index ncols, Index k0, Index run, Index count, const float** out, float*) const {
    for (Index j = 0; j < ncols; ++j)
      for (Index r = 0; r < count; ++r) out[j * count + r] = base + (col0 + j) * ld + k0 + r * run;
  }
};

/// 1x1 convolution with stride s: column j is input pixel (n, s*oy, s*ox).
struct StridedColumns {
  const float* in;
  Index h, w, c, oh, ow, stride;
  Index run_length(Index, Index kk) const { return kk; }
  const float* segment(Index col, Index k0, Index, float*) const {
    const Index plane = oh * ow;
    const Index n = col / plane, r = col % plane;
    const Index oy = r / ow, ox = r % ow;
    return in + ((n * h + oy * stride) * w + ox * stride) * c + k0;
  }
  void runs(Index col0, Index ncols, Index k0, Index run, Index count, const float** out, float*) const {
    for (Index j = 0; j < ncols; ++j) {
      const float* p = segment(col0 + j, k0, run, nullptr);
      for (Index r = 0; r < count; ++r) out[j * count + r] = p + r * run;
    }
  }
};

/// k x k window with stride and zero padding: depth index = (ky * k + kx) * c + ci, the
/// OHWI order, so one window row (k * c floats) is contiguous in NHWC memory.
struct PatchColumns {
  const float* in;
  Index h, w, c, k, stride, pad, oh, ow;

  // Window rows (k * c floats each) lie in place in NHWC memory: runs of whole rows, or
  // of a fraction of one.
  Index run_length(Index k0, Index kk) const {
    const Index row_len = k * c;
    if (k0 % row_len == 0 && kk % row_len == 0) return row_len;
    if (row_len % kk == 0 && k0 % kk == 0) return kk;
    return 0;
  }

  // Where column col's window sits: image n, top-left input pixel (iy0, ix0), and the
  // valid part of each window row, positions [v_lo, v_hi).
  struct Window {
    Index n, iy0, ix0, v_lo, v_hi;
  };
  Window window(Index col) const {
    const Index plane = oh * ow;
    const Index n = col / plane, r = col % plane;
    const Index iy0 = (r / ow) * stride - pad, ix0 = (r % ow) * stride - pad;
    const Index kx_lo = std::max<Index>(0, -ix0), kx_hi = std::min<Index>(k, w - ix0);
    return {n, iy0, ix0, kx_lo * c, std::max(kx_hi * c, kx_lo * c)};
  }

  const float* segment(Index col, Index k0, Index len, float* tmp) const {
    const Index row_len = k * c;
    return segment(window(col), k0 / row_len, k0 % row_len, len, tmp);
  }

  // For columns [col0, col0 + ncols): `count` runs of `run` floats each from depth k0 on,
  // column j's at out[j * count ...], copies (if needed) at copies + j * count * run.
  // The windows are walked along the output rows: no divisions per column.
  void runs(Index col0, Index ncols, Index k0, Index run, Index count, const float** out, float* copies) const {
    const Index row_len = k * c;
    const Index ky0 = k0 / row_len, pos0 = k0 % row_len;
    Window win = window(col0);
    Index ox = (col0 % (oh * ow)) % ow;
    for (Index j = 0; j < ncols; ++j) {
      for (Index r = 0; r < count; ++r)  // count > 1 only for runs of whole rows
        out[j * count + r] = segment(win, ky0 + r, pos0, run, copies + (j * count + r) * run);
      if (++ox < ow) {
        win.ix0 += stride;
        const Index kx_lo = std::max<Index>(0, -win.ix0), kx_hi = std::min<Index>(k, w - win.ix0);
        win.v_lo = kx_lo * c;
        win.v_hi = std::max(kx_hi * c, win.v_lo);
      } else if (j + 1 < ncols) {
        win = window(col0 + j + 1);
        ox = 0;
      }
    }
  }

 private:
  // len values from window row ky, position pos on: in place when inside the image,
  // else copied into tmp with zeros for the padding.
  const float* segment(const Window& win, Index ky, Index pos, Index len, float* tmp) const {
    const Index row_len = k * c;
    const Index iy = win.iy0 + ky;
    if (pos + len <= row_len && iy >= 0 && iy < h && pos >= win.v_lo && pos + len <= win.v_hi)
      return in + ((win.n * h + iy) * w + win.ix0) * c + pos;
    Index done = 0;
    while (done < len) {
      const Index cnt = std::min(len - done, row_len - pos);
      const Index y = win.iy0 + ky;
      float* d = tmp + done;
      if (y < 0 || y >= h) {
        std::fill(d, d + cnt, 0.0f);
      } else {
        const float* row = in + (win.n * h + y) * w * c;  // position p of the window row is row[ix0 * c + p]
        const Index a = pos, b = pos + cnt;
        // zeros on [a, ca), image on [ca, cb), zeros on [cb, b)
        const Index ca = std::min(std::max(a, win.v_lo), b), cb = std::max(ca, std::min(b, win.v_hi));
        std::fill(d, d + (ca - a), 0.0f);
        if (cb > ca)
          std::memcpy(d + (ca - a), row + (win.ix0 * c + ca), sizeof(float) * static_cast<std::size_t>(cb - ca));
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
