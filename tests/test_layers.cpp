// Each layer against the plain NCHW double reference of reference_net.hpp, on odd
// sizes (13 input channels, 7x9 maps, batch 2, and the degenerate 1x1 and 2x3 maps)
// so vector tails and padded borders are reached. Weights travel through an
// in-memory safetensors file and a WeightLoader, under torchvision and Keras names. Each
// runs through the one layer contract, forward(in, ws, fusion), in a NaN-poisoned workspace.
//
// Tolerance: |got - ref| <= 1e-4 * max(1, |ref|) everywhere. 3x3 stride-1 convs run
// Winograd (F(4x4) for small channel counts, F(2x2) for wide ones), whose transforms
// amplify float rounding; measured worst there 1.2e-5 (13x19 and 259x257 channels),
// so the one tolerance still holds with room. kWinogradTol marks those cases.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <resnet/core/workspace.hpp>
#include <resnet/kernels/lowp_common.hpp>
#include <resnet/layers/batch_norm.hpp>
#include <resnet/layers/conv2d.hpp>
#include <resnet/layers/dense.hpp>
#include <resnet/layers/pooling.hpp>
#include <resnet/models/naming.hpp>

#include "layer_harness.hpp"

using namespace resnet;

namespace {

constexpr double kTol = 1e-4;
constexpr double kWinogradTol = 1e-4;

using harness::kSizes;
using harness::run;
using harness::Size;

/// Calls f(loader) with the loader of `layout`'s naming scheme.
template <class F>
void with_loader(ref::Layout layout, const io::SafeTensors& file, F&& f) {
  if (layout == ref::Layout::torch) {
    WeightLoader<naming::Torchvision> loader(file);
    f(loader);
  } else {
    WeightLoader<naming::Keras> loader(file);
    f(loader);
  }
}

template <class Eps>
double eps_of() {
  return static_cast<double>(Eps::value);
}

/// One ConvUnit<Conv2d<InC, OutC, K, S, B>, BN or none, A> loaded from a file with
/// random weights, run on every size of kSizes and compared with conv -> BN -> ReLU.
template <int InC, int OutC, int K, int S, Bias B, bool WithBn, Act A, class Eps = TorchEps>
void check_conv_unit(ref::Layout layout, unsigned seed, double tol) {
  using Norm = std::conditional_t<WithBn, BatchNorm<OutC, Eps>, NoNorm>;
  using Unit = ConvUnit<Conv2d<InC, OutC, K, S, B>, Norm, A>;
  const bool torch = layout == ref::Layout::torch;
  const std::string conv_site = torch ? "layer1.0.conv2" : "conv2_block1_2_conv";
  const std::string bn_site = torch ? "layer1.0.bn2" : "conv2_block1_2_bn";

  ref::WeightFile wf(layout, seed);
  const ref::Conv cv = wf.conv(conv_site, OutC, InC, K, S, B == Bias::with);
  ref::Norm bn;
  if (WithBn) bn = wf.batch_norm(bn_site, OutC, eps_of<Eps>());
  const io::SafeTensors file = wf.build();
  Unit unit;
  with_loader(layout, file, [&](auto& loader) {
    unit.load(loader, conv_site, bn_site);
    REQUIRE_NOTHROW(loader.finish());  // every tensor written was taken
  });

  for (const Size& sz : kSizes) {
    INFO("k=" << K << " stride=" << S << " bias=" << (B == Bias::with) << " bn=" << WithBn
              << " relu=" << (A == Act::relu) << " keras=" << !torch << " map " << sz.n << "x" << sz.h << "x" << sz.w);
    const ref::Map x = ref::random_map(sz.n, InC, sz.h, sz.w, seed + 7);
    ref::Map want = ref::conv2d(x, cv);
    if (WithBn) want = ref::batch_norm(want, bn);
    if (A == Act::relu) want = ref::relu(want);

    const ref::Map got = run(unit, x);
    const Extent e = Unit::output_extent({sz.h, sz.w});
    REQUIRE(ref::nhwc_shape(got) == (Shape{sz.n, e.h, e.w, OutC}));
    REQUIRE(ref::nhwc_shape(got) == ref::nhwc_shape(want));
    CHECK(ref::max_scaled_error(got, want) <= tol);
  }
}

}  // namespace

