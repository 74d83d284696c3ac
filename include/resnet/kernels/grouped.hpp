#pragma once
/// Grouped convolution (ResNeXt), direct: every output channel is a short dot product
/// (k * k * in_c/groups terms), too short for a GEMM to pay for its packing and far too
/// narrow for its 48-row register tile (ResNeXt-50's stage-1 groups have 4 outputs).
/// So the kernel runs straight over NHWC memory, 16 output channels per vector register
/// and a strip of output pixels per tile, with the output channels' weights repacked once
/// as [chunk of 16 outputs][ky][kx][input i of the group][16 lanes]:
///   groups of >= 16 channels  a chunk lies in one group; input i is broadcast;
///   groups of 1, 2, 4, 8       a chunk spans 16/G groups whose inputs are the 16 floats
///                             at the chunk's own channel offset; lane l takes input
///                             (l/G)*G + i of them by an in-register permute.
/// Taps that fall in the zero padding are skipped, never read. Other group shapes (in and
/// out per group unequal, or not dividing / divided by 16) go per group through
/// ConvKernel's GEMM (see conv2d.hpp). The measurements behind the choice are in
/// benchmarks/README.md.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "resnet/core/thread_pool.hpp"
#include "resnet/kernels/conv_params.hpp"
#include "resnet/kernels/gemm.hpp"

namespace resnet::kernels::detail {

class GroupedDirectConv {
 public:
  static constexpr int kLanes = 16;

  /// Shapes this kernel takes: in and out per group equal, 16 % G == 0 or G % 16 == 0.
  static bool supports(const ConvShape& s) {
    const int g = s.group_out();
    return s.groups > 1 && s.group_in() == g && s.out_c % kLanes == 0 && (kLanes % g == 0 || g % kLanes == 0);
  }

  GroupedDirectConv() = default;
  GroupedDirectConv(const ConvShape& s, const float* weight_ohwi) : s_(s), g_(s.group_in()) {
    const int k2 = s.kernel * s.kernel, chunks = s.out_c / kLanes;
    w_.assign(static_cast<std::size_t>(s.weight_count()), 0.0f);
    for (int c = 0; c < chunks; ++c)
      for (int t = 0; t < k2; ++t)
        for (int i = 0; i < g_; ++i)
          for (int l = 0; l < kLanes; ++l) {
            const int o = c * kLanes + l;
            w_[((static_cast<std::size_t>(c) * k2 + t) * g_ + i) * kLanes + l] =
                weight_ohwi[(static_cast<std::size_t>(o) * k2 + t) * g_ + i];
          }
    for (int i = 0; i < g_; ++i)
      for (int l = 0; l < kLanes; ++l) lane_input_.push_back(lane_input(i, l));
  }

  void run(const float* in, int n, int h, int w, float* out, const OutputEpilogue& e, ThreadPool& pool) const {
    const int oh = s_.out_side(h), chunks = s_.out_c / kLanes;
    const Index rows = Index(n) * oh;
    // Rows x chunk ranges: enough tasks that two threads end together on 7x7 maps.
    const Index parts = std::min<Index>(chunks, ceil_div(8 * Index(pool.size()), rows));
    pool.parallel_tasks(rows * parts, [&](std::ptrdiff_t task, int) {
      const Index row = task / parts, part = task % parts;
      const int c0 = static_cast<int>(chunks * part / parts), c1 = static_cast<int>(chunks * (part + 1) / parts);
      for (int c = c0; c < c1; ++c) run_row(in, row, h, w, c, out, e);
    });
  }

 private:
  static constexpr int kTile = 8;  // output pixels per tile: 8 accumulators (+8 inputs for narrow groups)

  struct Tile {
    const float* in;  // the image's first row, at the chunk's first input channel
    Index pixel;      // floats from one input pixel to the next along the row
    int iy0, ky0, ky1, kx0, kx1;  // window top row (may be above the image), valid taps
    const float* w;         // the chunk's packed weights
    float* out;             // output row, at the chunk's first channel
    const float* residual;  // the same place in the residual, or null
  };

  void run_row(const float* in, Index row, int h, int w, int chunk, float* out, const OutputEpilogue& e) const {
    const int k = s_.kernel, st = s_.stride, pad = s_.pad;
    const int oh = s_.out_side(h), ow = s_.out_side(w);
    const int b = static_cast<int>(row / oh), oy = static_cast<int>(row % oh);
    // Output pixels [ox_lo, ox_hi) have every horizontal tap inside the image.
    const int ox_lo = std::min(ow, (pad + st - 1) / st);
    const int ox_hi = w - k + pad < 0 ? ox_lo : std::max(ox_lo, std::min(ow, (w - k + pad) / st + 1));
    const int iy0 = oy * st - pad;
    const std::size_t out_at = (static_cast<std::size_t>(row) * ow) * s_.out_c + std::size_t(chunk) * kLanes;
    const Tile t{in + static_cast<std::ptrdiff_t>(b) * h * Index(w) * s_.in_c + channel_base(chunk),
                 s_.in_c, iy0, std::max(0, -iy0), std::min(k, h - iy0), 0, k,
                 w_.data() + static_cast<std::size_t>(chunk) * k * k * g_ * kLanes, out + out_at,
                 e.residual ? e.residual + out_at : nullptr};
    const float* bias = e.bias ? e.bias + chunk * kLanes : nullptr;
    const auto border = [&](int ox) {
      Tile one = t;
      const int ix0 = ox * st - pad;
      one.kx0 = std::max(0, -ix0);
      one.kx1 = std::min(k, w - ix0);
      pixels<1>(one, w, ox, bias, e.relu);
    };
    for (int ox = 0; ox < ox_lo; ++ox) border(ox);
    int ox = ox_lo;
    for (; ox + kTile <= ox_hi; ox += kTile) pixels<kTile>(t, w, ox, bias, e.relu);
    for (; ox < ox_hi; ++ox) pixels<1>(t, w, ox, bias, e.relu);
    for (ox = ox_hi; ox < ow; ++ox) border(ox);
  }

