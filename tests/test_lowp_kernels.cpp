// The reduced-precision GEMMs (int8 VPDPBUSD, bf16 VDPBF16PS) against their plain
// reference loops on odd shapes that reach every tail (rows past a 16-lane vector, columns
// past an 8-wide tile, K not a multiple of 4 or 2) and on ResNet-50 layer shapes; the
// precision check that stands between a CPU without the instructions and a SIGILL.
//
// int8 is compared bit for bit: the integer sums are exact in both, and the epilogue is
// the same sequence of single IEEE operations (lowp_common.hpp; multiply-adds are
// explicit fmas on both sides, so contraction cannot make them differ).
// The convolutions through the column sources of im2col_lowp.hpp are compared with the
// same references on a plainly built im2col.
//
// bf16 is compared bit for bit too: the reference rounds the inputs as VCVTNE2PS2BF16
// does and adds the products one fma at a time in the order Intel documents for
// VDPBF16PS (odd k, then even; a product of two bf16 is exact in fp32), the kernel sums
// k in the same order, and no test value is denormal (where the instruction flushes).
// Zen 4 agrees on every output; a CPU that rounded its two products together would fail
// with the distance in units of the fp32 summation-error bound.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "resnet/core/precision.hpp"
#include "resnet/kernels/dense_int8.hpp"
#include "resnet/kernels/gemm_bf16.hpp"
#include "resnet/kernels/gemm_int8.hpp"
#include "resnet/kernels/im2col_lowp.hpp"
#include "resnet/kernels/reference_lowp.hpp"

#include "error_kind.hpp"
#include "skip.hpp"

/// Skips a test case (ctest: skipped) on a CPU or build without the precision, saying why.
#define LOWP_SKIP(precision) \
  RESNET_SKIP(resnet::missing_for(precision, resnet::cpu_features(), resnet::build_features()))

namespace lowp_kernels_test {

using resnet::CpuFeatures;
using resnet::BuildFeatures;
using resnet::Precision;
using resnet::kernels::Bf16Epilogue;
using resnet::kernels::Int8Epilogue;
using resnet::kernels::LowpIndex;
using resnet::kernels::QuantizedWeights;
using resnet::kernels::QuantParams;

std::uint32_t lowp_bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

CpuFeatures full_cpu() {
  CpuFeatures f;
  f.avx512f = f.avx512bw = f.avx512vl = f.avx512dq = f.avx512_vnni = f.avx512_bf16 = f.os_zmm = true;
  return f;
}

BuildFeatures full_build() {
  BuildFeatures b;
  b.int8_kernels = b.bf16_kernels = true;
  return b;
}

std::vector<float> lowp_floats(std::size_t count, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(count);
  for (auto& x : v) x = dist(gen);
  return v;
}

template <class T>
std::vector<T> lowp_ints(std::size_t count, unsigned seed, int lo, int hi) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<T> v(count);
  for (auto& x : v) x = static_cast<T>(dist(gen));
  return v;
}

/// One GEMM problem with its epilogue options; `variant` walks through the combinations.
struct LowpCase {
  LowpIndex m, k, n;
  int variant;
  bool bias() const { return variant % 2 == 1; }
  int residual() const { return variant / 2 % 3; }  // 0 none, 1 fp32, 2 u8 (int8) or bf16 (bf16)
  bool relu() const { return variant / 6 % 2 == 1; }
  bool u8_out() const { return variant / 12 % 2 == 1; }
  LowpIndex ldb() const { return k + (variant % 5 == 0 ? 3 : 0); }  // strided columns now and then
  LowpIndex ldc() const { return m + (variant % 3 == 0 ? 5 : 0); }
  std::string name() const {
    return "M=" + std::to_string(m) + " K=" + std::to_string(k) + " N=" + std::to_string(n) + " bias=" +
           std::to_string(bias()) + " residual=" + std::to_string(residual()) + " relu=" + std::to_string(relu()) +
           " u8_out=" + std::to_string(u8_out()) + " ldb=" + std::to_string(ldb()) + " ldc=" + std::to_string(ldc());
  }
};

/// Runs the int8 kernel and the reference on `c`; true when every output byte or float
/// is identical and nothing outside C's columns was written.
/// The operands of an int8 case: seeded s8 weights (quantized and packed), u8 B, a bias.
struct Int8Operands {
  QuantizedWeights q;
  resnet::kernels::PackedInt8Weights packed;
  std::vector<std::uint8_t> b;
  std::vector<float> bias;
  Int8Operands(const LowpCase& c, unsigned seed) {
    const auto w = lowp_floats(static_cast<std::size_t>(c.m * c.k), seed);
    q = resnet::kernels::quantize_weights_per_channel(w.data(), c.m, c.k, c.k);
    packed = resnet::kernels::PackedInt8Weights(q, c.m, c.k);
    b = lowp_ints<std::uint8_t>(static_cast<std::size_t>(c.ldb() * c.n), seed + 1, 0, 255);
    bias = lowp_floats(static_cast<std::size_t>(c.m), seed + 2, -4.0f, 4.0f);
  }
};

void check_int8_case(const LowpCase& c, unsigned seed) {
  INFO(c.name());
  const Int8Operands ops(c, seed);
  const QuantizedWeights& q = ops.q;
  const resnet::kernels::PackedInt8Weights& packed = ops.packed;
  const std::vector<std::uint8_t>& b = ops.b;
  const std::vector<float>& bias = ops.bias;
  const LowpIndex ldr = c.m + 1;
  const auto res_f = lowp_floats(static_cast<std::size_t>(ldr * c.n), seed + 3, -8.0f, 8.0f);
  const auto res_u = lowp_ints<std::uint8_t>(static_cast<std::size_t>(ldr * c.n), seed + 4, 0, 255);
  Int8Epilogue epi;
  epi.input = {0.02f + 0.001f * static_cast<float>(c.variant % 7), static_cast<std::int32_t>((seed * 37) % 256)};
  if (c.variant % 4 == 0) epi.input.zero_point = 0;  // post-ReLU activations
  epi.bias = c.bias() ? bias.data() : nullptr;
  epi.residual = c.residual() == 1 ? res_f.data() : nullptr;
  epi.residual_u8 = c.residual() == 2 ? res_u.data() : nullptr;
  epi.residual_q = {0.05f, 121};
  epi.ldr = ldr;
  epi.relu = c.relu();
  const QuantParams out_q{0.05f + 0.01f * static_cast<float>(c.variant % 3), c.relu() ? 0 : 117};
  const std::size_t out_size = static_cast<std::size_t>(c.ldc() * c.n);
  if (c.u8_out()) {
    std::vector<std::uint8_t> got(out_size, 0xA5), want(out_size, 0xA5);
    resnet::kernels::gemm_int8(packed, b.data(), c.ldb(), c.n, epi, got.data(), c.ldc(), out_q);
    resnet::kernels::gemm_int8_reference(q, c.m, c.k, b.data(), c.ldb(), c.n, epi, nullptr, want.data(), c.ldc(), out_q);
    REQUIRE(got == want);  // the gaps between columns still hold 0xA5 in both
  } else {
    std::vector<float> got(out_size, -1234.5f), want(out_size, -1234.5f);
    resnet::kernels::gemm_int8(packed, b.data(), c.ldb(), c.n, epi, got.data(), c.ldc());
    resnet::kernels::gemm_int8_reference(q, c.m, c.k, b.data(), c.ldb(), c.n, epi, want.data(), nullptr, c.ldc());
    REQUIRE(std::memcmp(got.data(), want.data(), out_size * sizeof(float)) == 0);
  }
}

