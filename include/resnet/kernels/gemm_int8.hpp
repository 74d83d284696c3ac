#pragma once
/// int8 GEMM for convolutions: u8 activations x s8 weights with VPDPBUSD (AVX512-VNNI),
/// int32 accumulation, requantization fused into the epilogue (lowp_common.hpp has the
/// orientation and the epilogue's exact arithmetic).
///
/// Weights are packed once (PackedInt8Weights): s8 per output channel, four consecutive k
/// of one row in each 32-bit word, so one zmm holds 16 output channels x 4 k. Activations
/// come from a column source (im2col_lowp.hpp), one pointer per column of a block: in place
/// (an NHWC pixel for a 1x1 conv) or a window copied once per block; four bytes at a time
/// are broadcast to every lane.
/// K need not be a multiple of 4: the weights are padded with zeros and the last partial
/// word of a column is read with a masked load (no byte past K is touched). M and N are
/// arbitrary: rows past M are masked on store, columns run as tiles of 8, 4, 2 and 1.
///
/// Zero point: VPDPBUSD computes sum_k a * w on the raw u8 values; the activation zero
/// point comes out as one exact integer per row, sum_k (a - za) w = sum_k a w - za sum_k w,
/// with sum_k w kept from packing.
///
/// The kernels are compiled with a `target` attribute (core/cpu_features.hpp says why)
/// and run only after require_precision(Precision::int8) has passed.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "resnet/core/error.hpp"
#include "resnet/core/precision.hpp"
#include "resnet/kernels/im2col_lowp.hpp"
#include "resnet/kernels/lowp_common.hpp"

namespace resnet::kernels {

/// Largest K the int32 accumulator holds for any u8 x s8 values: K * 255 * 128 < 2^31.
constexpr LowpIndex kMaxInt8Depth = 65'000;

/// A (M x K) s8 weights packed for gemm_int8, with their per-row scales and sums.
class PackedInt8Weights {
 public:
  PackedInt8Weights() = default;

  /// q.values: M x K row-major s8, q.scales: M per-row scales.
  PackedInt8Weights(const QuantizedWeights& q, LowpIndex m, LowpIndex k) : scales_(q.scales) {
    if (m <= 0 || k <= 0 || static_cast<LowpIndex>(q.values.size()) != m * k ||
        static_cast<LowpIndex>(q.scales.size()) != m)
      throw Error(ErrorKind::shape_mismatch, "PackedInt8Weights: " + std::to_string(q.values.size()) + " values and " +
                                                 std::to_string(q.scales.size()) + " scales for M=" +
                                                 std::to_string(m) + " K=" + std::to_string(k));
    if (k > kMaxInt8Depth)
      throw Error(ErrorKind::too_large, "PackedInt8Weights: K=" + std::to_string(k) + " exceeds " +
                                            std::to_string(kMaxInt8Depth) + " (the int32 accumulator could overflow)");
    const std::int8_t* w = q.values.data();
    panels_ = detail::WordPanels(m, k, 4, [w, k](LowpIndex i, LowpIndex g) {
      std::uint32_t word = 0;
      for (LowpIndex t = 0; t < 4 && 4 * g + t < k; ++t)
        word |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(w[i * k + 4 * g + t])) << (8 * t);
      return word;
    });
    sums_.assign(static_cast<std::size_t>(m), 0);
    for (LowpIndex i = 0; i < m; ++i)
      for (LowpIndex t = 0; t < k; ++t) sums_[static_cast<std::size_t>(i)] += w[i * k + t];
  }

  /// Quantizes fp32 weights (M x K, row i at w + i * lda) with quantize_weights_per_channel.
  static PackedInt8Weights quantize(const float* w, LowpIndex m, LowpIndex k, LowpIndex lda) {
    return PackedInt8Weights(quantize_weights_per_channel(w, m, k, lda), m, k);
  }

  LowpIndex rows() const noexcept { return panels_.rows(); }
  LowpIndex depth() const noexcept { return panels_.depth(); }
  const float* scales() const noexcept { return scales_.data(); }
  const std::int32_t* sums() const noexcept { return sums_.data(); }
  const detail::WordPanels& panels() const noexcept { return panels_; }
  std::size_t bytes() const noexcept { return panels_.bytes() + sums_.size() * 8; }