  // The chunk's first input channel: its group's first (wide groups), or its own offset
  // (narrow groups: 16 outputs of 16/G groups read the same 16 input channels).
  int channel_base(int chunk) const { return g_ >= kLanes ? chunk * kLanes / g_ * g_ : chunk * kLanes; }

  // Output pixels [ox, ox + P) of a row, taps [ky0, ky1) x [kx0, kx1), then bias,
  // residual and ReLU (NaN passes through, as in PyTorch).
  template <int P>
  void pixels(const Tile& t, int w, int ox, const float* bias, bool relu) const {
    const int k = s_.kernel, st = s_.stride, pad = s_.pad, g = g_;
    const Index image_row = Index(w) * t.pixel;
#if defined(__AVX512F__)
    __m512 acc[P];
    for (int p = 0; p < P; ++p) acc[p] = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
    for (int ky = t.ky0; ky < t.ky1; ++ky) {
      const float* row = t.in + (t.iy0 + ky) * image_row;
      for (int kx = t.kx0; kx < t.kx1; ++kx) {
        const float* wk = t.w + static_cast<std::size_t>(ky * k + kx) * g * kLanes;
        const float* x[P];
        for (int p = 0; p < P; ++p) x[p] = row + Index((ox + p) * st + kx - pad) * t.pixel;
        if (g >= kLanes) {
          for (int i = 0; i < g; ++i) {
            const __m512 wv = _mm512_load_ps(wk + i * kLanes);
            for (int p = 0; p < P; ++p) acc[p] = _mm512_fmadd_ps(_mm512_set1_ps(x[p][i]), wv, acc[p]);
          }
        } else {
          __m512 xv[P];
          for (int p = 0; p < P; ++p) xv[p] = _mm512_loadu_ps(x[p]);
          for (int i = 0; i < g; ++i) {
            const __m512 wv = _mm512_load_ps(wk + i * kLanes);
            const __m512i idx = _mm512_loadu_si512(lane_input_.data() + i * kLanes);
            for (int p = 0; p < P; ++p) acc[p] = _mm512_fmadd_ps(_mm512_permutexvar_ps(idx, xv[p]), wv, acc[p]);
          }
        }
      }
    }
    for (int p = 0; p < P; ++p) {
      __m512 v = acc[p];
      if (t.residual) v = _mm512_add_ps(v, _mm512_loadu_ps(t.residual + Index(ox + p) * s_.out_c));
      if (relu) v = _mm512_max_ps(_mm512_setzero_ps(), v);  // max(0, NaN) is NaN
      _mm512_storeu_ps(t.out + Index(ox + p) * s_.out_c, v);
    }
#else
    float acc[P][kLanes];
    for (int p = 0; p < P; ++p)
      for (int l = 0; l < kLanes; ++l) acc[p][l] = bias ? bias[l] : 0.0f;
    for (int ky = t.ky0; ky < t.ky1; ++ky) {
      const float* row = t.in + (t.iy0 + ky) * image_row;
      for (int kx = t.kx0; kx < t.kx1; ++kx) {
        const float* wk = t.w + static_cast<std::size_t>(ky * k + kx) * g * kLanes;
        for (int p = 0; p < P; ++p) {
          const float* x = row + Index((ox + p) * st + kx - pad) * t.pixel;
          for (int i = 0; i < g; ++i)
            for (int l = 0; l < kLanes; ++l) acc[p][l] += x[lane_input(i, l)] * wk[i * kLanes + l];
        }
      }
    }
    for (int p = 0; p < P; ++p)
      for (int l = 0; l < kLanes; ++l) {
        float v = acc[p][l] + (t.residual ? t.residual[Index(ox + p) * s_.out_c + l] : 0.0f);
        if (relu && v < 0.0f) v = 0.0f;  // NaN passes
        t.out[Index(ox + p) * s_.out_c + l] = v;
      }
#endif
  }

  // Which of the chunk's input floats lane l multiplies at step i.
  int lane_input(int i, int l) const { return g_ >= kLanes ? i : l / g_ * g_ + i; }

  ConvShape s_{};
  int g_ = 1;
  AlignedFloats w_;
  std::vector<std::int32_t> lane_input_;  // [i][l] = lane_input(i, l), for the permutes
};

}  // namespace resnet::kernels::detail