// ---------------------------------------------------------------- ConvUnit

TEST_CASE("ConvUnit 1x1 matches conv, BN, ReLU (torchvision names)", "[layers][conv]") {
  check_conv_unit<13, 19, 1, 1, Bias::none, true, Act::relu>(ref::Layout::torch, 11, kTol);
  check_conv_unit<13, 19, 1, 2, Bias::none, true, Act::relu>(ref::Layout::torch, 12, kTol);
  check_conv_unit<13, 19, 1, 2, Bias::none, true, Act::linear>(ref::Layout::torch, 13, kTol);
  check_conv_unit<13, 19, 1, 1, Bias::none, false, Act::linear>(ref::Layout::torch, 14, kTol);
  check_conv_unit<13, 19, 1, 1, Bias::with, false, Act::relu>(ref::Layout::torch, 15, kTol);
}

TEST_CASE("ConvUnit 3x3 matches conv, BN, ReLU (torchvision names)", "[layers][conv]") {
  // Stride 1 runs Winograd.
  check_conv_unit<13, 19, 3, 1, Bias::none, true, Act::relu>(ref::Layout::torch, 21, kWinogradTol);
  check_conv_unit<13, 19, 3, 1, Bias::none, false, Act::linear>(ref::Layout::torch, 22, kWinogradTol);
  check_conv_unit<13, 19, 3, 1, Bias::with, true, Act::linear>(ref::Layout::torch, 23, kWinogradTol);
  // Stride 2 runs im2col + GEMM.
  check_conv_unit<13, 19, 3, 2, Bias::none, true, Act::relu>(ref::Layout::torch, 24, kTol);
  check_conv_unit<13, 19, 3, 2, Bias::with, false, Act::relu>(ref::Layout::torch, 25, kTol);
  check_conv_unit<13, 19, 3, 2, Bias::with, true, Act::linear>(ref::Layout::torch, 26, kTol);
}

TEST_CASE("ConvUnit 7x7 matches conv, BN, ReLU (torchvision names)", "[layers][conv]") {
  check_conv_unit<3, 19, 7, 2, Bias::none, true, Act::relu>(ref::Layout::torch, 31, kTol);  // the stem's shape
  check_conv_unit<13, 19, 7, 1, Bias::none, true, Act::relu>(ref::Layout::torch, 32, kTol);
  check_conv_unit<13, 19, 7, 2, Bias::with, false, Act::linear>(ref::Layout::torch, 33, kTol);
}

TEST_CASE("ConvUnit reads Keras names and HWIO kernels", "[layers][conv][keras]") {
  // Non-square HWIO -> OHWI permutation: in != out and k > 1 catch a swapped axis.
  check_conv_unit<13, 19, 3, 2, Bias::with, true, Act::relu, KerasEps>(ref::Layout::keras, 41, kTol);
  check_conv_unit<13, 19, 3, 1, Bias::with, true, Act::relu, KerasEps>(ref::Layout::keras, 42, kWinogradTol);
  check_conv_unit<3, 19, 7, 2, Bias::with, true, Act::relu, KerasEps>(ref::Layout::keras, 43, kTol);
  check_conv_unit<13, 19, 1, 2, Bias::with, false, Act::linear, KerasEps>(ref::Layout::keras, 44, kTol);
  check_conv_unit<13, 19, 1, 1, Bias::none, true, Act::linear, KerasLegacyEps>(ref::Layout::keras, 45, kTol);
}

TEST_CASE("ConvUnit 3x3 with wide channels (Winograd F(2x2)) folds BN", "[layers][conv][winograd]") {
  // in * out > 256 * 256 selects the F(2x2) tile.
  check_conv_unit<259, 257, 3, 1, Bias::none, true, Act::relu>(ref::Layout::torch, 51, kWinogradTol);
}