/// Runs the bf16 kernel and the reference on `c`; every output must be identical and
/// nothing outside C's columns written. A mismatch reports how far it is within the
/// bound on two fp32 sums of the same exact products (2 (K + 2) u sum|a b|, u = 2^-24):
/// inside it, the CPU rounds its two products per step differently from Intel's
/// description; outside it, the kernel is wrong.
void check_bf16_case(const LowpCase& c, unsigned seed) {
  INFO(c.name());
  const auto a = lowp_floats(static_cast<std::size_t>(c.m * c.k), seed);
  const resnet::kernels::PackedBf16Weights packed(a.data(), c.m, c.k, c.k);
  const auto b = lowp_floats(static_cast<std::size_t>(c.ldb() * c.n), seed + 1, -2.0f, 2.0f);
  const auto bias = lowp_floats(static_cast<std::size_t>(c.m), seed + 2, -4.0f, 4.0f);
  const LowpIndex ldr = c.m + 1;
  const auto res = lowp_floats(static_cast<std::size_t>(ldr * c.n), seed + 3, -8.0f, 8.0f);
  std::vector<std::uint16_t> res16(res.size());
  for (std::size_t i = 0; i < res.size(); ++i) res16[i] = resnet::kernels::to_bf16_bits(res[i]);
  Bf16Epilogue epi;
  epi.bias = c.bias() ? bias.data() : nullptr;
  epi.residual = c.residual() == 1 ? res.data() : nullptr;
  epi.residual_bf16 = c.residual() == 2 ? res16.data() : nullptr;
  epi.ldr = ldr;
  epi.relu = c.relu();
  const std::size_t out_size = static_cast<std::size_t>(c.ldc() * c.n);
  std::vector<float> got(out_size, -1234.5f), want(out_size, -1234.5f);
  std::vector<float> scratch(static_cast<std::size_t>(resnet::kernels::gemm_bf16_scratch_floats(c.k)));
  resnet::kernels::gemm_bf16(packed, b.data(), c.ldb(), c.n, epi, got.data(), c.ldc(), scratch.data());
  resnet::kernels::gemm_bf16_reference(a.data(), c.m, c.k, c.k, b.data(), c.ldb(), c.n, epi, want.data(), c.ldc());
  if (std::memcmp(got.data(), want.data(), out_size * sizeof(float)) == 0) return;
  for (LowpIndex j = 0; j < c.n; ++j)
    for (LowpIndex i = 0; i < c.ldc(); ++i) {
      const std::size_t at = static_cast<std::size_t>(j * c.ldc() + i);
      if (lowp_bits_of(got[at]) == lowp_bits_of(want[at])) continue;
      double sum_abs = 0;
      for (LowpIndex t = 0; t < c.k && i < c.m; ++t)
        sum_abs += std::abs(double(a[static_cast<std::size_t>(i * c.k + t)]) * b[static_cast<std::size_t>(j * c.ldb() + t)]);
      const double bound = 2.0 * double(c.k + 2) * std::ldexp(1.0, -24) * (sum_abs + std::abs(want[at]) + 12.0);
      FAIL("row " << i << " column " << j << ": " << got[at] << " vs " << want[at] << ", "
                  << std::abs(double(got[at]) - want[at]) / bound << " of the fp32 summation bound");
    }
}

/// Odd sizes around the tile edges (16-lane vectors, 48-row panels, the two 32-row ones
/// that end M = 50 and 100 in place of a 16-row one, 8-column tiles, 4-deep int8 words),
/// each combined with a rotating epilogue variant.
std::vector<LowpCase> lowp_odd_cases() {
  const LowpIndex ms[] = {1, 7, 16, 17, 33, 48, 50, 70, 100};
  const LowpIndex ks[] = {1, 2, 3, 4, 5, 31, 64, 67};
  const LowpIndex ns[] = {1, 2, 3, 7, 8, 13, 70};
  std::vector<LowpCase> cases;
  int variant = 0;
  for (LowpIndex m : ms)
    for (LowpIndex k : ks)
      for (LowpIndex n : ns) cases.push_back({m, k, n, variant++ % 24});
  return cases;
}

/// ResNet-50 convolutions as GEMMs (M = out_c, K = in_c * k * k, N = pixels at batch 1),
/// N cut to a few hundred so the reference stays quick.
std::vector<LowpCase> lowp_resnet50_cases() {
  return {{64, 147, 200, 1},     // 7x7 stem: K = 3 * 49, not a multiple of 4
          {64, 576, 200, 7},     // 3x3, 64 channels (56x56 has 3136 pixels)
          {256, 2304, 196, 13},  // 3x3, 256 channels at 14x14
          {2048, 512, 49, 19},   // 1x1 expansion at 7x7
          {256, 64, 300, 22}};   // 1x1 expansion at 56x56
}

// The test cases stay inside the namespace: test files are compiled together in
// batches (unity build), so nothing here may reach another file's names.

TEST_CASE("a precision the CPU or build lacks is refused by name", "[lowp][precision]") {
  CHECK(resnet::missing_for(Precision::fp32, CpuFeatures{}, BuildFeatures{}).empty());
  CHECK(resnet::missing_for(Precision::int8, full_cpu(), full_build()).empty());
  CHECK(resnet::missing_for(Precision::bf16, full_cpu(), full_build()).empty());

  CpuFeatures no_vnni = full_cpu();
  no_vnni.avx512_vnni = false;
  CHECK(resnet::missing_for(Precision::bf16, no_vnni, full_build()).empty());
  std::string message;
  CHECK(test_support::kind_of([&] { resnet::require_precision(Precision::int8, no_vnni, full_build()); }, &message) ==
        resnet::ErrorKind::unsupported_cpu);
  CHECK_THAT(message, Catch::Contains("int8") && Catch::Contains("AVX512_VNNI") && !Catch::Contains("AVX512_BF16"));

  CpuFeatures no_bf16 = full_cpu();
  no_bf16.avx512_bf16 = false;
  CHECK(resnet::missing_for(Precision::int8, no_bf16, full_build()).empty());
  CHECK_THAT(resnet::missing_for(Precision::bf16, no_bf16, full_build()), Catch::Contains("AVX512_BF16"));

  CpuFeatures no_os = full_cpu();
  no_os.os_zmm = false;  // the CPU has the instructions, the OS does not save zmm state
  CHECK_THAT(resnet::missing_for(Precision::int8, no_os, full_build()), Catch::Contains("XCR0"));

  CHECK_THAT(resnet::missing_for(Precision::int8, CpuFeatures{}, full_build()),
             Catch::Contains("AVX512F, AVX512BW, AVX512VL, AVX512DQ, AVX512_VNNI"));
  CpuFeatures no_dq = full_cpu();
  no_dq.avx512dq = false;
  CHECK_THAT(resnet::missing_for(Precision::int8, no_dq, full_build()), Catch::Contains("lacks AVX512DQ"));
  CHECK(resnet::missing_for(Precision::bf16, no_dq, full_build()).empty());

  BuildFeatures no_int8_build = full_build();
  no_int8_build.int8_kernels = false;
  CHECK_THAT(resnet::missing_for(Precision::int8, full_cpu(), no_int8_build), Catch::Contains("no int8 kernels"));
  CHECK(resnet::missing_for(Precision::bf16, full_cpu(), no_int8_build).empty());

  CHECK(resnet::parse_precision("bf16") == Precision::bf16);
  CHECK(test_support::kind_of([] { resnet::parse_precision("fp16"); }) == resnet::ErrorKind::invalid_argument);
}

