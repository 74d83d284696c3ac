// Reduced-precision models (issue 13): ConvKernel at Precision::bf16 against the plain
// reference convolution on bf16-rounded weights and inputs, and the int8 ConvKernel against
// the reference GEMM on the quantized input's plainly gathered windows (odd shapes,
// residual, ReLU, threads); PyTorch's activation qparams; which layers LowpLayers gives to
// bf16, and the precision checks of ModelOptions.
// Accuracy on real weights is tests/lowp.cmake's (CIFAR) and gen_torchvision_bf16's.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "resnet/kernels/conv2d.hpp"
#include "resnet/kernels/reference.hpp"
#include "resnet/kernels/reference_lowp.hpp"
#include "resnet/resnet.hpp"

#include "error_kind.hpp"
#include "resnet50_conv_layers.hpp"
#include "skip.hpp"

namespace lowp_model_tests {

using resnet::Precision;
using resnet::LowpLayers;
using resnet::kernels::ConvKernel;
using resnet::kernels::ConvShape;

std::vector<float> rounded_to_bf16(std::vector<float> v) {
  for (float& x : v) x = resnet::kernels::bf16_to_float(resnet::kernels::to_bf16_bits(x));
  return v;
}

struct Bf16Case {
  ConvShape s;
  int n, h, w;
  bool residual, relu;
};

/// Largest |out - ref| / (1 + |ref|): the reference sums the same bf16 products in
/// another order (VDPBF16PS rounds after each pair), so fp32 rounding is all that differs.
double bf16_conv_error(const Bf16Case& c, int threads, std::string* name) {
  const ConvShape& s = c.s;
  const int oh = s.out_side(c.h), ow = s.out_side(c.w);
  const auto weight = resnet50::random_vector(static_cast<std::size_t>(s.weight_count()), 11);
  const auto bias = resnet50::random_vector(static_cast<std::size_t>(s.out_c), 12);
  const auto in = resnet50::random_vector(static_cast<std::size_t>(c.n) * c.h * c.w * s.in_c, 13);
  const std::size_t out_size = static_cast<std::size_t>(c.n) * oh * ow * s.out_c;
  const auto residual = resnet50::random_vector(out_size, 14);
  const float* fused = c.residual ? residual.data() : nullptr;
  std::vector<float> expected(out_size);
  resnet::kernels::conv2d_reference(s, rounded_to_bf16(weight).data(), bias.data(), rounded_to_bf16(in).data(), c.n,
                                    c.h, c.w, expected.data(), fused, c.relu);
  ConvKernel kernel(s, weight, bias, Precision::bf16, LowpLayers::all);
  *name = kernel.algorithm_name();
  resnet::ThreadPool pool(threads);
  std::vector<float> scratch(kernel.scratch_floats(c.n, c.h, c.w, threads), std::nanf(""));
  std::vector<float> out(out_size, std::nanf(""));
  kernel.run(in.data(), c.n, c.h, c.w, out.data(), fused, c.relu, scratch.data(), pool);
  double worst = 0;
  for (std::size_t i = 0; i < out_size; ++i) {
    if (std::isnan(out[i])) return 1e9;
    worst = std::max(worst, std::abs(double(out[i]) - expected[i]) / (1.0 + std::abs(double(expected[i]))));
  }
  return worst;
}

TEST_CASE("bf16 ConvKernel equals the reference on bf16-rounded operands", "[lowp][bf16][conv]") {
  if (!resnet::precision_available(Precision::bf16))
    RESNET_SKIP(resnet::missing_for(Precision::bf16, resnet::cpu_features(), resnet::build_features()));
  const Bf16Case cases[] = {
      {{13, 24, 1, 1, 0, 1}, 2, 7, 9, true, true},     // 1x1, odd channels, 126 columns
      {{16, 70, 1, 2, 0, 1}, 1, 9, 11, true, false},   // strided 1x1
      {{13, 17, 3, 1, 1, 1}, 2, 7, 9, false, true},    // 3x3 through im2col, odd K = 117
      {{32, 48, 3, 2, 1, 1}, 1, 15, 13, false, true},  // 3x3 stride 2
      {{3, 64, 7, 2, 3, 1}, 1, 23, 19, false, true},   // the stem's shape, K = 147
      {{64, 40, 1, 1, 0, 1}, 1, 2, 3, true, true},     // fewer columns than threads x 8
  };
  for (const Bf16Case& c : cases)
    for (int threads : {1, 3}) {
      std::string name;
      const double err = bf16_conv_error(c, threads, &name);
      INFO(name << " in " << c.s.in_c << " out " << c.s.out_c << " k " << c.s.kernel << " stride " << c.s.stride
                << " threads " << threads);
      CHECK(name.rfind("bf16_", 0) == 0);
      CHECK(err < 2e-5);
    }
}

std::vector<std::uint16_t> bf16_bits_of(const std::vector<float>& v) {
  std::vector<std::uint16_t> bits(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) bits[i] = resnet::kernels::to_bf16_bits(v[i]);
  return bits;
}

TEST_CASE("bf16 maps at a conv's ends give run()'s values, bit for bit", "[lowp][bf16][conv]") {
  // A bf16 model hands bf16 maps between its convs (run_bf16_maps), also to and from the
  // stride-1 3x3s it keeps on fp32 Winograd: a bf16 input must give the output of the fp32
  // input it rounds (a bf16 conv) or widens to (Winograd), a bf16 residual that of its
  // widened values, and a bf16 output run()'s output rounded.
  if (!resnet::precision_available(Precision::bf16))
    RESNET_SKIP(resnet::missing_for(Precision::bf16, resnet::cpu_features(), resnet::build_features()));
  namespace k = resnet::kernels;
  struct Case {
    ConvShape s;
    int n, h, w;
    const char* name;  // what LowpLayers::measured gives the shape
  };
  const Case cases[] = {
      {{24, 40, 1, 1, 0, 1}, 2, 7, 9, "bf16_gemm_1x1"},
      {{13, 24, 1, 1, 0, 1}, 1, 5, 6, "bf16_gemm_1x1"},  // odd K: copied columns
      {{16, 70, 1, 2, 0, 1}, 1, 9, 11, "bf16_gemm_1x1_strided"},
      {{32, 48, 3, 2, 1, 1}, 1, 15, 13, "bf16_im2col_gemm"},
      {{3, 64, 7, 2, 3, 1}, 1, 23, 19, "bf16_im2col_gemm"},  // the stem, K = 147
      {{24, 40, 3, 1, 1, 1}, 2, 9, 11, "winograd_4x4"},
      {{20, 36, 3, 1, 1, 1}, 1, 7, 6, "winograd_4x4"},      // partial vectors
      {{264, 250, 3, 1, 1, 1}, 1, 5, 3, "bf16_im2col_gemm"},  // F(2x2) in fp32: bf16 in a bf16 model
  };
  for (const Case& c : cases)
    for (int threads : {1, 3}) {
      const ConvShape& s = c.s;
      INFO(c.name << " in " << s.in_c << " out " << s.out_c << " threads " << threads);
      const auto weight = resnet50::random_vector(static_cast<std::size_t>(s.weight_count()), 41);
      const auto bias = resnet50::random_vector(static_cast<std::size_t>(s.out_c), 42);
      const ConvKernel kernel(s, weight, bias, Precision::bf16, LowpLayers::measured);
      CHECK(kernel.algorithm_name() == c.name);
      CHECK(kernel.takes_bf16());
      const std::size_t out_size = static_cast<std::size_t>(c.n) * s.out_side(c.h) * s.out_side(c.w) * s.out_c;
      // The input and residual as bf16 values, so that their fp32 twins are exact.
      const auto in = rounded_to_bf16(resnet50::random_vector(static_cast<std::size_t>(c.n) * c.h * c.w * s.in_c, 43));
      const auto residual = rounded_to_bf16(resnet50::random_vector(out_size, 44));
      const auto in_bits = bf16_bits_of(in), residual_bits = bf16_bits_of(residual);
      resnet::ThreadPool pool(threads);
      std::vector<float> scratch(kernel.scratch_floats(c.n, c.h, c.w, threads), std::nanf(""));
      std::vector<float> expected(out_size);
      kernel.run(in.data(), c.n, c.h, c.w, expected.data(), residual.data(), true, scratch.data(), pool);

      std::vector<std::uint16_t> out_bits(out_size + 5, 0xABCD);  // past the end: untouched
      ConvKernel::Bf16Maps to_bf16;
      to_bf16.out = out_bits.data();
      kernel.run_bf16_maps(in.data(), c.n, c.h, c.w, nullptr, residual.data(), true, to_bf16, scratch.data(), pool);
      const auto expected_bits = bf16_bits_of(expected);
      CHECK(std::equal(expected_bits.begin(), expected_bits.end(), out_bits.begin()));
      CHECK(std::count(out_bits.begin() + static_cast<std::ptrdiff_t>(out_size), out_bits.end(), 0xABCD) == 5);
      ConvKernel::Bf16Maps from_bf16;
      from_bf16.in = in_bits.data();
      from_bf16.residual = residual_bits.data();
      std::vector<float> out(out_size, std::nanf(""));
      kernel.run_bf16_maps(nullptr, c.n, c.h, c.w, out.data(), nullptr, true, from_bf16, scratch.data(), pool);
      std::size_t differ = 0;
      for (std::size_t i = 0; i < out_size; ++i) differ += !(out[i] == expected[i]);
      CHECK(differ == 0);
      ConvKernel::Bf16Maps all = from_bf16;
      std::fill(out_bits.begin(), out_bits.end(), std::uint16_t{0xABCD});
      all.out = out_bits.data();
      kernel.run_bf16_maps(nullptr, c.n, c.h, c.w, nullptr, nullptr, true, all, scratch.data(), pool);
      CHECK(std::equal(expected_bits.begin(), expected_bits.end(), out_bits.begin()));
    }

  // An fp32 model's convs (Winograd too) take no bf16 maps, and say so.
  const ConvShape pointwise{8, 16, 1, 1, 0, 1}, winograd{16, 16, 3, 1, 1, 1};
  const ConvKernel fp32_winograd(winograd, resnet50::random_vector(16 * 9 * 16, 46), {});
  const ConvKernel bf16_1x1(pointwise, resnet50::random_vector(128, 45), {}, Precision::bf16);
  CHECK(fp32_winograd.algorithm_name() == "winograd_4x4");
  CHECK_FALSE(fp32_winograd.takes_bf16());
  resnet::ThreadPool pool(1);
  std::vector<float> scratch(fp32_winograd.scratch_floats(1, 4, 4, 1) + bf16_1x1.scratch_floats(1, 4, 4, 1));
  std::vector<float> in(4 * 4 * 16), out(4 * 4 * 16);
  std::vector<std::uint16_t> bits(4 * 4 * 16);
  std::string message;
  const auto run = [&](const ConvKernel& kernel, ConvKernel::Bf16Maps maps, const float* residual = nullptr) {
    kernel.run_bf16_maps(in.data(), 1, 4, 4, out.data(), residual, false, maps, scratch.data(), pool);
  };
  ConvKernel::Bf16Maps bf16_out, bf16_residual;
  bf16_out.out = bits.data();
  bf16_residual.residual = bits.data();
  CHECK(test_support::kind_of([&] { run(fp32_winograd, bf16_out); }, &message) == resnet::ErrorKind::invalid_argument);
  CHECK(message.find("bf16 maps for a conv that computes in fp32 (only a bf16 model's convs take them)") !=
        std::string::npos);
  CHECK(test_support::kind_of([&] { run(bf16_1x1, bf16_residual, out.data()); }, &message) ==
        resnet::ErrorKind::invalid_argument);
  CHECK(message.find("two residuals") != std::string::npos);
}

TEST_CASE("Winograd's bf16 output rounds special values as to_bf16_bits", "[lowp][bf16][conv]") {
  // store_bf16 rounds in integer steps on vector registers; VCVTNEPS2BF16 (to_bf16_bits)
  // is what the bf16 conv reading its output would have done to the fp32 value.
  namespace d = resnet::kernels::detail;
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  const float values[16] = {0.0f, -0.0f, 1.0f + 0x1p-8f, 1.0f + 0x1p-7f + 0x1p-8f, 0x1p-130f, -0x1p-140f,
                            inf, -inf, nan, -nan, std::numeric_limits<float>::max(), -3.3895314e38f,
                            1.17549435e-38f, 0.1f, -2.5f + 0x1p-10f, 65504.0f};
  d::Vec16 v;
  std::memcpy(&v, values, sizeof v);
  for (int n : {16, 5}) {
    std::uint16_t bits[17];
    std::fill(std::begin(bits), std::end(bits), std::uint16_t{0x5A5A});
    d::store_bf16(bits, v, n);
    for (int i = 0; i < n; ++i) {
      INFO("value " << i << " " << values[i]);
      CHECK(bits[i] == resnet::kernels::to_bf16_bits(values[i]));
    }
    CHECK(bits[n] == 0x5A5A);
  }
}

TEST_CASE("The max pool over bf16 maps gives the fp32 pool's values, bit for bit", "[lowp][bf16]") {
  // A bf16 model's stem hands its max pool bf16 values: the max of the widened values,
  // written back as bf16 or as fp32, must be what an fp32 pool makes of the same values
  // (a plain loop here: a value replaces the maximum when it is greater or NaN, as in
  // PyTorch), NaN and the padding's start value included. 37 channels: two vectors and a
  // scalar tail.
  namespace d = resnet::detail;
  const int rows = 3, cols = 3, C = 37;
  auto values = rounded_to_bf16(resnet50::random_vector(static_cast<std::size_t>(rows * cols * C), 51));
  const float nan = std::nanf(""), inf = std::numeric_limits<float>::infinity();
  values[5] = nan, values[C + 20] = -nan, values[2 * C + 36] = nan, values[7] = -inf, values[C + 8] = inf;
  values[3 * C + 1] = -0.0f, values[4 * C + 33] = 0x1p-126f;
  const auto bits = bf16_bits_of(values);
  for (float start : {-inf, 0.0f}) {
    std::vector<float> expected(C, start), widened(C);
    std::vector<std::uint16_t> narrow(C);
    for (int tap = 0; tap < rows * cols; ++tap)
      for (int c = 0; c < C; ++c) {
        const float x = values[static_cast<std::size_t>(tap * C + c)];
        float& best = expected[static_cast<std::size_t>(c)];
        if (x > best || std::isnan(x)) best = x;
      }
    d::max_of_window(bits.data(), rows, cols, static_cast<std::size_t>(cols) * C, C, start, widened.data());
    d::max_of_window(bits.data(), rows, cols, static_cast<std::size_t>(cols) * C, C, start, narrow.data());
    for (int c = 0; c < C; ++c) {
      INFO("start " << start << " channel " << c);
      std::uint32_t want, got;
      std::memcpy(&want, &expected[static_cast<std::size_t>(c)], 4);
      std::memcpy(&got, &widened[static_cast<std::size_t>(c)], 4);
      CHECK(got == want);
      CHECK(narrow[static_cast<std::size_t>(c)] == static_cast<std::uint16_t>(want >> 16));
      CHECK((want & 0xFFFFu) == 0u);  // the fp32 max is one of the bf16 values
    }
  }
}

struct Int8ConvCase {
  ConvShape s;
  int n, h, w;
  bool residual, relu;
  float clip;  // the calibrated range as a fraction of the input's: below 1, the u8 clamp is reached
};

/// The int8 ConvKernel's output and, separately, the reference's: the input quantized
/// value by value (quantize_u8), its windows gathered by plain loops with the zero point
/// as padding, the weights by quantize_weights_per_channel, and gemm_int8_reference over
/// those columns (the same epilogue, step by step: the two agree bit for bit).
enum class Int8Residual { fp32, fp32_in_place, u8 };  // in place: out is the residual itself

void int8_conv_outputs(const Int8ConvCase& c, int threads, Int8Residual mode, std::vector<float>& got,
                       std::vector<float>& expected, std::string* name) {
  const bool in_place = mode == Int8Residual::fp32_in_place;
  namespace k = resnet::kernels;
  const ConvShape& s = c.s;
  const int oh = s.out_side(c.h), ow = s.out_side(c.w);
  const long long depth = 1LL * s.kernel * s.kernel * s.in_c, columns = 1LL * c.n * oh * ow;
  const auto weight = resnet50::random_vector(static_cast<std::size_t>(s.weight_count()), 21);
  const auto bias = resnet50::random_vector(static_cast<std::size_t>(s.out_c), 22);
  auto in = resnet50::random_vector(static_cast<std::size_t>(c.n) * c.h * c.w * s.in_c, 23);
  for (float& x : in) x = 0.3f + 2.0f * x;  // [-1.7, 2.3]: not symmetric, so the zero point is not 128
  const std::size_t out_size = static_cast<std::size_t>(columns) * s.out_c;
  const auto residual = resnet50::random_vector(out_size, 24);
  const k::QuantParams q = k::affine_u8_qparams(-1.7f * c.clip, 2.3f * c.clip);

  std::vector<std::uint8_t> qin(in.size()), cols(static_cast<std::size_t>(columns * depth));
  k::quantize_u8(in.data(), static_cast<k::LowpIndex>(in.size()), q, qin.data());
  std::size_t at = 0;
  for (int b = 0; b < c.n; ++b)
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox)
        for (int ky = 0; ky < s.kernel; ++ky)
          for (int kx = 0; kx < s.kernel; ++kx)
            for (int ci = 0; ci < s.in_c; ++ci) {
              const int y = oy * s.stride - s.pad + ky, x = ox * s.stride - s.pad + kx;
              const bool inside = y >= 0 && y < c.h && x >= 0 && x < c.w;
              cols[at++] = inside ? qin[((static_cast<std::size_t>(b) * c.h + y) * c.w + x) * s.in_c + ci]
                                  : static_cast<std::uint8_t>(q.zero_point);
            }
  const k::QuantizedWeights qw = k::quantize_weights_per_channel(weight.data(), s.out_c, depth, depth);
  k::Int8Epilogue epi;
  epi.input = q;
  epi.bias = bias.data();
  const k::QuantParams q_residual{0.013f, 90};  // a u8 residual: [-1.17, 2.15]
  std::vector<std::uint8_t> residual_u8(out_size);
  k::quantize_u8(residual.data(), static_cast<k::LowpIndex>(out_size), q_residual, residual_u8.data());
  const bool u8 = c.residual && mode == Int8Residual::u8;
  epi.residual = c.residual && !u8 ? residual.data() : nullptr;
  epi.residual_u8 = u8 ? residual_u8.data() : nullptr;
  epi.residual_q = q_residual;
  epi.ldr = s.out_c;
  epi.relu = c.relu;
  expected.assign(out_size, 0.0f);
  k::gemm_int8_reference(qw, s.out_c, depth, cols.data(), depth, columns, epi, expected.data(), nullptr, s.out_c);

