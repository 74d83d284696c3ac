#pragma once
/// Plain loops for the reduced-precision GEMMs, what gemm_int8.hpp and gemm_bf16.hpp are
/// tested against: one output element at a time, from the unpacked operands, no SIMD.
/// Same orientation and epilogues (lowp_common.hpp).

#include <cmath>
#include <cstdint>

#include "resnet/kernels/lowp_common.hpp"

namespace resnet::kernels {

/// C = epilogue(A * B) for s8 A (w.values: M x K row-major, w.scales) and u8 B (column j
/// at b + j * ldb). Writes fp32 to c_f32 if it is not null, else u8 requantized by out_q
/// to c_u8 and / or bf16 (to_bf16_bits) to c_bf16, whichever are not null; column j of C
/// at + j * ldc. The sum is exact (64-bit, zero point subtracted
/// per product); the epilogue is lowp_common.hpp's, step by step.
inline void gemm_int8_reference(const QuantizedWeights& w, LowpIndex m, LowpIndex k, const std::uint8_t* b,
                                LowpIndex ldb, LowpIndex n, const Int8Epilogue& epi, float* c_f32,
                                std::uint8_t* c_u8, LowpIndex ldc, QuantParams out_q = {},
                                std::uint16_t* c_bf16 = nullptr) {
  for (LowpIndex j = 0; j < n; ++j)
    for (LowpIndex i = 0; i < m; ++i) {
      long long acc = 0;
      for (LowpIndex t = 0; t < k; ++t)
        acc += (static_cast<long long>(b[j * ldb + t]) - epi.input.zero_point) * w.values[static_cast<std::size_t>(i * k + t)];
      const float mult = epi.input.scale * w.scales[static_cast<std::size_t>(i)];
      float y = std::fma(static_cast<float>(acc), mult, epi.bias ? epi.bias[i] : 0.0f);
      if (epi.residual) y = y + epi.residual[j * epi.ldr + i];
      if (epi.residual_u8)
        y = std::fma(static_cast<float>(static_cast<int>(epi.residual_u8[j * epi.ldr + i]) - epi.residual_q.zero_point),
                     epi.residual_q.scale, y);
      if (epi.residual_bf16) y = y + bf16_to_float(epi.residual_bf16[j * epi.ldr + i]);
      if (epi.relu) y = 0.0f > y ? 0.0f : y;
      if (c_f32) {
        c_f32[j * ldc + i] = y;
        continue;
      }
      if (c_u8) c_u8[j * ldc + i] = quantize_u8(y, 1.0f / out_q.scale, out_q.zero_point);
      if (c_bf16) c_bf16[j * ldc + i] = to_bf16_bits(y);
    }
}

/// C = epilogue(bf16(A) * bf16(B)) for fp32 A (M x K, row i at a + i * lda) and fp32 B
/// (column j at b + j * ldb), both rounded by to_bf16_bits, summed in fp32 as VDPBF16PS
/// does: per pair of k, the odd product then the even one, each added with one rounding
/// (the product of two bf16 is exact in fp32, so each step is one fma).
inline void gemm_bf16_reference(const float* a, LowpIndex m, LowpIndex k, LowpIndex lda, const float* b,
                                LowpIndex ldb, LowpIndex n, const Bf16Epilogue& epi, float* c, LowpIndex ldc) {
  const auto bf = [](float x) { return bf16_to_float(to_bf16_bits(x)); };
  for (LowpIndex j = 0; j < n; ++j)
    for (LowpIndex i = 0; i < m; ++i) {
      float acc = 0.0f;
      for (LowpIndex t = 0; t < k; t += 2) {
        if (t + 1 < k) acc = std::fma(bf(a[i * lda + t + 1]), bf(b[j * ldb + t + 1]), acc);
        acc = std::fma(bf(a[i * lda + t]), bf(b[j * ldb + t]), acc);
      }
      if (epi.bias) acc = acc + epi.bias[i];
      if (epi.residual) acc = acc + epi.residual[j * epi.ldr + i];
      if (epi.residual_bf16) acc = acc + bf16_to_float(epi.residual_bf16[j * epi.ldr + i]);
      if (epi.relu) acc = 0.0f > acc ? 0.0f : acc;
      c[j * ldc + i] = acc;
    }
}

}  // namespace resnet::kernels
