#pragma once
/// GEMM for convolutions, built on Eigen's register-blocked kernel (gebp) with our own
/// driver around it. Why not `noalias() = A * B` directly: Eigen's driver packs both
/// operands on every call and takes its packing buffers from the heap for large sizes.
/// Here the weights (A) are packed once, at construction, in Eigen's own blockA layout.
/// The activations (B) come from the caller's column source (im2col windows, strided
/// pixels, Winograd tiles over NHWC memory): with AVX-512 our own panel kernels read them
/// in place through a table of pointers, otherwise they are packed into a buffer in the
/// caller's scratch. No heap allocation happens at run time.
///
/// Orientation: C (M x N, column-major, ldc) = A (M x K) * B (K x N), with M = output
/// channels, N = output pixels, K = in_c * k * k. A column of C is one NHWC output pixel.

// GCC 12's AVX-512 headers self-initialise _mm512_undefined_ps() (GCC PR 105593), which
// -Wmaybe-uninitialized reports wherever Eigen's packet transposes get inlined. The state
// applies to the header lines as they are read, so this only helps when Eigen is first
// included here; it changes nothing else.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <Eigen/Core>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace resnet::kernels::detail {

using Index = Eigen::Index;
using GebpTraits = Eigen::internal::gebp_traits<float, float>;
constexpr int kMr = GebpTraits::mr;  // rows of the register tile (48 with AVX-512)
constexpr int kNr = GebpTraits::nr;  // columns of the register tile (4)
using ResMapper = Eigen::internal::blas_data_mapper<float, Index, Eigen::ColMajor>;
using Gebp = Eigen::internal::gebp_kernel<float, float, Index, ResMapper, kMr, kNr, false, false>;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"  // PacketBlock<__m512, 4>: alignment attributes
#endif
using Packet = Eigen::internal::packet_traits<float>::type;
using PacketBlock4 = Eigen::internal::PacketBlock<Packet, 4>;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
constexpr int kPacket = Eigen::internal::packet_traits<float>::size;

// Cache blocking (Zen 4: 32 KiB L1d, 1 MiB L2). mc: rows per epilogue block; nc: columns
// per slice, so a kc x nc packed B block sits in L2; kc: depth per block. Measured on the
// ResNet-50 shapes: kc 128..256, nc 128..512, mc 96..384 all within 2%.
// mc is one 48-row panel because ConvKernel splits a 7x7 layer's rows between threads at
// row-block boundaries: blocks of 192 gave two threads 576 and 448 of 1024 rows (960 and
// 1088 of 2048), blocks of 48 give 528 and 496 (1008 and 1040). ResNeXt-50 at 2 threads:
// its 2048 -> 1024 7x7 1x1s 7-17% faster, the 1024 -> 2048 ones 0-9%; 1 thread unchanged.
constexpr Index kBlockMc = 48;
constexpr Index kBlockNc = 256;
constexpr Index kBlockKc = 256;

using AlignedFloats = std::vector<float, Eigen::aligned_allocator<float>>;

inline Index round_up(Index v, Index m) { return (v + m - 1) / m * m; }
inline Index ceil_div(Index a, Index b) { return (a + b - 1) / b; }

/// With AVX-512 our own 8-column panel kernels (gebp_panel_x8) do the work and Eigen's
/// kernel only covers leftover rows and columns.
#if defined(__AVX512F__)
constexpr bool kPanelKernels = kMr == 48;
#else
constexpr bool kPanelKernels = false;
#endif

/// Splits `total` into blocks of nearly equal size, each at most `target` (and a multiple
/// of `multiple` except possibly the last), so no block is a tiny remainder.
inline Index even_block(Index total, Index target, Index multiple) {
  if (total <= target) return total;
  const Index blocks = ceil_div(total, target);
  return std::min(total, round_up(ceil_div(total, blocks), multiple));
}