  ConvKernel kernel(s, weight, bias, q);
  *name = kernel.algorithm_name();
  resnet::ThreadPool pool(threads);
  std::vector<float> scratch(kernel.scratch_floats(c.n, c.h, c.w, threads), std::nanf(""));
  got.assign(out_size, std::nanf(""));
  if (u8) {
    ConvKernel::U8Maps maps;
    maps.residual = residual_u8.data();
    maps.residual_q = q_residual;
    kernel.run_int8(in.data(), c.n, c.h, c.w, got.data(), nullptr, c.relu, maps, scratch.data(), pool);
    return;
  }
  if (in_place && c.residual) got = residual;  // out may be the residual itself
  kernel.run(in.data(), c.n, c.h, c.w, got.data(), c.residual ? (in_place ? got.data() : residual.data()) : nullptr,
             c.relu, scratch.data(), pool);
}

TEST_CASE("int8 ConvKernel equals the reference convolution on the quantized operands", "[lowp][int8][conv]") {
  if (!resnet::precision_available(Precision::int8))
    RESNET_SKIP(resnet::missing_for(Precision::int8, resnet::cpu_features(), resnet::build_features()));
  const Int8ConvCase cases[] = {
      {{13, 24, 1, 1, 0, 1}, 2, 7, 9, true, true, 1.0f},      // 1x1 in place, odd channels, K = 13
      {{16, 70, 1, 2, 0, 1}, 1, 9, 11, true, false, 0.6f},    // strided 1x1, clamped inputs
      {{13, 17, 3, 1, 1, 1}, 2, 7, 9, false, true, 1.0f},     // 3x3 gathered windows, odd K = 117
      {{32, 48, 3, 2, 1, 1}, 1, 15, 13, true, true, 0.8f},    // 3x3 stride 2, window rows of 96 bytes in place
      {{64, 40, 3, 1, 1, 1}, 2, 5, 6, true, false, 1.0f},     // 3x3 stride 1, rows in place, residual, no ReLU
      {{3, 64, 7, 2, 3, 1}, 1, 23, 19, false, true, 1.0f},    // the stem's shape, K = 147
      {{3, 16, 3, 1, 1, 1}, 3, 8, 8, false, true, 1.0f},      // CIFAR's stem, K = 27
      {{64, 40, 1, 1, 0, 1}, 1, 2, 3, true, true, 0.5f},      // fewer columns than threads x 8
      {{40, 300, 1, 1, 0, 1}, 1, 7, 7, true, true, 1.0f},     // 7x7: 3 threads split the 7 weight panels
      {{24, 290, 3, 1, 1, 1}, 1, 5, 7, true, false, 1.0f},    // the same with windows, rows past M masked
  };
  for (const Int8ConvCase& c : cases)
    for (int threads : {1, 3})
      for (Int8Residual mode : {Int8Residual::fp32, Int8Residual::fp32_in_place, Int8Residual::u8}) {
        if (mode != Int8Residual::fp32 && !c.residual) continue;
        std::vector<float> got, expected;
        std::string name;
        int8_conv_outputs(c, threads, mode, got, expected, &name);
        INFO(name << " in " << c.s.in_c << " out " << c.s.out_c << " k " << c.s.kernel << " stride " << c.s.stride
                  << " " << c.n << "x" << c.h << "x" << c.w << " threads " << threads
                  << (mode == Int8Residual::fp32_in_place ? " in place" : mode == Int8Residual::u8 ? " u8 residual" : ""));
        CHECK(name.rfind("int8_", 0) == 0);
        std::size_t differ = 0;
        for (std::size_t i = 0; i < got.size(); ++i) differ += !(got[i] == expected[i]);
        CHECK(differ == 0);
      }
}

