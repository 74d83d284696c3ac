#pragma once
/// What the reduced-precision GEMMs (gemm_int8.hpp, gemm_bf16.hpp) and their reference
/// loops (reference_lowp.hpp) share: quantization parameters and the weight quantizer,
/// bfloat16 rounding, the epilogues, and the packed layout of the weights.
///
/// Orientation, as the fp32 GEMM (gemm.hpp): C (M x N) = A (M x K) * B (K x N) with
/// M = output channels, K = in_c * k * k (OHWI weights, row i of A = output channel i),
/// N = output pixels; column j of B is pixel j's K inputs, contiguous (an NHWC pixel, or
/// an im2col window); column j of C is pixel j's M outputs, contiguous (NHWC).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "resnet/core/cpu_features.hpp"
#include "resnet/core/error.hpp"

#if defined(RESNET_HAVE_INT8_KERNELS) || defined(RESNET_HAVE_BF16_KERNELS)
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized and -Wuninitialized (GCC PR
// 105593), as in gemm.hpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

namespace resnet::kernels {

using LowpIndex = std::ptrdiff_t;

/// An affine quantized tensor: real = scale * (q - zero_point). u8 activations use
/// zero_point in [0, 255]; s8 weights are symmetric (zero_point 0).
struct QuantParams {
  float scale = 1.0f;
  std::int32_t zero_point = 0;
};

/// s8 weights, one scale per output channel (row).
struct QuantizedWeights {
  std::vector<std::int8_t> values;  ///< M x K, row-major, dense
  std::vector<float> scales;        ///< [M]
};

/// Quantizes M x K fp32 weights (row i at w + i * lda) per row, symmetric, to s8 exactly
/// as PyTorch's per_channel_symmetric qint8 observer and FakeQuantize do, so that the
/// integer results can be checked against a fake-quantized PyTorch model:
///   scale = max(max_k |w| / 127.5, float eps) (torch: max_val / ((qmax - qmin) / 2),
///   at least eps), q = clamp(nearbyint(w * (1 / scale)), -128, 127).
inline QuantizedWeights quantize_weights_per_channel(const float* w, LowpIndex m, LowpIndex k, LowpIndex lda) {
  QuantizedWeights q;
  q.values.resize(static_cast<std::size_t>(m * k));
  q.scales.resize(static_cast<std::size_t>(m));
  for (LowpIndex i = 0; i < m; ++i) {
    const float* row = w + i * lda;
    float amax = 0.0f;
    bool finite = true;
    for (LowpIndex t = 0; t < k; ++t) {
      finite = finite && std::isfinite(row[t]);
      amax = std::max(amax, std::abs(row[t]));
    }
    if (!finite)
      throw Error(ErrorKind::invalid_argument,
                  "quantize_weights_per_channel: output channel " + std::to_string(i) + " has a NaN or infinite weight");
    const float scale = std::max(amax / 127.5f, 1.1920928955078125e-07f);
    const float inv = 1.0f / scale;
    q.scales[static_cast<std::size_t>(i)] = scale;
    for (LowpIndex t = 0; t < k; ++t) {
      const float r = std::nearbyint(row[t] * inv);
      q.values[static_cast<std::size_t>(i * k + t)] = static_cast<std::int8_t>(std::min(127.0f, std::max(-128.0f, r)));
    }
  }
  return q;
}

/// The u8 quantization of a tensor observed in [min, max], as PyTorch's MinMaxObserver
/// computes it for quint8, per_tensor_affine, reduce_range=False (VPDPBUSD does not
/// saturate, so the whole 0..255 is used): the range is widened to hold 0, then
///   scale = max((max - min) / 255, float eps), zero_point = clamp(-round(min / scale), 0, 255)
/// in float32, round half to even (torch.round). A fake-quantized PyTorch model given the
/// same range computes the same scale and zero point. Throws invalid_argument for a range
/// that is not finite or has min > max.
inline QuantParams affine_u8_qparams(float min, float max) {
  if (!std::isfinite(min) || !std::isfinite(max) || min > max)
    throw Error(ErrorKind::invalid_argument, "affine_u8_qparams: the range [" + std::to_string(min) + ", " +
                                                 std::to_string(max) + "] is not finite or is empty");
  const float lo = std::min(min, 0.0f), hi = std::max(max, 0.0f);
  const float scale = std::max((hi - lo) / 255.0f, 1.1920928955078125e-07f);
  const float z = -std::nearbyint(lo / scale);
  QuantParams q;
  q.scale = scale;
  q.zero_point = static_cast<std::int32_t>(std::min(255.0f, std::max(0.0f, z)));
  return q;
}

/// One value to u8 as the int8 GEMM's epilogue writes it (and PyTorch's FakeQuantize
/// rounds): clamp(nearbyint(x * (1 / q.scale)) + q.zero_point, 0, 255); NaN gives 0.
inline std::uint8_t quantize_u8(float x, float inv_scale, std::int32_t zero_point) noexcept {
  float s = x * inv_scale;
  s = s > -512.0f ? s : -512.0f;  // beyond u8 after any zero point; NaN -> -512
  s = s < 512.0f ? s : 512.0f;
  const std::int32_t v = static_cast<std::int32_t>(std::nearbyint(s)) + zero_point;
  return static_cast<std::uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

/// count fp32 values to u8 by q (a network's input, or an fp32 layer feeding int8 ones).
inline void quantize_u8(const float* x, LowpIndex count, QuantParams q, std::uint8_t* out) noexcept {
  const float inv = 1.0f / q.scale;
  for (LowpIndex i = 0; i < count; ++i) out[i] = quantize_u8(x[i], inv, q.zero_point);
}

/// count u8 values back to fp32: q.scale * (v - q.zero_point) (what an fp32 layer after
/// int8 ones reads: pooling, the classifier).
inline void dequantize_u8(const std::uint8_t* v, LowpIndex count, QuantParams q, float* out) noexcept {
  for (LowpIndex i = 0; i < count; ++i) out[i] = q.scale * static_cast<float>(static_cast<std::int32_t>(v[i]) - q.zero_point);
}

/// fp32 -> bfloat16 bits exactly as VCVTNE2PS2BF16 rounds: nearest even; denormals to
/// signed zero (DAZ); NaN stays NaN (quieted); infinities stay.
inline std::uint16_t to_bf16_bits(float x) noexcept {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  const std::uint32_t exponent = u & 0x7F800000u, mantissa = u & 0x007FFFFFu;
  if (exponent == 0) return static_cast<std::uint16_t>((u >> 16) & 0x8000u);           // zero, denormal
  if (exponent == 0x7F800000u) {
    if (mantissa == 0) return static_cast<std::uint16_t>(u >> 16);                       // infinity
    return static_cast<std::uint16_t>((u >> 16) | 0x0040u);                             // NaN, quiet
  }
  return static_cast<std::uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);             // may round to inf
}

inline float bf16_to_float(std::uint16_t bits) noexcept {
  const std::uint32_t u = static_cast<std::uint32_t>(bits) << 16;
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

/// The epilogue of the int8 GEMM, applied to each int32 sum acc[i][j] of row i, column j:
///   y = fma(float(acc - in.zero_point * sum_k A[i][k]), in.scale * a_scale[i], bias[i] or 0)
///   y += residual (fp32), or y = fma(float(r - rq.zero_point), rq.scale, y) (u8 residual)
///   y = max(y, 0) if relu
///   fp32 output: y; u8 output: clamp(nearbyint(y * (1 / out.scale)) + out.zero_point, 0, 255)
/// Each step is one IEEE operation in this order, in the kernel and in the reference, so
/// the two agree bit for bit; every multiply-add is an explicit fma and no product feeds
/// a plain addition, so -ffp-contract cannot fuse one side differently from the other.
/// Residual column j is at residual + j * ldr (elements).
struct Int8Epilogue {
  QuantParams input;                           ///< B's quantization
  const float* bias = nullptr;                 ///< [M], or null
  const float* residual = nullptr;             ///< fp32 residual, or null
  const std::uint8_t* residual_u8 = nullptr;   ///< u8 residual (quantized by residual_q), or null
  QuantParams residual_q;
  const std::uint16_t* residual_bf16 = nullptr;  ///< bf16 residual (bits, widened exactly), or null
  LowpIndex ldr = 0;
  bool relu = false;
};

/// The epilogue of the bf16 GEMM, the fp32 GEMM's: y = (acc + bias[i]) + residual, then
/// ReLU (NaN passes). The residual is fp32 or bf16 bits (a bf16 map's shortcut, widened
/// exactly); any pointer may be null.
struct Bf16Epilogue {
  const float* bias = nullptr;
  const float* residual = nullptr;
  const std::uint16_t* residual_bf16 = nullptr;
  LowpIndex ldr = 0;
  bool relu = false;
};

namespace detail {

/// 64-byte aligned storage, so every panel load is one cache line.
template <class T>
struct Align64Allocator {
  using value_type = T;
  Align64Allocator() = default;
  template <class U>
  Align64Allocator(const Align64Allocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t(64)); }
  template <class U>
  bool operator==(const Align64Allocator<U>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const Align64Allocator<U>&) const noexcept { return false; }
};

/// Rows of a panel: 48 = three zmm of 16 lanes, the register tile's height.
constexpr LowpIndex kLowpPanelRows = 48;

#if defined(RESNET_HAVE_INT8_KERNELS) || defined(RESNET_HAVE_BF16_KERNELS)
// The epilogues' loads and stores of a row vector: plain where the mask is full, masked
// only for a panel's last, partial vector. On the AMD EPYC (Zen 5) VM masked loads and
// stores that missed the cache took 2-3x as long as plain ones: a 64 -> 256 1x1 conv at
// 56x56 reading a bf16 residual and writing u8 and bf16 maps that were not in cache,
// 1.6-2.8 ms masked and 0.7-0.8 ms plain (benchmarks/README.md, "Plain stores").
#define RESNET_LOWP_MEMORY __attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) inline
/// The mask of a vector's first n of 16 lanes (none for n <= 0, all for n >= 16).
inline __mmask16 first_lanes16(LowpIndex n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1u);
}
RESNET_LOWP_MEMORY __m512 load_f32x16(const float* p, __mmask16 m) {
  return m == 0xFFFF ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p);
}
RESNET_LOWP_MEMORY __m128i load_u8x16(const std::uint8_t* p, __mmask16 m) {
  return m == 0xFFFF ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)) : _mm_maskz_loadu_epi8(m, p);
}
RESNET_LOWP_MEMORY __m256i load_bf16x16(const std::uint16_t* p, __mmask16 m) {
  return m == 0xFFFF ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)) : _mm256_maskz_loadu_epi16(m, p);
}
RESNET_LOWP_MEMORY void store_f32x16(float* p, __mmask16 m, __m512 v) {
  if (m == 0xFFFF)
    _mm512_storeu_ps(p, v);
  else
    _mm512_mask_storeu_ps(p, m, v);
}
RESNET_LOWP_MEMORY void store_bf16x16(std::uint16_t* p, __mmask16 m, __m256i v) {
  if (m == 0xFFFF)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
  else
    _mm256_mask_storeu_epi16(p, m, v);
}
RESNET_LOWP_MEMORY void store_bf16x32(std::uint16_t* p, __mmask32 m, __m512i v) {
  if (m == 0xFFFFFFFFu)
    _mm512_storeu_si512(p, v);
  else
    _mm512_mask_storeu_epi16(p, m, v);
}
/// The first `bytes` (1 .. 64) of v at p: whole 16-byte vectors plain.
RESNET_LOWP_MEMORY void store_u8_first(std::uint8_t* p, LowpIndex bytes, __m512i v) {
  switch (bytes) {
    case 64: _mm512_storeu_si512(p, v); return;
    case 48:
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_castsi512_si256(v));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(p + 32), _mm512_extracti32x4_epi32(v, 2));
      return;
    case 32: _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_castsi512_si256(v)); return;
    case 16: _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_castsi512_si128(v)); return;
    default: _mm512_mask_storeu_epi8(p, (__mmask64(1) << bytes) - 1u, v);
  }
}
#undef RESNET_LOWP_MEMORY
#endif