TEST_CASE("ConvUnit adds a residual before its ReLU", "[layers][conv]") {
  using Unit = ConvUnit<Conv2d<13, 19, 3, 2>, BatchNorm<19, TorchEps>>;
  ref::WeightFile wf(ref::Layout::torch, 61);
  const ref::Conv cv = wf.conv("conv1", 19, 13, 3, 2, false);
  const ref::Norm bn = wf.batch_norm("bn1", 19, 1e-5);
  const io::SafeTensors file = wf.build();
  WeightLoader<naming::Torchvision> loader(file);
  Unit unit;
  unit.load(loader, "conv1", "bn1");

  const ref::Map x = ref::random_map(2, 13, 7, 9, 62);
  const ref::Map r = ref::random_map(2, 19, 4, 5, 63, -2.0, 2.0);
  const ref::Map sum = ref::add(ref::batch_norm(ref::conv2d(x, cv), bn), r);
  CHECK(ref::max_scaled_error(run(unit, x, 1, Act::relu, &r), ref::relu(sum)) <= kTol);
  CHECK(ref::max_scaled_error(run(unit, x, 1, Act::linear, &r), sum) <= kTol);
  const Tensor wrong = harness::to_tensor(ref::random_map(2, 19, 5, 4, 63));  // h and w swapped
  Workspace ws(1);
  CHECK(test_support::kind_of([&] { run_layer(unit, harness::to_tensor(x), ws, &wrong); }) ==
        ErrorKind::shape_mismatch);
}

TEST_CASE("A unit with its own ReLU refuses a residual", "[layers][conv][errors]") {
  ConvUnit<Conv2d<13, 19, 1>, NoNorm, Act::relu> unit;
  RandomWeights rng(1);
  unit.init_random(rng);
  const ref::Map x = ref::random_map(1, 13, 3, 3, 64);
  const Tensor residual(1, 3, 3, 19);
  Workspace ws(1);
  CHECK(test_support::kind_of([&] { run_layer(unit, harness::to_tensor(x), ws, &residual); }) ==
        ErrorKind::invalid_argument);
}

TEST_CASE("ConvUnit loading names the missing tensor and a wrong shape", "[layers][conv][errors]") {
  ref::WeightFile wf(ref::Layout::torch, 71);
  wf.conv("conv1", 19, 13, 3, 1, false);
  const io::SafeTensors file = wf.build();
  {
    WeightLoader<naming::Torchvision> loader(file);
    ConvUnit<Conv2d<13, 19, 3>, BatchNorm<19, TorchEps>> unit;
    try {
      unit.load(loader, "conv1", "bn1");
      FAIL("no error for a missing BN");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::missing_tensor);
      CHECK_THAT(e.what(), Catch::Contains("bn1.weight"));
    }
  }
  {
    WeightLoader<naming::Torchvision> loader(file);
    ConvUnit<Conv2d<13, 17, 3>> unit;  // the file has 19 output channels
    try {
      unit.load(loader, "conv1", "");
      FAIL("no error for a wrong kernel shape");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::shape_mismatch);
      CHECK_THAT(e.what(), Catch::Contains("conv1.weight"));
    }
  }
}

// ---------------------------------------------------------------- BatchNorm