TEST_CASE("int8 ConvKernel with u8 maps at either end gives run()'s values, byte for byte", "[lowp][int8][conv]") {
  // A block's main path hands u8 maps from one int8 conv to the next (run_int8): the bytes
  // must be the ones the next conv's own quantize_u8_map would make of run()'s fp32 output.
  if (!resnet::precision_available(Precision::int8))
    RESNET_SKIP(resnet::missing_for(Precision::int8, resnet::cpu_features(), resnet::build_features()));
  namespace k = resnet::kernels;
  const int n = 2, h = 9, w = 11;
  // wide: 60 columns and 7 weight panels, which 3 threads split by panels.
  const ConvShape first{19, 24, 1, 1, 0, 1}, second{24, 20, 3, 1, 1, 1}, strided{24, 36, 3, 2, 1, 1},
      wide{24, 300, 3, 2, 1, 1};
  auto in = resnet50::random_vector(static_cast<std::size_t>(n) * h * w * first.in_c, 31);
  for (float& x : in) x = 0.3f + 2.0f * x;
  const k::QuantParams q_in = k::affine_u8_qparams(-1.7f, 2.3f), q_mid{0.02f, 0}, q_mid_shifted{0.03f, 17};
  const ConvKernel a(first, resnet50::random_vector(static_cast<std::size_t>(first.weight_count()), 32),
                     resnet50::random_vector(24, 33), q_in);
  for (const k::QuantParams& q_mid_case : {q_mid, q_mid_shifted})
    for (const ConvShape& next : {second, strided, wide})
      for (int threads : {1, 3}) {
        INFO("next conv k " << next.kernel << " stride " << next.stride << " zero point " << q_mid_case.zero_point
                            << " threads " << threads);
        const ConvKernel b(next, resnet50::random_vector(static_cast<std::size_t>(next.weight_count()), 34),
                           resnet50::random_vector(static_cast<std::size_t>(next.out_c), 35), q_mid_case);
        resnet::ThreadPool pool(threads);
        const std::size_t mid_size = static_cast<std::size_t>(n) * h * w * first.out_c;
        const std::size_t out_size = static_cast<std::size_t>(n) * next.out_side(h) * next.out_side(w) * next.out_c;
        std::vector<float> scratch(std::max(a.scratch_floats(n, h, w, threads), b.scratch_floats(n, h, w, threads)));
        // fp32 maps between the two, as run() does them.
        std::vector<float> mid(mid_size), out(out_size);
        a.run(in.data(), n, h, w, mid.data(), nullptr, true, scratch.data(), pool);
        b.run(mid.data(), n, h, w, out.data(), nullptr, true, scratch.data(), pool);
        std::vector<std::uint8_t> mid_expected(mid_size), out_expected(out_size);
        k::quantize_u8(mid.data(), static_cast<k::LowpIndex>(mid_size), q_mid_case, mid_expected.data());
        k::quantize_u8(out.data(), static_cast<k::LowpIndex>(out_size), q_mid, out_expected.data());
        // u8 maps: a writes u8, b reads it and writes fp32, then u8.
        std::vector<std::uint8_t> mid_u8(mid_size, 0xAB), out_u8(out_size, 0xAB);
        std::vector<float> out_from_u8(out_size, std::nanf(""));
        ConvKernel::U8Maps to_u8;
        to_u8.out = mid_u8.data();
        to_u8.out_q = q_mid_case;
        a.run_int8(in.data(), n, h, w, nullptr, nullptr, true, to_u8, scratch.data(), pool);
        CHECK(mid_u8 == mid_expected);
        ConvKernel::U8Maps from_u8;
        from_u8.in = mid_u8.data();
        b.run_int8(nullptr, n, h, w, out_from_u8.data(), nullptr, true, from_u8, scratch.data(), pool);
        std::size_t differ = 0;
        for (std::size_t i = 0; i < out_size; ++i) differ += !(out_from_u8[i] == out[i]);
        CHECK(differ == 0);
        ConvKernel::U8Maps both = from_u8;
        both.out = out_u8.data();
        both.out_q = q_mid;
        b.run_int8(nullptr, n, h, w, nullptr, nullptr, true, both, scratch.data(), pool);
        CHECK(out_u8 == out_expected);
      }
  std::string message;
  resnet::ThreadPool pool(1);
  std::vector<float> scratch(a.scratch_floats(n, h, w, 1)), out(static_cast<std::size_t>(n) * h * w * 24);
  std::vector<std::uint8_t> bytes(out.size());
  const auto run_to_u8 = [&](const ConvKernel& kernel, k::QuantParams q) {
    ConvKernel::U8Maps u8;
    u8.out = bytes.data();
    u8.out_q = q;
    kernel.run_int8(in.data(), n, h, w, nullptr, nullptr, false, u8, scratch.data(), pool);
  };
  CHECK(test_support::kind_of([&] { run_to_u8(a, {0.0f, 0}); }, &message) == resnet::ErrorKind::invalid_argument);
  CHECK(message.find("u8 output scale") != std::string::npos);
  CHECK(test_support::kind_of([&] { run_to_u8(a, {0.1f, 300}); }, &message) == resnet::ErrorKind::invalid_argument);
  const ConvKernel fp32_kernel(first, resnet50::random_vector(static_cast<std::size_t>(first.weight_count()), 32), {});
  CHECK(fp32_kernel.int8_input() == nullptr);
  CHECK(test_support::kind_of([&] { run_to_u8(fp32_kernel, q_mid); }, &message) == resnet::ErrorKind::invalid_argument);
  CHECK(message.find("computes in fp32, not int8") != std::string::npos);
}