 private:
  detail::WordPanels panels_;
  std::vector<float> scales_;       // [M]
  std::vector<std::int32_t> sums_;  // [M]: sum_k A[i][k], for the zero-point correction
};

namespace detail {

/// Where the int8 product's rows land: fp32; or u8 requantized by `q`, bf16, or both
/// (a block output: u8 for the next block's convs, bf16 for its residual), each quantized
/// or rounded from the same fp32 value.
struct Int8Output {
  float* f32 = nullptr;
  std::uint8_t* u8 = nullptr;
  QuantParams q;
  std::uint16_t* bf16 = nullptr;
  LowpIndex ldc = 0;
  /// Round bf16 in integer steps even where the CPU has VCVTNEPS2BF16 (for the tests:
  /// both give to_bf16_bits's bits).
  bool integer_bf16 = false;
};

/// One panel of up to 48 rows, or some of its 16-row vectors, against some columns: the
/// operands, and the epilogue's per-row constants worked out once per panel (rows past M
/// hold zeros).
struct Int8PanelTask {
  const std::uint32_t* a = nullptr;  // the panel's first vector used
  LowpIndex stride = 0;              // uint32s from one word of the panel's rows to the next
  LowpIndex rows = 0;                // valid rows (1 .. 16 * P)
  LowpIndex k = 0;
  const std::uint8_t* const* cols = nullptr;  // column j: runs at cols[j * segments + s]
  LowpIndex segments = 1;
  // -in.zero_point * sum_k A[i][k]: the sums start there, and come out corrected.
  alignas(64) std::int32_t start[kLowpPanelRows] = {};
  alignas(64) float multiplier[kLowpPanelRows] = {};         // in.scale * a_scale[i]
  alignas(64) float bias[kLowpPanelRows] = {};               // bias[i], or 0
  const float* residual = nullptr;     // at the panel's first row and the block's first column
  const std::uint8_t* residual_u8 = nullptr;
  const std::uint16_t* residual_bf16 = nullptr;
  bool native_bf16 = false;  // round the bf16 output with VCVTNEPS2BF16
  Int8Epilogue epi;
  Int8Output out;                      // pointers at the panel's first row and the block's first column
};

#if defined(RESNET_HAVE_INT8_KERNELS)
#define RESNET_INT8_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
// The epilogue may also round to bf16 with VCVTNEPS2BF16, which it executes only where
// the CPU has AVX512-BF16 (Int8PanelTask::native_bf16); a build that cannot name the
// instruction rounds in integer steps.
#if defined(RESNET_HAVE_BF16_KERNELS)
#define RESNET_INT8_EPILOGUE_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512bf16")))
#else
#define RESNET_INT8_EPILOGUE_TARGET RESNET_INT8_TARGET
#endif

// quantize_u8's steps for 16 values, for the epilogue's u8 output and quantize_u8_map:
// clamped to +-512 (beyond u8 after any zero point; NaN -> -512), rounded to nearest
// even, zero point added, clamped to [0, 255]; in fewer steps, with the same bytes once
// saturated to unsigned bytes by VPACKUSDW and VPACKUSWB (bytes_in_order), which take a
// negative int32 to 0 and anything above 255 to 255. So the clamps are left out: above,
// min(512) keeps the values below 767; below -512 (or -inf) the conversion gives a
// negative value, or INT_MIN beyond int32, and so does NaN, kept by min(512, NaN); the
// zero point (<= 255) leaves them negative, and the packs take them to 0, as the clamp at
// -512 did. A store that saturates int32 as unsigned (VPMOVUSDB) needs max(0) first. A
// function of its own, not a lambda: a lambda does not take its enclosing function's
// target attribute, so a build without -mavx512f (a consumer's) could not inline it.
__attribute__((target("avx512f"), always_inline)) inline __m512i quantize16_u8(__m512 v, __m512 inv, __m512i zp) {
  const __m512 s = _mm512_min_ps(_mm512_set1_ps(512.0f), _mm512_mul_ps(v, inv));  // MINPS returns NaN, its 2nd
  return _mm512_add_epi32(_mm512_cvtps_epi32(s), zp);
}

// Four vectors of int32 values below 768 (quantize16_u8's) as 64 bytes in their order,
// saturated to [0, 255]: VPACKUSDW and VPACKUSWB interleave per 128-bit lane (lane L holds
// values 4L..4L+3 of each vector in turn), one permute puts 32-bit word d back to vector
// d / 4's values 4 (d % 4) .. + 3. For the epilogue's columns and quantize_u8_avx512.
__attribute__((target("avx512f,avx512bw"), always_inline)) inline __m512i bytes_in_order(__m512i a, __m512i b,
                                                                                          __m512i c, __m512i d) {
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_epi32(order, _mm512_packus_epi16(_mm512_packus_epi32(a, b), _mm512_packus_epi32(c, d)));
}

// 16 fp32 values to bf16 bits exactly as to_bf16_bits (nearest even; denormals to signed
// zero; NaN kept, quieted), in integer steps: AVX512-VNNI does not bring VCVTNEPS2BF16.
// Zeros and infinities come out of the rounding right; denormals and NaNs, rare, are
// found by one VFPCLASSPS and fixed on a branch (the last 1x1s of ResNet-50's first
// stage, which write bf16, 30-38 us faster each of ~270 at two threads).
__attribute__((target("avx512f,avx512bw,avx512dq"), always_inline)) inline __m256i bf16_round16(__m512 v) {
  const __m512i bits = _mm512_castps_si512(v);
  const __m512i high = _mm512_srli_epi32(bits, 16);
  const __m512i lsb = _mm512_and_si512(high, _mm512_set1_epi32(1));
  __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF))), 16);
  constexpr int kNanOrDenormal = 0x01 | 0x20 | 0x80;  // VFPCLASSPS: quiet NaN, denormal, signalling NaN
  if (__builtin_expect(_mm512_fpclass_ps_mask(v, kNanOrDenormal) != 0, 0)) {
    const __m512i exponent = _mm512_and_si512(bits, _mm512_set1_epi32(0x7F800000));
    const __mmask16 tiny = _mm512_cmpeq_epi32_mask(exponent, _mm512_setzero_si512());
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    rounded = _mm512_mask_mov_epi32(rounded, tiny, _mm512_and_si512(high, _mm512_set1_epi32(0x8000)));
    rounded = _mm512_mask_mov_epi32(rounded, nan, _mm512_or_si512(high, _mm512_set1_epi32(0x40)));
  }
  return _mm512_cvtepi32_epi16(rounded);
}

