#pragma once
/// bf16 GEMM for convolutions: VDPBF16PS (AVX512-BF16), fp32 accumulation and the fp32
/// GEMM's epilogue (bias, residual, ReLU while the tile is in registers). Orientation as
/// in lowp_common.hpp.
///
/// Weights are rounded to bf16 (nearest even, as VCVTNE2PS2BF16) and packed once
/// (PackedBf16Weights), two consecutive k of one row per 32-bit word: one zmm holds 16
/// output channels x 2 k. Activations stay fp32 in memory; each block of columns is
/// converted into the caller's scratch (K rounded up to even, a zero in the pad), then
/// each step broadcasts one column's pair of bf16 to every lane. The conversion costs
/// K * N against the product's M * K * N.
///
/// VDPBF16PS rounds after each product (Intel: two fp32 FMAs per lane, odd k first, with
/// denormal inputs and outputs flushed to zero), so results differ from fp32 in the last
/// bits; reference_lowp.hpp follows the same steps and Zen 4 agrees with it bit for bit.

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "resnet/core/error.hpp"
#include "resnet/core/precision.hpp"
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

struct Bf16PanelTask {
  const std::uint32_t* a = nullptr;  // the panel
  LowpIndex rows = 0;                // valid rows (1 .. 16 * P)
  LowpIndex words = 0;               // K / 2 rounded up
  const std::uint16_t* b = nullptr;  // converted block: column j at b + 2 * j * words
  const float* bias = nullptr;       // at the panel's first row
  const float* residual = nullptr;   // at the panel's first row and the block's first column
  LowpIndex ldr = 0;
  bool relu = false;
  float* c = nullptr;                // at the panel's first row and the block's first column
  LowpIndex ldc = 0;
};

#if defined(RESNET_HAVE_BF16_KERNELS)
#define RESNET_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

/// K fp32 values as bf16 pairs at dst (K rounded up to even, the pad zero).
RESNET_BF16_TARGET __attribute__((noinline)) inline void bf16_convert_column(std::uint16_t* dst, const float* src,
                                                                           LowpIndex k) {
  const LowpIndex k2 = (k + 1) / 2 * 2;
  for (LowpIndex t = 0; t < k2; t += 32) {
    const LowpIndex left = k - t, room = k2 - t;
    const __mmask16 m_lo = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1u);  // left >= 1
    const __mmask16 m_hi =
        left >= 32 ? __mmask16(0xFFFF) : left <= 16 ? __mmask16(0) : __mmask16((1u << (left - 16)) - 1u);
    const __m512 lo = _mm512_maskz_loadu_ps(m_lo, src + t), hi = _mm512_maskz_loadu_ps(m_hi, src + t + 16);
    const __m512i v = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);  // lo -> elements 0..15
    const __mmask32 store = room >= 32 ? __mmask32(0xFFFFFFFFu) : __mmask32((1u << room) - 1u);
    _mm512_mask_storeu_epi16(dst + t, store, v);
  }
}

/// The epilogue of one tile, from its fp32 sums acc[j][i] (column j, row vector i); a
/// function of its own for the reason given at int8_epilogue (gemm_int8.hpp).
template <int P, int NC>
RESNET_BF16_TARGET __attribute__((noinline)) void bf16_epilogue(const Bf16PanelTask& t, const __m512 (&acc)[NC][P],
                                                                LowpIndex j0) {
  const __m512 zero = _mm512_setzero_ps();
  for (int i = 0; i < P; ++i) {
    const LowpIndex left = t.rows - 16 * i;
    const __mmask16 mask = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1u);
    const __m512 bias = t.bias ? _mm512_maskz_loadu_ps(mask, t.bias + 16 * i) : zero;
    for (int j = 0; j < NC; ++j) {
      __m512 y = acc[j][i];
      if (t.bias) y = _mm512_add_ps(y, bias);
      if (t.residual) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(mask, t.residual + (j0 + j) * t.ldr + 16 * i));
      if (t.relu) y = _mm512_max_ps(zero, y);  // NaN passes, as in the fp32 path
      _mm512_mask_storeu_ps(t.c + (j0 + j) * t.ldc + 16 * i, mask, y);
    }
  }
}