TEST_CASE("cpu features agree with the compiler's own detection", "[lowp][precision]") {
  const CpuFeatures& f = resnet::cpu_features();
#if defined(__GNUC__) && defined(__x86_64__)
  CHECK(f.avx512f == bool(__builtin_cpu_supports("avx512f")));
  CHECK(f.avx512bw == bool(__builtin_cpu_supports("avx512bw")));
  CHECK(f.avx512vl == bool(__builtin_cpu_supports("avx512vl")));
  CHECK(f.avx512dq == bool(__builtin_cpu_supports("avx512dq")));
  CHECK(f.avx512_vnni == bool(__builtin_cpu_supports("avx512vnni")));
#if defined(__clang__) || __GNUC__ >= 10
  CHECK(f.avx512_bf16 == bool(__builtin_cpu_supports("avx512bf16")));
#endif
#endif
#if defined(__AVX512VNNI__)
  CHECK(resnet::build_features().native_vnni);
  CHECK(f.avx512_vnni);  // this program runs, so the CPU executes what it was built for
#endif
}

TEST_CASE("without the instructions the kernels throw instead of faulting", "[lowp][precision]") {
  const auto w = lowp_floats(16 * 8, 1);
  const auto b = lowp_floats(8 * 4, 2);
  const std::vector<std::uint8_t> b8(8 * 4, 3);
  std::vector<float> c(16 * 4);
  std::vector<float> scratch(static_cast<std::size_t>(resnet::kernels::gemm_bf16_scratch_floats(8)));
  const auto int8 = [&] {
    const auto packed = resnet::kernels::PackedInt8Weights::quantize(w.data(), 16, 8, 8);
    resnet::kernels::gemm_int8(packed, b8.data(), 8, 4, Int8Epilogue{}, c.data(), 16);
  };
  const auto bf16 = [&] {
    const resnet::kernels::PackedBf16Weights packed(w.data(), 16, 8, 8);
    resnet::kernels::gemm_bf16(packed, b.data(), 8, 4, Bf16Epilogue{}, c.data(), 16, scratch.data());
  };
  if (resnet::precision_available(Precision::int8)) {
    CHECK_NOTHROW(int8());
    Int8Epilogue bad;
    bad.input.zero_point = 256;  // not a u8 value: the zero-point correction could overflow
    const auto packed = resnet::kernels::PackedInt8Weights::quantize(w.data(), 16, 8, 8);
    CHECK(test_support::kind_of([&] { resnet::kernels::gemm_int8(packed, b8.data(), 8, 4, bad, c.data(), 16); }) ==
          resnet::ErrorKind::invalid_argument);
  } else {
    CHECK(test_support::kind_of(int8) == resnet::ErrorKind::unsupported_cpu);
  }
  if (resnet::precision_available(Precision::bf16))
    CHECK_NOTHROW(bf16());
  else
    CHECK(test_support::kind_of(bf16) == resnet::ErrorKind::unsupported_cpu);
}

TEST_CASE("weights quantize per channel as PyTorch's symmetric qint8 observer", "[lowp][int8]") {
  // In float, 1 / (2 / 127.5) is 63.7499962, so -2 scales to -127.499992 and rounds to
  // -127, as in PyTorch (which multiplies by the float reciprocal too).
  const float w[] = {1.0f, -0.5f, 0.25f, 0.0f,   // amax 1: scale 1/127.5; 1 -> 127, -0.5 -> -63.75 -> -64
                     -2.0f, 1.0f, 0.0f, 0.0f,    // amax 2: -2 -> -127, 1 -> 63.7499962 -> 64
                     0.0f, 0.0f, 0.0f, 0.0f};    // all zero: scale float eps, values 0
  const QuantizedWeights q = resnet::kernels::quantize_weights_per_channel(w, 3, 4, 4);
  CHECK(q.scales == std::vector<float>{1.0f / 127.5f, 2.0f / 127.5f, std::numeric_limits<float>::epsilon()});
  const std::vector<int> values(q.values.begin(), q.values.end());
  CHECK(values == std::vector<int>{127, -64, 32, 0, -127, 64, 0, 0, 0, 0, 0, 0});
  const float bad[] = {1.0f, std::nanf("")};
  CHECK(test_support::kind_of([&] { resnet::kernels::quantize_weights_per_channel(bad, 1, 2, 2); }) ==
        resnet::ErrorKind::invalid_argument);
}

TEST_CASE("an int8 model's classifier multiplies fp32 features by its s8 weights per class", "[lowp][int8]") {
  // Against a double-precision product with the dequantized weights: the kernel sums in
  // fp32 in its own order, so equal within a few ulps of the sum of magnitudes; rows past
  // [r0, r1) and past each image's classes untouched. Odd K (a partial 16, a single 32),
  // row counts around the kernel's 4, one and three images.
  for (const LowpIndex k : {1, 5, 16, 33, 48, 2048})
    for (const LowpIndex m : {1, 3, 4, 5, 17}) {
      INFO("k " << k << " m " << m);
      const auto w = lowp_floats(static_cast<std::size_t>(m * k), 11 + static_cast<unsigned>(k + m));
      const QuantizedWeights q = resnet::kernels::quantize_weights_per_channel(w.data(), m, k, k);
      const LowpIndex n = 3, ldy = m + 2;
      const auto x = lowp_floats(static_cast<std::size_t>(n * k), 5, -3.0f, 3.0f);
      const auto bias = lowp_floats(static_cast<std::size_t>(m), 6);
      const LowpIndex r0 = m > 2 ? 1 : 0, r1 = m;
      for (const LowpIndex images : {LowpIndex{1}, n}) {
        std::vector<float> got(static_cast<std::size_t>(n * ldy), -7.0f), plain = got;
        resnet::kernels::dense_s8_weights(q, k, r0, r1, x.data(), images, bias.data(), got.data(), ldy);
        resnet::kernels::dense_s8_weights_reference(q, k, r0, r1, x.data(), images, bias.data(), plain.data(), ldy);
        for (LowpIndex i = 0; i < n; ++i)
          for (LowpIndex r = 0; r < ldy; ++r) {
            const float g = got[static_cast<std::size_t>(i * ldy + r)];
            if (i >= images || r < r0 || r >= r1) {
              CHECK(g == -7.0f);
              continue;
            }
            double exact = 0, magnitude = 0;
            for (LowpIndex t = 0; t < k; ++t) {
              const double term = double(q.values[static_cast<std::size_t>(r * k + t)]) * x[static_cast<std::size_t>(i * k + t)];
              exact += term;
              magnitude += std::abs(term);
            }
            const double scale = q.scales[static_cast<std::size_t>(r)];
            exact = exact * scale + bias[static_cast<std::size_t>(r)];
            const double slack = 1e-6 * (magnitude * scale + std::abs(bias[static_cast<std::size_t>(r)])) + 1e-30;
            CHECK(std::abs(g - exact) <= slack);
            CHECK(std::abs(plain[static_cast<std::size_t>(i * ldy + r)] - exact) <= slack);
          }
      }
    }
}

