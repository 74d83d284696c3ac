#pragma once
/// Winograd convolution for 3x3 layers (Lavin & Gray 2015), over NHWC: F(2x2,3x3) and
/// F(4x4,3x3) for stride 1, and a stride-2 F(2x2,3x3) (see WinogradTransforms<2, 2>).
///
/// Three steps over a set of tiles:
///   1. input transform: each (tile, channel) alpha x alpha patch d -> B^T d B, written as
///      alpha^2 matrices V_xi (in_c x tiles, column-major: a tile's channels contiguous);
///   2. alpha^2 GEMMs M_xi (out_c x tiles) = U_xi (out_c x in_c) * V_xi, with U = G g G^T
///      transformed and packed once at construction;
///   3. output transform A^T M A plus bias, residual and ReLU, written straight to NHWC.
/// Transforms run on 16 channels at a time held in one vector register (GCC/Clang vector
/// extensions). Two schedules over the thread pool: see Plan.
///
/// F(4x4) does 4x fewer multiplies than direct convolution, F(2x2) 2.25x fewer, but F(4x4)
/// stores 36/9 = 4x the weights (F(2x2): 16/9). At batch 1 the widest ResNet layers
/// (512 channels) run on 7x7 maps, where the GEMMs have only a few tile columns and
/// streaming the transformed weights dominates; F(2x2) moves 2.25x fewer weight bytes
/// there. So the tile is chosen from the channel counts (winograd_prefers_2x2). Over the
/// whole ResNet-50 conv sequence (weights streamed from DRAM) the alternatives measured
/// within noise of this choice; all-im2col was ~15% slower.

#include <Eigen/Core>
#include <algorithm>
#include <cstring>
#include <vector>

#include "resnet/core/thread_pool.hpp"
#include "resnet/kernels/conv_params.hpp"
#include "resnet/kernels/gemm.hpp"
#include "resnet/kernels/im2col.hpp"