/// The epilogue of one tile, from its int32 sums acc[j][i] (column j, row vector i).
/// A function of its own: with the epilogue's constants in the tile's function, GCC 12
/// kept them in registers across the k loop and spilled accumulators to the stack on
/// every step (half speed). The tile costs 16 * P * NC stores and loads more, against
/// K / 4 * P * NC VPDPBUSD.
///
/// Column by column: a column's 16 * P rows are one pixel's channels, contiguous in the
/// output, so its u8 values are packed together (bytes_in_order) and stored at once, and
/// its bf16 values go two vectors to a VCVTNE2PS2BF16, rather than a VPMOVUSDB store per
/// 16 values: the blocks' last 1x1s, whose short K leaves the epilogue a large share of
/// the tile, write u8 and bf16 (benchmarks/README.md, "Packed epilogue"). Full vectors
/// load and store plain, not masked (lowp_common.hpp's load_f32x16 says why).
template <int P, int NC>
RESNET_INT8_EPILOGUE_TARGET __attribute__((noinline)) void int8_epilogue(const Int8PanelTask& t, const __m512i (&acc)[NC][P],
                                                                LowpIndex j0) {
  const __m512 zero = _mm512_setzero_ps();
  const __m512 inv_out = _mm512_set1_ps(1.0f / t.out.q.scale);
  const __m512i out_zp = _mm512_set1_epi32(t.out.q.zero_point);
  const __m512i res_zp = _mm512_set1_epi32(t.epi.residual_q.zero_point);
  const __m512 res_scale = _mm512_set1_ps(t.epi.residual_q.scale);
  const __mmask16 all = 0xFFFF;
  __mmask16 mask[P];
  __m512 multiplier[P], bias[P];
  for (int i = 0; i < P; ++i) {
    mask[i] = first_lanes16(t.rows - 16 * i);
    multiplier[i] = _mm512_load_ps(t.multiplier + 16 * i);
    bias[i] = _mm512_load_ps(t.bias + 16 * i);
  }
  const LowpIndex rows = std::min<LowpIndex>(t.rows, 16 * P);
  for (int j = 0; j < NC; ++j) {
    const LowpIndex at = (j0 + j) * t.epi.ldr, to = (j0 + j) * t.out.ldc;
    __m512 y[P];
    for (int i = 0; i < P; ++i) {
      // The masked conversion: _mm512_cvtepi32_ps's _mm512_undefined_ps() draws GCC 12's
      // -Wuninitialized wherever <immintrin.h> came in before lowp_common.hpp's pragma.
      y[i] = _mm512_maskz_cvtepi32_ps(all, acc[j][i]);
      y[i] = _mm512_fmadd_ps(y[i], multiplier[i], bias[i]);  // bias 0 if none: no mul + add a compiler might contract
      if (t.residual) y[i] = _mm512_add_ps(y[i], load_f32x16(t.residual + at + 16 * i, mask[i]));
      if (t.residual_u8) {
        const __m512i r = _mm512_cvtepu8_epi32(load_u8x16(t.residual_u8 + at + 16 * i, mask[i]));
        y[i] = _mm512_fmadd_ps(_mm512_maskz_cvtepi32_ps(all, _mm512_sub_epi32(r, res_zp)), res_scale, y[i]);
      }
      if (t.residual_bf16) {  // bf16 -> fp32 is a shift: the bits above 16 zeros
        const __m256i r = load_bf16x16(t.residual_bf16 + at + 16 * i, mask[i]);
        y[i] = _mm512_add_ps(y[i], _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(r), 16)));
      }
      if (t.epi.relu) y[i] = _mm512_max_ps(zero, y[i]);  // zero > y ? zero : y; NaN passes
    }
    if (t.out.f32) {
      for (int i = 0; i < P; ++i) store_f32x16(t.out.f32 + to + 16 * i, mask[i], y[i]);
      continue;
    }
    if (t.out.u8) {  // int32 values below 768, saturated to bytes by the packs
      __m512i q[4];
      for (int i = 0; i < 4; ++i) q[i] = i < P ? quantize16_u8(y[i], inv_out, out_zp) : _mm512_setzero_si512();
      store_u8_first(t.out.u8 + to, rows, bytes_in_order(q[0], q[1], q[2], q[3]));
    }
    if (t.out.bf16) {
#if defined(RESNET_HAVE_BF16_KERNELS)
      if (t.native_bf16) {  // one instruction for two vectors of bf16_round16's steps
        for (int i = 0; i + 1 < P; i += 2) {
          const __m512i pair = (__m512i)_mm512_cvtne2ps_pbh(y[i + 1], y[i]);
          const __mmask32 pair_mask = __mmask32(mask[i]) | (__mmask32(mask[i + 1]) << 16);
          store_bf16x32(t.out.bf16 + to + 16 * i, pair_mask, pair);
        }
        if (P % 2 == 1)
          store_bf16x16(t.out.bf16 + to + 16 * (P - 1), mask[P - 1], (__m256i)_mm512_cvtneps_pbh(y[P - 1]));
        continue;
      }
#endif
      for (int i = 0; i < P; ++i) store_bf16x16(t.out.bf16 + to + 16 * i, mask[i], bf16_round16(y[i]));
    }
  }
}