TEST_CASE("bf16 rounding matches VCVTNE2PS2BF16", "[lowp][bf16]") {
  using resnet::kernels::to_bf16_bits;
  const auto bits = [](std::uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  };
  CHECK(to_bf16_bits(1.0f) == 0x3F80);
  CHECK(to_bf16_bits(bits(0x3F808000u)) == 0x3F80);  // tie, even below
  CHECK(to_bf16_bits(bits(0x3F818000u)) == 0x3F82);  // tie, even above
  CHECK(to_bf16_bits(bits(0x3F808001u)) == 0x3F81);
  CHECK(to_bf16_bits(bits(0x80000001u)) == 0x8000);  // denormal: signed zero
  CHECK(to_bf16_bits(bits(0x7F7FFFFFu)) == 0x7F80);  // max float rounds to infinity
  CHECK(to_bf16_bits(bits(0xFF800000u)) == 0xFF80);
  CHECK(to_bf16_bits(bits(0x7F800001u)) == 0x7FC0);  // signalling NaN comes back quiet
  if (!resnet::precision_available(Precision::bf16)) LOWP_SKIP(Precision::bf16);
  // The kernel's conversion of activations: a 1 x 1 identity times B returns bf16(B).
  std::vector<float> b = {1.0f, bits(0x3F808000u), bits(0x3F818000u), bits(0x3F808001u), bits(0x80000001u),
                          bits(0x00800000u), bits(0x7F7FFFFFu), -std::numeric_limits<float>::infinity(), 3.14159265f,
                          -1e-30f, 65504.0f, bits(0x7F800001u)};
  const float one = 1.0f;
  const resnet::kernels::PackedBf16Weights identity(&one, 1, 1, 1);
  std::vector<float> scratch(static_cast<std::size_t>(resnet::kernels::gemm_bf16_scratch_floats(1)));
  std::vector<float> c(b.size());
  resnet::kernels::gemm_bf16(identity, b.data(), 1, static_cast<LowpIndex>(b.size()), Bf16Epilogue{}, c.data(), 1,
                             scratch.data());
  for (std::size_t j = 0; j < b.size(); ++j) {
    INFO("input bits " << std::hex << lowp_bits_of(b[j]));
    const float want = resnet::kernels::bf16_to_float(to_bf16_bits(b[j]));
    if (std::isnan(want))
      CHECK(std::isnan(c[j]));
    else
      CHECK(c[j] == want);
  }
}

TEST_CASE("int8 GEMM equals the reference bit for bit on odd shapes", "[lowp][int8]") {
  if (!resnet::precision_available(Precision::int8)) LOWP_SKIP(Precision::int8);
  unsigned seed = 100;
  for (const LowpCase& c : lowp_odd_cases()) check_int8_case(c, seed++);
}

TEST_CASE("int8 GEMM equals the reference bit for bit on ResNet-50 layer shapes", "[lowp][int8]") {
  if (!resnet::precision_available(Precision::int8)) LOWP_SKIP(Precision::int8);
  unsigned seed = 900;
  for (LowpCase c : lowp_resnet50_cases()) {
    for (int v : {c.variant, c.variant + 12}) {  // fp32 and u8 output
      c.variant = v;
      check_int8_case(c, seed++);
    }
  }
}

/// A block output: the int8 kernel adds a bf16 residual and writes u8 (for the next
/// block's convs) and bf16 (for its residual) from the same fp32 value; both must equal
/// the reference byte for byte, and nothing outside C's columns be written.
void check_int8_block_output_case(const LowpCase& c, unsigned seed) {
  INFO(c.name());
  const Int8Operands ops(c, seed);
  const QuantizedWeights& q = ops.q;
  const std::vector<std::uint8_t>& b = ops.b;
  const LowpIndex ldr = c.m + 3;
  const auto res_f = lowp_floats(static_cast<std::size_t>(ldr * c.n), seed + 3, -8.0f, 8.0f);
  std::vector<std::uint16_t> res_b(res_f.size());
  for (std::size_t i = 0; i < res_f.size(); ++i) res_b[i] = resnet::kernels::to_bf16_bits(res_f[i]);
  Int8Epilogue epi;
  epi.input = {0.03f, c.variant % 2 == 0 ? 0 : 37};
  epi.bias = c.bias() ? ops.bias.data() : nullptr;
  epi.residual_bf16 = res_b.data();
  epi.ldr = ldr;
  epi.relu = c.relu();
  const std::size_t out_size = static_cast<std::size_t>(c.ldc() * c.n);
  for (const int ends : {1, 2, 3, 5}) {  // bf16 only, u8 only, both; bf16 rounded in integer steps
    INFO("outputs " << ends);
    resnet::kernels::detail::Int8Output out;
    out.integer_bf16 = ends == 5;
    out.q = {0.07f, c.relu() ? 0 : 111};
    out.ldc = c.ldc();
    std::vector<std::uint8_t> got_u8(out_size, 0xA5), want_u8(out_size, 0xA5);
    std::vector<std::uint16_t> got_bf(out_size, 0xBEEF), want_bf(out_size, 0xBEEF);
    if (ends & 1) out.bf16 = got_bf.data();
    if (ends & 2) out.u8 = got_u8.data();
    resnet::kernels::detail::gemm_int8_run(ops.packed, resnet::kernels::DenseColumnsOf<std::uint8_t>{b.data(), c.ldb()}, c.n,
                                           epi, out, nullptr);
    resnet::kernels::gemm_int8_reference(q, c.m, c.k, b.data(), c.ldb(), c.n, epi, nullptr,
                                         ends & 2 ? want_u8.data() : nullptr, c.ldc(), out.q,
                                         ends & 1 ? want_bf.data() : nullptr);
    REQUIRE(got_u8 == want_u8);
    REQUIRE(got_bf == want_bf);
  }
}

TEST_CASE("weight panels are 48 rows, ending in two of 32 where one of 16 would be left", "[lowp]") {
  for (LowpIndex m = 1; m <= 400; ++m) {
    INFO("M = " << m);
    const resnet::kernels::PackedBf16Weights w(std::vector<float>(static_cast<std::size_t>(m), 1.0f).data(), m, 1, 1);
    const resnet::kernels::detail::WordPanels& p = w.panels();
    const LowpIndex vectors = (m + 15) / 16;
    REQUIRE(p.vectors() == vectors);
    LowpIndex next = 0, ones = 0, twos = 0;
    for (LowpIndex i = 0; i < p.panels(); ++i) {
      const int v = p.panel_vectors(i);
      REQUIRE(p.panel_vector(i) == next);  // in order, each vector in one panel
      REQUIRE(p.panel_row(i) == 16 * next);
      for (LowpIndex j = next; j < next + v; ++j) REQUIRE(p.panel_of(j) == i);
      REQUIRE(p.panel(i) == p.panel(0) + 16 * next * p.words());
      ones += v == 1;
      twos += v == 2;
      if (v != 3) REQUIRE(i >= p.panels() - 2);  // only the last one or two are short
      next += v;
    }
    CHECK(next == vectors);
    CHECK(ones == (vectors == 1 ? 1 : 0));
    CHECK(twos == (vectors % 3 == 2 ? 1 : vectors % 3 == 1 && vectors > 1 ? 2 : 0));
  }
}