/// A (M x K) packed once into Eigen's gebp layout, cut into kc-deep, mc-tall blocks; or
/// `count` such matrices of one shape (Winograd's alpha^2 weight matrices) in one buffer.
/// Where the panel kernels run and M is 16 more than a multiple of 48 (64, 256, 1024
/// channels), the last 64 rows are two 32-row blocks: Eigen packs a block as 48-row panels
/// and then a 16-row one, whose 8 FMAs per k step wait on 9 loads (160 against 210 GFLOP/s
/// for 32- and 48-row panels, one thread).
class PackedLhs {
 public:
  PackedLhs() = default;
  /// a_row_major: M x K, row i at a + i * lda (OHWI weights: lda = K).
  PackedLhs(const float* a_row_major, Index m, Index k, Index lda, Index kc, Index mc)
      : PackedLhs(m, k, kc, mc, 1) {
    for (Index mb = 0; mb < m_blocks_; ++mb) pack_rows(0, mb, a_row_major + row0(mb) * lda, lda);
  }
  /// Room for `count` M x K matrices, filled by pack_rows().
  PackedLhs(Index m, Index k, Index kc, Index mc, Index count)
      : rows_(m), depth_(k), kc_(std::min(kc, k)), mc_(std::min(round_up(mc, kMr), round_up(m, kMr))) {
    k_blocks_ = ceil_div(depth_, kc_);
    const bool split_tail = kPanelKernels && rows_ >= 64 && rows_ % kMr == 16;
    const Index head = split_tail ? rows_ - 64 : rows_;
    for (Index r = 0; r < head; r += mc_) row0_.push_back(r);
    if (split_tail) row0_.insert(row0_.end(), {head, head + 32});
    m_blocks_ = static_cast<Index>(row0_.size());
    row0_.push_back(rows_);
    // Eigen's packer stores aligned packets: every block starts on a 64-byte boundary.
    data_.resize(static_cast<std::size_t>(count * (rows_ * depth_ + k_blocks_ * m_blocks_ * 16)));
    std::size_t offset = 0;
    offsets_.reserve(static_cast<std::size_t>(count * k_blocks_ * m_blocks_));
    for (Index j = 0; j < count; ++j)
      for (Index kb = 0; kb < k_blocks_; ++kb)
        for (Index mb = 0; mb < m_blocks_; ++mb) {
          offsets_.push_back(offset);
          offset += static_cast<std::size_t>(round_up(block_depth(kb) * block_rows(mb), 16));
        }
  }

  /// Packs the rows of row block mb of matrix `matrix`: row i of the block at a + i * lda.
  /// Winograd fills its matrices one row block at a time, so the transformed weights of a
  /// whole layer never exist unpacked.
  void pack_rows(Index matrix, Index mb, const float* a, Index lda) {
    using LhsMapper = Eigen::internal::const_blas_data_mapper<float, Index, Eigen::RowMajor>;
    Eigen::internal::gemm_pack_lhs<float, Index, LhsMapper, GebpTraits::mr, GebpTraits::LhsProgress,
                                   GebpTraits::LhsPacket4Packing, Eigen::RowMajor>
        pack;
    const LhsMapper mapper(a, lda);
    for (Index kb = 0; kb < k_blocks_; ++kb)
      pack(const_cast<float*>(block(kb, mb, matrix)), mapper.getSubMapper(0, kb * kc_), block_depth(kb),
           block_rows(mb));
  }

  Index rows() const { return rows_; }
  Index depth() const { return depth_; }
  Index kc() const { return kc_; }
  Index mc() const { return mc_; }
  Index k_blocks() const { return k_blocks_; }
  Index m_blocks() const { return m_blocks_; }
  /// First row of row block mb; blocks are mc() rows, the last one or two fewer.
  Index row0(Index mb) const { return row0_[static_cast<std::size_t>(mb)]; }
  Index block_rows(Index mb) const { return row0(mb + 1) - row0(mb); }
  Index block_depth(Index kb) const { return std::min(kc_, depth_ - kb * kc_); }
  const float* block(Index kb, Index mb, Index matrix = 0) const {
    return data_.data() + offsets_[static_cast<std::size_t>((matrix * k_blocks_ + kb) * m_blocks_ + mb)];
  }
  std::size_t bytes() const { return data_.size() * sizeof(float); }

 private:
  Index rows_ = 0, depth_ = 0, kc_ = 1, mc_ = kMr, k_blocks_ = 0, m_blocks_ = 0;
  AlignedFloats data_;
  std::vector<std::size_t> offsets_;
  std::vector<Index> row0_;  // m_blocks_ + 1 entries
};