TEST_CASE("int8 ConvKernel: bad quantization is an Error, grouped convs stay fp32", "[lowp][int8][conv]") {
  if (!resnet::precision_available(Precision::int8)) {
    std::string message;
    CHECK(test_support::kind_of([] { ConvKernel({8, 8, 1, 1, 0, 1}, std::vector<float>(64, 0.1f), {}, resnet::kernels::QuantParams{}); },
                                &message) == resnet::ErrorKind::unsupported_cpu);
    return;
  }
  const std::vector<float> w(64, 0.1f);
  std::string message;
  CHECK(test_support::kind_of([&] { ConvKernel({8, 8, 1, 1, 0, 1}, w, {}, resnet::kernels::QuantParams{0.0f, 0}); },
                              &message) == resnet::ErrorKind::invalid_argument);
  CHECK(message.find("positive finite scale") != std::string::npos);
  CHECK(test_support::kind_of([&] { ConvKernel({8, 8, 1, 1, 0, 1}, w, {}, resnet::kernels::QuantParams{0.1f, 256}); },
                              &message) == resnet::ErrorKind::invalid_argument);
  CHECK(test_support::kind_of([&] { ConvKernel({8, 8, 1, 1, 0, 1}, w, {}, Precision::int8); }, &message) ==
        resnet::ErrorKind::invalid_argument);
  CHECK(message.find("needs the input's quantization") != std::string::npos);
  const auto grouped = resnet50::random_vector(128 * 9 * 4, 3);
  CHECK(ConvKernel({128, 128, 3, 1, 1, 32}, grouped, {}, resnet::kernels::QuantParams{0.1f, 0}).precision() ==
        Precision::fp32);
  CHECK(ConvKernel({8, 8, 1, 1, 0, 1}, w, {}, resnet::kernels::QuantParams{0.1f, 3}).precision() == Precision::int8);
}