TEST_CASE("int8 GEMM over a range of 16-row vectors writes those rows as the whole product", "[lowp][int8]") {
  // Threads split a 7x7 layer's rows in 16-row vectors, so a range may start or end
  // inside a panel: 90 rows are panels of 48 and 42 (six vectors), 100 rows panels of 48,
  // 32 and 20 (seven vectors); every range of each.
  if (!resnet::precision_available(Precision::int8)) LOWP_SKIP(Precision::int8);
  for (const LowpIndex m : {LowpIndex(90), LowpIndex(100)}) {
    INFO("M = " << m);
    const LowpIndex vectors = (m + 15) / 16, k = 70, n = 11, ldc = m + 2;
    const auto w = lowp_floats(static_cast<std::size_t>(m * k), 31);
    const auto packed = resnet::kernels::PackedInt8Weights::quantize(w.data(), m, k, k);
    const auto b = lowp_ints<std::uint8_t>(static_cast<std::size_t>(k * n), 32, 0, 255);
    const auto bias = lowp_floats(static_cast<std::size_t>(m), 33);
    std::vector<std::uint16_t> residual(static_cast<std::size_t>(ldc * n));
    for (std::size_t i = 0; i < residual.size(); ++i)
      residual[i] = resnet::kernels::to_bf16_bits(0.01f * float(i % 97));
    Int8Epilogue epi;
    epi.input = {0.03f, 37};
    epi.bias = bias.data();
    epi.residual_bf16 = residual.data();
    epi.ldr = ldc;
    epi.relu = true;
    const auto run = [&](LowpIndex begin, LowpIndex end) {
      std::pair<std::vector<std::uint8_t>, std::vector<std::uint16_t>> c{std::vector<std::uint8_t>(ldc * n, 0xA5),
                                                                         std::vector<std::uint16_t>(ldc * n, 0xBEEF)};
      resnet::kernels::detail::Int8Output out;
      out.u8 = c.first.data();
      out.bf16 = c.second.data();
      out.q = {0.05f, 0};
      out.ldc = ldc;
      resnet::kernels::detail::gemm_int8_run(packed, resnet::kernels::DenseColumnsOf<std::uint8_t>{b.data(), k}, n,
                                             epi, out, nullptr, begin, end);
      return c;
    };
    const auto whole = run(0, -1);
    for (LowpIndex begin = 0; begin <= vectors; ++begin)
      for (LowpIndex end = begin; end <= vectors + 1; ++end) {
        INFO("vectors " << begin << " .. " << end);
        const auto part = run(begin, end);
        bool same = true;
        for (LowpIndex j = 0; j < n; ++j)
          for (LowpIndex i = 0; i < ldc; ++i) {
            const std::size_t at = static_cast<std::size_t>(j * ldc + i);
            const bool written = i < m && i >= 16 * begin && i < 16 * end;
            same = same && part.first[at] == (written ? whole.first[at] : 0xA5) &&
                   part.second[at] == (written ? whole.second[at] : 0xBEEF);
          }
        CHECK(same);
      }
  }
}

TEST_CASE("int8 GEMM adds a bf16 residual and writes u8 and bf16 as the reference", "[lowp][int8]") {
  if (!resnet::precision_available(Precision::int8)) LOWP_SKIP(Precision::int8);
  unsigned seed = 2100;
  for (const LowpCase& c : lowp_odd_cases()) check_int8_block_output_case(c, seed++);
  for (const LowpCase& c : lowp_resnet50_cases()) check_int8_block_output_case(c, seed++);
}

TEST_CASE("the int8 epilogue's bf16 and u8 outputs round as to_bf16_bits and quantize_u8", "[lowp][int8]") {
  if (!resnet::precision_available(Precision::int8)) LOWP_SKIP(Precision::int8);
  const auto bits = [](std::uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  };
  // B equal to its zero point makes every sum 0, so each output is its row's bias.
  const std::vector<float> special = {1.0f, bits(0x3F808000u), bits(0x3F818000u), bits(0x3F808001u),
                                      bits(0x80000001u), bits(0x00000001u), bits(0x00800000u), bits(0x7F7FFFFFu),
                                      -std::numeric_limits<float>::infinity(), 3.14159265f, -1e-30f, 65504.0f,
                                      bits(0x7F800001u), bits(0xFFC00000u), bits(0x807FFFFFu), 2.5f,
                                      // no NaN or denormal among these 16: the integer steps' quick path
                                      0.0f, bits(0x3F80FFFFu), std::numeric_limits<float>::infinity(),
                                      -std::numeric_limits<float>::infinity(), bits(0x3F808000u), bits(0xBF818000u),
                                      bits(0x7F7FFFFFu), bits(0xFF7FFFFFu), bits(0x00800000u), 1e30f, -1e30f,
                                      300.0f, -300.0f, 126.25f, 127.75f, bits(0x3F7FFFFFu)};
  const LowpIndex m = static_cast<LowpIndex>(special.size()), k = 5, n = 3;
  const auto w = lowp_floats(static_cast<std::size_t>(m * k), 7);
  const resnet::kernels::PackedInt8Weights packed = resnet::kernels::PackedInt8Weights::quantize(w.data(), m, k, k);
  const std::vector<std::uint8_t> b(static_cast<std::size_t>(k * n), 9);
  Int8Epilogue epi;
  epi.input = {0.5f, 9};
  epi.bias = special.data();
  for (const bool integer_steps : {false, true}) {  // VCVTNEPS2BF16 where the CPU has it; integer steps
    INFO((integer_steps ? "integer steps" : "the CPU's rounding"));
    resnet::kernels::detail::Int8Output out;
    std::vector<std::uint16_t> got(static_cast<std::size_t>(m * n));
    std::vector<std::uint8_t> got_u8(got.size());
    out.bf16 = got.data();
    out.u8 = got_u8.data();  // and u8 beside it, as a block output: quantize_u8's bytes for the same values
    out.q = {0.75f, integer_steps ? 0 : 131};
    out.ldc = m;
    out.integer_bf16 = integer_steps;
    resnet::kernels::detail::gemm_int8_run(packed, resnet::kernels::DenseColumnsOf<std::uint8_t>{b.data(), k}, n, epi,
                                           out, nullptr);
    for (LowpIndex j = 0; j < n; ++j)
      for (LowpIndex i = 0; i < m; ++i) {
        const float value = special[static_cast<std::size_t>(i)];
        INFO("bias bits " << std::hex << lowp_bits_of(value));
        CHECK(got[static_cast<std::size_t>(j * m + i)] == resnet::kernels::to_bf16_bits(value));
        CHECK(got_u8[static_cast<std::size_t>(j * m + i)] ==
              resnet::kernels::quantize_u8(value, 1.0f / out.q.scale, out.q.zero_point));
      }
    // The quantizing pass over a map (64 values a store, then 16 at a time) on the same values.
    std::vector<float> map;
    for (int r = 0; r < 5; ++r) map.insert(map.end(), special.begin(), special.end());
    map.resize(150);
    std::vector<std::uint8_t> pass(map.size());
    resnet::kernels::quantize_u8_map(map.data(), static_cast<LowpIndex>(map.size()), out.q, pass.data());
    for (std::size_t i = 0; i < map.size(); ++i) {
      INFO("value bits " << std::hex << lowp_bits_of(map[i]));
      CHECK(pass[i] == resnet::kernels::quantize_u8(map[i], 1.0f / out.q.scale, out.q.zero_point));
    }
  }
}

