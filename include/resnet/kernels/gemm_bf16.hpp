#pragma once
/// bf16 GEMM for convolutions: VDPBF16PS (AVX512-BF16), fp32 accumulation and the fp32
/// GEMM's epilogue (bias, residual, ReLU while the tile is in registers). Orientation as
/// in lowp_common.hpp.
///
/// Weights are rounded to bf16 (nearest even, as VCVTNE2PS2BF16) and packed once
/// (PackedBf16Weights), two consecutive k of one row per 32-bit word: one zmm holds 16
/// output channels x 2 k. Activations are either fp32, each block of columns converted
/// into the caller's scratch (K rounded up to even, a zero in the pad; K * N against the
/// product's M * K * N), or bf16 read in place (im2col_lowp.hpp: an NHWC pixel, or a
/// window row of whole pairs). Each step broadcasts one column's pair of bf16 to every
/// lane. The output is fp32, or bf16 for the next bf16 layer: with bf16 maps between
/// layers ResNet-50's convs ran 6% faster than with fp32 maps (docs/lowp.md).
///
/// VDPBF16PS rounds after each product (Intel: two fp32 FMAs per lane, odd k first, with
/// denormal inputs and outputs flushed to zero), so results differ from fp32 in the last
/// bits; reference_lowp.hpp follows the same steps and Zen 4 agrees with it bit for bit.

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "resnet/core/error.hpp"
#include "resnet/core/precision.hpp"
#include "resnet/kernels/im2col_lowp.hpp"
#include "resnet/kernels/lowp_common.hpp"

namespace resnet::kernels {

/// A (M x K) rounded to bf16 and packed for gemm_bf16.
class PackedBf16Weights {
 public:
  PackedBf16Weights() = default;
  /// a: M x K fp32, row i at a + i * lda (OHWI weights: lda = K).
  PackedBf16Weights(const float* a, LowpIndex m, LowpIndex k, LowpIndex lda) {
    if (m <= 0 || k <= 0 || lda < k)
      throw Error(ErrorKind::shape_mismatch, "PackedBf16Weights: M=" + std::to_string(m) + " K=" + std::to_string(k) +
                                                 " lda=" + std::to_string(lda));
    panels_ = detail::WordPanels(m, k, 2, [a, k, lda](LowpIndex i, LowpIndex g) {
      const float* row = a + i * lda;
      const std::uint32_t lo = to_bf16_bits(row[2 * g]);
      const std::uint32_t hi = 2 * g + 1 < k ? to_bf16_bits(row[2 * g + 1]) : 0u;
      return lo | hi << 16;
    });
  }

  LowpIndex rows() const noexcept { return panels_.rows(); }
  LowpIndex depth() const noexcept { return panels_.depth(); }
  const detail::WordPanels& panels() const noexcept { return panels_; }
  std::size_t bytes() const noexcept { return panels_.bytes(); }

 private:
  detail::WordPanels panels_;
};

/// Floats of scratch gemm_bf16 needs for depth K: one converted block of columns (bf16,
/// two per float) and one column's fp32 values from the source.
inline LowpIndex gemm_bf16_scratch_floats(LowpIndex k) {
  const LowpIndex k2 = (k + 1) / 2 * 2;
  return k2 / 2 * detail::lowp_block_columns(2 * k2) + k + 16;
}

namespace detail {

/// Where the bf16 product's rows land: fp32, or bf16 bits (rounded as to_bf16_bits).
struct Bf16Output {
  float* f32 = nullptr;
  std::uint16_t* bf16 = nullptr;
  LowpIndex ldc = 0;
};

/// One panel of up to 48 rows against one block of columns.
struct Bf16PanelTask {
  const std::uint32_t* a = nullptr;  // the panel
  LowpIndex rows = 0;                // valid rows (1 .. 16 * P)
  LowpIndex k = 0;                   // bf16 values per column (a converted block: K rounded up to even)
  const std::uint16_t* const* cols = nullptr;  // column j: runs at cols[j * segments + s]
  LowpIndex segments = 1;
  const float* bias = nullptr;       // at the panel's first row
  const float* residual = nullptr;   // at the panel's first row and the block's first column
  const std::uint16_t* residual_bf16 = nullptr;  // the same
  LowpIndex ldr = 0;
  bool relu = false;
  Bf16Output out;                    // at the panel's first row and the block's first column
};

#if defined(RESNET_HAVE_BF16_KERNELS)
#define RESNET_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

/// `count` fp32 values as bf16 bits at dst, rounded as to_bf16_bits (exactly `count`
/// written): an fp32 map converted once for the GEMM to read in place, or one column.
RESNET_BF16_TARGET inline void bf16_convert_map(std::uint16_t* dst, const float* src, LowpIndex count) {
  LowpIndex t = 0;
  for (; t + 32 <= count; t += 32) {
    const __m512 lo = _mm512_loadu_ps(src + t), hi = _mm512_loadu_ps(src + t + 16);
    _mm512_storeu_si512(dst + t, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));  // lo -> elements 0..15
  }
  for (; t < count; t += 16) {
    const __mmask16 m = first_lanes16(count - t);
    _mm256_mask_storeu_epi16(dst + t, m, (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + t)));
  }
}

