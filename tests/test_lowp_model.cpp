// bf16 models (issue 13): ConvKernel at Precision::bf16 against the plain reference
// convolution on bf16-rounded weights and inputs (odd shapes, residual, ReLU, threads),
// which layers LowpLayers gives to bf16, and the precision checks of ModelOptions.
// Accuracy on real weights is tests/lowp.cmake's (CIFAR) and gen_torchvision_bf16's.
#include <cmath>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "resnet/kernels/conv2d.hpp"
#include "resnet/kernels/reference.hpp"
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

TEST_CASE("ModelOptions::precision: int8 is not implemented yet, bf16 needs the CPU", "[lowp][bf16]") {
  resnet::ModelOptions o;
  o.precision = Precision::int8;
  std::string message;
  CHECK(test_support::kind_of([&] { resnet::CifarResNet20 m(o); }, &message) == resnet::ErrorKind::invalid_argument);
  CHECK(message.find("int8 is not implemented yet") != std::string::npos);
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
  const resnet::Tensor a = fp32.forward(x, ws), b = bf16.forward(x, ws), c = fp32_again.forward(x, ws);
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a.data()[i] == c.data()[i]);
    worst = std::max(worst, double(std::abs(a.data()[i] - b.data()[i])));
    scale = std::max(scale, double(std::abs(a.data()[i])));
  }
  CHECK(worst > 0);                // bf16 did run
  CHECK(worst < 0.05 * scale);     // and stayed near fp32
}

}  // namespace lowp_model_tests