TEST_CASE("u8 quantization rounds as the int8 epilogue and PyTorch's FakeQuantize", "[lowp][int8]") {
  using resnet::kernels::quantize_u8;
  const float inv = 1.0f / 0.5f;
  CHECK(quantize_u8(0.25f, inv, 10) == 10);   // 0.5 -> nearest even 0
  CHECK(quantize_u8(0.75f, inv, 10) == 12);   // 1.5 -> 2
  CHECK(quantize_u8(-4.0f, inv, 10) == 2);
  CHECK(quantize_u8(-6.0f, inv, 10) == 0);    // clamped
  CHECK(quantize_u8(1e30f, inv, 10) == 255);
  CHECK(quantize_u8(-1e30f, inv, 10) == 0);
  CHECK(quantize_u8(std::nanf(""), inv, 10) == 0);
  const std::vector<std::uint8_t> v = {0, 10, 255};
  std::vector<float> back(3);
  resnet::kernels::dequantize_u8(v.data(), 3, {0.5f, 10}, back.data());
  CHECK(back == std::vector<float>{-5.0f, 0.0f, 122.5f});

  // The kernel's u8 output is its fp32 output quantized: the same steps in the same order.
  if (!resnet::precision_available(Precision::int8)) LOWP_SKIP(Precision::int8);
  const LowpIndex m = 29, k = 70, n = 11;
  const auto w = lowp_floats(static_cast<std::size_t>(m * k), 81);
  const auto packed = resnet::kernels::PackedInt8Weights::quantize(w.data(), m, k, k);
  const auto b = lowp_ints<std::uint8_t>(static_cast<std::size_t>(k * n), 82, 0, 255);
  Int8Epilogue epi;
  epi.input = {0.03f, 77};
  const QuantParams out_q{0.07f, 131};
  std::vector<float> f32(static_cast<std::size_t>(m * n));
  std::vector<std::uint8_t> u8(f32.size()), requantized(f32.size());
  resnet::kernels::gemm_int8(packed, b.data(), k, n, epi, f32.data(), m);
  resnet::kernels::gemm_int8(packed, b.data(), k, n, epi, u8.data(), m, out_q);
  resnet::kernels::quantize_u8(f32.data(), m * n, out_q, requantized.data());
  CHECK(u8 == requantized);
}

TEST_CASE("an fp32 map quantizes to u8 as quantize_u8 does, value by value", "[lowp][int8]") {
  // quantize_u8_map: 64 values per packed store, then 16 at a time, masked; every count
  // up to 200 crosses both, and each value lands at its own byte.
  if (!resnet::precision_available(Precision::int8)) LOWP_SKIP(Precision::int8);
  auto x = lowp_floats(300, 91);
  for (float& v : x) v *= 9.0f;
  x[3] = 1e30f, x[70] = -1e30f, x[131] = std::nanf(""), x[140] = std::numeric_limits<float>::infinity();
  x[150] = -std::numeric_limits<float>::infinity(), x[199] = 0.25f;
  for (const QuantParams q : {QuantParams{0.5f, 10}, QuantParams{0.031f, 131}, QuantParams{0.07f, 0}}) {
    for (LowpIndex count = 0; count <= 200; ++count) {
      for (const LowpIndex offset : {LowpIndex(0), LowpIndex(5)}) {
        std::vector<std::uint8_t> expected(static_cast<std::size_t>(count) + 2, 0xA5), got = expected;
        resnet::kernels::quantize_u8(x.data() + offset, count, q, expected.data() + 1);
        resnet::kernels::quantize_u8_map(x.data() + offset, count, q, got.data() + 1);
        INFO("count " << count << ", offset " << offset << ", zero point " << q.zero_point);
        REQUIRE(got == expected);  // the guard bytes around the output untouched too
      }
    }
  }
}

#if defined(RESNET_HAVE_INT8_KERNELS) || defined(RESNET_HAVE_BF16_KERNELS)
/// The epilogues' row-vector stores (plain where the mask is full): bytes 0 .. count-1 of
/// the vector 0, 1, 2, ... land at p, and nothing beyond.
__attribute__((target("avx512f,avx512bw,avx512vl"))) std::vector<std::uint8_t> stored_lanes(int kind, int count) {
  namespace d = resnet::kernels::detail;
  alignas(64) std::uint8_t bytes[64];
  for (int i = 0; i < 64; ++i) bytes[i] = static_cast<std::uint8_t>(i + 1);
  const __m512i v = _mm512_load_si512(bytes);
  std::vector<std::uint8_t> out(64 + 2, 0xA5);
  std::uint8_t* p = out.data() + 1;
  const __mmask16 m16 = count >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << count) - 1u);
  const __mmask32 m32 = count >= 32 ? ~__mmask32(0) : (__mmask32(1) << count) - 1u;
  switch (kind) {
    case 0: d::store_u8_first(p, count, v); break;  // count bytes
    case 1: d::store_f32x16(reinterpret_cast<float*>(p), m16, _mm512_castsi512_ps(v)); break;  // count floats
    case 2: d::store_bf16x16(reinterpret_cast<std::uint16_t*>(p), m16, _mm512_castsi512_si256(v)); break;
    default: d::store_bf16x32(reinterpret_cast<std::uint16_t*>(p), m32, v); break;
  }
  return out;
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) std::vector<std::uint8_t> loaded_lanes(int kind, int count) {
  namespace d = resnet::kernels::detail;
  std::vector<std::uint8_t> in(64 + 2);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<std::uint8_t>(i + 7);
  const std::uint8_t* p = in.data() + 1;
  const __mmask16 m = count >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << count) - 1u);
  alignas(64) std::uint8_t got[64] = {};
  switch (kind) {
    case 0: _mm_store_si128(reinterpret_cast<__m128i*>(got), d::load_u8x16(p, m)); break;
    case 1: _mm512_store_ps(reinterpret_cast<float*>(got), d::load_f32x16(reinterpret_cast<const float*>(p), m)); break;
    default:
      _mm256_store_si256(reinterpret_cast<__m256i*>(got), d::load_bf16x16(reinterpret_cast<const std::uint16_t*>(p), m));
  }
  return std::vector<std::uint8_t>(got, got + 64);
}
#endif

TEST_CASE("the epilogues' row-vector loads and stores touch exactly their lanes", "[lowp]") {
#if defined(RESNET_HAVE_INT8_KERNELS) || defined(RESNET_HAVE_BF16_KERNELS)
  const resnet::CpuFeatures& cpu = resnet::cpu_features();
  if (!(cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.os_zmm)) RESNET_SKIP("needs AVX-512 F/BW/VL");
  // Stores: element width in bytes and lanes of each kind; full counts take the plain path.
  const int width[] = {1, 4, 2, 2}, lanes[] = {64, 16, 16, 32};
  for (int kind = 0; kind < 4; ++kind)
    for (int count = 1; count <= lanes[kind]; ++count) {
      INFO("store kind " << kind << ", " << count << " lanes");
      const std::vector<std::uint8_t> out = stored_lanes(kind, count);
      std::vector<std::uint8_t> want(out.size(), 0xA5);
      for (int b = 0; b < count * width[kind]; ++b) want[static_cast<std::size_t>(b + 1)] = static_cast<std::uint8_t>(b + 1);
      REQUIRE(out == want);
    }
  // Loads: the first count lanes, the rest zero.
  const int load_width[] = {1, 4, 2};
  for (int kind = 0; kind < 3; ++kind)
    for (int count = 1; count <= 16; ++count) {
      INFO("load kind " << kind << ", " << count << " lanes");
      const std::vector<std::uint8_t> got = loaded_lanes(kind, count);
      for (int b = 0; b < 64; ++b)
        REQUIRE(got[static_cast<std::size_t>(b)] ==
                (b < count * load_width[kind] ? static_cast<std::uint8_t>(b + 8) : std::uint8_t(0)));
    }
#else
  RESNET_SKIP("built without the AVX-512 kernels");
#endif
}