/// K fp32 values as bf16 pairs at dst (K rounded up to even, the pad zero).
RESNET_BF16_TARGET __attribute__((noinline)) inline void bf16_convert_column(std::uint16_t* dst, const float* src,
                                                                           LowpIndex k) {
  bf16_convert_map(dst, src, k);
  if (k % 2 != 0) dst[k] = 0;
}

/// The epilogue of one tile, from its fp32 sums acc[j][i] (column j, row vector i); a
/// function of its own for the reason given at int8_epilogue (gemm_int8.hpp).
template <int P, int NC>
RESNET_BF16_TARGET __attribute__((noinline)) void bf16_epilogue(const Bf16PanelTask& t, const __m512 (&acc)[NC][P],
                                                                LowpIndex j0) {
  const __m512 zero = _mm512_setzero_ps();
  for (int i = 0; i < P; ++i) {
    const __mmask16 mask = first_lanes16(t.rows - 16 * i);
    const __m512 bias = t.bias ? _mm512_maskz_loadu_ps(mask, t.bias + 16 * i) : zero;
    for (int j = 0; j < NC; ++j) {
      __m512 y = acc[j][i];
      if (t.bias) y = _mm512_add_ps(y, bias);
      if (t.residual) y = _mm512_add_ps(y, load_f32x16(t.residual + (j0 + j) * t.ldr + 16 * i, mask));
      if (t.residual_bf16) {  // bf16 -> fp32 is a shift: the bits above 16 zeros
        const __m256i r = load_bf16x16(t.residual_bf16 + (j0 + j) * t.ldr + 16 * i, mask);
        y = _mm512_add_ps(y, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(r), 16)));
      }
      if (t.relu) y = _mm512_max_ps(zero, y);  // NaN passes, as in the fp32 path
      const LowpIndex to = (j0 + j) * t.out.ldc + 16 * i;
      if (t.out.f32)
        store_f32x16(t.out.f32 + to, mask, y);
      else  // VCVTNEPS2BF16 rounds as to_bf16_bits
        store_bf16x16(t.out.bf16 + to, mask, (__m256i)_mm512_cvtneps_pbh(y));
    }
  }
}

/// The register tile: 16 * P rows x NC columns of fp32 sums, K/2 VDPBF16PS steps each of
/// P weight loads and NC broadcast pairs.
template <int P, int NC>
RESNET_BF16_TARGET __attribute__((noinline)) void bf16_panel(const Bf16PanelTask& t, LowpIndex col0,
                                                             LowpIndex tiles) {
  // Column j is `segments` runs of k / segments values at cols[j * segments + s], each
  // of whole pairs (an odd K reaches the kernel only through a copy padded with a zero).
  const LowpIndex segments = t.segments, words = t.k / segments / 2;
  for (LowpIndex q = 0; q < tiles; ++q) {
    const LowpIndex j0 = col0 + q * NC;
    const std::uint16_t* bj[NC];
    for (int j = 0; j < NC; ++j) bj[j] = t.cols[(j0 + j) * segments];
    __m512 acc[NC][P];
    for (int j = 0; j < NC; ++j)
      for (int i = 0; i < P; ++i) acc[j][i] = _mm512_setzero_ps();
    const std::uint32_t* ap = t.a;
    for (LowpIndex seg = 0; seg < segments; ++seg) {
      if (seg > 0)
        for (int j = 0; j < NC; ++j) bj[j] = t.cols[(j0 + j) * segments + seg];
      for (LowpIndex g = 0; g < words; ++g, ap += 16 * P) {
        __m512bh a[P];
        for (int i = 0; i < P; ++i) a[i] = (__m512bh)_mm512_load_si512(ap + 16 * i);
        for (int j = 0; j < NC; ++j) {
          std::uint32_t pair;
          std::memcpy(&pair, bj[j] + 2 * g, 4);
          const __m512bh bk = (__m512bh)_mm512_set1_epi32(static_cast<int>(pair));
          for (int i = 0; i < P; ++i) acc[j][i] = _mm512_dpbf16_ps(acc[j][i], a[i], bk);
        }
      }
    }
    __m512 sums[NC][P];  // a copy: passing acc's address would keep acc in memory
    for (int j = 0; j < NC; ++j)
      for (int i = 0; i < P; ++i) sums[j][i] = acc[j][i];
    bf16_epilogue<P, NC>(t, sums, j0);
  }
}