/// The register tile: 16 * P rows x NC columns of int32 sums (P * NC <= 24 zmm), K/4
/// VPDPBUSD steps each of P weight loads and NC activation broadcasts. Not inlined: the
/// accumulators need the whole register file (as gebp_panel_x8 in gemm.hpp).
template <int P, int NC>
RESNET_INT8_TARGET __attribute__((noinline)) void int8_panel(const Int8PanelTask& t, LowpIndex col0,
                                                             LowpIndex tiles) {
  // Column j is `segments` runs of k / segments bytes at cols[j * segments + s]; with
  // more than one run each is whole words (run_length's promise), so only a single run
  // has a partial last word.
  const LowpIndex segments = t.segments, words = t.k / segments / 4;
  const unsigned tail = segments == 1 ? static_cast<unsigned>(t.k % 4) : 0u;
  const __mmask16 tail_mask = first_lanes16(tail);
  for (LowpIndex q = 0; q < tiles; ++q) {
    const LowpIndex j0 = col0 + q * NC;
    const std::uint8_t* bj[NC];
    for (int j = 0; j < NC; ++j) bj[j] = t.cols[(j0 + j) * segments];
    // The last, partial word of K first (its weights end the panel's stream): with it
    // after the loop, GCC 12 kept the accumulators in memory inside the loop.
    __m512i acc[NC][P];
    for (int j = 0; j < NC; ++j)
      for (int i = 0; i < P; ++i) acc[j][i] = _mm512_load_si512(t.start + 16 * i);
    if (tail) {
      const std::uint32_t* at = t.a + words * t.stride;
      __m512i a[P];
      for (int i = 0; i < P; ++i) a[i] = _mm512_load_si512(at + 16 * i);
      for (int j = 0; j < NC; ++j) {
        const __m512i bk = _mm512_broadcastd_epi32(_mm_maskz_loadu_epi8(tail_mask, bj[j] + 4 * words));
        for (int i = 0; i < P; ++i) acc[j][i] = _mm512_dpbusd_epi32(acc[j][i], bk, a[i]);
      }
    }
    const std::uint32_t* ap = t.a;
    for (LowpIndex seg = 0; seg < segments; ++seg) {
      if (seg > 0)
        for (int j = 0; j < NC; ++j) bj[j] = t.cols[(j0 + j) * segments + seg];
      for (LowpIndex g = 0; g < words; ++g, ap += t.stride) {
        __m512i a[P];
        for (int i = 0; i < P; ++i) a[i] = _mm512_load_si512(ap + 16 * i);
        for (int j = 0; j < NC; ++j) {
          std::uint32_t four;
          std::memcpy(&four, bj[j] + 4 * g, 4);
          const __m512i bk = _mm512_set1_epi32(static_cast<int>(four));
          for (int i = 0; i < P; ++i) acc[j][i] = _mm512_dpbusd_epi32(acc[j][i], bk, a[i]);
        }
      }
    }
    __m512i sums[NC][P];  // a copy: passing acc's address would keep acc in memory
    for (int j = 0; j < NC; ++j)
      for (int i = 0; i < P; ++i) sums[j][i] = acc[j][i];
    int8_epilogue<P, NC>(t, sums, j0);
  }
}