TEST_CASE("affine_u8_qparams follows PyTorch's MinMaxObserver (quint8, reduce_range=False)", "[lowp][int8]") {
  // Expected values: torch 1.13 MinMaxObserver(dtype=torch.quint8) after observing a
  // tensor holding min and max, calculate_qparams().
  struct Row {
    float min, max, scale;
    int zero_point;
  };
  const Row rows[] = {
      {0.0f, 6.0f, 0.0235294122f, 0},         // post-ReLU
      {-2.1179039f, 2.64f, 0.018658448f, 114},  // a normalised image
      {0.5f, 3.0f, 0.0117647061f, 0},         // widened to hold 0
      {-1.0f, -0.25f, 0.00392156886f, 255},    // all negative
      {0.0f, 0.0f, 1.1920929e-07f, 0},        // nothing observed but zeros: eps
  };
  for (const Row& r : rows) {
    const resnet::kernels::QuantParams q = resnet::kernels::affine_u8_qparams(r.min, r.max);
    INFO(r.min << " .. " << r.max);
    CHECK(q.scale == r.scale);
    CHECK(q.zero_point == r.zero_point);
  }
  std::string message;
  CHECK(test_support::kind_of([] { resnet::kernels::affine_u8_qparams(1.0f, 0.0f); }, &message) ==
        resnet::ErrorKind::invalid_argument);
  CHECK(test_support::kind_of([] { resnet::kernels::affine_u8_qparams(0.0f, INFINITY); }, &message) ==
        resnet::ErrorKind::invalid_argument);
}

TEST_CASE("LowpLayers::measured keeps stride-1 3x3 convs on Winograd F(4x4) in fp32", "[lowp][bf16][conv]") {
  const auto runs = [](const ConvShape& s, LowpLayers l) { return ConvKernel::runs_bf16(s, l); };
  CHECK_FALSE(runs({64, 64, 3, 1, 1, 1}, LowpLayers::measured));     // F(4x4)
  CHECK_FALSE(runs({256, 256, 3, 1, 1, 1}, LowpLayers::measured));   // F(4x4)
  CHECK(runs({512, 512, 3, 1, 1, 1}, LowpLayers::measured));         // F(2x2) at 7x7: bf16 won
  CHECK(runs({128, 128, 3, 2, 1, 1}, LowpLayers::measured));         // stride 2
  CHECK(runs({64, 256, 1, 1, 0, 1}, LowpLayers::measured));
  CHECK(runs({3, 64, 7, 2, 3, 1}, LowpLayers::measured));            // the stem
  CHECK(runs({64, 64, 3, 1, 1, 1}, LowpLayers::all));
  CHECK_FALSE(runs({128, 128, 3, 1, 1, 32}, LowpLayers::all));       // grouped: fp32
  if (!resnet::precision_available(Precision::bf16)) return;
  const auto w = resnet50::random_vector(64 * 9 * 64, 1);
  CHECK(ConvKernel({64, 64, 3, 1, 1, 1}, w, {}, Precision::bf16).precision() == Precision::fp32);
  CHECK(ConvKernel({64, 64, 3, 1, 1, 1}, w, {}, Precision::bf16, LowpLayers::all).precision() == Precision::bf16);
  CHECK(ConvKernel({64, 64, 3, 1, 1, 1}, w, {}).algorithm_name() ==
        ConvKernel({64, 64, 3, 1, 1, 1}, w, {}, Precision::bf16).algorithm_name());
}

/// The largest |fp32 - lowp| over the largest |fp32| of a reduced-precision model's output
/// and its fp32 twin's (same seed); checks that fp32 built once more is the same bit for
/// bit (the reduced-precision model left fp32 untouched).
double gap_to_fp32(const resnet::Tensor& fp32, const resnet::Tensor& lowp, const resnet::Tensor& fp32_again) {
  double worst = 0, scale = 0;
  std::size_t changed = 0;
  for (std::size_t i = 0; i < fp32.size(); ++i) {
    changed += !(fp32.data()[i] == fp32_again.data()[i]);
    worst = std::max(worst, double(std::abs(fp32.data()[i] - lowp.data()[i])));
    scale = std::max(scale, double(std::abs(fp32.data()[i])));
  }
  CHECK(changed == 0);
  return worst / scale;
}

/// The model's output with its reduced-precision maps switched off: while an observer
/// watches the conv inputs (calibration), every conv takes and gives fp32 maps. *seen: how
/// many conv inputs the observer saw.
template <class Model>
resnet::Tensor forward_with_fp32_maps(const Model& model, const resnet::Tensor& x, resnet::Workspace& ws, int* seen) {
  struct Counting : resnet::ConvInputObserver {
    int seen = 0;
    void conv_input(int, const float*, std::size_t, int) override { ++seen; }
  } counting;
  ws.observe_conv_inputs(&counting);
  resnet::Tensor out = model.forward(x, ws);
  ws.observe_conv_inputs(nullptr);
  *seen = counting.seen;
  return out;
}

TEST_CASE("ModelOptions::precision: int8 needs ranges, bf16 needs the CPU", "[lowp][bf16]") {
  resnet::ModelOptions o;
  o.precision = Precision::int8;
  std::string message;
  const resnet::ErrorKind no_ranges = test_support::kind_of([&] { resnet::CifarResNet20 m(o); }, &message);
  if (resnet::precision_available(Precision::int8)) {
    CHECK(no_ranges == resnet::ErrorKind::invalid_argument);
    CHECK(message.find("int8 needs the calibrated input range of every conv") != std::string::npos);
  } else {
    CHECK(no_ranges == resnet::ErrorKind::unsupported_cpu);
  }
  o.precision = Precision::bf16;
  if (!resnet::precision_available(Precision::bf16)) {
    CHECK(test_support::kind_of([&] { resnet::CifarResNet20 m(o); }, &message) == resnet::ErrorKind::unsupported_cpu);
    return;
  }
  // A bf16 model is close to its fp32 twin (same seed), and the fp32 one is untouched.
  resnet::CifarResNet20 fp32, bf16(o), fp32_again;
  fp32.init_random(5);
  bf16.init_random(5);
  fp32_again.init_random(5);
  resnet::Workspace ws(2);
  resnet::Tensor x(2, 32, 32, 3);
  const auto v = resnet50::random_vector(x.size(), 6);
  std::copy(v.begin(), v.end(), x.data());
  const double gap = gap_to_fp32(fp32.forward(x, ws), bf16.forward(x, ws), fp32_again.forward(x, ws));
  CHECK(gap > 0);      // bf16 did run
  CHECK(gap < 0.05);   // and stayed near fp32
}

/// A seeded batch of CIFAR-sized images, values roughly as normalised pixels.
resnet::Tensor cifar_batch(int n, unsigned seed) {
  resnet::Tensor x(n, 32, 32, 3);
  const auto v = resnet50::random_vector(x.size(), seed);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = 2.0f * v[i] + 0.2f;
  return x;
}

TEST_CASE("calibrate records each conv's input range in build order", "[lowp][int8][calibration]") {
  resnet::CifarResNet20 fp32;
  fp32.init_random(5);
  resnet::Workspace ws(2);
  const std::vector<resnet::Tensor> batches{cifar_batch(2, 31), cifar_batch(3, 32)};
  resnet::CalibrationOptions minmax;
  minmax.method = resnet::CalibrationMethod::minmax;
  const resnet::ActivationRanges r = resnet::calibrate(fp32, batches, ws, minmax);
  REQUIRE(r.convs.size() == 19);  // ResNet-20: the stem and 18 convs, option-A shortcuts without convs
  CHECK(r.model == "CifarResNet20");
  CHECK(r.method == "minmax");
  CHECK(r.images == 5);
  // conv 0, the stem, sees the images themselves.
  float lo = 1e9f, hi = -1e9f;
  for (const resnet::Tensor& b : batches)
    for (float x : b.values()) lo = std::min(lo, x), hi = std::max(hi, x);
  CHECK(r.convs[0].min == lo);
  CHECK(r.convs[0].max == hi);
  CHECK(r.convs[0].channels == 3);
  CHECK(r.convs[1].channels == 16);
  CHECK(r.convs[18].channels == 64);
  for (std::size_t c = 1; c < r.convs.size(); ++c) CHECK(r.convs[c].min == 0.0f);  // every later input is after a ReLU
  // Observing changed nothing, and the workspace observes nothing afterwards.
  CHECK(ws.conv_input_observer() == nullptr);
  const resnet::Tensor a = fp32.forward(batches[0], ws);
  resnet::RangeRecorder recorder;
  resnet::Tensor b;
  {
    const resnet::ObservedWorkspace observed(ws, recorder);
    b = fp32.forward(batches[0], ws);
  }
  CHECK(recorder.convs() == 19);
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a.data()[i] == b.data()[i]);
}