TEST_CASE("BatchNorm alone matches the textbook form, linear and with ReLU", "[layers][bn]") {
  for (const ref::Layout layout : {ref::Layout::torch, ref::Layout::keras}) {
    const bool torch = layout == ref::Layout::torch;
    const std::string site = torch ? "bn1" : "conv2_block1_preact_bn";
    ref::WeightFile wf(layout, 81);
    const ref::Norm bn = wf.batch_norm(site, 13, eps_of<KerasEps>());
    const io::SafeTensors file = wf.build();
    BatchNorm<13, KerasEps> layer;
    with_loader(layout, file, [&](auto& loader) {
      layer.load(loader, site);
      REQUIRE_NOTHROW(loader.finish());
    });

    for (const Size& sz : kSizes)
      for (const Act act : {Act::linear, Act::relu}) {
        INFO("keras=" << !torch << " relu=" << (act == Act::relu) << " map " << sz.h << "x" << sz.w);
        const ref::Map x = ref::random_map(sz.n, 13, sz.h, sz.w, 82, -2.0, 2.0);
        ref::Map want = ref::batch_norm(x, bn);
        if (act == Act::relu) want = ref::relu(want);
        const ref::Map got = run(layer, x, 1, act);
        REQUIRE(ref::nhwc_shape(got) == ref::nhwc_shape(x));
        CHECK(ref::max_scaled_error(got, want) <= kTol);
      }
  }
}

TEST_CASE("ReLU keeps NaN as NaN (BatchNorm and the conv epilogue)", "[layers][nan]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  ref::WeightFile wf(ref::Layout::torch, 91);
  const ref::Conv cv = wf.conv("conv1", 19, 13, 1, 1, false);
  const ref::Norm bn = wf.batch_norm("bn1", 19, 1e-5);
  wf.batch_norm("bn0", 13, 1e-5);
  const io::SafeTensors file = wf.build();
  WeightLoader<naming::Torchvision> loader(file);
  BatchNorm<13, TorchEps> norm;
  norm.load(loader, "bn0");
  ConvUnit<Conv2d<13, 19, 1>, BatchNorm<19, TorchEps>, Act::relu> unit;  // 1x1: a NaN stays in its pixel
  unit.load(loader, "conv1", "bn1");

  const ref::Map clean = ref::random_map(1, 13, 7, 9, 92);
  ref::Map x = clean;
  const int ny = 3, nx = 4, nc = 5;
  x.at(0, nc, ny, nx) = nan;

  SECTION("BatchNorm with ReLU") {
    const std::vector<float> y = ref::to_nhwc(run(norm, x, 1, Act::relu));
    for (int i = 0; i < 7 * 9 * 13; ++i) {
      if (i == (ny * 9 + nx) * 13 + nc)
        CHECK(std::isnan(y[i]));
      else
        CHECK(y[i] >= 0.0f);
    }
  }
  SECTION("ConvUnit with ReLU") {
    const std::vector<float> y = ref::to_nhwc(run(unit, x));
    const ref::Map want = ref::relu(ref::batch_norm(ref::conv2d(clean, cv), bn));
    for (int p = 0; p < 7 * 9; ++p)
      for (int o = 0; o < 19; ++o) {
        const float v = y[p * 19 + o];
        if (p == ny * 9 + nx) {
          CHECK(std::isnan(v));
        } else {
          const double r = want.at(0, o, p / 9, p % 9);
          CHECK(std::abs(v - r) <= kTol * std::max(1.0, std::abs(r)));
        }
      }
  }
}

// ---------------------------------------------------------------- pooling

namespace {

template <PoolPadding Mode>
ref::Map run_max_pool(const ref::Map& x, int threads = 1) {
  const ref::Map y = run(MaxPool<3, 2, 1, Mode>{}, x, threads);
  const Extent e = MaxPool<3, 2, 1, Mode>::output_extent({x.h, x.w});
  REQUIRE(ref::nhwc_shape(y) == (Shape{x.n, e.h, e.w, x.c}));
  return y;
}

}  // namespace