/// Columns [col0, col0 + cols) of one panel: tiles of 8, then 4, 2 and 1.
template <int P>
inline void int8_panel_columns(const Int8PanelTask& t, LowpIndex col0, LowpIndex cols) {
  const LowpIndex tiles = cols / 8;
  if (tiles > 0) int8_panel<P, 8>(t, col0, tiles);
  LowpIndex j = col0 + tiles * 8;
  if (cols & 4) int8_panel<P, 4>(t, j, 1), j += 4;
  if (cols & 2) int8_panel<P, 2>(t, j, 1), j += 2;
  if (cols & 1) int8_panel<P, 1>(t, j, 1);
}
#undef RESNET_INT8_TARGET
#undef RESNET_INT8_EPILOGUE_TARGET
#endif

/// The product's rows in 16-row vectors [vector_begin, vector_end) of A (all of them by
/// default): a caller may split the rows over threads where the columns are too few to
/// split, more evenly than by whole 48-row panels (512 rows: 256 each, not 240 and 272).
template <class Source>
void gemm_int8_run(const PackedInt8Weights& a, const Source& src, LowpIndex n, const Int8Epilogue& epi,
                   const Int8Output& out, std::uint8_t* scratch, LowpIndex vector_begin = 0,
                   LowpIndex vector_end = -1) {
  require_precision(Precision::int8);
  if (n <= 0 || a.rows() == 0) return;
  if (out.ldc < a.rows() || ((epi.residual || epi.residual_u8 || epi.residual_bf16) && epi.ldr < a.rows()))
    throw Error(ErrorKind::invalid_argument, "gemm_int8: a column stride is smaller than the column");
  if (out.f32 && (out.u8 || out.bf16))
    throw Error(ErrorKind::invalid_argument, "gemm_int8: an fp32 output goes alone (u8 and bf16 may go together)");
  if (!(epi.input.scale > 0.0f) || (out.u8 && !(out.q.scale > 0.0f)) || (epi.residual_u8 && !(epi.residual_q.scale > 0.0f)))
    throw Error(ErrorKind::invalid_argument, "gemm_int8: quantization scales must be positive");
  const auto u8_zero_point = [](const QuantParams& q) { return q.zero_point >= 0 && q.zero_point <= 255; };
  if (!u8_zero_point(epi.input) || (out.u8 && !u8_zero_point(out.q)) || (epi.residual_u8 && !u8_zero_point(epi.residual_q)))
    throw Error(ErrorKind::invalid_argument, "gemm_int8: a u8 zero point must lie in [0, 255]");
#if defined(RESNET_HAVE_INT8_KERNELS)
  const detail::WordPanels& w = a.panels();
  const LowpIndex k = a.depth();
  // Runs of whole words that the source can point to in place (a window row), or the
  // whole column.
  LowpIndex run = src.run_length(k);
  if (run <= 0 || k % run != 0 || (run != k && run % 4 != 0) || k / run > kLowpColumnTable / 8) run = k;
  const LowpIndex segments = k / run;
  const LowpIndex block = std::min(lowp_block_columns(k), kLowpColumnTable / segments / 8 * 8);
  const std::uint8_t* table[kLowpColumnTable];
  const bool native_bf16 = out.bf16 && !out.integer_bf16 && cpu_features().avx512_bf16 && build_features().bf16_kernels;
  const LowpIndex vectors = w.vectors(), vend = vector_end < 0 ? vectors : std::min(vector_end, vectors);
  for (LowpIndex n0 = 0; n0 < n; n0 += block) {
    const LowpIndex cols = std::min(block, n - n0);
    column_table(src, n0, cols, run, segments, k, table, scratch);
    for (LowpIndex p = w.panel_of(vector_begin); p < w.panels() && w.panel_vector(p) < vend; ++p) {
      const LowpIndex v0 = w.panel_vector(p);
      const LowpIndex first = std::max(vector_begin, v0) - v0;
      const LowpIndex count = std::min<LowpIndex>(vend - v0, w.panel_vectors(p)) - first;
      if (count <= 0) continue;
      const LowpIndex r0 = 16 * (v0 + first);
      Int8PanelTask t;  // ~600 bytes on the stack, per panel and column block
      t.a = w.panel(p) + 16 * first;
      t.stride = 16 * w.panel_vectors(p);
      t.rows = std::min(16 * count, a.rows() - r0);
      t.k = k;
      t.cols = table;
      t.segments = segments;
      for (LowpIndex i = 0; i < t.rows; ++i) {
        t.start[i] = -epi.input.zero_point * a.sums()[r0 + i];
        t.multiplier[i] = epi.input.scale * a.scales()[r0 + i];
        t.bias[i] = epi.bias ? epi.bias[r0 + i] : 0.0f;
      }
      t.residual = epi.residual ? epi.residual + n0 * epi.ldr + r0 : nullptr;
      t.residual_u8 = epi.residual_u8 ? epi.residual_u8 + n0 * epi.ldr + r0 : nullptr;
      t.residual_bf16 = epi.residual_bf16 ? epi.residual_bf16 + n0 * epi.ldr + r0 : nullptr;
      t.native_bf16 = native_bf16;
      t.epi = epi;
      t.out = out;
      if (out.f32) t.out.f32 += n0 * out.ldc + r0;
      if (out.u8) t.out.u8 += n0 * out.ldc + r0;
      if (out.bf16) t.out.bf16 += n0 * out.ldc + r0;
      switch (count) {
        case 3: int8_panel_columns<3>(t, 0, cols); break;
        case 2: int8_panel_columns<2>(t, 0, cols); break;
        default: int8_panel_columns<1>(t, 0, cols); break;
      }
    }
  }
#else
  (void)src, (void)epi, (void)out, (void)scratch;
#endif
}

}  // namespace detail

