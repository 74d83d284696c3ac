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
///                             (l/G)*G + i of them by an in-register permute (groups
///                             of 4: four partial sums instead, pixels4, no permute).
/// Window rows in the zero padding are skipped; columns there read a buffer of zeros, so
/// border pixels run in the same tiles as the rest. A row is cut into tiles of 8 pixels,
/// then 4, 2, 1, except where groups of a multiple of 32 channels meet a map whose width
/// is not a multiple of 8 (ResNeXt-50's 7x7 stage): there tiles of 8 pixels run along the
/// flattened map, across rows (flat_pixels), instead of ending each row in tiles that keep
/// too few accumulator chains in flight. Other group shapes (in and
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
    // [chunk][tap][step j][16 lanes]: at step j lane l takes the weight of output l for
    // input j, except for pixels4 (the vector kernel's groups of 4), where step j is
    // output j of each group and lane l = 4 group + i holds its weight for input i.
#if defined(__AVX512F__)
    const bool partials = g_ == 4;
#else
    const bool partials = false;
#endif
    for (int c = 0; c < chunks; ++c)
      for (int t = 0; t < k2; ++t)
        for (int j = 0; j < g_; ++j)
          for (int l = 0; l < kLanes; ++l) {
            const int o = c * kLanes + (partials ? l / 4 * 4 + j : l), i = partials ? l % 4 : j;
            w_[((static_cast<std::size_t>(c) * k2 + t) * g_ + j) * kLanes + l] =
                weight_ohwi[(static_cast<std::size_t>(o) * k2 + t) * g_ + i];
          }
    for (int i = 0; i < g_; ++i)
      for (int l = 0; l < kLanes; ++l) lane_input_.push_back(lane_input(i, l));
    zeros_.assign(static_cast<std::size_t>(2 * std::max(g_, int(kLanes))), 0.0f);  // a pair of groups of 16
  }

  void run(const float* in, int n, int h, int w, float* out, const OutputEpilogue& e, ThreadPool& pool) const {
    // Groups of a multiple of 32 channels: two chunks of one group per tile share each
    // broadcast input (48 wide: a pair would straddle two groups). Groups of 16, 8 and 4:
    // a tile takes two neighbouring chunks (of different groups), which share the finding
    // of their inputs and double the accumulator chains of the 4- and 2-pixel tiles.
    const bool shared = g_ % (2 * kLanes) == 0;
    const bool paired = g_ == kLanes || g_ == 8 || g_ == 4;
    const int pair = shared || (paired && s_.out_c % (2 * kLanes) == 0) ? 2 : 1;
    const int units = s_.out_c / kLanes / pair;
#if defined(__AVX512F__)
    if (shared && s_.out_side(w) % 8 != 0 && s_.kernel <= 16) {  // flat_pixels' masks: 16 bits
      run_flat(in, n, h, w, out, e, pool, units);
      return;
    }
#endif
    const Index rows = Index(n) * s_.out_side(h);
    // Rows x chunk ranges: enough tasks that two threads end together on 7x7 maps.
    const Index parts = std::min<Index>(units, ceil_div(8 * Index(pool.size()), rows));
    pool.parallel_tasks(rows * parts, [&](std::ptrdiff_t task, int) {
      const Index row = task / parts, part = task % parts;
      const int u0 = static_cast<int>(units * part / parts), u1 = static_cast<int>(units * (part + 1) / parts);
      for (int u = u0; u < u1; ++u) {
        if (pair == 2)
          run_row<2>(in, row, h, w, 2 * u, out, e);
        else
          run_row<1>(in, row, h, w, u, out, e);
      }
    });
  }

 private:
  struct Tile {
    const float* in;  // the image's first row, at the chunk's first input channel
    Index pixel;      // floats from one input pixel to the next along the row
    int w, iy0, ky0, ky1;   // image width, window top row (may be above the image), valid rows
                            // (flat_pixels: image height in ky1, the others unused)
    const float* w_chunk;   // the chunk's packed weights
    float* out;             // output row, at the chunk's first channel
    const float* residual;  // the same place in the residual, or null
    const float* bias;      // the chunk's, or null
    bool relu;
  };

  // A row in tiles of 8 output pixels, the rest in tiles of 4, 2, 1: each tile keeps that
  // many independent accumulator chains in flight (7x7 maps: 4 + 2 + 1).
  template <int Q>
  void run_row(const float* in, Index row, int h, int w, int chunk, float* out, const OutputEpilogue& e) const {
    const int k = s_.kernel, st = s_.stride, pad = s_.pad;
    const int oh = s_.out_side(h), ow = s_.out_side(w);
    const int b = static_cast<int>(row / oh), oy = static_cast<int>(row % oh);
    const int iy0 = oy * st - pad;
    const std::size_t out_at = (static_cast<std::size_t>(row) * ow) * s_.out_c + std::size_t(chunk) * kLanes;
    const Tile t{in + static_cast<std::ptrdiff_t>(b) * h * Index(w) * s_.in_c + channel_base(chunk),
                 s_.in_c, w, iy0, std::max(0, -iy0), std::min(k, h - iy0),
                 w_.data() + static_cast<std::size_t>(chunk) * k * k * g_ * kLanes, out + out_at,
                 e.residual ? e.residual + out_at : nullptr, e.bias ? e.bias + chunk * kLanes : nullptr, e.relu};
    int ox = 0;
    for (; ox + 8 <= ow; ox += 8) pixels<8, Q>(t, ox);
    if (ox + 4 <= ow) pixels<4, Q>(t, ox), ox += 4;
    if (ox + 2 <= ow) pixels<2, Q>(t, ox), ox += 2;
    if (ox < ow) pixels<1, Q>(t, ox);
  }