template <int P>
inline void bf16_panel_columns(const Bf16PanelTask& t, LowpIndex cols) {
  const LowpIndex tiles = cols / 8;
  if (tiles > 0) bf16_panel<P, 8>(t, 0, tiles);
  LowpIndex j = tiles * 8;
  if (cols & 4) bf16_panel<P, 4>(t, j, 1), j += 4;
  if (cols & 2) bf16_panel<P, 2>(t, j, 1), j += 2;
  if (cols & 1) bf16_panel<P, 1>(t, j, 1);
}
#undef RESNET_BF16_TARGET
#endif

/// The panels of A against one block of columns.
inline void bf16_block(const PackedBf16Weights& a, const std::uint16_t* const* table, LowpIndex segments,
                       LowpIndex k, LowpIndex cols, LowpIndex n0, const Bf16Epilogue& epi, const Bf16Output& out) {
#if defined(RESNET_HAVE_BF16_KERNELS)
  const WordPanels& w = a.panels();
  for (LowpIndex p = 0; p < w.panels(); ++p) {
    const LowpIndex r0 = w.panel_row(p);
    Bf16PanelTask t;
    t.a = w.panel(p);
    t.rows = std::min<LowpIndex>(16 * w.panel_vectors(p), a.rows() - r0);
    t.k = k;
    t.cols = table;
    t.segments = segments;
    t.bias = epi.bias ? epi.bias + r0 : nullptr;
    t.residual = epi.residual ? epi.residual + n0 * epi.ldr + r0 : nullptr;
    t.residual_bf16 = epi.residual_bf16 ? epi.residual_bf16 + n0 * epi.ldr + r0 : nullptr;
    t.ldr = epi.ldr;
    t.relu = epi.relu;
    t.out = out;
    if (out.f32) t.out.f32 += n0 * out.ldc + r0;
    if (out.bf16) t.out.bf16 += n0 * out.ldc + r0;
    switch (w.panel_vectors(p)) {
      case 3: bf16_panel_columns<3>(t, cols); break;
      case 2: bf16_panel_columns<2>(t, cols); break;
      default: bf16_panel_columns<1>(t, cols); break;
    }
  }
#else
  (void)a, (void)table, (void)segments, (void)k, (void)cols, (void)n0, (void)epi, (void)out;
#endif
}

}  // namespace detail

/// count fp32 values as bf16 bits at dst, rounded as to_bf16_bits (exactly count written).
inline void convert_to_bf16(std::uint16_t* dst, const float* src, LowpIndex count) {
#if defined(RESNET_HAVE_BF16_KERNELS)
  if (cpu_features().avx512_bf16) {
    detail::bf16_convert_map(dst, src, count);
    return;
  }
#endif
  for (LowpIndex i = 0; i < count; ++i) dst[i] = to_bf16_bits(src[i]);
}

namespace detail {

template <class Source>
void gemm_bf16_run(const PackedBf16Weights& a, const Source& src, LowpIndex n, const Bf16Epilogue& epi,
                   const Bf16Output& out, float* scratch) {
  require_precision(Precision::bf16);
  if (n <= 0 || a.rows() == 0) return;
  if (out.ldc < a.rows() || ((epi.residual || epi.residual_bf16) && epi.ldr < a.rows()))
    throw Error(ErrorKind::invalid_argument, "gemm_bf16: a column stride is smaller than the column");
#if defined(RESNET_HAVE_BF16_KERNELS)
  using Element = std::remove_cv_t<std::remove_pointer_t<decltype(src.segment(0, 0, 0, nullptr))>>;
  static_assert(std::is_same_v<Element, float> || std::is_same_v<Element, std::uint16_t>,
                "gemm_bf16: a column source returns fp32 values (converted) or bf16 bits (read in place)");
  const LowpIndex k = a.depth(), k2 = a.panels().words() * 2;
  if (!scratch && (std::is_same_v<Element, float> || k % 2 != 0))
    throw Error(ErrorKind::invalid_argument, "gemm_bf16: fp32 activations or an odd K need scratch, none was given");
  const std::uint16_t* table[kLowpColumnTable];
  if constexpr (std::is_same_v<Element, float>) {
    // Each block converted into the scratch once, then a room for one column the source copies.
    const LowpIndex block = lowp_block_columns(2 * k2);
    std::uint16_t* converted = reinterpret_cast<std::uint16_t*>(scratch);
    float* column = scratch + k2 / 2 * block;
    for (LowpIndex n0 = 0; n0 < n; n0 += block) {
      const LowpIndex cols = std::min(block, n - n0);
      for (LowpIndex j = 0; j < cols; ++j) {
        table[j] = converted + j * k2;
        bf16_convert_column(converted + j * k2, src.segment(n0 + j, 0, k, column), k);
      }
      bf16_block(a, table, 1, k2, cols, n0, epi, out);
    }
  } else if (k % 2 != 0) {
    // bf16 with an odd K: each column copied with a zero after it, so the kernel sees
    // whole pairs and adds them in the reference's order.
    const LowpIndex block = lowp_block_columns(2 * k2);
    std::uint16_t* copies = reinterpret_cast<std::uint16_t*>(scratch);
    for (LowpIndex n0 = 0; n0 < n; n0 += block) {
      const LowpIndex cols = std::min(block, n - n0);
      for (LowpIndex j = 0; j < cols; ++j) {
        std::uint16_t* d = copies + j * k2;
        const std::uint16_t* p = src.segment(n0 + j, 0, k, d);
        if (p != d) std::memcpy(d, p, sizeof(std::uint16_t) * static_cast<std::size_t>(k));
        d[k] = 0;
        table[j] = d;
      }
      bf16_block(a, table, 1, k2, cols, n0, epi, out);
    }
  } else {
    // bf16 in place: runs of whole pairs (a window row), or the whole column.
    LowpIndex run = src.run_length(k);
    if (run <= 0 || k % run != 0 || (run != k && run % 2 != 0) || k / run > kLowpColumnTable / 8) run = k;
    const LowpIndex segments = k / run;
    const LowpIndex block = std::min(lowp_block_columns(2 * k2), kLowpColumnTable / segments / 8 * 8);
    std::uint16_t* copies = reinterpret_cast<std::uint16_t*>(scratch);
    for (LowpIndex n0 = 0; n0 < n; n0 += block) {
      const LowpIndex cols = std::min(block, n - n0);
      column_table(src, n0, cols, run, segments, k, table, copies);
      bf16_block(a, table, segments, k, cols, n0, epi, out);
    }
  }
#else
  (void)src, (void)epi, (void)out, (void)scratch;
#endif
}

}  // namespace detail