/// An NHWC map's im2col, built directly: column (n, oy, ox) holds the window's values in
/// OHWI depth order, `zp` where the window leaves the map.
template <class T>
std::vector<T> lowp_im2col(const std::vector<T>& in, LowpIndex batch, LowpIndex h, LowpIndex w, LowpIndex c,
                           LowpIndex k, LowpIndex stride, LowpIndex pad, T zp) {
  const LowpIndex oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
  std::vector<T> cols;
  for (LowpIndex n = 0; n < batch; ++n)
    for (LowpIndex oy = 0; oy < oh; ++oy)
      for (LowpIndex ox = 0; ox < ow; ++ox)
        for (LowpIndex ky = 0; ky < k; ++ky)
          for (LowpIndex kx = 0; kx < k; ++kx)
            for (LowpIndex ci = 0; ci < c; ++ci) {
              const LowpIndex iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
              const bool inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
              cols.push_back(inside ? in[static_cast<std::size_t>(((n * h + iy) * w + ix) * c + ci)] : zp);
            }
  return cols;
}

struct LowpConvCase {
  LowpIndex batch, h, w, c, out_c, k, stride, pad;

  constexpr LowpIndex oh() const { return (h + 2 * pad - k) / stride + 1; }
  constexpr LowpIndex ow() const { return (w + 2 * pad - k) / stride + 1; }
  constexpr LowpIndex depth() const { return k * k * c; }       // K of the GEMM
  constexpr LowpIndex columns() const { return batch * oh() * ow(); }  // N of the GEMM
};

std::ostream& operator<<(std::ostream& os, const LowpConvCase& cc) {
  return os << "h=" << cc.h << " w=" << cc.w << " c=" << cc.c << " out_c=" << cc.out_c << " k=" << cc.k
            << " stride=" << cc.stride << " pad=" << cc.pad;
}

/// Window rows of whole 32-bit words and at least 64 bytes are read in place, one run per
/// row: c = 24 and 64 (u8 and bf16), c = 12 (bf16). The others (c = 5, 13, the
/// 3-channel stem, short rows) are gathered whole.
constexpr LowpConvCase kLowpConvCases[] = {
    {2, 7, 9, 5, 19, 3, 1, 1},  {1, 8, 11, 13, 33, 3, 2, 1}, {1, 15, 13, 3, 64, 7, 2, 3},
    {2, 7, 9, 8, 19, 3, 1, 1},  {1, 10, 9, 12, 40, 3, 2, 1}, {1, 9, 8, 4, 17, 5, 1, 2},
    {1, 6, 5, 64, 70, 3, 1, 1}, {2, 9, 7, 6, 50, 1, 2, 0},   {1, 5, 6, 70, 17, 1, 1, 0},
    {1, 7, 6, 2, 21, 3, 1, 1},  {2, 5, 7, 24, 20, 3, 2, 1}};

TEST_CASE("int8 convolutions through the u8 column sources equal the reference on im2col", "[lowp][int8]") {
  if (!resnet::precision_available(Precision::int8)) LOWP_SKIP(Precision::int8);
  unsigned seed = 1300;
  for (const LowpConvCase& cc : kLowpConvCases) {
    INFO(cc);
    const LowpIndex oh = cc.oh(), ow = cc.ow(), kk = cc.depth(), n = cc.columns();
    const auto in = lowp_ints<std::uint8_t>(static_cast<std::size_t>(cc.batch * cc.h * cc.w * cc.c), seed++, 0, 255);
    const auto w = lowp_floats(static_cast<std::size_t>(cc.out_c * kk), seed++);
    const QuantizedWeights q = resnet::kernels::quantize_weights_per_channel(w.data(), cc.out_c, kk, kk);
    const resnet::kernels::PackedInt8Weights packed(q, cc.out_c, kk);
    const std::uint8_t zp = 93;
    Int8Epilogue epi;
    epi.input = {0.04f, zp};
    epi.relu = true;
    const QuantParams out_q{0.3f, 0};
    std::vector<std::uint8_t> got(static_cast<std::size_t>(n * cc.out_c)), want(got.size());
    std::vector<std::uint8_t> scratch(static_cast<std::size_t>(resnet::kernels::gemm_int8_scratch_bytes(kk)), 0xEE);
    if (cc.k == 1) {
      const resnet::kernels::U8PixelColumns src{in.data(), cc.h, cc.w, cc.c, oh, ow, cc.stride};
      resnet::kernels::gemm_int8(packed, src, n, epi, got.data(), cc.out_c, out_q, nullptr);
    } else {
      const resnet::kernels::U8PatchColumns src{in.data(), cc.h, cc.w, cc.c, cc.k, cc.stride, cc.pad, oh, ow, zp};
      resnet::kernels::gemm_int8(packed, src, n, epi, got.data(), cc.out_c, out_q, scratch.data());
    }
    const auto cols = lowp_im2col(in, cc.batch, cc.h, cc.w, cc.c, cc.k, cc.stride, cc.pad, zp);
    resnet::kernels::gemm_int8_reference(q, cc.out_c, kk, cols.data(), kk, n, epi, nullptr, want.data(), cc.out_c, out_q);
    CHECK(got == want);
  }
}