TEST_CASE("MaxPool 3/2/1 matches the reference in both padding modes", "[layers][pool]") {
  for (const Size& sz : kSizes) {
    INFO("map " << sz.n << "x" << sz.h << "x" << sz.w);
    const ref::Map x = ref::random_map(sz.n, 13, sz.h, sz.w, 101);
    CHECK(ref::max_scaled_error(run_max_pool<PoolPadding::never_wins>(x), ref::max_pool(x, 3, 2, 1, false)) == 0.0);
    CHECK(ref::max_scaled_error(run_max_pool<PoolPadding::zeros>(x), ref::max_pool(x, 3, 2, 1, true)) == 0.0);
  }
  // An 8x8 map: even sides, so the last window stays inside.
  const ref::Map x = ref::random_map(2, 13, 8, 8, 102);
  CHECK(ref::max_scaled_error(run_max_pool<PoolPadding::never_wins>(x), ref::max_pool(x, 3, 2, 1, false)) == 0.0);
  CHECK(ref::max_scaled_error(run_max_pool<PoolPadding::zeros>(x), ref::max_pool(x, 3, 2, 1, true)) == 0.0);
  // Whole 16-channel registers (the 3x3/2 pool's own kernel for 16k channels, in runs of
  // up to 128), and registers plus a tail, on three threads.
  for (const int channels : {16, 37, 64, 144}) {
    INFO(channels << " channels");
    const ref::Map wide = ref::random_map(2, channels, 9, 7, 103, -2.0, 1.0);
    CHECK(ref::max_scaled_error(run_max_pool<PoolPadding::never_wins>(wide, 3), ref::max_pool(wide, 3, 2, 1, false)) ==
          0.0);
    CHECK(ref::max_scaled_error(run_max_pool<PoolPadding::zeros>(wide, 3), ref::max_pool(wide, 3, 2, 1, true)) == 0.0);
  }
}

TEST_CASE("MaxPool keeps an int8 stem's u8 map u8: the bytes of the fp32 pool's output, quantized", "[layers][pool][int8]") {
  // Quantization is monotonic, so the max of quantized values is the quantized max;
  // Keras' padded zeros are the zero point. 70 channels: a 64-byte register and a tail.
  const resnet::kernels::QuantParams q{0.013f, 29};
  const ref::Map x = ref::random_map(2, 70, 9, 7, 105, -1.0, 2.0);
  const std::vector<float> nhwc = ref::to_nhwc(x);
  std::vector<std::uint8_t> xq(nhwc.size());
  resnet::kernels::quantize_u8(nhwc.data(), static_cast<resnet::kernels::LowpIndex>(nhwc.size()), q, xq.data());
  const auto u8_pool = [&](auto pool, const Fusion& fusion, resnet::kernels::QuantParams in_q) {
    resnet::Workspace ws(3);
    std::vector<std::uint8_t> got;
    ws.run([&] {
      resnet::FeatureMap in = ws.allocate(ref::nhwc_shape(x));
      in.set_u8(in_q.scale, in_q.zero_point);
      if (!ws.planning()) std::memcpy(in.u8_data(), xq.data(), xq.size());
      const resnet::FeatureMap out = pool.forward(in, ws, fusion);
      REQUIRE(out.u8());
      if (!ws.planning()) got.assign(out.u8_data(), out.u8_data() + out.size());
    });
    return got;
  };
  Fusion fusion;
  fusion.u8_output = &q;
  for (const bool keras : {false, true}) {
    INFO((keras ? "zeros" : "never_wins") << " padding");
    const std::vector<float> want_f = ref::to_nhwc(ref::max_pool(x, 3, 2, 1, keras));
    std::vector<std::uint8_t> want(want_f.size());
    resnet::kernels::quantize_u8(want_f.data(), static_cast<resnet::kernels::LowpIndex>(want_f.size()), q, want.data());
    const std::vector<std::uint8_t> got = keras ? u8_pool(MaxPool<3, 2, 1, PoolPadding::zeros>{}, fusion, q)
                                                : u8_pool(MaxPool<3, 2, 1>{}, fusion, q);
    CHECK(got == want);
  }
  // A u8 map goes only to a u8 output of its own quantization, with nothing fused.
  const resnet::kernels::QuantParams other{0.013f, 30};
  Fusion relu = fusion;
  relu.act = Act::relu;
  std::string message;
  CHECK(test_support::kind_of([&] { u8_pool(MaxPool<3, 2, 1>{}, Fusion{}, q); }, &message) ==
        resnet::ErrorKind::invalid_argument);
  CHECK(message.find("MaxPool: a u8 input map goes only to a u8 output of the same quantization") != std::string::npos);
  CHECK(test_support::kind_of([&] { u8_pool(MaxPool<3, 2, 1>{}, fusion, other); }) ==
        resnet::ErrorKind::invalid_argument);
  CHECK(test_support::kind_of([&] { u8_pool(MaxPool<3, 2, 1>{}, relu, q); }) == resnet::ErrorKind::invalid_argument);
}