/// A (M x K) as 32-bit words that each hold one row's `per_word` consecutive k values
/// (4 s8 for VPDPBUSD, 2 bf16 for VDPBF16PS), K padded with zeros to a whole word. Rows
/// are cut into 16-row vectors (M padded with zero rows to 16) and those into panels of
/// 3 vectors (48 rows), the last of 1 or 2; where one vector would be left over (M = 64,
/// 256, 1024) the last two panels take 2 each instead: a 16-row tile makes 8 products per
/// weight load and 8 broadcasts, and ran at 0.5-0.7x a 48-row tile's rate (bf16 GEMM,
/// K = 256, N = 3136, one thread: M = 16 in 95 us, M = 32 in 133, M = 48 in 186, M = 64
/// as 48 + 16 in 319). A panel is stored k-word by k-word, each k-word as the panel's
/// rows side by side, so the kernel reads one panel as a single forward stream of 64-byte
/// lines.
class WordPanels {
 public:
  WordPanels() = default;
  /// word(i, g): row i's word g (k = g * per_word ...), for i < m, g < words().
  template <class WordOf>
  WordPanels(LowpIndex m, LowpIndex k, int per_word, WordOf word)
      : rows_(m), depth_(k), words_((k + per_word - 1) / per_word) {
    const LowpIndex padded = (m + 15) / 16 * 16;
    data_.assign(static_cast<std::size_t>(padded * words_), 0u);
    for (LowpIndex p = 0; p < panels(); ++p) {
      const LowpIndex r0 = panel_row(p), height = 16 * panel_vectors(p);
      std::uint32_t* d = data_.data() + r0 * words_;
      for (LowpIndex g = 0; g < words_; ++g)
        for (LowpIndex r = 0; r < height; ++r) d[g * height + r] = r0 + r < m ? word(r0 + r, g) : 0u;
    }
  }

