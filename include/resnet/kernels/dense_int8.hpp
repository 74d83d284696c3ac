#pragma once
/// The classifier of an int8 model: fp32 features times s8 weights, per class (row) one
/// scale, fp32 sums. Only the weights are quantized: at batch 1 the classifier is a
/// matrix-vector product that streams its weights once (ResNet-50: 2048 x 1000, 8 MB in
/// fp32, 2 MB in s8), so the bytes are the cost, and leaving the features in fp32 keeps
/// the ranges file to the convs' inputs. Weights as quantize_weights_per_channel
/// quantizes them (PyTorch's per-channel symmetric qint8), so a fake-quantized PyTorch
/// classifier computes the same products up to the order of the fp32 sums.

#include <cstddef>
#include <cstdint>

#include "resnet/kernels/lowp_common.hpp"

namespace resnet::kernels {

/// y[i * ldy + r] = scale[r] * sum_t float(q[r][t]) * x[i * k + t] + bias[r] for the rows
/// r in [r0, r1) and the n images i; bias may be null.
inline void dense_s8_weights_reference(const QuantizedWeights& w, LowpIndex k, LowpIndex r0, LowpIndex r1,
                                       const float* x, LowpIndex n, const float* bias, float* y, LowpIndex ldy) {
  for (LowpIndex i = 0; i < n; ++i)
    for (LowpIndex r = r0; r < r1; ++r) {
      const std::int8_t* row = w.values.data() + r * k;
      float sum = 0.0f;
      for (LowpIndex t = 0; t < k; ++t) sum += static_cast<float>(row[t]) * x[i * k + t];
      y[i * ldy + r] = sum * w.scales[static_cast<std::size_t>(r)] + (bias ? bias[r] : 0.0f);
    }
}

namespace detail {
#if defined(RESNET_HAVE_INT8_KERNELS)
/// 16 s8 weights as fp32 (functions, not lambdas: a lambda would not take the caller's
/// target attribute); the masked form for a row's last, partial 16.
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) inline __m512 widen_s8(const std::int8_t* at) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(at))));
}
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) inline __m512 widen_s8(const std::int8_t* at,
                                                                                            __mmask16 mask) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mask, at)));
}

/// Four rows at a time, each with two accumulators (16 inputs apart): eight independent
/// FMA chains, where one row's single chain would wait on the FMA latency at every step.
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline void dense_s8_weights_avx512(
    const QuantizedWeights& w, LowpIndex k, LowpIndex r0, LowpIndex r1, const float* x, LowpIndex n,
    const float* bias, float* y, LowpIndex ldy) {
  constexpr int kRows = 4;
  for (LowpIndex i = 0; i < n; ++i) {
    const float* xi = x + i * k;
    for (LowpIndex r = r0; r < r1; r += kRows) {
      const int rows = static_cast<int>(r1 - r < kRows ? r1 - r : kRows);
      const std::int8_t* q[kRows];
      for (int u = 0; u < kRows; ++u) q[u] = w.values.data() + (r + (u < rows ? u : 0)) * k;
      __m512 acc[kRows][2];
      for (int u = 0; u < kRows; ++u) acc[u][0] = acc[u][1] = _mm512_setzero_ps();
      LowpIndex t = 0;
      for (; t + 32 <= k; t += 32) {
        const __m512 x0 = _mm512_loadu_ps(xi + t), x1 = _mm512_loadu_ps(xi + t + 16);
        for (int u = 0; u < kRows; ++u) {
          acc[u][0] = _mm512_fmadd_ps(widen_s8(q[u] + t), x0, acc[u][0]);
          acc[u][1] = _mm512_fmadd_ps(widen_s8(q[u] + t + 16), x1, acc[u][1]);
        }
      }
      for (; t < k; t += 16) {
        const __mmask16 mask = first_lanes16(k - t);
        const __m512 xv = _mm512_maskz_loadu_ps(mask, xi + t);
        for (int u = 0; u < kRows; ++u) acc[u][0] = _mm512_fmadd_ps(widen_s8(q[u] + t, mask), xv, acc[u][0]);
      }
      for (int u = 0; u < rows; ++u) {
        const float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc[u][0], acc[u][1]));
        y[i * ldy + r + u] = sum * w.scales[static_cast<std::size_t>(r + u)] + (bias ? bias[r + u] : 0.0f);
      }
    }
  }
}
#endif
}  // namespace detail

/// dense_s8_weights_reference's values, up to the order of the fp32 sums.
inline void dense_s8_weights(const QuantizedWeights& w, LowpIndex k, LowpIndex r0, LowpIndex r1, const float* x,
                             LowpIndex n, const float* bias, float* y, LowpIndex ldy) {
#if defined(RESNET_HAVE_INT8_KERNELS)
  const CpuFeatures& cpu = cpu_features();
  if (cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.os_zmm) {
    detail::dense_s8_weights_avx512(w, k, r0, r1, x, n, bias, y, ldy);
    return;
  }
#endif
  dense_s8_weights_reference(w, k, r0, r1, x, n, bias, y, ldy);
}

}  // namespace resnet::kernels