TEST_CASE("KV2 stem pool: zero padding on a negative map gives zeros only at the border (docs/spec.md 7.5)",
          "[layers][pool][spec]") {
  struct Case {
    int side, out_side, zeros;
  };
  for (const Case c : {Case{112, 56, 111}, Case{113, 57, 224}}) {
    INFO("input " << c.side << "x" << c.side);
    const ref::Map x = ref::random_map(1, 3, c.side, c.side, 111, -5.0, -0.01);  // strictly negative

    const ref::Map keras = run_max_pool<PoolPadding::zeros>(x);
    REQUIRE(keras.h == c.out_side);
    REQUIRE(keras.w == c.out_side);
    const bool odd = c.side % 2 == 1;
    for (int ch = 0; ch < 3; ++ch) {
      int zeros = 0;
      bool placement_ok = true;
      for (int i = 0; i < keras.h; ++i)
        for (int j = 0; j < keras.w; ++j) {
          const bool border = i == 0 || j == 0 || (odd && (i == keras.h - 1 || j == keras.w - 1));
          const double v = keras.at(0, ch, i, j);
          zeros += v == 0.0;
          placement_ok = placement_ok && (border ? v == 0.0 : v < 0.0);
        }
      CHECK(zeros == c.zeros);
      CHECK(placement_ok);
    }

    const ref::Map torch = run_max_pool<PoolPadding::never_wins>(x);
    int non_negative = 0;
    for (double v : torch.v) non_negative += v >= 0.0;
    CHECK(non_negative == 0);
    CHECK(ref::max_scaled_error(torch, ref::max_pool(x, 3, 2, 1, false)) == 0.0);
  }
}

TEST_CASE("MaxPool and global max propagate NaN", "[layers][pool][nan]") {
  // 13 channels take the scalar tail only; 37 put NaN in a register's lane (channel 18)
  // and in the tail (channel 34); 64 and 144 go through the 3x3/2 kernel for 16k
  // channels (144: a run of 128 and one of 16).
  for (const int channels : {13, 37, 64, 144}) {
    INFO(channels << " channels");
    ref::Map x = ref::random_map(1, channels, 7, 9, 121);
    const int ny = 3, nx = 4;
    const std::vector<int> nan_channels = channels == 13   ? std::vector<int>{2}
                                          : channels == 37 ? std::vector<int>{18, 34}
                                                           : std::vector<int>{18, channels - 3};
    for (const int c : nan_channels) x.at(0, c, ny, nx) = std::numeric_limits<double>::quiet_NaN();
    const ref::Map want = ref::max_pool(x, 3, 2, 1, false);  // std::max drops NaN; checked only away from it
    auto has_nan = [&](int c) { return std::find(nan_channels.begin(), nan_channels.end(), c) != nan_channels.end(); };

    const ref::Map got = run_max_pool<PoolPadding::never_wins>(x);
    for (int c = 0; c < channels; ++c)
      for (int i = 0; i < got.h; ++i)
        for (int j = 0; j < got.w; ++j) {
          // Window of output (i, j) covers input rows 2i-1 .. 2i+1.
          const bool sees_nan = has_nan(c) && std::abs(ny - 2 * i) <= 1 && std::abs(nx - 2 * j) <= 1;
          if (sees_nan)
            CHECK(std::isnan(got.at(0, c, i, j)));
          else
            CHECK(got.at(0, c, i, j) == want.at(0, c, i, j));
        }

    const ref::Map pooled = run(GlobalPooling{GlobalPool::max}, x);
    for (int c = 0; c < channels; ++c) CHECK(std::isnan(pooled.v[c]) == has_nan(c));
  }
}