/// Packs columns [0, ncols) of depth range [k0, k0 + kc) into Eigen's blockB layout
/// (groups of nr columns interleaved per k, then single leftover columns).
/// src.segment(col, k0, len, tmp) returns a pointer to `len` contiguous values of that
/// column, either into the source itself or after filling tmp (len floats).
template <class Source>
void pack_rhs(float* dst, const Source& src, Index col0, Index ncols, Index k0, Index kc, float* tmp) {
  static_assert(kNr == 4, "pack_rhs interleaves 4 columns, matching Eigen's float gebp on x86");
  const Index c4 = ncols / 4 * 4;
  const Index kv = kc / kPacket * kPacket;
  for (Index j = 0; j < c4; j += 4) {
    const float* p0 = src.segment(col0 + j + 0, k0, kc, tmp + 0 * kc);
    const float* p1 = src.segment(col0 + j + 1, k0, kc, tmp + 1 * kc);
    const float* p2 = src.segment(col0 + j + 2, k0, kc, tmp + 2 * kc);
    const float* p3 = src.segment(col0 + j + 3, k0, kc, tmp + 3 * kc);
    Index k = 0;
    for (; k < kv; k += kPacket) {
      PacketBlock4 b;
      b.packet[0] = Eigen::internal::ploadu<Packet>(p0 + k);
      b.packet[1] = Eigen::internal::ploadu<Packet>(p1 + k);
      b.packet[2] = Eigen::internal::ploadu<Packet>(p2 + k);
      b.packet[3] = Eigen::internal::ploadu<Packet>(p3 + k);
      Eigen::internal::ptranspose(b);
      for (int q = 0; q < 4; ++q) Eigen::internal::pstoreu(dst + q * kPacket, b.packet[q]);
      dst += 4 * kPacket;
    }
    for (; k < kc; ++k) {
      dst[0] = p0[k];
      dst[1] = p1[k];
      dst[2] = p2[k];
      dst[3] = p3[k];
      dst += 4;
    }
  }
  for (Index j = c4; j < ncols; ++j) {
    const float* p = src.segment(col0 + j, k0, kc, tmp);
    std::copy(p, p + kc, dst);
    dst += kc;
  }
}

/// What happens to a block of C around the product, so that bias, residual and ReLU
/// are applied while the tile is in registers rather than in extra passes over C:
///   first depth block  C = A B + bias + residual   (C is not read: no init pass)
///   later blocks       C += A B
///   last depth block   then ReLU, if asked (NaN passes through, as in PyTorch).
/// bias and residual (column j at residual + j * ldr) point at the block's first row
/// and column; either may be null.
struct BlockEpilogue {
  bool first = true, last = true, relu = false;
  const float* bias = nullptr;
  const float* residual = nullptr;
  Index ldr = 0;

  BlockEpilogue rows_from(Index r) const {
    BlockEpilogue e = *this;
    if (e.bias) e.bias += r;
    if (e.residual) e.residual += r;
    return e;
  }
  BlockEpilogue columns_from(Index j) const {
    BlockEpilogue e = *this;
    if (e.residual) e.residual += j * ldr;
    return e;
  }

  /// The same, on rows [0, m) x columns [0, n) of C, for the parts of a block the
  /// register-tile kernels do not cover: `before` the product, `after` it.
  void before(float* c, Index ldc, Index m, Index n) const {
    if (!first) return;
    for (Index j = 0; j < n; ++j) {
      float* d = c + j * ldc;
      const float* r = residual ? residual + j * ldr : nullptr;
      for (Index i = 0; i < m; ++i) d[i] = (bias ? bias[i] : 0.0f) + (r ? r[i] : 0.0f);
    }
  }
  void after(float* c, Index ldc, Index m, Index n) const {
    if (!last || !relu) return;
    for (Index j = 0; j < n; ++j)
      for (Index i = 0; i < m; ++i) c[j * ldc + i] = std::max(c[j * ldc + i], 0.0f);
  }
};

/// B of one depth block (kc deep, n columns) as gebp_block takes it. Either all columns
/// in Eigen's packed layout (`packed`), or, for the panel kernels when the rows are a
/// multiple of 16, every column read in place: column j is the concatenation of
/// `segments` runs of kc / segments floats at cols[j * segments + s] (pointers into the
/// activations themselves, or into a zero-padded copy at image borders).
struct RhsBlock {
  const float* packed = nullptr;
  const float* const* cols = nullptr;
  Index segments = 1;
};

/// At most this many runs per in-place column (the 7x7 stem has 7 window rows).
constexpr Index kMaxSegments = 8;

/// Packed weights up to this size are taken to stay in L2 across a layer's column
/// slices (a quarter of a Zen 4/5 core's 1 MiB, beside B and C), so not streamed.
constexpr std::size_t kResidentLhsBytes = 256 * 1024;