TEST_CASE("RangeRecorder's percentile clips each tail within a bin of the exact percentile", "[lowp][int8][calibration]") {
  // 100,000 values: 0.001 .. 100 and -0.0005 .. -50. At 99.9 the 100 largest positive and
  // the 100 largest negative magnitudes fall outside.
  std::vector<float> v;
  for (int i = 1; i <= 100000; ++i) v.push_back(i % 2 ? 0.001f * i : -0.0005f * i);
  resnet::RangeRecorder rec;
  rec.conv_input(0, v.data(), v.size(), 1);
  resnet::CalibrationOptions p;
  p.percentile = 99.9;
  const resnet::ConvInputRange r = rec.ranges(p).convs[0];
  // Exact percentiles: the positive side's 101st largest is 0.001 * 99799, the negative one's -0.0005 * 99800.
  CHECK(r.max >= 99.799f * 0.99f);
  CHECK(r.max <= 99.799f * 1.016f);
  CHECK(r.min <= -49.9f * 0.99f);
  CHECK(r.min >= -49.9f * 1.016f);
  CHECK(rec.ranges(p).method == "percentile 99.9");
  resnet::CalibrationOptions all;
  all.percentile = 100.0;
  CHECK(rec.ranges(all).convs[0].max == 0.001f * 99999);  // at 100, the exact extremes
  CHECK(rec.ranges(all).convs[0].min == -0.0005f * 100000);
  p.percentile = 40;
  std::string message;
  CHECK(test_support::kind_of([&] { rec.ranges(p); }, &message) == resnet::ErrorKind::invalid_argument);
}

std::string ranges_path(const char* name) { return std::string(RESNET_TEST_DATA) + "/" + name; }

TEST_CASE("int8 ranges survive a safetensors round trip; hostile files are Errors naming what is wrong",
          "[lowp][int8][calibration]") {
  resnet::ActivationRanges r;
  r.convs = {{-2.5f, 3.0f, 3}, {0.0f, 7.25f, 16}};
  r.model = "CifarResNet20";
  r.method = "percentile 99.99";
  r.images = 300;
  const std::string path = ranges_path("lowp_ranges_roundtrip.safetensors");
  resnet::save_ranges(path, r);
  const resnet::ActivationRanges back = resnet::load_ranges(path);
  REQUIRE(back.convs.size() == 2);
  CHECK(back.convs[0].min == -2.5f);
  CHECK(back.convs[1].max == 7.25f);
  CHECK(back.convs[1].channels == 16);
  CHECK(back.model == r.model);
  CHECK(back.method == r.method);
  CHECK(back.images == 300);
  CHECK(back.source == path);

  const std::string bad = ranges_path("lowp_ranges_bad.safetensors");
  const auto error_of = [&](const std::vector<resnet::io::TensorToWrite>& tensors,
                            const std::map<std::string, std::string>& meta, std::string* message) {
    resnet::io::write_safetensors(bad, tensors, meta);
    return test_support::kind_of([&] { resnet::load_ranges(bad); }, message);
  };
  const std::map<std::string, std::string> meta{{"format", "resnet int8 ranges 1"}};
  std::string m;
  CHECK(error_of({{"input_min", {1}, {0.0f}}}, {}, &m) == resnet::ErrorKind::format);
  CHECK(m.find("not an int8 ranges file") != std::string::npos);
  CHECK(m.rfind(bad, 0) == 0);
  CHECK(error_of({{"input_min", {1}, {0.0f}}, {"input_max", {1}, {1.0f}}}, meta, &m) == resnet::ErrorKind::missing_tensor);
  CHECK(m.find("input_channels: missing") != std::string::npos);
  CHECK(error_of({{"input_min", {2}, {0.0f, 0.0f}}, {"input_max", {1}, {1.0f}}, {"input_channels", {1}, {3.0f}}}, meta,
                 &m) == resnet::ErrorKind::shape_mismatch);
  CHECK(error_of({{"input_min", {1, 1}, {0.0f}}, {"input_max", {1}, {1.0f}}, {"input_channels", {1}, {3.0f}}}, meta,
                 &m) == resnet::ErrorKind::shape_mismatch);
  CHECK(error_of({{"input_min", {1}, {2.0f}}, {"input_max", {1}, {1.0f}}, {"input_channels", {1}, {3.0f}}}, meta,
                 &m) == resnet::ErrorKind::invalid_argument);
  CHECK(m.find("conv 0: the range") != std::string::npos);
  CHECK(error_of({{"input_min", {1}, {0.0f}}, {"input_max", {1}, {NAN}}, {"input_channels", {1}, {3.0f}}}, meta, &m) ==
        resnet::ErrorKind::invalid_argument);
  CHECK(error_of({{"input_min", {1}, {0.0f}}, {"input_max", {1}, {1.0f}}, {"input_channels", {1}, {2.5f}}}, meta, &m) ==
        resnet::ErrorKind::invalid_argument);
  CHECK(m.find("not a positive integer") != std::string::npos);
  std::ofstream(bad, std::ios::binary | std::ios::trunc) << "not a safetensors file";
  test_support::kind_of([&] { resnet::load_ranges(bad); }, &m);  // the reader's Error (a header too large)
  CHECK(m.rfind(bad, 0) == 0);
}

/// int8 options for a CIFAR ResNet-20 of seed 5, calibrated on its fp32 twin.
resnet::ModelOptions int8_cifar20_options(resnet::Workspace& ws) {
  resnet::CifarResNet20 fp32;
  fp32.init_random(5);
  resnet::ModelOptions o;
  o.precision = Precision::int8;
  o.int8_ranges = resnet::calibrate(fp32, {cifar_batch(8, 41)}, ws);
  return o;
}