TEST_CASE("ZeroPad matches the reference", "[layers][pad]") {
  for (const Size& sz : kSizes) {
    const ref::Map x = ref::random_map(sz.n, 13, sz.h, sz.w, 131);
    const ref::Map y = run(ZeroPad<2>{}, x);
    REQUIRE(ref::nhwc_shape(y) == (Shape{sz.n, sz.h + 4, sz.w + 4, 13}));
    CHECK(ref::max_scaled_error(y, ref::zero_pad(x, 2)) == 0.0);
  }
}

TEST_CASE("GlobalPooling avg and max match the reference", "[layers][pool]") {
  for (const Size& sz : kSizes) {
    INFO("map " << sz.n << "x" << sz.h << "x" << sz.w);
    const ref::Map x = ref::random_map(sz.n, 13, sz.h, sz.w, 141, -3.0, 5.0);
    const ref::Map avg = run(GlobalPooling{GlobalPool::avg}, x);
    REQUIRE(ref::nhwc_shape(avg) == (Shape{sz.n, 1, 1, 13}));
    CHECK(ref::max_scaled_error(avg, ref::global_avg(x)) <= 1e-6);
    CHECK(ref::max_scaled_error(run(GlobalPooling{GlobalPool::max}, x), ref::global_max(x)) == 0.0);
  }
  // More channels than one task takes (256), on three threads.
  const ref::Map wide = ref::random_map(2, 600, 3, 5, 142, -3.0, 5.0);
  CHECK(ref::max_scaled_error(run(GlobalPooling{GlobalPool::avg}, wide, 3), ref::global_avg(wide)) <= 1e-6);
  CHECK(ref::max_scaled_error(run(GlobalPooling{GlobalPool::max}, wide, 3), ref::global_max(wide)) == 0.0);
}

// ---------------------------------------------------------------- dense, softmax

TEST_CASE("Dense with 7 classes matches W x + b (torch [out,in] and Keras [in,out])", "[layers][dense]") {
  for (const ref::Layout layout : {ref::Layout::torch, ref::Layout::keras}) {
    const bool torch = layout == ref::Layout::torch;
    const std::string site = torch ? "fc" : "predictions";
    ref::WeightFile wf(layout, 151);
    std::vector<double> weight, bias;
    wf.dense(site, 7, 13, weight, bias);
    const io::SafeTensors file = wf.build();
    Dense<13> dense(7);
    REQUIRE(dense.classes() == 7);
    with_loader(layout, file, [&](auto& loader) {
      dense.load(loader, site);
      REQUIRE_NOTHROW(loader.finish());
    });

    const ref::Map x = ref::random_map(3, 13, 1, 1, 152, -2.0, 2.0);  // 3 rows of 13 features
    const std::vector<double> want = ref::dense(x.v, 3, 13, weight, bias);
    for (const int threads : {1, 3}) {
      const ref::Map out = run(dense, x, threads);
      REQUIRE(ref::nhwc_shape(out) == (Shape{3, 1, 1, 7}));
      for (std::size_t i = 0; i < want.size(); ++i) {
        INFO("keras=" << !torch << " threads " << threads << " index " << i);
        CHECK(std::abs(out.v[i] - want[i]) <= kTol * std::max(1.0, std::abs(want[i])));
      }
    }
  }
}