#if defined(__AVX512F__)
/// Prefetch distance of the A stream, in k steps (16 * P floats each): a few hundred
/// nanoseconds ahead, enough to cover a DRAM miss when A streams from memory.
constexpr Index kPrefetchSteps = 16;

/// C (ldc) = epilogue(A * B) for one panel of 16*P rows and `pairs` 8-column pairs. A is
/// in Eigen's packed layout (k-major runs of 16*P floats). B is in Eigen's packed layout
/// (per 4-column group, k-major runs of 4 floats, two groups feeding one tile) or, with
/// kInPlaceB, read in place through b.cols (see RhsBlock), which saves packing it: ~3%
/// of a ResNet-50 pass for the 1x1 layers, a fifth of the 7x7 stem's time.
/// The 48 x 8 tile (P = 3) keeps 24 accumulators in flight, twice Eigen's 48 x 4: that
/// lifts a Zen 4 core from ~80 to ~105 GFLOP/s. P = 2, 1 cover Eigen's 32- and 16-row
/// tail panels.
///
/// Weight-heavy layers stream A from DRAM, and with few columns each panel's first pass
/// would wait on memory while its later passes find it in L2. So the panel that follows
/// in memory (the next one gebp_block uses) is prefetched into L2, spread evenly over
/// all passes, and the current one into L1 a few steps ahead: 5-10% on ResNet-18/50.
///
/// Weights that stay in L2 from one column slice to the next (kStreamA false: the 7x7
/// stem, the stage-1 1x1s, up to kResidentLhsBytes) skip the L2 prefetch: with it, the
/// in-place kernels' inner loop spilled two column pointers to the stack, read back every
/// k step. ResNeXt-50 per job, one thread, alternated: stem -3 to -6%, its 128 -> 256
/// 1x1s -2 to -6%, layers with more weights unchanged (they keep it).
///
/// Never inlined: inside a large caller GCC runs out of registers for the 24
/// accumulators and re-reads A from memory on every FMA (measured 2x slower).
///
/// kCols < 8 (in place only): one group of that many columns, part of the leftover after
/// the last whole pair, so no column goes through Eigen's slower 4- and 1-column loops.
template <int P, bool kInPlaceB, int kCols = 8, bool kStreamA = true>
__attribute__((noinline)) void gebp_panel_x8(float* c, Index ldc, const float* ap, const RhsBlock& b, Index pairs,
                                             Index kc, const BlockEpilogue& epi) {
  static_assert(kCols == 8 || kInPlaceB, "partial column groups are read in place");
  const __m512 zero = _mm512_setzero_ps();
  const char* next = reinterpret_cast<const char*>(ap + 16 * P * kc);
  const Index prefetch_lines = P * kc, steps = pairs * kc;  // lines to fetch over this many k steps
  const Index segments = kInPlaceB ? b.segments : 1, run = kc / segments;
  Index credit = 0, fetched = 0;
  for (Index q = 0; q < pairs; ++q) {
    __m512 acc[kCols][P];
    for (int j = 0; j < kCols; ++j)
      for (int i = 0; i < P; ++i) acc[j][i] = _mm512_setzero_ps();
    const float* ak = ap;
    for (Index seg = 0; seg < segments; ++seg) {
      // Column j's values for this run: bj[j][k] in place, or bj[j][4 * k] packed.
      const float* bj[kCols];
      for (int j = 0; j < kCols; ++j)
        bj[j] = kInPlaceB ? b.cols[(q * 8 + j) * segments + seg] : b.packed + (q * 8 + j / 4 * 4) * kc + j % 4;
      for (Index k = 0; k < run; ++k, ak += 16 * P) {
        if constexpr (kStreamA)
          for (credit += prefetch_lines; credit >= steps; credit -= steps, ++fetched)
            _mm_prefetch(next + 64 * fetched, _MM_HINT_T1);
        for (int i = 0; i < P; ++i)
          _mm_prefetch(reinterpret_cast<const char*>(ak + 16 * P * kPrefetchSteps + 16 * i), _MM_HINT_T0);
        __m512 a[P];
        for (int i = 0; i < P; ++i) a[i] = _mm512_load_ps(ak + 16 * i);
        for (int j = 0; j < kCols; ++j) {
          __m512 bk = _mm512_set1_ps(bj[j][kInPlaceB ? k : 4 * k]);
#if defined(__clang__)
          // Clang 14 otherwise hoists the broadcasts, keeps three live and spills an
          // accumulator to the stack inside this loop: half speed (59 vs 115 GFLOP/s).
          __asm__("" : "+v"(bk));
#endif
          for (int i = 0; i < P; ++i) acc[j][i] = _mm512_fmadd_ps(a[i], bk, acc[j][i]);
        }
      }
    }
    // Fully unrolled so the accumulators stay in registers: as a loop, GCC spilled all 24
    // to the stack after every tile (7% at depth 64, 1-2% at 256).
    float* cp = c + q * 8 * ldc;
#pragma GCC unroll 8
    for (int j = 0; j < kCols; ++j)
#pragma GCC unroll 4
      for (int i = 0; i < P; ++i) {
        float* d = cp + j * ldc + 16 * i;
        __m512 v = acc[j][i];
        if (!epi.first) {
          v = _mm512_add_ps(_mm512_loadu_ps(d), v);
        } else {
          if (epi.bias) v = _mm512_add_ps(v, _mm512_loadu_ps(epi.bias + 16 * i));
          if (epi.residual) v = _mm512_add_ps(v, _mm512_loadu_ps(epi.residual + (q * 8 + j) * epi.ldr + 16 * i));
        }
        if (epi.last && epi.relu) v = _mm512_max_ps(zero, v);  // max(0, NaN) is NaN
        _mm512_storeu_ps(d, v);
      }
  }
}
#endif