namespace resnet::kernels::detail {

/// F(2x2) when in_c * out_c is above 256 * 256 (see the file comment), else F(4x4).
inline bool winograd_prefers_2x2(const ConvShape& s) { return 1LL * s.in_c * s.out_c > 256LL * 256LL; }

/// Stride-2 F(2x2) stores 25/9 = 2.8x the weights. Up to 256 x 256 channels it beats
/// im2col (measured at 2 threads: 128 channels on 56x56 -15%, 256 on 28x28 -19%, 64->128
/// -3%); the 512-channel layer (14x14 -> 7x7 at batch 1) streams its weights from memory
/// and came out 2% slower, so it stays on im2col.
inline bool winograd_s2_pays(const ConvShape& s) { return 1LL * s.in_c * s.out_c <= 256LL * 256LL; }

// 16 floats as one value (GCC/Clang vector extension: one zmm register with AVX-512,
// split by the compiler otherwise). The transforms below run on whole registers.
typedef float Vec16 __attribute__((vector_size(64)));
typedef std::uint32_t Vec16u __attribute__((vector_size(64)));
typedef std::uint16_t Vec16h __attribute__((vector_size(32)));

inline Vec16 load16(const float* p) {
  Vec16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store16(float* p, Vec16 v) { std::memcpy(p, &v, sizeof v); }
/// First n (< 16) floats of p, the rest zero.
inline Vec16 load_partial(const float* p, Index n) {
  alignas(64) float buf[16] = {};
  std::memcpy(buf, p, sizeof(float) * static_cast<std::size_t>(n));
  return load16(buf);
}
/// 16 bf16 values (bits) widened to fp32, exactly; and the first n (< 16), the rest zero.
inline Vec16 load16(const std::uint16_t* p) {
  Vec16h h;
  std::memcpy(&h, p, sizeof h);
  const Vec16u bits = __builtin_convertvector(h, Vec16u) << 16;
  Vec16 v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}
inline Vec16 load_partial(const std::uint16_t* p, Index n) {
  alignas(32) std::uint16_t buf[16] = {};
  std::memcpy(buf, p, sizeof(std::uint16_t) * static_cast<std::size_t>(n));
  return load16(buf);
}
inline void store_partial(float* p, Vec16 v, Index n) {
  alignas(64) float buf[16];
  store16(buf, v);
  std::memcpy(p, buf, sizeof(float) * static_cast<std::size_t>(n));
}

/// The first n (<= 16) values of v as bf16 bits at p, rounded as to_bf16_bits
/// (lowp_common.hpp, VCVTNEPS2BF16's rounding) in integer steps, so that a bf16 conv reading
/// them sees the values it would have rounded an fp32 map to.
inline void store_bf16(std::uint16_t* p, Vec16 v, Index n) {
  Vec16u u;
  std::memcpy(&u, &v, sizeof u);
  const Vec16u exponent = u & 0x7F800000u, high = u >> 16;
  const Vec16u rounded = (u + 0x7FFFu + (high & 1u)) >> 16;              // nearest even; may round to inf
  const Vec16u special = (u & 0x007FFFFFu) == 0 ? high : (high | 0x40u);  // infinity; NaN, quieted
  const Vec16u zero = high & 0x8000u;                                     // zero, denormal: signed zero
  const Vec16u bits = exponent == 0 ? zero : exponent == 0x7F800000u ? special : rounded;
  const Vec16h h = __builtin_convertvector(bits, Vec16h);
  if (n == 16)
    std::memcpy(p, &h, sizeof h);  // a fixed size: one store, not a call
  else
    std::memcpy(p, &h, sizeof(std::uint16_t) * static_cast<std::size_t>(n));
}

// 1-D transforms, applied to rows then columns: M outputs of a convolution with the
// given stride from alpha inputs (tiles start every Stride * M inputs). Hand-factored:
// the dense matrices would spend most of their multiplies on zeros and ones.
template <int M, int Stride = 1> struct WinogradTransforms;

template <> struct WinogradTransforms<2> {
  static constexpr int alpha = 4;
  template <class T> static void input(const T* d, int sd, T* t, int st) {  // B^T d
    t[0 * st] = d[0 * sd] - d[2 * sd];
    t[1 * st] = d[1 * sd] + d[2 * sd];
    t[2 * st] = d[2 * sd] - d[1 * sd];
    t[3 * st] = d[1 * sd] - d[3 * sd];
  }
  template <class T> static void output(const T* m, int sm, T* o, int so) {  // A^T m
    o[0 * so] = m[0 * sm] + m[1 * sm] + m[2 * sm];
    o[1 * so] = m[1 * sm] - m[2 * sm] - m[3 * sm];
  }
  template <class T> static void weight(const T* g, int sg, T* u, int su) {  // G g
    const T s = g[0 * sg] + g[2 * sg];
    u[0 * su] = g[0 * sg];
    u[1 * su] = 0.5 * (s + g[1 * sg]);
    u[2 * su] = 0.5 * (s - g[1 * sg]);
    u[3 * su] = g[2 * sg];
  }
};

template <> struct WinogradTransforms<4> {
  static constexpr int alpha = 6;
  template <class T> static void input(const T* d, int sd, T* t, int st) {
    const T d0 = d[0 * sd], d1 = d[1 * sd], d2 = d[2 * sd], d3 = d[3 * sd], d4 = d[4 * sd], d5 = d[5 * sd];
    const T a = d4 - 4.0f * d2, b = d3 - 4.0f * d1;
    const T c = d4 - d2, e = 2.0f * (d3 - d1);
    t[0 * st] = 4.0f * d0 - 5.0f * d2 + d4;
    t[1 * st] = a + b;
    t[2 * st] = a - b;
    t[3 * st] = c + e;
    t[4 * st] = c - e;
    t[5 * st] = 4.0f * d1 - 5.0f * d3 + d5;
  }
  template <class T> static void output(const T* m, int sm, T* o, int so) {
    const T s12 = m[1 * sm] + m[2 * sm], d12 = m[1 * sm] - m[2 * sm];
    const T s34 = m[3 * sm] + m[4 * sm], d34 = m[3 * sm] - m[4 * sm];
    o[0 * so] = m[0 * sm] + s12 + s34;
    o[1 * so] = d12 + 2.0f * d34;
    o[2 * so] = s12 + 4.0f * s34;
    o[3 * so] = d12 + 8.0f * d34 + m[5 * sm];
  }
  template <class T> static void weight(const T* g, int sg, T* u, int su) {
    const T g0 = g[0 * sg], g1 = g[1 * sg], g2 = g[2 * sg];
    const T s = g0 + g2, p = g0 / 24 + g2 / 6, q = g1 / 12;
    u[0 * su] = g0 / 4;
    u[1 * su] = -(s + g1) / 6;
    u[2 * su] = -(s - g1) / 6;
    u[3 * su] = p + q;
    u[4 * su] = p - q;
    u[5 * su] = g2;
  }
};

/// Stride 2, two outputs: y_i = g0 d_2i + g1 d_2i+1 + g2 d_2i+2 splits into its even taps,
/// a 2-tap convolution of d0, d2, d4 done as F(2,2) with 3 products, and its odd tap, a
/// 1-tap one of d1, d3 with 2 products. So 5 products per 2 outputs instead of 6, and
/// 25 instead of 36 in 2-D (1.44x fewer multiplies), with transforms of additions only:
///   y0 = (d0 - d2) g0 + d2 (g0 + g2) + d1 g1,   y1 = d2 (g0 + g2) + (d4 - d2) g2 + d3 g1.
template <> struct WinogradTransforms<2, 2> {
  static constexpr int alpha = 5;
  template <class T> static void input(const T* d, int sd, T* t, int st) {
    const T d2 = d[2 * sd];
    t[0 * st] = d[0 * sd] - d2;
    t[1 * st] = d2;
    t[2 * st] = d[4 * sd] - d2;
    t[3 * st] = d[1 * sd];
    t[4 * st] = d[3 * sd];
  }
  template <class T> static void output(const T* m, int sm, T* o, int so) {
    o[0 * so] = m[0 * sm] + m[1 * sm] + m[3 * sm];
    o[1 * so] = m[1 * sm] + m[2 * sm] + m[4 * sm];
  }
  template <class T> static void weight(const T* g, int sg, T* u, int su) {
    u[0 * su] = g[0 * sg];
    u[1 * su] = g[0 * sg] + g[2 * sg];
    u[2 * su] = g[2 * sg];
    u[3 * su] = g[1 * sg];
    u[4 * su] = g[1 * sg];
  }
};

/// A Winograd conv's input map: fp32, or (bf16 not null) a bf16 model's bf16 bits, which
/// the input transform widens exactly.
struct WinogradInput {
  const float* f32 = nullptr;
  const std::uint16_t* bf16 = nullptr;
};

class WinogradConv {
 public:
  WinogradConv() = default;

  /// weight_ohwi: out_c x 3 x 3 x in_c; tile: 2 for F(2x2,3x3), 4 for F(4x4,3x3) (stride
  /// 1 only). s.kernel must be 3 and s.stride 1 or 2.
  WinogradConv(const ConvShape& s, const float* weight_ohwi, int tile) : s_(s), m_(tile) {
    if (s.stride == 2)
      transform_weights<2, 2>(weight_ohwi);
    else if (tile == 4)
      transform_weights<4>(weight_ohwi);
    else
      transform_weights<2>(weight_ohwi);
  }

  int tile() const { return m_; }

  std::size_t scratch_floats(int n, int h, int w, int threads) const {
    // run() may get a smaller pool than `threads`, whose plan can differ: take the largest.
    Index most = 0;
    for (int t = 1; t <= std::max(threads, 1); ++t) most = std::max(most, plan(n, h, w, t).scratch);
    return static_cast<std::size_t>(most);
  }

  void run(WinogradInput in, int n, int h, int w, float* out, const OutputEpilogue& e, float* scratch,
           ThreadPool& pool) const {
    if (s_.stride == 2)
      run_tiled<2, 2>(in, n, h, w, out, e, scratch, pool);
    else if (m_ == 4)
      run_tiled<4>(in, n, h, w, out, e, scratch, pool);
    else
      run_tiled<2>(in, n, h, w, out, e, scratch, pool);
  }

 private:
  static constexpr Index kNc = kBlockNc;
  static constexpr Index kKc = kBlockKc;
  static constexpr Index kMc = 192;  // its GEMM tasks take all row blocks: gemm.hpp's 48 buys nothing here
  static constexpr Index kChunkTiles = 256;   // phased mode: V and M of a chunk stay in L3
  static constexpr Index kBlockBytes = 512 * 1024;  // blocked mode: a block's V and M aim at L2
  // Tiles per block: at least 48 so the GEMMs keep their 8-column register tiles busy and
  // the transformed weights are re-read from cache rarely; measured 10-15% faster than 16.
  static constexpr Index kMinBlock = 48, kMaxBlock = 128;

  // Two schedules. Blocked: each task is a block of tiles, on which one thread runs input
  // transform, the alpha^2 GEMMs and output transform while the block's V and M are in
  // its own L2, with no barrier in between. Phased (few tiles, e.g. 7x7 or 14x14 maps at
  // batch 1): all tiles of a chunk of images at once, in three steps over the whole pool,
  // the GEMM step's tasks being the alpha^2 components so each thread streams only its
  // share of the transformed weights.
  struct Plan {
    Index oh, ow, th, tw, tiles_per_image;
    bool blocked;
    Index chunk_images, chunk_tiles;  // phased
    Index block_tiles;                // blocked: most tiles per block
    Index scratch;                    // floats
  };

  Index alpha() const { return s_.stride == 2 ? 2 * m_ + 1 : m_ + 2; }

  // Floats between V_xi (or M_xi) of consecutive xi for `tiles` tiles of `channels`: one
  // cache line more than the data. Without it the stride is often a multiple of 4 KiB
  // (16 tiles x 256 channels, 128 x 64, ...), so the alpha^2 stores of a transform step all
  // hit one L1 set and evict each other: the transforms of a 14x14 layer took a quarter
  // of its time.
  static Index xi_stride(Index tiles, Index channels) { return tiles * channels + 16; }

  Plan plan(int n, int h, int w, Index threads) const {
    Plan p{};
    const Index t = alpha() * alpha();
    p.oh = s_.out_side(h);
    p.ow = s_.out_side(w);
    p.th = ceil_div(p.oh, m_);
    p.tw = ceil_div(p.ow, m_);
    p.tiles_per_image = p.th * p.tw;
    const Index total = n * p.tiles_per_image;
    p.blocked = total >= 16 * threads;
    if (p.blocked) {
      const Index target = std::clamp<Index>(kBlockBytes / (t * (s_.in_c + s_.out_c) * 4), kMinBlock, kMaxBlock);
      // At most this many tiles per block, and at least one block per thread.
      p.block_tiles = std::min(target, ceil_div(total, threads));
      p.scratch = threads * (t * (xi_stride(p.block_tiles, s_.in_c) + xi_stride(p.block_tiles, s_.out_c)) +
                             rhs_scratch_floats(kc_, p.block_tiles) + 16);
    } else {
      p.chunk_images = std::clamp<Index>(kChunkTiles / p.tiles_per_image, 1, n);
      p.chunk_tiles = p.chunk_images * p.tiles_per_image;
      p.scratch = t * (xi_stride(p.chunk_tiles, s_.in_c) + xi_stride(p.chunk_tiles, s_.out_c)) + 64 +
                  threads * rhs_scratch_floats(kc_, kNc);
    }
    return p;
  }

  template <int M, int S = 1> void transform_weights(const float* wt) {
    using Tr = WinogradTransforms<M, S>;
    constexpr int A = Tr::alpha;
    const Index ic = s_.in_c, oc = s_.out_c;
    kc_ = even_block(ic, kKc, 8);
    packed_ = PackedLhs(oc, ic, kc_, kMc, A * A);
    // One row block at a time: U of those output channels for every xi, then packed.
    std::vector<float> u(static_cast<std::size_t>(A * A * packed_.mc() * ic));  // [xi][row][c]
    for (Index mb = 0; mb < packed_.m_blocks(); ++mb) {
      const Index o0 = packed_.row0(mb), rows = packed_.block_rows(mb);
      for (Index r = 0; r < rows; ++r)
        for (Index c = 0; c < ic; ++c) {  // U = G g G^T, in double
          double g[9], tmp[A * 3], uu[A * A];
          for (int tap = 0; tap < 9; ++tap) g[tap] = wt[((o0 + r) * 9 + tap) * ic + c];
          for (int x = 0; x < 3; ++x) Tr::weight(g + x, 3, tmp + x, 3);          // G g
          for (int i = 0; i < A; ++i) Tr::weight(tmp + i * 3, 1, uu + i * A, 1);  // (G g) G^T
          for (int xi = 0; xi < A * A; ++xi) u[(xi * rows + r) * ic + c] = static_cast<float>(uu[xi]);
        }
      for (int xi = 0; xi < A * A; ++xi) packed_.pack_rows(xi, mb, u.data() + xi * rows * ic, ic);
    }
  }

  template <int M, int S = 1>
  void run_tiled(WinogradInput in, int n, int h, int w, float* out, const OutputEpilogue& e, float* scratch,
                 ThreadPool& pool) const {
    using Tr = WinogradTransforms<M, S>;
    constexpr int A = Tr::alpha, T = A * A;
    const Index threads = pool.size();
    const Plan p = plan(n, h, w, threads);
    const auto transform = [&](Index tile, float* dst, Index stride) {
      if (in.bf16)
        input_tile<M, S>(in.bf16, h, w, p, tile, dst, stride);
      else
        input_tile<M, S>(in.f32, h, w, p, tile, dst, stride);
    };
    const Index ic = s_.in_c, oc = s_.out_c;

    // M_xi[:, cols] = U_xi * V_xi[:, cols] over all rows of U.
    auto gemm = [&](Index xi, const float* v_xi, float* m_xi, Index col0, Index ncols, float* buf) {
      gemm_columns(packed_, xi, 0, packed_.m_blocks(), DenseColumns{v_xi, ic}, col0, ncols, m_xi + col0 * oc, oc,
                   buf, BlockEpilogue{});
    };

    if (p.blocked) {
      const Index per_thread = p.scratch / threads;
      const Index total = n * p.tiles_per_image;
      // Even blocks of at most block_tiles tiles, a multiple of the thread count of them.
      const Index blocks = round_up(ceil_div(total, p.block_tiles), threads);
      const Index v_stride = xi_stride(p.block_tiles, ic), m_stride = xi_stride(p.block_tiles, oc);
      pool.parallel_tasks(blocks, [&](std::ptrdiff_t b, int thread) {
        float* v = scratch + thread * per_thread;  // [xi][local tile][ic]
        float* mbuf = v + T * v_stride;            // [xi][local tile][oc]
        float* buf = mbuf + T * m_stride;          // B packing
        const Index t0 = total * b / blocks, nt = total * (b + 1) / blocks - t0;
        for (Index j = 0; j < nt; ++j) transform(t0 + j, v + j * ic, v_stride);
        for (Index xi = 0; xi < T; ++xi) gemm(xi, v + xi * v_stride, mbuf + xi * m_stride, 0, nt, buf);
        for (Index j = 0; j < nt; ++j)
          output_tile<M, S>(mbuf + j * oc, m_stride, p, t0 + j, e, out);
      });
      return;
    }

    float* v = scratch;                                      // [xi][tile][ic]
    float* mbuf = v + T * xi_stride(p.chunk_tiles, ic);      // [xi][tile][oc]
    float* gemm_scratch = mbuf + T * xi_stride(p.chunk_tiles, oc);
    const Index per_thread = rhs_scratch_floats(kc_, kNc);
    for (Index img0 = 0; img0 < n; img0 += p.chunk_images) {
      const Index imgs = std::min<Index>(p.chunk_images, n - img0);
      const Index tiles = imgs * p.tiles_per_image, first = img0 * p.tiles_per_image;
      const Index v_stride = xi_stride(tiles, ic), m_stride = xi_stride(tiles, oc);

      pool.parallel_tasks(tiles, [&](std::ptrdiff_t t, int) {
        transform(first + t, v + t * ic, v_stride);
      });

      const Index slices = ceil_div(tiles, kNc);
      const Index nc = round_up(ceil_div(tiles, slices), kNr);
      pool.parallel_tasks(T * slices, [&](std::ptrdiff_t job, int thread) {
        const Index xi = job / slices, slice = job % slices;
        const Index col0 = slice * nc, ncols = std::min(nc, tiles - col0);
        gemm(xi, v + xi * v_stride, mbuf + xi * m_stride, col0, ncols, gemm_scratch + thread * per_thread);
      });

      pool.parallel_tasks(tiles, [&](std::ptrdiff_t t, int) {
        output_tile<M, S>(mbuf + t * oc, m_stride, p, first + t, e, out);
      });
    }
  }

  // One tile's input patch for all channels, 16 at a time (the tail via a padded copy);
  // T: float, or bf16 bits (std::uint16_t), widened as loaded.
  template <int M, int S, class T>
  void input_tile(const T* in, Index h, Index w, const Plan& p, Index tile, float* dst, Index xi_stride) const {
    // tile: index over all images (its position); dst: its column in V; xi_stride: floats between V_xi
    using Tr = WinogradTransforms<M, S>;
    constexpr int A = Tr::alpha;
    const Index ic = s_.in_c;
    const Index img = tile / p.tiles_per_image, r = tile % p.tiles_per_image;
    const Index y0 = (r / p.tw) * M * S - s_.pad, x0 = (r % p.tw) * M * S - s_.pad;
    const T* base = in + img * h * w * ic;
    const bool inside = y0 >= 0 && x0 >= 0 && y0 + A <= h && x0 + A <= w;
    Vec16 d[A * A], t[A * A];
    for (Index c = 0; c < ic; c += 16) {
      const Index cn = std::min<Index>(16, ic - c);
      if (inside && cn == 16) {
        for (int y = 0; y < A; ++y)
          for (int x = 0; x < A; ++x) d[y * A + x] = load16(base + ((y0 + y) * w + x0 + x) * ic + c);
      } else {
        for (int y = 0; y < A; ++y)
          for (int x = 0; x < A; ++x) {
            const Index iy = y0 + y, ix = x0 + x;
            const T* src = base + (iy * w + ix) * ic + c;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w)
              d[y * A + x] = Vec16{};
            else
              d[y * A + x] = cn == 16 ? load16(src) : load_partial(src, cn);
          }
      }
      for (int y = 0; y < A; ++y) Tr::input(d + y * A, 1, t + y * A, 1);  // rows
      for (int x = 0; x < A; ++x) Tr::input(t + x, A, d + x, A);          // columns
      for (int xi = 0; xi < A * A; ++xi) {
        if (cn == 16)
          store16(dst + xi * xi_stride + c, d[xi]);
        else
          store_partial(dst + xi * xi_stride + c, d[xi], cn);
      }
    }
  }

  template <int M, int S>
  void output_tile(const float* msrc, Index xi_stride, const Plan& p, Index tile, const OutputEpilogue& e,
                   float* out) const {
    const float *bias = e.bias, *residual = e.residual;
    const std::uint16_t* residual_bf16 = e.residual_bf16;
    const bool relu = e.relu;
    using Tr = WinogradTransforms<M, S>;
    constexpr int A = Tr::alpha;
    const Index oc = s_.out_c;
    const Index img = tile / p.tiles_per_image, r = tile % p.tiles_per_image;
    const Index y0 = (r / p.tw) * M, x0 = (r % p.tw) * M;
    const Index rows = std::min<Index>(M, p.oh - y0), cols = std::min<Index>(M, p.ow - x0);
    Vec16 m[A * A], t[M * A], o[M * M];
    const Vec16 zero{};
    for (Index c = 0; c < oc; c += 16) {
      const Index cn = std::min<Index>(16, oc - c);
      const float* src = msrc + c;
      for (int xi = 0; xi < A * A; ++xi)
        m[xi] = cn == 16 ? load16(src + xi * xi_stride) : load_partial(src + xi * xi_stride, cn);
      for (int y = 0; y < A; ++y) Tr::output(m + y * A, 1, t + y, A);  // t[x'][y] = (row y) A
      for (int x = 0; x < M; ++x) Tr::output(t + x * A, 1, o + x, M);  // o[y'][x]
      const Vec16 extra = !bias ? zero : cn == 16 ? load16(bias + c) : load_partial(bias + c, cn);
      for (Index y = 0; y < rows; ++y)
        for (Index x = 0; x < cols; ++x) {
          const Index at = ((img * p.oh + y0 + y) * p.ow + x0 + x) * oc + c;
          Vec16 val = o[y * M + x] + extra;
          if (residual) val += cn == 16 ? load16(residual + at) : load_partial(residual + at, cn);
          if (residual_bf16) val += cn == 16 ? load16(residual_bf16 + at) : load_partial(residual_bf16 + at, cn);
          if (relu) val = val < zero ? zero : val;  // NaN passes through, as in PyTorch
          if (e.out_bf16)
            store_bf16(e.out_bf16 + at, val, cn);
          else if (cn == 16)
            store16(out + at, val);
          else
            store_partial(out + at, val, cn);
        }
    }
  }

  ConvShape s_{};
  int m_ = 2;
  Index kc_ = 1;
  PackedLhs packed_;  // the alpha^2 matrices U_xi
};

}  // namespace resnet::kernels::detail