TEST_CASE("Dense with s8 weights (an int8 model's classifier) multiplies by the quantized weights",
          "[layers][dense][int8]") {
  // 130 classes: three blocks of classes over the threads, the last one short. Against
  // W' x + b in double with W' the per-class s8 weights times their scales; the fp32
  // weights' product is further off than the tolerance, so the check tells them apart.
  constexpr int in = 13, classes = 130;
  std::vector<float> weight(static_cast<std::size_t>(classes * in)), bias(classes);
  for (std::size_t i = 0; i < weight.size(); ++i) weight[i] = std::cos(0.71f * static_cast<float>(i)) * 0.5f;
  for (int c = 0; c < classes; ++c) bias[static_cast<std::size_t>(c)] = 0.003f * static_cast<float>(c);
  Dense<in> dense(classes, weight, bias);
  REQUIRE_FALSE(dense.int8_weights());
  dense.use_int8_weights(true);
  REQUIRE(dense.int8_weights());
  CHECK(dense.weight() == weight);  // the loaded values stay what a caller reads and saves
  const auto q = resnet::kernels::quantize_weights_per_channel(weight.data(), classes, in, in);
  const ref::Map x = ref::random_map(3, in, 1, 1, 153, -2.0, 2.0);
  double apart = 0;
  for (const int threads : {1, 3}) {
    const ref::Map out = run(dense, x, threads);
    REQUIRE(ref::nhwc_shape(out) == (Shape{3, 1, 1, classes}));
    for (int i = 0; i < 3; ++i)
      for (int c = 0; c < classes; ++c) {
        double want = 0, fp32 = 0;
        for (int t = 0; t < in; ++t) {
          const double v = x.v[static_cast<std::size_t>(i * in + t)];
          want += double(q.values[static_cast<std::size_t>(c * in + t)]) * q.scales[static_cast<std::size_t>(c)] * v;
          fp32 += double(weight[static_cast<std::size_t>(c * in + t)]) * v;
        }
        want += bias[static_cast<std::size_t>(c)];
        fp32 += bias[static_cast<std::size_t>(c)];
        INFO("threads " << threads << " image " << i << " class " << c);
        CHECK(std::abs(out.v[static_cast<std::size_t>(i * classes + c)] - want) <= 1e-5 * std::max(1.0, std::abs(want)));
        apart = std::max(apart, std::abs(fp32 - want));
      }
  }
  CHECK(apart > 1e-3);
  dense.use_int8_weights(false);  // and back to the fp32 product
  double fp32_first = bias[0];
  for (int t = 0; t < in; ++t) fp32_first += double(weight[static_cast<std::size_t>(t)]) * x.v[static_cast<std::size_t>(t)];
  CHECK(std::abs(run(dense, x, 1).v[0] - fp32_first) <= 1e-5);
}

TEST_CASE("Dense rejects a class count below 1", "[layers][dense][errors]") {
  try {
    Dense<13> bad(0);
    FAIL("no error for 0 classes");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::invalid_argument);
  }
}

TEST_CASE("softmax_rows matches exp(x) / sum exp(x) and survives large logits", "[layers][softmax]") {
  const ref::Map x = ref::random_map(3, 7, 1, 1, 161, -6.0, 6.0);
  const std::vector<double> want = ref::softmax_rows(x.v, 3, 7);
  std::vector<float> got(x.v.begin(), x.v.end());
  softmax_rows(got.data(), 3, 7);
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(std::abs(got[i] - want[i]) <= 1e-6);

  // exp(1000) overflows float; shifting by the row maximum must not.
  std::vector<float> large = {1000.0f, 1000.0f, 1000.0f, 1000.0f, 1000.0f, 1000.0f, 1000.0f,
                              1000.0f, 999.0f,  998.0f,  997.0f,  996.0f,  995.0f,  994.0f};
  softmax_rows(large.data(), 2, 7);
  for (int c = 0; c < 7; ++c) CHECK(std::abs(large[c] - 1.0 / 7.0) <= 1e-6);
  std::vector<double> shifted = {6, 5, 4, 3, 2, 1, 0};  // softmax is shift-invariant
  const std::vector<double> want_large = ref::softmax_rows(shifted, 1, 7);
  for (int c = 0; c < 7; ++c) CHECK(std::abs(large[7 + c] - want_large[c]) <= 1e-6);
}