/// The register tile: 16 * P rows x NC columns of fp32 sums, K/2 VDPBF16PS steps each of
/// P weight loads and NC broadcast pairs.
template <int P, int NC>
RESNET_BF16_TARGET __attribute__((noinline)) void bf16_panel(const Bf16PanelTask& t, LowpIndex col0,
                                                             LowpIndex tiles) {
  for (LowpIndex q = 0; q < tiles; ++q) {
    const LowpIndex j0 = col0 + q * NC;
    const std::uint16_t* bj[NC];
    for (int j = 0; j < NC; ++j) bj[j] = t.b + 2 * (j0 + j) * t.words;
    __m512 acc[NC][P];
    for (int j = 0; j < NC; ++j)
      for (int i = 0; i < P; ++i) acc[j][i] = _mm512_setzero_ps();
    const std::uint32_t* ap = t.a;
    for (LowpIndex g = 0; g < t.words; ++g, ap += 16 * P) {
      __m512bh a[P];
      for (int i = 0; i < P; ++i) a[i] = (__m512bh)_mm512_load_si512(ap + 16 * i);
      for (int j = 0; j < NC; ++j) {
        std::uint32_t pair;
        std::memcpy(&pair, bj[j] + 2 * g, 4);
        const __m512bh bk = (__m512bh)_mm512_set1_epi32(static_cast<int>(pair));
        for (int i = 0; i < P; ++i) acc[j][i] = _mm512_dpbf16_ps(acc[j][i], a[i], bk);
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

/// B as a dense fp32 matrix, column j at base + j * ld: the column source of the plain
/// gemm_bf16 overload (im2col.hpp's sources have the same segment()).
struct DenseFloatColumns {
  const float* base;
  LowpIndex ld;
  const float* segment(LowpIndex col, LowpIndex k0, LowpIndex, float*) const { return base + col * ld + k0; }
};

}  // namespace detail

/// C (M x N, column j at c + j * ldc) = epilogue(bf16(A) * bf16(B)), B fp32 (K x N) from
/// a column source as the fp32 GEMM's (im2col.hpp: DenseColumns, StridedColumns,
/// PatchColumns): src.segment(col, 0, K, tmp) returns column col's K floats, in place or
/// copied into tmp. Each block of columns is converted into the scratch once and read by
/// every panel of A. scratch: gemm_bf16_scratch_floats(K) floats. Columns are
/// independent: a caller splits N over threads by offsetting c and the residual and
/// giving each thread its own scratch and columns. Throws ErrorKind::unsupported_cpu
/// where the CPU or build lacks AVX512-BF16. Allocates nothing.
template <class Source>
void gemm_bf16(const PackedBf16Weights& a, const Source& src, LowpIndex n, const Bf16Epilogue& epi, float* c,
               LowpIndex ldc, float* scratch) {
  require_precision(Precision::bf16);
  if (n <= 0 || a.rows() == 0) return;
  if (ldc < a.rows() || (epi.residual && epi.ldr < a.rows()))
    throw Error(ErrorKind::invalid_argument, "gemm_bf16: a column stride is smaller than the column");
#if defined(RESNET_HAVE_BF16_KERNELS)
  const detail::WordPanels& w = a.panels();
  const LowpIndex words = w.words(), k = a.depth();
  const LowpIndex block = detail::lowp_block_columns(4 * words);
  // The converted block, then room for one column copied by the source.
  std::uint16_t* converted = reinterpret_cast<std::uint16_t*>(scratch);
  float* column = scratch + words * block;
  for (LowpIndex n0 = 0; n0 < n; n0 += block) {
    const LowpIndex cols = std::min(block, n - n0);
    for (LowpIndex j = 0; j < cols; ++j)
      detail::bf16_convert_column(converted + 2 * j * words, src.segment(n0 + j, 0, k, column), k);
    for (LowpIndex p = 0; p < w.panels(); ++p) {
      const LowpIndex r0 = p * detail::kLowpPanelRows;
      detail::Bf16PanelTask t;
      t.a = w.panel(p);
      t.rows = std::min(detail::kLowpPanelRows, a.rows() - r0);
      t.words = words;
      t.b = converted;
      t.bias = epi.bias ? epi.bias + r0 : nullptr;
      t.residual = epi.residual ? epi.residual + n0 * epi.ldr + r0 : nullptr;
      t.ldr = epi.ldr;
      t.relu = epi.relu;
      t.c = c + n0 * ldc + r0;
      t.ldc = ldc;
      switch (w.panel_vectors(p)) {
        case 3: detail::bf16_panel_columns<3>(t, cols); break;
        case 2: detail::bf16_panel_columns<2>(t, cols); break;
        default: detail::bf16_panel_columns<1>(t, cols); break;
      }
    }
  }
#else
  (void)src, (void)epi, (void)c, (void)scratch;
#endif
}

/// The same for a dense B, column j at b + j * ldb.
inline void gemm_bf16(const PackedBf16Weights& a, const float* b, LowpIndex ldb, LowpIndex n,
                      const Bf16Epilogue& epi, float* c, LowpIndex ldc, float* scratch) {
  if (ldb < a.depth())
    throw Error(ErrorKind::invalid_argument, "gemm_bf16: a column stride is smaller than the column");
  gemm_bf16(a, detail::DenseFloatColumns{b, ldb}, n, epi, c, ldc, scratch);
}

}  // namespace resnet::kernels