#if defined(__AVX512F__)
  // Groups of a multiple of 32 channels: one task per pair of chunks (32 outputs of one
  // group) and image, over the flattened output map in tiles of 8 pixels that may cross
  // rows (flat_pixels). Measured against row tiles (1 thread, CPU time, median of 7
  // alternated runs): 1024 channels in groups of 32 at 7x7 -41%, 14 -> 7 stride 2 -42%;
  // in groups of 16 (pairs of chunks from two groups, no shared inputs) it gained nothing
  // at 14x14 and lost 8% at 28 -> 14, so those keep row tiles. A task takes the whole map
  // so that the pair's weights (36 KB for groups of 32) come from memory once and then
  // from L1: in a network pass they are not in cache (ResNeXt-50's 7x7 layers: 1.2 MB),
  // and strips of 8 pixels times ranges of pairs re-read every pair's weights per strip
  // (ResNeXt-50's three 7x7 grouped convs, per job in a pass: see benchmarks/README.md).
  // Pair-major order: a pair's weights serve every image of the batch in turn.
  void run_flat(const float* in, int n, int h, int w, float* out, const OutputEpilogue& e, ThreadPool& pool,
                int units) const {
    const int k = s_.kernel, ow = s_.out_side(w);
    const Index pixels = Index(s_.out_side(h)) * ow;
    pool.parallel_tasks(Index(n) * units, [&](std::ptrdiff_t task, int) {
      const int chunk = 2 * static_cast<int>(task / n);
      const Index b = task % n;
      const std::size_t out_at = static_cast<std::size_t>(b * pixels) * s_.out_c + std::size_t(chunk) * kLanes;
      const Tile t{in + static_cast<std::ptrdiff_t>(b) * h * Index(w) * s_.in_c + channel_base(chunk),
                   s_.in_c, w, 0, 0, h,
                   w_.data() + static_cast<std::size_t>(chunk) * k * k * g_ * kLanes, out + out_at,
                   e.residual ? e.residual + out_at : nullptr, e.bias ? e.bias + chunk * kLanes : nullptr, e.relu};
      flat_strip<2>(t, ow, 0, pixels);
    });
  }

  template <int Q>
  void flat_strip(const Tile& t, int ow, Index p, Index p1) const {
    for (; p + 8 <= p1; p += 8) flat_pixels<8, Q>(t, ow, p);
    if (p + 4 <= p1) flat_pixels<4, Q>(t, ow, p), p += 4;
    if (p + 2 <= p1) flat_pixels<2, Q>(t, ow, p), p += 2;
    if (p < p1) flat_pixels<1, Q>(t, ow, p);
  }

  // Output pixels [first, first + P) of the flattened map (output width ow), which may
  // cross rows: each pixel finds its own inputs at every tap, zeros_ outside the image;
  // window rows outside the image for all P pixels are skipped. Q chunks of one group of
  // >= 16 channels (each input broadcast).
  template <int P, int Q>
  void flat_pixels(const Tile& t, int ow, Index first) const {
    const int k = s_.kernel, st = s_.stride, pad = s_.pad, g = g_, h = t.ky1;
    const Index image_row = Index(t.w) * t.pixel;
    const std::size_t chunk_weights = static_cast<std::size_t>(k) * k * g * kLanes;
    // Per pixel: its window's top-left corner as an offset from t.in, and which window
    // rows and columns lie in the image (bit j: row / column j).
    Index corner[P];
    unsigned rows[P], cols[P];
    int ky0 = k, ky1 = 0;
    int oy = static_cast<int>(first / ow), ox = static_cast<int>(first % ow);
    for (int p = 0; p < P; ++p) {
      const int iy = oy * st - pad, ix = ox * st - pad;
      corner[p] = (Index(iy) * t.w + ix) * t.pixel;
      rows[p] = cols[p] = 0;
      for (int j = 0; j < k; ++j) {
        rows[p] |= unsigned(iy + j >= 0 && iy + j < h) << j;
        cols[p] |= unsigned(ix + j >= 0 && ix + j < t.w) << j;
      }
      ky0 = std::min(ky0, std::max(0, -iy));
      ky1 = std::max(ky1, std::min(k, h - iy));
      if (++ox == ow) ox = 0, ++oy;
    }
    __m512 acc[P][Q];
    for (int p = 0; p < P; ++p)
      for (int q = 0; q < Q; ++q) acc[p][q] = t.bias ? _mm512_loadu_ps(t.bias + q * kLanes) : _mm512_setzero_ps();
    for (int ky = ky0; ky < ky1; ++ky)
      for (int kx = 0; kx < k; ++kx) {
        const float* wk = t.w_chunk + static_cast<std::size_t>(ky * k + kx) * g * kLanes;
        const Index tap = ky * image_row + kx * t.pixel;
        const float* x[P];
        for (int p = 0; p < P; ++p) x[p] = (rows[p] >> ky) & (cols[p] >> kx) & 1u ? t.in + corner[p] + tap : zeros_.data();
        broadcast_inputs<P, Q>(acc, x, wk, g, chunk_weights);
      }
    store<P, Q>(t, acc, first);
  }

  // One tap of a wide group: each of the g inputs of pixel p (at x[p]) broadcast against
  // the Q chunks' weight vectors (wk, chunk_weights apart). kShared: the chunks are of
  // one group and share the broadcast; else chunk q is of the group whose inputs start
  // q * kLanes floats further (groups of 16).
  template <int P, int Q, bool kShared = true>
  __attribute__((always_inline)) static void broadcast_inputs(__m512 (&acc)[P][Q], const float* const (&x)[P],
                                                              const float* wk, int g, std::size_t chunk_weights) {
    for (int i = 0; i < g; ++i) {
      __m512 wv[Q];
      for (int q = 0; q < Q; ++q) wv[q] = _mm512_load_ps(wk + q * chunk_weights + i * kLanes);
      for (int p = 0; p < P; ++p) {
        const __m512 xi = _mm512_set1_ps(x[p][i]);
        for (int q = 0; q < Q; ++q)
          acc[p][q] = _mm512_fmadd_ps(kShared || q == 0 ? xi : _mm512_set1_ps(x[p][i + q * kLanes]), wv[q], acc[p][q]);
      }
    }
  }

  // The tile's epilogue: bias is in acc already; residual, ReLU (NaN passes through, as
  // in PyTorch), stored at pixels [first, first + P) from t.out.
  template <int P, int Q>
  __attribute__((always_inline)) void store(const Tile& t, __m512 (&acc)[P][Q], Index first) const {
    for (int p = 0; p < P; ++p)
      for (int q = 0; q < Q; ++q) {
        const Index at = (first + p) * s_.out_c + q * kLanes;
        __m512 v = acc[p][q];
        if (t.residual) v = _mm512_add_ps(v, _mm512_loadu_ps(t.residual + at));
        if (t.relu) v = _mm512_max_ps(_mm512_setzero_ps(), v);  // max(0, NaN) is NaN
        _mm512_storeu_ps(t.out + at, v);
      }
  }