namespace detail {
#if defined(RESNET_HAVE_INT8_KERNELS)
/// quantize_u8 over count values with the epilogue's u8 steps (the same IEEE operations,
/// so the same bytes). 64 values make one 64-byte store (bytes_in_order); the last
/// values, 16 at a time, masked. One
/// VPMOVDB store per 16 values instead took 2.7-3x as long on a map that was not in cache
/// (a ResNet-50 1x1 conv's input, 0.2-0.8 M values) and 1.4x on one that was.
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline void quantize_u8_avx512(const float* x, LowpIndex count,
                                                                                   QuantParams q, std::uint8_t* out) {
  const __m512 inv = _mm512_set1_ps(1.0f / q.scale);
  const __m512i zp = _mm512_set1_epi32(q.zero_point);
  LowpIndex i = 0;
  for (; i + 64 <= count; i += 64) {
    const __m512i a = quantize16_u8(_mm512_loadu_ps(x + i), inv, zp);
    const __m512i b = quantize16_u8(_mm512_loadu_ps(x + i + 16), inv, zp);
    const __m512i c = quantize16_u8(_mm512_loadu_ps(x + i + 32), inv, zp);
    const __m512i d = quantize16_u8(_mm512_loadu_ps(x + i + 48), inv, zp);
    _mm512_storeu_si512(out + i, bytes_in_order(a, b, c, d));
  }
  for (; i < count; i += 16) {
    const __mmask16 mask = first_lanes16(count - i);
    const __m512i q16 = quantize16_u8(_mm512_maskz_loadu_ps(mask, x + i), inv, zp);
    _mm512_mask_cvtusepi32_storeu_epi8(out + i, mask, _mm512_max_epi32(q16, _mm512_setzero_si512()));
  }
}
#endif
}  // namespace detail