#if defined(__AVX512F__)
/// Runs the panel kernels down the rows of a block the way Eigen packs them: 48-row
/// panels, then one 32-row and one 16-row panel. Returns the rows done (m rounded down
/// to 16); the rest is Eigen's.
template <bool kInPlace, int kCols = 8, bool kStreamA = true>
Index panel_rows(float* c, Index ldc, const float* a, const RhsBlock& b, Index pairs, Index m, Index kc,
                 const BlockEpilogue& epi) {
  Index r = 0;
  for (; r + 48 <= m; r += 48)
    gebp_panel_x8<3, kInPlace, kCols, kStreamA>(c + r, ldc, a + r * kc, b, pairs, kc, epi.rows_from(r));
  if (r + 32 <= m) {
    gebp_panel_x8<2, kInPlace, kCols, kStreamA>(c + r, ldc, a + r * kc, b, pairs, kc, epi.rows_from(r));
    r += 32;
  }
  if (r + 16 <= m) {
    gebp_panel_x8<1, kInPlace, kCols, kStreamA>(c + r, ldc, a + r * kc, b, pairs, kc, epi.rows_from(r));
    r += 16;
  }
  return r;
}

/// The 1..7 in-place columns from column j0 of b on, for all m rows (a multiple of 16),
/// as groups of 4, 2 and 1 columns: three kernel widths instead of seven keep the
/// instantiations (and every model's compile time) down.
inline void in_place_columns(float* c, Index ldc, const float* a, const RhsBlock& b, Index j0, Index cols, Index m,
                             Index kc, const BlockEpilogue& epi) {
  const auto group = [&](Index j, auto columns) {
    RhsBlock rest = b;
    rest.cols += j * b.segments;
    panel_rows<true, decltype(columns)::value>(c + (j - j0) * ldc, ldc, a, rest, 1, m, kc, epi.columns_from(j - j0));
  };
  Index j = j0;
  if (cols & 4) group(j, std::integral_constant<int, 4>{}), j += 4;
  if (cols & 2) group(j, std::integral_constant<int, 2>{}), j += 2;
  if (cols & 1) group(j, std::integral_constant<int, 1>{});
}
#endif