/// C (M x N, column j at c + j * ldc) = epilogue(bf16(A) * bf16(B)), B (K x N) from a
/// column source whose segment(col, k0, len, tmp) returns either
///   fp32 values (im2col.hpp: DenseColumns, StridedColumns, PatchColumns): whole columns,
///     converted into the scratch once per block and read by every panel of A; or
///   bf16 bits (im2col_lowp.hpp: Bf16PixelColumns, Bf16PatchColumns): read in place, in
///     run_length(K) runs, copies (a window over the border) into the scratch.
/// scratch: gemm_bf16_scratch_floats(K) floats (null for a bf16 source that never
/// copies and an even K). Columns are independent: a caller splits N over threads by offsetting c and
/// the residual and giving each thread its own columns and scratch. Throws
/// ErrorKind::unsupported_cpu where the CPU or build lacks AVX512-BF16. Allocates nothing.
template <class Source>
void gemm_bf16(const PackedBf16Weights& a, const Source& src, LowpIndex n, const Bf16Epilogue& epi, float* c,
               LowpIndex ldc, float* scratch) {
  detail::Bf16Output out;
  out.f32 = c;
  out.ldc = ldc;
  detail::gemm_bf16_run(a, src, n, epi, out, scratch);
}

/// The same, writing bf16 bits (the next bf16 layer's input), rounded as to_bf16_bits.
template <class Source>
void gemm_bf16(const PackedBf16Weights& a, const Source& src, LowpIndex n, const Bf16Epilogue& epi,
               std::uint16_t* c, LowpIndex ldc, float* scratch) {
  detail::Bf16Output out;
  out.bf16 = c;
  out.ldc = ldc;
  detail::gemm_bf16_run(a, src, n, epi, out, scratch);
}

/// Dense fp32 B, column j at b + j * ldb.
inline void gemm_bf16(const PackedBf16Weights& a, const float* b, LowpIndex ldb, LowpIndex n,
                      const Bf16Epilogue& epi, float* c, LowpIndex ldc, float* scratch) {
  if (ldb < a.depth())
    throw Error(ErrorKind::invalid_argument, "gemm_bf16: a column stride is smaller than the column");
  gemm_bf16(a, DenseColumnsOf<float>{b, ldb}, n, epi, c, ldc, scratch);
}

/// Dense bf16 B (bits), column j at b + j * ldb, read in place (scratch: null will do
/// for an even K).
inline void gemm_bf16(const PackedBf16Weights& a, const std::uint16_t* b, LowpIndex ldb, LowpIndex n,
                      const Bf16Epilogue& epi, float* c, LowpIndex ldc, float* scratch) {
  if (ldb < a.depth())
    throw Error(ErrorKind::invalid_argument, "gemm_bf16: a column stride is smaller than the column");
  gemm_bf16(a, DenseColumnsOf<std::uint16_t>{b, ldb}, n, epi, c, ldc, scratch);
}

}  // namespace resnet::kernels