  LowpIndex rows() const noexcept { return rows_; }
  LowpIndex depth() const noexcept { return depth_; }
  LowpIndex words() const noexcept { return words_; }
  /// zmm vectors of 16 rows in all (the unit a row range of gemm_int8_run counts in).
  LowpIndex vectors() const noexcept { return (rows_ + 15) / 16; }
  LowpIndex panels() const noexcept { return full_panels() + (vectors() - 3 * full_panels() + 1) / 2; }
  /// zmm vectors of 16 rows in panel p: 3, except 1 or 2 for the last one or two.
  int panel_vectors(LowpIndex p) const noexcept {
    const LowpIndex left = vectors() - 3 * full_panels();  // after the full panels: 0, 1, 2 or 4
    return p < full_panels() ? 3 : left == 1 ? 1 : 2;
  }
  /// The first vector of panel p, and the panel holding vector v.
  LowpIndex panel_vector(LowpIndex p) const noexcept {
    return p <= full_panels() ? 3 * p : 3 * full_panels() + 2 * (p - full_panels());
  }
  LowpIndex panel_of(LowpIndex v) const noexcept {
    return v < 3 * full_panels() ? v / 3 : full_panels() + (v - 3 * full_panels()) / 2;
  }
  LowpIndex panel_row(LowpIndex p) const noexcept { return 16 * panel_vector(p); }
  const std::uint32_t* panel(LowpIndex p) const noexcept { return data_.data() + panel_row(p) * words_; }
  std::size_t bytes() const noexcept { return data_.size() * sizeof(std::uint32_t); }

 private:
  // Panels of 3 vectors: all of them, but one fewer where a single vector would be left.
  LowpIndex full_panels() const noexcept {
    const LowpIndex v = vectors();
    return v % 3 == 1 && v > 1 ? (v - 4) / 3 : v / 3;
  }

  LowpIndex rows_ = 0, depth_ = 0, words_ = 0;
  std::vector<std::uint32_t, Align64Allocator<std::uint32_t>> data_;
};

/// Column pointers per block of the product (runs of all its columns): the GEMMs keep
/// the table on the stack, 4 KiB.
constexpr LowpIndex kLowpColumnTable = 512;

/// Columns per block of the product: B's block (cols x bytes_per_column) stays within
/// about 384 KiB of the 1 MiB L2 beside a 48-row panel of A, a multiple of 8 columns.
inline LowpIndex lowp_block_columns(LowpIndex bytes_per_column) {
  const LowpIndex cols = (384 * 1024) / std::max<LowpIndex>(bytes_per_column, 1) / 8 * 8;
  return std::max<LowpIndex>(8, std::min<LowpIndex>(cols, 512));
}

}  // namespace detail
}  // namespace resnet::kernels