/// An fp32 map to u8 by q, as quantize_u8 does value by value (an int8 conv's input).
inline void quantize_u8_map(const float* x, LowpIndex count, QuantParams q, std::uint8_t* out) {
#if defined(RESNET_HAVE_INT8_KERNELS)
  if (precision_available(Precision::int8)) {
    detail::quantize_u8_avx512(x, count, q, out);
    return;
  }
#endif
  quantize_u8(x, count, q, out);
}

/// Bytes of scratch gemm_int8 needs for depth K when its column source copies columns
/// (a k x k window); a source that reads in place needs none.
inline LowpIndex gemm_int8_scratch_bytes(LowpIndex k) { return detail::lowp_block_columns(k) * k; }

/// C (M x N, fp32, column j at c + j * ldc) = epilogue(A * B), B (K x N, u8) quantized by
/// epi.input, from a column source (im2col_lowp.hpp): src.run_length(K) says how column col
/// splits into equal runs (K itself, or whole words), and src.segment(col, k0, run, tmp)
/// returns the run from depth k0, in place or copied into tmp (which has room for the
/// run; gemm_int8_scratch_bytes(K) in all, null for a source that never copies).
/// Columns are independent: a caller splits N over threads by offsetting c and the
/// residual and giving each thread its own columns and scratch. Throws
/// ErrorKind::unsupported_cpu where the CPU or build lacks AVX512-VNNI. Allocates nothing.
template <class Source>
void gemm_int8(const PackedInt8Weights& a, const Source& src, LowpIndex n, const Int8Epilogue& epi, float* c,
               LowpIndex ldc, std::uint8_t* scratch) {
  detail::Int8Output out;
  out.f32 = c;
  out.ldc = ldc;
  detail::gemm_int8_run(a, src, n, epi, out, scratch);
}

/// The same, writing u8 requantized by `out_q` (the next layer's input quantization).
template <class Source>
void gemm_int8(const PackedInt8Weights& a, const Source& src, LowpIndex n, const Int8Epilogue& epi,
               std::uint8_t* c, LowpIndex ldc, QuantParams out_q, std::uint8_t* scratch) {
  detail::Int8Output out;
  out.u8 = c;
  out.q = out_q;
  out.ldc = ldc;
  detail::gemm_int8_run(a, src, n, epi, out, scratch);
}

/// Dense B: column j at b + j * ldb, read in place (no scratch).
inline void gemm_int8(const PackedInt8Weights& a, const std::uint8_t* b, LowpIndex ldb, LowpIndex n,
                      const Int8Epilogue& epi, float* c, LowpIndex ldc) {
  if (ldb < a.depth())
    throw Error(ErrorKind::invalid_argument, "gemm_int8: a column stride is smaller than the column");
  gemm_int8(a, DenseColumnsOf<std::uint8_t>{b, ldb}, n, epi, c, ldc, nullptr);
}

inline void gemm_int8(const PackedInt8Weights& a, const std::uint8_t* b, LowpIndex ldb, LowpIndex n,
                      const Int8Epilogue& epi, std::uint8_t* c, LowpIndex ldc, QuantParams out_q) {
  if (ldb < a.depth())
    throw Error(ErrorKind::invalid_argument, "gemm_int8: a column stride is smaller than the column");
  gemm_int8(a, DenseColumnsOf<std::uint8_t>{b, ldb}, n, epi, c, ldc, out_q, nullptr);
}

}  // namespace resnet::kernels