#endif

  // The chunk's first input channel: its group's first (wide groups), or its own offset
  // (narrow groups: 16 outputs of 16/G groups read the same 16 input channels).
  int channel_base(int chunk) const { return g_ >= kLanes ? chunk * kLanes / g_ * g_ : chunk * kLanes; }

  // Output pixels [ox, ox + P) of a row, Q chunks from the tile's, over taps
  // [ky0, ky1) x [0, k), then bias, residual and ReLU (NaN passes through, as in
  // PyTorch). A tap left or right of the image reads zeros_, so border pixels share the
  // tiles of the interior.
  template <int P, int Q>
  void pixels(const Tile& t, int ox) const {
    const int k = s_.kernel, st = s_.stride, pad = s_.pad, g = g_;
    const Index image_row = Index(t.w) * t.pixel;
    const std::size_t chunk_weights = static_cast<std::size_t>(k) * k * g * kLanes;
#if defined(__AVX512F__)
    if (g == 4) {
      for (int q = 0; q < Q; ++q) {
        if constexpr (P > 4) {
          pixels4<4>(t, ox, q);
          pixels4<P - 4>(t, ox + 4, q);
        } else {
          pixels4<P>(t, ox, q);
        }
      }
      return;
    }
    __m512 acc[P][Q];
    for (int p = 0; p < P; ++p)
      for (int q = 0; q < Q; ++q) acc[p][q] = t.bias ? _mm512_loadu_ps(t.bias + q * kLanes) : _mm512_setzero_ps();
    for (int ky = t.ky0; ky < t.ky1; ++ky) {
      const float* row = t.in + (t.iy0 + ky) * image_row;
      for (int kx = 0; kx < k; ++kx) {
        const float* wk = t.w_chunk + static_cast<std::size_t>(ky * k + kx) * g * kLanes;
        const float* x[P];
        for (int p = 0; p < P; ++p) x[p] = input(row, t, (ox + p) * st + kx - pad);
        if (Q > 1 && g == kLanes) {
          broadcast_inputs<P, Q, false>(acc, x, wk, g, chunk_weights);
        } else if (g >= kLanes) {
          broadcast_inputs<P, Q>(acc, x, wk, g, chunk_weights);
        } else if (g == 8) {  // (groups of 4 went to pixels4 above)
          // In-lane permutes with an immediate (vpermilps) instead of vpermps, which took
          // half the time, after copying each group's first (second) 128-bit half over
          // both of its halves, once per four inputs. Chunk q of a pair reads the 16 floats
          // after chunk q - 1's.
#pragma GCC unroll 2
          for (int q = 0; q < Q; ++q) {
            const float* wq = wk + q * chunk_weights;
            __m512 xv[P], xs[P];
            for (int p = 0; p < P; ++p) xv[p] = _mm512_loadu_ps(x[p] + q * kLanes);
            for (int p = 0; p < P; ++p) xs[p] = _mm512_shuffle_f32x4(xv[p], xv[p], 0xA0);  // lanes 0 0 2 2
            narrow4<P>(acc, xs, wq, q);
            for (int p = 0; p < P; ++p) xs[p] = _mm512_shuffle_f32x4(xv[p], xv[p], 0xF5);  // lanes 1 1 3 3
            narrow4<P>(acc, xs, wq + 4 * kLanes, q);
          }
        } else {
          __m512 xv[P];
          for (int p = 0; p < P; ++p) xv[p] = _mm512_loadu_ps(x[p]);
          for (int i = 0; i < g; ++i) {
            const __m512 wv = _mm512_load_ps(wk + i * kLanes);
            const __m512i idx = _mm512_loadu_si512(lane_input_.data() + i * kLanes);
            for (int p = 0; p < P; ++p)
              acc[p][0] = _mm512_fmadd_ps(_mm512_permutexvar_ps(idx, xv[p]), wv, acc[p][0]);
          }
        }
      }
    }
    store<P, Q>(t, acc, ox);
#else
    // Chunk q of a pair reads the same inputs (one group of a multiple of 32 channels) or
    // the 16 after chunk q - 1's (a pair of groups of 16, or of 16-channel runs of groups
    // of 4 and 8), as in the vector code above.
    const int q_inputs = g % (2 * kLanes) == 0 ? 0 : kLanes;
    float acc[P][Q][kLanes];
    for (int p = 0; p < P; ++p)
      for (int q = 0; q < Q; ++q)
        for (int l = 0; l < kLanes; ++l) acc[p][q][l] = t.bias ? t.bias[q * kLanes + l] : 0.0f;
    for (int ky = t.ky0; ky < t.ky1; ++ky) {
      const float* row = t.in + (t.iy0 + ky) * image_row;
      for (int kx = 0; kx < k; ++kx) {
        const float* wk = t.w_chunk + static_cast<std::size_t>(ky * k + kx) * g * kLanes;
        for (int p = 0; p < P; ++p) {
          const float* x = input(row, t, (ox + p) * st + kx - pad);
          for (int q = 0; q < Q; ++q)
            for (int i = 0; i < g; ++i)
              for (int l = 0; l < kLanes; ++l)
                acc[p][q][l] += x[q * q_inputs + lane_input(i, l)] * wk[q * chunk_weights + i * kLanes + l];
        }
      }
    }
    for (int p = 0; p < P; ++p)
      for (int q = 0; q < Q; ++q)
        for (int l = 0; l < kLanes; ++l) {
          const Index at = Index(ox + p) * s_.out_c + q * kLanes + l;
          float v = acc[p][q][l] + (t.residual ? t.residual[at] : 0.0f);
          if (t.relu && v < 0.0f) v = 0.0f;  // NaN passes
          t.out[at] = v;
        }
#endif
  }