/// C (m x n, ldc) = epi(A (packed, m x kc) * B (kc x n)); stream_a: A is not resident in
/// L2 (see gebp_panel_x8).
inline void gebp_block(float* c, Index ldc, const float* a, const RhsBlock& b, Index m, Index kc, Index n,
                       const BlockEpilogue& epi, bool stream_a = true) {
  Index m_done = 0, n_done = 0;
  const float* b_rest = b.packed;  // packed B of the columns from n_done on (not in place)
#if defined(__AVX512F__)
  if (kPanelKernels) {
    const Index pairs = n / 8;
    if (b.cols) {
      m_done = stream_a ? panel_rows<true>(c, ldc, a, b, pairs, m, kc, epi)
                        : panel_rows<true, 8, false>(c, ldc, a, b, pairs, m, kc, epi);
      if (n > pairs * 8) in_place_columns(c + pairs * 8 * ldc, ldc, a, b, pairs * 8, n - pairs * 8, m, kc,
                                          epi.columns_from(pairs * 8));
      n_done = n;
    } else {
      m_done = panel_rows<false>(c, ldc, a, b, pairs, m, kc, epi);
      b_rest += pairs * 8 * kc;
      n_done = pairs * 8;
    }
  }
#endif
  // The rest with Eigen's kernel, which only accumulates: the epilogue around it.
  Gebp gebp;
  if (n_done < n && m_done > 0) {  // right-hand columns of the panels done above
    const BlockEpilogue e = epi.columns_from(n_done);
    e.before(c + n_done * ldc, ldc, m_done, n - n_done);
    gebp(ResMapper(c + n_done * ldc, ldc), a, b_rest, m_done, kc, n - n_done, 1.0f);
    e.after(c + n_done * ldc, ldc, m_done, n - n_done);
  }
  if (m_done < m) {  // bottom rows, all columns
    const BlockEpilogue e = epi.rows_from(m_done);
    e.before(c + m_done, ldc, m - m_done, n);
    gebp(ResMapper(c + m_done, ldc), a + m_done * kc, b.packed, m - m_done, kc, n, 1.0f);  // never in place
    e.after(c + m_done, ldc, m - m_done, n);
  }
}

/// Floats of scratch one thread needs for slices of up to nc columns: packed B (or
/// copies of border runs), the packer's column buffer and the table of run pointers.
inline Index rhs_scratch_floats(Index kc, Index nc) {
  const Index pointer_floats = static_cast<Index>(sizeof(const float*) / sizeof(float));
  return kc * round_up(nc, kNr) + 4 * kc + 2 * kPacket + round_up(nc, kNr) * kMaxSegments * pointer_floats + 2;
}

/// C[:, col0 : col0+ncols] = epi(A B) for the rows of blocks [mb0, mb1) of A's matrix
/// `matrix`. c points at column col0 of C, and epi's bias and residual at row 0 and
/// column col0 (its first / last flags are set here); scratch holds
/// rhs_scratch_floats(kc, ncols) floats.
///
/// src.run_length(k0, kk) says how B's depth block [k0, k0 + kk) splits into equal runs
/// that src.runs() can point to in place (0: it cannot). Then the panel kernels read
/// every column through a table of run pointers (runs that cross an image border are
/// copied, zero-padded, into the packing buffer) and nothing is packed.
template <class Source>
void gemm_columns(const PackedLhs& a, Index matrix, Index mb0, Index mb1, const Source& src, Index col0,
                  Index ncols, float* c, Index ldc, float* scratch, BlockEpilogue epi) {
  float* block_b = reinterpret_cast<float*>(
      (reinterpret_cast<std::uintptr_t>(scratch) + 63) & ~std::uintptr_t(63));
  float* tmp = block_b + a.kc() * round_up(ncols, kNr);
  const float** table = reinterpret_cast<const float**>(
      (reinterpret_cast<std::uintptr_t>(tmp + 4 * a.kc() + 2 * kPacket) + 7) & ~std::uintptr_t(7));
  const bool panel_rows = kPanelKernels && a.rows() % 16 == 0;
  const bool stream_a = a.bytes() > kResidentLhsBytes;
  for (Index kb = 0; kb < a.k_blocks(); ++kb) {
    const Index kk = a.block_depth(kb), k0 = kb * a.kc();
    const Index run = panel_rows ? src.run_length(k0, kk) : 0;
    RhsBlock b{block_b};
    if (run > 0 && kk / run <= kMaxSegments) {
      b.cols = table;
      b.segments = kk / run;
      src.runs(col0, ncols, k0, run, b.segments, table, block_b);
    } else {
      pack_rhs(block_b, src, col0, ncols, k0, kk, tmp);
    }
    epi.first = kb == 0;
    epi.last = kb + 1 == a.k_blocks();
    for (Index mb = mb0; mb < mb1; ++mb) {
      const Index m0 = a.row0(mb);
      gebp_block(c + m0, ldc, a.block(kb, mb, matrix), b, a.block_rows(mb), kk, ncols, epi.rows_from(m0), stream_a);
    }
  }
}

}  // namespace resnet::kernels::detail