TEST_CASE("int8 CIFAR ResNet-20 stays near its fp32 twin; ranges of another model are Errors", "[lowp][int8][calibration]") {
  resnet::CifarResNet20 fp32;
  fp32.init_random(5);
  resnet::Workspace ws(2);
  const resnet::ModelOptions o = int8_cifar20_options(ws);
  if (!resnet::precision_available(Precision::int8)) {
    std::string message;
    CHECK(test_support::kind_of([&] { resnet::CifarResNet20 m(o); }, &message) == resnet::ErrorKind::unsupported_cpu);
    return;
  }
  resnet::CifarResNet20 int8(o), fp32_again;
  int8.init_random(5);
  fp32_again.init_random(5);
  const resnet::Tensor x = cifar_batch(4, 42);
  const double gap = gap_to_fp32(fp32.forward(x, ws), int8.forward(x, ws), fp32_again.forward(x, ws));
  INFO("int8 gap to fp32 " << gap);
  CHECK(gap > 0);     // int8 did run
  CHECK(gap < 0.1);   // and stayed near fp32

  // The maps inside each block go u8 from conv to conv, and the blocks of a stage hand
  // their outputs on as bf16 (the residual) and u8 (the convs), except while an observer
  // watches the conv inputs (calibration): then every conv quantizes its own fp32 input.
  // The u8 values are the same bytes; the bf16 residuals leave int8's gap to fp32 where
  // it was (a bf16 rounding moves a few u8 values by one step downstream, so the two int8
  // results differ by a fraction of that gap, not by bf16's 2^-9).
  const resnet::Tensor lowp_maps = int8.forward(x, ws);
  int seen = 0;
  const resnet::Tensor fp32_maps = forward_with_fp32_maps(int8, x, ws, &seen);
  CHECK(seen == 19);  // every conv once: four 32x32 images make one (automatic) pass
  REQUIRE(lowp_maps.shape() == fp32_maps.shape());
  const double map_gap = gap_to_fp32(fp32_maps, lowp_maps, fp32_maps);
  const double fp32_maps_gap = gap_to_fp32(fp32.forward(x, ws), fp32_maps, fp32_again.forward(x, ws));
  INFO("int8 with fp32 maps: gap to fp32 " << fp32_maps_gap << "; bf16 block outputs: " << map_gap
                                           << " from fp32 maps");
  CHECK(map_gap > 0);                       // the bf16 residuals were used
  CHECK(map_gap < 0.5 * fp32_maps_gap);     // 0.15x here
  CHECK(gap < 1.3 * fp32_maps_gap);         // int8 no further from fp32 than with fp32 maps (0.91x here)

  std::string message;
  resnet::CifarResNet32 deeper(o);  // more convs than the ranges hold
  CHECK(test_support::kind_of([&] { deeper.init_random(5); }, &message) == resnet::ErrorKind::shape_mismatch);
  INFO(message);
  CHECK(message.find("conv 8 takes 16 channels, the range was measured on 32 (were they calibrated for another "
                     "model?)") != std::string::npos);
  CHECK_FALSE(deeper.has_weights());  // left unchanged
  resnet::ModelOptions longer = o;
  longer.int8_ranges.convs.push_back(longer.int8_ranges.convs.back());
  resnet::CifarResNet20 fewer(longer);
  CHECK(test_support::kind_of([&] { fewer.init_random(5); }, &message) == resnet::ErrorKind::shape_mismatch);
  CHECK(message.find("20 conv inputs, but this model has 19 convs") != std::string::npos);
  resnet::ModelOptions narrow = o;
  narrow.int8_ranges.convs[3].channels = 32;
  resnet::CifarResNet20 other(narrow);
  CHECK(test_support::kind_of([&] { other.init_random(5); }, &message) == resnet::ErrorKind::shape_mismatch);
  CHECK(message.find("conv 3 takes 16 channels, the range was measured on 32") != std::string::npos);
}

TEST_CASE("an int8 model's classifier multiplies its pooled features by s8 weights per class", "[lowp][int8]") {
  // A head installed with set_head: the logits are the s8 weights (quantized per class as
  // the convs' are) times the pooled features the same pass gives, not the fp32 weights'
  // product, which lies further away than the tolerance.
  if (!resnet::precision_available(Precision::int8))
    RESNET_SKIP(resnet::missing_for(Precision::int8, resnet::cpu_features(), resnet::build_features()));
  resnet::Workspace ws(2);
  resnet::CifarResNet20 int8(int8_cifar20_options(ws));
  int8.init_random(5);
  constexpr int in = resnet::CifarResNet20::feature_channels, classes = 10;
  std::vector<float> weight(static_cast<std::size_t>(classes * in)), bias(classes);
  for (std::size_t i = 0; i < weight.size(); ++i) weight[i] = std::sin(0.37f * static_cast<float>(i)) * 0.3f;
  for (int c = 0; c < classes; ++c) bias[static_cast<std::size_t>(c)] = 0.01f * static_cast<float>(c);
  int8.set_head(resnet::Dense<in>(classes, weight, bias));
  const resnet::kernels::QuantizedWeights q = resnet::kernels::quantize_weights_per_channel(weight.data(), classes, in, in);
  resnet::Tensor logits, pooled;
  resnet::Outputs out;
  out.logits = &logits;
  out.pooled = &pooled;
  const resnet::Tensor x = cifar_batch(3, 42);
  int8.forward(x, out, ws);
  double largest_s8_vs_fp32 = 0;
  for (int i = 0; i < x.shape().n; ++i)
    for (int c = 0; c < classes; ++c) {
      double s8 = 0, fp = 0, magnitude = 0;
      for (int t = 0; t < in; ++t) {
        const double f = pooled.values()[static_cast<std::size_t>(i * in + t)];
        s8 += q.values[static_cast<std::size_t>(c * in + t)] * f;
        fp += weight[static_cast<std::size_t>(c * in + t)] * f;
        magnitude += std::abs(weight[static_cast<std::size_t>(c * in + t)] * f);
      }
      s8 = s8 * q.scales[static_cast<std::size_t>(c)] + bias[static_cast<std::size_t>(c)];
      fp += bias[static_cast<std::size_t>(c)];
      const double got = logits.values()[static_cast<std::size_t>(i * classes + c)];
      CHECK(std::abs(got - s8) <= 1e-5 * (magnitude + 1));
      largest_s8_vs_fp32 = std::max(largest_s8_vs_fp32, std::abs(s8 - fp) / (magnitude + 1));
    }
  CHECK(largest_s8_vs_fp32 > 1e-4);  // the check above tells the two apart

  // A head with a NaN weight cannot be quantized: an Error naming it, the model unchanged.
  std::vector<float> bad = weight;
  bad[17] = std::nanf("");
  std::string message;
  CHECK(test_support::kind_of([&] { int8.set_head(resnet::Dense<in>(classes, bad, bias)); }, &message) ==
        resnet::ErrorKind::invalid_argument);
  CHECK(message.find("NaN or infinite weight") != std::string::npos);
  resnet::Tensor again;
  out.logits = &again;
  int8.forward(x, out, ws);
  CHECK(again.values() == logits.values());
}

/// Seeded images in [-0.8, 2.2): ReLU-like inputs with a few negatives, for the ResNet-18 cases.
resnet::Tensor seeded_images(const resnet::Shape& shape, unsigned seed) {
  resnet::Tensor t(shape);
  const auto v = resnet50::random_vector(t.size(), seed);
  for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = 2.0f * v[i] + 0.2f;
  return t;
}

TEST_CASE("int8 ResNet-18 hands u8 maps from its stem through the pool, and u8 and bf16 ones between blocks and stages",
          "[lowp][int8][calibration]") {
  // The stem writes u8 for the first stage, which its max pool keeps; each block's output
  // goes on as u8 (and bf16 where the next block adds it), stage to stage too. Against
  // the same model with fp32 maps everywhere (an observer watching), int8 stays as near
  // fp32 (the two int8 results differ by a fraction of that gap: a bf16 rounding moves a
  // few u8 values one step downstream, and that spreads; 0.20x at 224x224, ResNet-50 0.17x).
  if (!resnet::precision_available(Precision::int8))
    RESNET_SKIP(resnet::missing_for(Precision::int8, resnet::cpu_features(), resnet::build_features()));
  resnet::ResNet18 fp32;
  fp32.init_random(9);
  resnet::Workspace ws(2);
  const auto images = [](int n, unsigned seed) { return seeded_images({n, 64, 64, 3}, seed); };  // 2x2 maps last
  const resnet::Tensor x = images(2, 51);
  resnet::ModelOptions o;
  o.precision = Precision::int8;
  o.int8_ranges = resnet::calibrate(fp32, {images(4, 52)}, ws);
  resnet::ResNet18 int8(o);
  int8.init_random(9);
  const resnet::Tensor fp32_out = fp32.forward(x, ws);
  const resnet::Tensor lowp_maps = int8.forward(x, ws);
  int seen = 0;
  const resnet::Tensor fp32_maps = forward_with_fp32_maps(int8, x, ws, &seen);
  CHECK(seen == 20);
  const double gap = gap_to_fp32(fp32_out, fp32_maps, fp32.forward(x, ws));
  const double map_gap = gap_to_fp32(fp32_maps, lowp_maps, fp32_maps);
  const double lowp_gap = gap_to_fp32(fp32_out, lowp_maps, fp32_out);
  INFO("int8 gap to fp32 " << gap << "; with u8 and bf16 maps " << lowp_gap << ", " << map_gap << " from fp32 maps");
  CHECK(gap > 0);
  CHECK(gap < 0.1);
  CHECK(map_gap > 0);
  CHECK(lowp_gap < 1.3 * gap);
  const resnet::Tensor again = int8.forward(x, ws);
  CHECK(std::equal(again.values().begin(), again.values().end(), lowp_maps.values().begin()));
}