#if defined(__AVX512F__)
  // Groups of 4, without permutes: partial sum o of an output vector gathers, in lane
  // (group, input i), x[group * 4 + i] * w[group * 4 + o][tap][i] over the taps, one FMA
  // per tap on the input vector as loaded; at the end each 128-bit lane's 4 x 4 block of
  // partials is transposed and summed (output o = the sum over i). One permute per FMA
  // (the 8-wide path below) was the limit on an Intel Xeon: 2.5 permute + FMA pairs per
  // ns against 8.8 FMAs. Output pixels [ox, ox + P) of chunk q of the tile.
  template <int P>
  void pixels4(const Tile& t, int ox, int q) const {
    const int k = s_.kernel, st = s_.stride, pad = s_.pad;
    const Index image_row = Index(t.w) * t.pixel;
    const float* wq = t.w_chunk + static_cast<std::size_t>(q) * k * k * 4 * kLanes;
    __m512 z[P][4];
    for (int p = 0; p < P; ++p)
      for (int o = 0; o < 4; ++o) z[p][o] = _mm512_setzero_ps();
    for (int ky = t.ky0; ky < t.ky1; ++ky) {
      const float* row = t.in + (t.iy0 + ky) * image_row;
      for (int kx = 0; kx < k; ++kx) {
        const float* wk = wq + static_cast<std::size_t>(ky * k + kx) * 4 * kLanes;
        const __m512 w0 = _mm512_load_ps(wk), w1 = _mm512_load_ps(wk + kLanes), w2 = _mm512_load_ps(wk + 2 * kLanes),
                     w3 = _mm512_load_ps(wk + 3 * kLanes);
        for (int p = 0; p < P; ++p) {
          const __m512 xv = _mm512_loadu_ps(input(row, t, (ox + p) * st + kx - pad) + q * kLanes);
          z[p][0] = _mm512_fmadd_ps(xv, w0, z[p][0]);
          z[p][1] = _mm512_fmadd_ps(xv, w1, z[p][1]);
          z[p][2] = _mm512_fmadd_ps(xv, w2, z[p][2]);
          z[p][3] = _mm512_fmadd_ps(xv, w3, z[p][3]);
        }
      }
    }
    for (int p = 0; p < P; ++p) {
      // Per 128-bit lane: v = (z0[0]+z0[2], z1[0]+z1[2], z0[1]+z0[3], z1[1]+z1[3]), u likewise
      // for z2, z3; then output o = v[o] + v[o + 2] (o < 2), u[o - 2] + u[o] (o >= 2).
      const __m512 v = _mm512_add_ps(_mm512_unpacklo_ps(z[p][0], z[p][1]), _mm512_unpackhi_ps(z[p][0], z[p][1]));
      const __m512 u = _mm512_add_ps(_mm512_unpacklo_ps(z[p][2], z[p][3]), _mm512_unpackhi_ps(z[p][2], z[p][3]));
      __m512 y = _mm512_add_ps(_mm512_shuffle_ps(v, u, 0x44), _mm512_shuffle_ps(v, u, 0xEE));
      const Index at = Index(ox + p) * s_.out_c + q * kLanes;
      if (t.bias) y = _mm512_add_ps(y, _mm512_loadu_ps(t.bias + q * kLanes));
      if (t.residual) y = _mm512_add_ps(y, _mm512_loadu_ps(t.residual + at));
      if (t.relu) y = _mm512_max_ps(_mm512_setzero_ps(), y);  // max(0, NaN) is NaN
      _mm512_storeu_ps(t.out + at, y);
    }
  }

  // Four input steps over 128-bit lanes of 4 inputs (half an 8-wide group) into chunk
  // q's accumulators: at step j, lane l takes element j of its own 128-bit lane of xv.
  // w: the four steps' weight vectors.
  template <int P, int Q>
  __attribute__((always_inline)) static void narrow4(__m512 (&acc)[P][Q], const __m512 (&xv)[P], const float* w,
                                                     int q) {
    step4<P, 0x00>(acc, xv, w, q);
    step4<P, 0x55>(acc, xv, w + kLanes, q);
    step4<P, 0xAA>(acc, xv, w + 2 * kLanes, q);
    step4<P, 0xFF>(acc, xv, w + 3 * kLanes, q);
  }
  template <int P, int Imm, int Q>
  __attribute__((always_inline)) static void step4(__m512 (&acc)[P][Q], const __m512 (&xv)[P], const float* w, int q) {
    const __m512 wv = _mm512_load_ps(w);
    for (int p = 0; p < P; ++p) acc[p][q] = _mm512_fmadd_ps(_mm512_permute_ps(xv[p], Imm), wv, acc[p][q]);
  }
#endif

  // The chunk's inputs at column ix of an image row, or zeros outside the image.
  const float* input(const float* row, const Tile& t, int ix) const {
    return ix >= 0 && ix < t.w ? row + Index(ix) * t.pixel : zeros_.data();
  }

  // Which of the chunk's input floats lane l multiplies at step i.
  int lane_input(int i, int l) const { return g_ >= kLanes ? i : l / g_ * g_ + i; }

  ConvShape s_{};
  int g_ = 1;
  AlignedFloats w_;
  std::vector<std::int32_t> lane_input_;  // [i][l] = lane_input(i, l), for the permutes
  std::vector<float> zeros_;              // what a tap in the padding reads: 2 max(G, 16) zeros
};

}  // namespace resnet::kernels::detail