TEST_CASE("bf16 convolutions through the bf16 column sources equal the reference on im2col", "[lowp][bf16]") {
  if (!resnet::precision_available(Precision::bf16)) LOWP_SKIP(Precision::bf16);
  unsigned seed = 1700;
  for (const LowpConvCase& cc : kLowpConvCases) {
    INFO(cc);
    const LowpIndex oh = cc.oh(), ow = cc.ow(), kk = cc.depth(), n = cc.columns();
    const auto x = lowp_floats(static_cast<std::size_t>(cc.batch * cc.h * cc.w * cc.c), seed++);
    std::vector<std::uint16_t> in(x.size());
    std::vector<float> in_f(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      in[i] = resnet::kernels::to_bf16_bits(x[i]);
      in_f[i] = resnet::kernels::bf16_to_float(in[i]);
    }
    const auto w = lowp_floats(static_cast<std::size_t>(cc.out_c * kk), seed++);
    const resnet::kernels::PackedBf16Weights packed(w.data(), cc.out_c, kk, kk);
    Bf16Epilogue epi;
    epi.relu = true;
    std::vector<float> got(static_cast<std::size_t>(n * cc.out_c)), want(got.size());
    std::vector<float> scratch(static_cast<std::size_t>(resnet::kernels::gemm_bf16_scratch_floats(kk)));
    if (cc.k == 1)
      resnet::kernels::gemm_bf16(packed, resnet::kernels::Bf16PixelColumns{in.data(), cc.h, cc.w, cc.c, oh, ow, cc.stride},
                                 n, epi, got.data(), cc.out_c, scratch.data());
    else
      resnet::kernels::gemm_bf16(
          packed, resnet::kernels::Bf16PatchColumns{in.data(), cc.h, cc.w, cc.c, cc.k, cc.stride, cc.pad, oh, ow, 0}, n,
          epi, got.data(), cc.out_c, scratch.data());
    const auto cols = lowp_im2col(in_f, cc.batch, cc.h, cc.w, cc.c, cc.k, cc.stride, cc.pad, 0.0f);
    resnet::kernels::gemm_bf16_reference(w.data(), cc.out_c, kk, kk, cols.data(), kk, n, epi, want.data(), cc.out_c);
    CHECK(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("a GEMM that must copy columns and has no scratch throws instead of writing through null", "[lowp]") {
  const std::vector<std::uint8_t> in8(3 * 3 * 4, 7);
  const std::vector<std::uint16_t> in16(3 * 3 * 4, 0x3F80);
  const std::vector<float> in32(3 * 3 * 4, 1.0f), w(5 * 36, 0.5f);
  std::vector<float> out(5 * 9);
  if (resnet::precision_available(Precision::int8)) {
    const auto packed = resnet::kernels::PackedInt8Weights::quantize(w.data(), 5, 36, 36);
    const resnet::kernels::U8PatchColumns src{in8.data(), 3, 3, 4, 3, 1, 1, 3, 3, 0};  // every window crosses the border
    CHECK(test_support::kind_of([&] { resnet::kernels::gemm_int8(packed, src, 9, Int8Epilogue{}, out.data(), 5, nullptr); }) ==
          resnet::ErrorKind::invalid_argument);
  }
  if (resnet::precision_available(Precision::bf16)) {
    const resnet::kernels::PackedBf16Weights packed(w.data(), 5, 36, 36);
    const resnet::kernels::Bf16PatchColumns src{in16.data(), 3, 3, 4, 3, 1, 1, 3, 3, 0};
    CHECK(test_support::kind_of([&] { resnet::kernels::gemm_bf16(packed, src, 9, Bf16Epilogue{}, out.data(), 5, nullptr); }) ==
          resnet::ErrorKind::invalid_argument);
    CHECK(test_support::kind_of([&] {
            resnet::kernels::gemm_bf16(packed, resnet::kernels::DenseColumnsOf<float>{in32.data(), 36}, 1, Bf16Epilogue{},
                                       out.data(), 5, nullptr);
          }) == resnet::ErrorKind::invalid_argument);
  }
}

TEST_CASE("bf16 GEMM reads bf16 activations in place and writes bf16 as the fp32 path rounds", "[lowp][bf16]") {
  if (!resnet::precision_available(Precision::bf16)) LOWP_SKIP(Precision::bf16);
  const LowpIndex shapes[][3] = {{17, 67, 13}, {50, 64, 70}, {33, 1, 9}, {70, 31, 523}, {48, 2, 8}};
  unsigned seed = 1900;
  for (const auto& shape : shapes) {
    const LowpIndex m = shape[0], k = shape[1], n = shape[2], ldb = k + 3, ldc = m + 2;
    INFO("M=" << m << " K=" << k << " N=" << n);
    const auto a = lowp_floats(static_cast<std::size_t>(m * k), seed++);
    const auto b = lowp_floats(static_cast<std::size_t>(ldb * n), seed++);
    std::vector<std::uint16_t> b16(b.size());
    for (std::size_t i = 0; i < b.size(); ++i) b16[i] = resnet::kernels::to_bf16_bits(b[i]);
    const auto bias = lowp_floats(static_cast<std::size_t>(m), seed++);
    const resnet::kernels::PackedBf16Weights packed(a.data(), m, k, k);
    Bf16Epilogue epi;
    epi.bias = bias.data();
    std::vector<float> scratch(static_cast<std::size_t>(resnet::kernels::gemm_bf16_scratch_floats(k)));
    std::vector<float> from_f32(static_cast<std::size_t>(ldc * n), -7.0f), from_b16(from_f32);
    resnet::kernels::gemm_bf16(packed, b.data(), ldb, n, epi, from_f32.data(), ldc, scratch.data());
    resnet::kernels::gemm_bf16(packed, b16.data(), ldb, n, epi, from_b16.data(), ldc, scratch.data());
    CHECK(std::memcmp(from_f32.data(), from_b16.data(), from_f32.size() * sizeof(float)) == 0);
    std::vector<std::uint16_t> out16(from_f32.size(), 0xBEEF);
    resnet::kernels::gemm_bf16(packed, resnet::kernels::DenseColumnsOf<float>{b.data(), ldb}, n, epi,
                               out16.data(), ldc, scratch.data());
    std::size_t wrong = 0;
    for (LowpIndex j = 0; j < n; ++j)
      for (LowpIndex i = 0; i < ldc; ++i) {
        const std::size_t at = static_cast<std::size_t>(j * ldc + i);
        wrong += out16[at] != (i < m ? resnet::kernels::to_bf16_bits(from_f32[at]) : std::uint16_t(0xBEEF));
      }
    CHECK(wrong == 0);
  }
}

TEST_CASE("int8 GEMM keeps K * 255 * 128 in int32 at the largest K", "[lowp][int8]") {
  if (!resnet::precision_available(Precision::int8)) LOWP_SKIP(Precision::int8);
  // Every product at its extreme: u8 255 x s8 -128 summed over the deepest ResNet layer.
  const LowpIndex m = 17, k = 4608, n = 3;
  QuantizedWeights q;
  q.values.assign(static_cast<std::size_t>(m * k), -128);
  q.scales.assign(static_cast<std::size_t>(m), 1.0f);
  const resnet::kernels::PackedInt8Weights packed(q, m, k);
  const std::vector<std::uint8_t> b(static_cast<std::size_t>(k * n), 255);
  Int8Epilogue epi;
  epi.input = {1.0f, 0};
  std::vector<float> c(static_cast<std::size_t>(m * n));
  resnet::kernels::gemm_int8(packed, b.data(), k, n, epi, c.data(), m);
  for (float x : c) CHECK(x == static_cast<float>(-128LL * 255 * k));
  epi.input.zero_point = 255;  // every (a - za) is 0: the correction cancels the whole sum exactly
  resnet::kernels::gemm_int8(packed, b.data(), k, n, epi, c.data(), m);
  for (float x : c) CHECK(x == 0.0f);
}

/// B stored row-major (k, j at values[k * n + j]): every column is gathered into the
/// GEMM's buffer, as a padded im2col window is.
struct LowpRowMajorColumns {
  const float* values;
  LowpIndex n;
  const float* segment(LowpIndex col, LowpIndex k0, LowpIndex len, float* tmp) const {
    for (LowpIndex t = 0; t < len; ++t) tmp[t] = values[(k0 + t) * n + col];
    return tmp;
  }
};

TEST_CASE("bf16 GEMM over a column source that copies equals the dense one", "[lowp][bf16]") {
  if (!resnet::precision_available(Precision::bf16)) LOWP_SKIP(Precision::bf16);
  const LowpIndex m = 37, k = 45, n = 523;  // more than one block of columns
  const auto a = lowp_floats(static_cast<std::size_t>(m * k), 71);
  const auto b = lowp_floats(static_cast<std::size_t>(k * n), 72);
  std::vector<float> b_rows(b.size());
  for (LowpIndex j = 0; j < n; ++j)
    for (LowpIndex t = 0; t < k; ++t) b_rows[static_cast<std::size_t>(t * n + j)] = b[static_cast<std::size_t>(j * k + t)];
  const resnet::kernels::PackedBf16Weights packed(a.data(), m, k, k);
  std::vector<float> scratch(static_cast<std::size_t>(resnet::kernels::gemm_bf16_scratch_floats(k)));
  std::vector<float> dense(static_cast<std::size_t>(m * n)), gathered(dense.size());
  Bf16Epilogue epi;
  epi.relu = true;
  resnet::kernels::gemm_bf16(packed, b.data(), k, n, epi, dense.data(), m, scratch.data());
  resnet::kernels::gemm_bf16(packed, LowpRowMajorColumns{b_rows.data(), n}, n, epi, gathered.data(), m, scratch.data());
  CHECK(std::memcmp(dense.data(), gathered.data(), dense.size() * sizeof(float)) == 0);
}

TEST_CASE("bf16 GEMM equals the reference bit for bit on odd shapes and ResNet-50 layer shapes", "[lowp][bf16]") {
  if (!resnet::precision_available(Precision::bf16)) LOWP_SKIP(Precision::bf16);
  unsigned seed = 500;
  for (const LowpCase& c : lowp_odd_cases()) check_bf16_case(c, seed++);
  for (const LowpCase& c : lowp_resnet50_cases()) check_bf16_case(c, seed++);
}

}  // namespace lowp_kernels_test

#undef LOWP_SKIP