/// A ResNet-18 of `o` (seed 12) on 5 images of `shape`: 96x96 gathers the stem's output
/// image by image into the first stage, 224x160 stage 2's into stage 3; every image's
/// logits must be those of one group of all five.
void check_gathered_is_one_group(resnet::ModelOptions o, const resnet::Tensor& x, resnet::Workspace& ws) {
  const resnet::Shape shape = x.shape();
  resnet::ResNet18 split(o);
  split.init_random(12);
  const auto groups = split.pass_plan(shape).group;  // the stem, then each stage
  CHECK(groups[shape.h == 96 ? 1 : 3] == 5);
  CHECK(groups[shape.h == 96 ? 0 : 2] == 1);
  o.images_per_pass = 5;
  resnet::ResNet18 one_group(o);
  one_group.init_random(12);
  const resnet::Tensor a = split.forward(x, ws), b = one_group.forward(x, ws);
  CHECK(a.values() == b.values());
}

TEST_CASE("int8 ResNet-18: late stages on gathered u8 and bf16 maps give each image's own values",
          "[lowp][int8][memory]") {
  // At 96x96 the stem's u8 + bf16 output (stage 1's first block adds its input) is
  // gathered image by image; at 224x160 stage 2's u8 output (stage 3 starts with a
  // projection). Either way every image's logits are those of one group of all five.
  if (!resnet::precision_available(Precision::int8))
    RESNET_SKIP(resnet::missing_for(Precision::int8, resnet::cpu_features(), resnet::build_features()));
  resnet::ResNet18 fp32;
  fp32.init_random(12);
  resnet::Workspace ws(2);
  for (const resnet::Shape shape : {resnet::Shape{5, 96, 96, 3}, resnet::Shape{5, 224, 160, 3}}) {
    INFO("input " << shape.str());
    const resnet::Tensor x = seeded_images(shape, 61);
    resnet::ModelOptions o;
    o.precision = Precision::int8;
    o.int8_ranges = resnet::calibrate(fp32, {x}, ws);
    check_gathered_is_one_group(o, x, ws);
  }
}

TEST_CASE("bf16 ResNet-50 hands bf16 maps from its stem through the pool, between convs, blocks and stages",
          "[lowp][bf16]") {
  // The stem writes bf16 for the pool, which keeps it; inside a block every map a bf16
  // conv reads goes to it as bf16 (also from the fp32 Winograd 3x3s); a block's output goes
  // on as bf16 where the next block's convs and residual all take it. The conv inputs are
  // the values each conv rounded its fp32 input to before (the kernel tests above), so
  // what changes is the residual, now added as bf16 (as PyTorch's autocast keeps it):
  // against the same model with fp32 maps everywhere (an observer watching), the logits
  // move about as far as bf16 with fp32 maps is from fp32 (1.0x here), and the two
  // roundings add like independent errors (1.2x bf16's distance from fp32, not 2x).
  if (!resnet::precision_available(Precision::bf16))
    RESNET_SKIP(resnet::missing_for(Precision::bf16, resnet::cpu_features(), resnet::build_features()));
  resnet::ResNet50 fp32;
  fp32.init_random(9);
  resnet::ModelOptions o;
  o.precision = Precision::bf16;
  resnet::ResNet50 bf16(o);
  bf16.init_random(9);
  resnet::Workspace ws(2);
  const resnet::Tensor x = seeded_images({2, 96, 80, 3}, 71);
  const resnet::Tensor fp32_out = fp32.forward(x, ws);
  const resnet::Tensor lowp_maps = bf16.forward(x, ws);
  int seen = 0;
  const resnet::Tensor fp32_maps = forward_with_fp32_maps(bf16, x, ws, &seen);
  CHECK(seen == 2 * 53);  // one image at a time at this size (Network::pass_plan)
  const double gap = gap_to_fp32(fp32_out, fp32_maps, fp32.forward(x, ws));
  const double map_gap = gap_to_fp32(fp32_maps, lowp_maps, fp32_maps);
  const double lowp_gap = gap_to_fp32(fp32_out, lowp_maps, fp32_out);
  INFO("bf16 gap to fp32 " << gap << "; with bf16 maps " << lowp_gap << ", " << map_gap << " from fp32 maps");
  CHECK(gap > 0);
  CHECK(gap < 0.05);
  CHECK(map_gap > 0);  // the bf16 residuals were used
  CHECK(map_gap < 1.5 * gap);
  CHECK(lowp_gap < 1.5 * gap);
  const resnet::Tensor again = bf16.forward(x, ws);
  CHECK(again.values() == lowp_maps.values());
}

TEST_CASE("bf16 ResNet-18: late stages on gathered bf16 maps give each image's own values", "[lowp][bf16][memory]") {
  // Every conv in bf16, so every block takes bf16 maps: at 96x96 the pool's bf16 output
  // is gathered image by image, at 224x160 stage 2's. Every image's logits are those of
  // one group of all five.
  if (!resnet::precision_available(Precision::bf16))
    RESNET_SKIP(resnet::missing_for(Precision::bf16, resnet::cpu_features(), resnet::build_features()));
  resnet::Workspace ws(2);
  for (const resnet::Shape shape : {resnet::Shape{5, 96, 96, 3}, resnet::Shape{5, 224, 160, 3}}) {
    INFO("input " << shape.str());
    const resnet::Tensor x = seeded_images(shape, 61);
    resnet::ModelOptions o;
    o.precision = Precision::bf16;
    o.lowp_layers = LowpLayers::all;
    check_gathered_is_one_group(o, x, ws);
  }
}

TEST_CASE("int8 and bf16 ResNeXt-50: reduced-precision convs around fp32 grouped 3x3s stay near the fp32 twin",
          "[lowp][int8][bf16][resnext]") {
  // The grouped 3x3s stay fp32 (ConvKernel above), so each takes fp32 from the int8 or
  // bf16 conv before it and hands fp32 to the one after: the whole model must run, and its
  // logits stay near fp32 (measured: bf16 0.004, int8 0.017 of the largest logit).
  resnet::ResNeXt50_32x4d fp32, fp32_again;
  fp32.init_random(11);
  fp32_again.init_random(11);
  resnet::Workspace ws(2);
  const resnet::Tensor x = seeded_images({2, 64, 64, 3}, 73);
  const resnet::Tensor want = fp32.forward(x, ws);
  const auto gap_of = [&](const resnet::ModelOptions& o) {
    resnet::ResNeXt50_32x4d lowp(o);
    lowp.init_random(11);
    return gap_to_fp32(want, lowp.forward(x, ws), fp32_again.forward(x, ws));
  };
  if (resnet::precision_available(Precision::bf16)) {
    resnet::ModelOptions o;
    o.precision = Precision::bf16;
    const double gap = gap_of(o);
    INFO("bf16 gap to fp32 " << gap);
    CHECK(gap > 0);
    CHECK(gap < 0.05);
  }
  if (resnet::precision_available(Precision::int8)) {
    resnet::ModelOptions o;
    o.precision = Precision::int8;
    o.int8_ranges = resnet::calibrate(fp32, {seeded_images({4, 64, 64, 3}, 74)}, ws);
    const double gap = gap_of(o);
    INFO("int8 gap to fp32 " << gap);
    CHECK(gap > 0);
    CHECK(gap < 0.1);
  }
}

}  // namespace lowp_model_tests
