// Every fast convolution path against conv2d_reference, on odd shapes that reach the
// tails of the register tiles, the depth blocks and the Winograd tiles; plus the shapes
// ResNet-50 really has, and a check that run() never touches the heap.

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "resnet/kernels/conv2d.hpp"
#include "resnet/kernels/reference.hpp"

#include "allocation_probe.hpp"
#include "support.hpp"
#include "resnet50_conv_layers.hpp"

namespace {

using resnet::ThreadPool;
using resnet::kernels::ConvAlgorithm;
using resnet::kernels::ConvKernel;
using resnet::kernels::ConvShape;

using resnet50::random_vector;

/// max |a - b| / max |b|: the error relative to the output's magnitude (elementwise
/// relative error is meaningless for outputs that cancel to near zero).
double max_relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::abs(double(b[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

struct ConvCase {
  ConvShape shape;
  int n, h, w;
  bool bias, residual, relu;
};

std::string describe(const ConvCase& c, int threads) {
  return "in_c=" + std::to_string(c.shape.in_c) + " out_c=" + std::to_string(c.shape.out_c) +
         " k=" + std::to_string(c.shape.kernel) + " s=" + std::to_string(c.shape.stride) +
         " pad=" + std::to_string(c.shape.pad) + " n=" + std::to_string(c.n) + " h=" + std::to_string(c.h) +
         " w=" + std::to_string(c.w) + " bias=" + std::to_string(c.bias) + " residual=" +
         std::to_string(c.residual) + " relu=" + std::to_string(c.relu) + " threads=" + std::to_string(threads);
}

/// Runs ConvKernel(algorithm) and the reference on one random case; returns the error.
double compare(const ConvCase& c, ConvAlgorithm algorithm, int threads, std::string* name = nullptr) {
  const ConvShape& s = c.shape;
  const int oh = s.out_side(c.h), ow = s.out_side(c.w);
  const auto weight = random_vector(static_cast<std::size_t>(s.weight_count()), 1);
  const auto bias = c.bias ? random_vector(static_cast<std::size_t>(s.out_c), 2) : std::vector<float>{};
  const auto in = random_vector(static_cast<std::size_t>(c.n) * c.h * c.w * s.in_c, 3);
  const std::size_t out_size = static_cast<std::size_t>(c.n) * oh * ow * s.out_c;
  const auto residual = c.residual ? random_vector(out_size, 4) : std::vector<float>{};

  const float* fused = c.residual ? residual.data() : nullptr;
  std::vector<float> expected(out_size);
  resnet::kernels::conv2d_reference(s, weight.data(), c.bias ? bias.data() : nullptr, in.data(), c.n, c.h, c.w,
                                    expected.data(), fused, c.relu);

  ConvKernel kernel(s, weight, bias, algorithm);
  if (name) *name = kernel.algorithm_name();
  ThreadPool pool(threads);
  std::vector<float> scratch(kernel.scratch_floats(c.n, c.h, c.w, threads), std::nanf(""));
  std::vector<float> out(out_size, std::nanf(""));  // NaN: a missed output element shows up
  kernel.run(in.data(), c.n, c.h, c.w, out.data(), fused, c.relu, scratch.data(), pool);
  for (float x : out)
    if (std::isnan(x)) return 1e9;
  return max_relative_error(out, expected);
}

std::vector<ConvCase> odd_cases(int kernel, int stride) {
  const int pad = kernel / 2;
  std::vector<ConvCase> cases;
  const bool flags[4][3] = {{false, false, false}, {true, false, true}, {true, true, true}, {false, true, false}};
  for (const auto& f : flags) cases.push_back({{13, 24, kernel, stride, pad}, 2, 7, 9, f[0], f[1], f[2]});
  cases.push_back({{5, 3, kernel, stride, pad}, 1, 1, 9, true, true, true});    // h = 1
  cases.push_back({{17, 50, kernel, stride, pad}, 1, 11, 1, true, false, true});  // w = 1
  cases.push_back({{40, 70, kernel, stride, pad}, 2, 15, 13, true, true, true});  // tails of the 48-row tile
  cases.push_back({{300, 37, kernel, stride, pad}, 1, 6, 5, true, true, false});  // several depth blocks
  // Output channels a multiple of 16 (48- and 16-row panels; 1x1 reads its columns in
  // place), with leftover columns after the 8-column tiles and several depth blocks.
  cases.push_back({{272, 64, kernel, stride, pad}, 1, 5, 7, true, true, true});
  cases.push_back({{24, 32, kernel, stride, pad}, 3, 9, 6, true, false, true});
  // 112 = 48 + 32 + 32 output channels: the last 64 rows packed as two 32-row blocks.
  cases.push_back({{300, 112, kernel, stride, pad}, 1, 6, 7, true, true, true});
  return cases;
}

}  // namespace

TEST_CASE("reference convolution matches hand-computed values", "[conv][reference]") {
  // 1 channel 3x3 input 1..9, all-ones 3x3 kernel, pad 1: each output is the sum of its
  // in-image neighbourhood.
  const std::vector<float> in = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::vector<float> weight(9, 1.0f);
  std::vector<float> out(9);
  const float bias = 0.5f;
  resnet::kernels::conv2d_reference({1, 1, 3, 1, 1}, weight.data(), &bias, in.data(), 1, 3, 3, out.data());
  const std::vector<float> expected = {12.5f, 21.5f, 16.5f, 27.5f, 45.5f, 33.5f, 24.5f, 39.5f, 28.5f};
  CHECK(out == expected);

  // stride 2, 2 output channels (second one negated), ReLU, residual.
  const std::vector<float> w2 = {1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
  const std::vector<float> res = {1, 1, 2, 2, 3, 3, 4, 4};
  std::vector<float> out2(8);
  resnet::kernels::conv2d_reference({1, 2, 3, 2, 1}, w2.data(), nullptr, in.data(), 1, 3, 3, out2.data(), res.data(),
                                    true);
  // Outputs at (0,0),(0,2),(2,0),(2,2): sums 12, 16, 24, 28.
  CHECK(out2 == std::vector<float>{13, 0, 18, 0, 27, 0, 32, 0});
}

TEST_CASE("GEMM paths match the reference on odd shapes", "[conv][gemm]") {
  const int configs[][2] = {{1, 1}, {1, 2}, {3, 1}, {3, 2}, {7, 2}, {7, 1}, {5, 3}};
  for (const auto& kc : configs)
    for (const ConvCase& c : odd_cases(kc[0], kc[1]))
      for (int threads : {1, 3}) {
        std::string name;
        const double err = compare(c, ConvAlgorithm::gemm, threads, &name);
        INFO(name << " " << describe(c, threads));
        CHECK(err < 1e-5);
      }
}

// Winograd error bounds. F(4x4,3x3) interpolates at 0, +-1, +-2, +-1/2 and infinity: its
// transforms scale intermediate values by up to ~10-100 before they cancel, so float32
// rounding grows to ~1e-5 of the output's magnitude on random 64..512-channel layers
// (measured 2e-6 .. 1.1e-5), where direct convolution and F(2x2) (points 0, +-1, inf)
// stay at ~5e-7. Bounds: 1e-4 for F(4x4), 1e-5 for the rest, both ~10x above measured.
TEST_CASE("Winograd F(2x2,3x3) matches the reference on odd shapes", "[conv][winograd]") {
  for (const ConvCase& c : odd_cases(3, 1))
    for (int threads : {1, 3}) {
      INFO(describe(c, threads));
      CHECK(compare(c, ConvAlgorithm::winograd_2x2, threads) < 1e-5);
    }
}

TEST_CASE("Winograd stride-2 F(2x2,3x3) matches the reference on odd shapes", "[conv][winograd]") {
  for (const ConvCase& c : odd_cases(3, 2))
    for (int threads : {1, 3}) {
      INFO(describe(c, threads));
      CHECK(compare(c, ConvAlgorithm::winograd_2x2, threads) < 1e-5);
    }
}

TEST_CASE("Winograd F(4x4,3x3) matches the reference on odd shapes", "[conv][winograd]") {
  for (const ConvCase& c : odd_cases(3, 1))
    for (int threads : {1, 3}) {
      INFO(describe(c, threads));
      CHECK(compare(c, ConvAlgorithm::winograd_4x4, threads) < 1e-4);
    }
}

TEST_CASE("Winograd with padding 0 and 2", "[conv][winograd]") {
  for (int pad : {0, 2})
    for (auto algo : {ConvAlgorithm::winograd_2x2, ConvAlgorithm::winograd_4x4})
      for (int stride : {1, 2}) {
        if (stride == 2 && algo == ConvAlgorithm::winograd_4x4) continue;
        const ConvCase c{{13, 24, 3, stride, pad}, 2, 7, 9, true, true, true};
        INFO(describe(c, 2));
        CHECK(compare(c, algo, 2) < 1e-4);
      }
}

TEST_CASE("GEMM packs B when a window row is too short to read in place", "[conv][gemm]") {
  // A 9x9 window over 3 channels: a 243-deep block holds 9 window rows of 27 floats, more
  // runs than the panel kernels' pointer table takes, so B is packed (with 16 output
  // channels, through the panel kernels' packed-B path).
  for (int threads : {1, 3}) {
    const ConvCase c{{3, 16, 9, 1, 4}, 2, 11, 10, true, true, true};
    INFO(describe(c, threads));
    CHECK(compare(c, ConvAlgorithm::gemm, threads) < 1e-5);
  }
}

TEST_CASE("GEMM splits rows between threads over the 32-row tail blocks", "[conv][gemm]") {
  // Few columns (a 5x5 or 3x3 map at batch 1): the threads take row ranges, one of which
  // ends in the two 32-row blocks of 256 = 4 x 48 + 32 + 32 (or 64) output channels.
  for (const ConvCase& c : {ConvCase{{96, 256, 1, 1, 0}, 1, 5, 5, true, true, true},
                            ConvCase{{40, 64, 3, 1, 1}, 1, 3, 3, true, true, true},
                            ConvCase{{64, 1024, 1, 2, 0}, 1, 6, 5, true, false, true}})
    for (int threads : {2, 3}) {
      std::string name;
      const double err = compare(c, ConvAlgorithm::gemm, threads, &name);
      INFO(name << " " << describe(c, threads));
      CHECK(err < 1e-5);
    }
}

TEST_CASE("ConvKernel on the shapes of ResNet-50 at batch 1", "[conv][resnet50]") {
  for (const auto& l : resnet50::kConvLayers) {
    const ConvCase c{l.s, 1, l.side, l.side, true, l.s.out_c == 256, true};
    std::string name;
    const double err = compare(c, ConvAlgorithm::automatic, 2, &name);
    INFO(name << " " << describe(c, 2));
    CHECK(err < (name == std::string("winograd_4x4") ? 1e-4 : 1e-5));
  }
}

TEST_CASE("ConvKernel::run does not allocate", "[conv][alloc]") {
  const ConvShape shapes[] = {{64, 256, 1, 1, 0}, {256, 512, 1, 2, 0}, {3, 64, 7, 2, 3},
                              {64, 64, 3, 2, 1},  {64, 64, 3, 1, 1},   {512, 512, 3, 1, 1},
                              {128, 128, 3, 2, 1, 32}};
  ThreadPool pool(2);
  for (const ConvShape& s : shapes)
    for (auto algo : {ConvAlgorithm::automatic, ConvAlgorithm::gemm})
      for (const int side : {7, 20}) {  // 7: few tiles and columns (phased Winograd, row-split GEMM)
      const int h = side, w = side - 3 * (side > 7), n = side > 7 ? 2 : 1;
      ConvKernel kernel(s, random_vector(static_cast<std::size_t>(s.weight_count()), 5),
                        random_vector(static_cast<std::size_t>(s.out_c), 6), algo);
      const auto in = random_vector(static_cast<std::size_t>(n) * h * w * s.in_c, 7);
      std::vector<float> out(static_cast<std::size_t>(n) * s.out_side(h) * s.out_side(w) * s.out_c);
      const std::vector<float> residual = random_vector(out.size(), 8);
      std::vector<float> scratch(kernel.scratch_floats(n, h, w, pool.size()));
      kernel.run(in.data(), n, h, w, out.data(), residual.data(), true, scratch.data(), pool);  // warm-up
      allocation_probe::arm();
      kernel.run(in.data(), n, h, w, out.data(), residual.data(), true, scratch.data(), pool);
      const long allocations = allocation_probe::disarm().count;
      INFO(kernel.algorithm_name() << " in_c=" << s.in_c << " out_c=" << s.out_c << " k=" << s.kernel);
      CHECK(allocations == 0);
    }
}

TEST_CASE("ConvKernel rejects bad weights, bias and inputs", "[conv][errors]") {
  const ConvShape s{4, 8, 3, 1, 1};
  using resnet::ErrorKind;
  using test_support::kind_of;
  CHECK(kind_of([&] { ConvKernel k(s, std::vector<float>(10), {}); }) == ErrorKind::shape_mismatch);
  CHECK(kind_of([&] { ConvKernel k(s, std::vector<float>(288), std::vector<float>(3)); }) ==
        ErrorKind::shape_mismatch);
  CHECK(kind_of([&] { ConvKernel k({4, 8, 3, 2, 1}, std::vector<float>(288), {}, ConvAlgorithm::winograd_4x4); }) ==
        ErrorKind::invalid_argument);
  CHECK(kind_of([&] { ConvKernel k({4, 8, 3, 3, 1}, std::vector<float>(288), {}, ConvAlgorithm::winograd_2x2); }) ==
        ErrorKind::invalid_argument);
  CHECK(kind_of([&] { ConvKernel k({0, 8, 3, 1, 1}, {}, {}); }) == ErrorKind::invalid_argument);
  ConvKernel k({4, 8, 3, 1, 0}, std::vector<float>(288), {});
  ThreadPool pool(1);
  std::vector<float> buf(64);
  CHECK(kind_of([&] { k.run(buf.data(), 1, 2, 2, buf.data(), nullptr, false, buf.data(), pool); }) == ErrorKind::shape_mismatch);
}

TEST_CASE("ConvKernel output may be the residual buffer itself", "[conv][residual]") {
  for (auto algo : {ConvAlgorithm::gemm, ConvAlgorithm::winograd_2x2, ConvAlgorithm::winograd_4x4,
                    ConvAlgorithm::direct}) {
    const int ch = algo == ConvAlgorithm::direct ? 32 : 24;
    const ConvShape s{ch, ch, 3, 1, 1, algo == ConvAlgorithm::direct ? 4 : 1};
    const int n = 2, h = 9, w = 11;
    const auto weight = random_vector(static_cast<std::size_t>(s.weight_count()), 11);
    const auto bias = random_vector(static_cast<std::size_t>(ch), 12);
    const auto in = random_vector(static_cast<std::size_t>(n) * h * w * ch, 13);
    const auto residual = random_vector(in.size(), 14);
    std::vector<float> expected(in.size());
    resnet::kernels::conv2d_reference(s, weight.data(), bias.data(), in.data(), n, h, w, expected.data(),
                                      residual.data(), true);
    ConvKernel kernel(s, weight, bias, algo);
    ThreadPool pool(2);
    std::vector<float> scratch(kernel.scratch_floats(n, h, w, 2));
    std::vector<float> out = residual;  // in place: out is the residual
    kernel.run(in.data(), n, h, w, out.data(), out.data(), true, scratch.data(), pool);
    INFO(kernel.algorithm_name());
    CHECK(max_relative_error(out, expected) < 1e-4);
  }
}

TEST_CASE("reference grouped convolution matches hand-computed values", "[conv][reference][grouped]") {
  // 4 inputs, 2 groups, 1x1: outputs 0-1 see inputs 0-1 only, outputs 2-3 inputs 2-3.
  const std::vector<float> in = {1, 2, 3, 4};
  const std::vector<float> weight = {1, 10, 2, 20, 3, 30, 4, 40};  // OHWI [4][1][1][2]
  std::vector<float> out(4);
  resnet::kernels::conv2d_reference({4, 4, 1, 1, 0, 2}, weight.data(), nullptr, in.data(), 1, 1, 1, out.data());
  CHECK(out == std::vector<float>{21, 42, 129, 172});  // 1*1+10*2, 2*1+20*2, 3*3+30*4, 4*3+40*4
}

// ResNeXt's group widths (4, 8, 16, 32 channels; 1 = depthwise), stride 1 and 2, odd
// maps with borders on every side; and shapes only the per-group path takes. 16 wide:
// 48 channels run one group per tile, 64 two (a pair of groups); 32 and 64 wide at these
// widths take the flattened tiles that cross rows.
TEST_CASE("grouped convolution matches the reference on odd shapes", "[conv][grouped]") {
  const ConvShape direct_shapes[] = {{64, 64, 3, 1, 1, 16}, {64, 64, 3, 2, 1, 8},  {48, 48, 3, 1, 1, 3},
                                     {64, 64, 3, 2, 1, 2},  {16, 16, 3, 1, 1, 16}, {32, 32, 3, 1, 1, 16},
                                     {32, 32, 1, 1, 0, 4},  {128, 128, 3, 1, 1, 2}, {96, 96, 3, 2, 1, 2},
                                     {64, 64, 3, 1, 1, 4},  {64, 64, 3, 2, 1, 4},  {64, 64, 3, 2, 1, 16},
                                     {32, 32, 1, 1, 0, 8},  {128, 128, 3, 1, 1, 32}};  // the last three 4 wide
  for (const ConvShape& s : direct_shapes)
    for (auto algo : {ConvAlgorithm::automatic, ConvAlgorithm::gemm, ConvAlgorithm::winograd_2x2})
      for (int threads : {1, 3}) {
        if (algo == ConvAlgorithm::winograd_2x2 && s.kernel != 3) continue;
        const ConvCase c{s, 2, 11, 13, true, threads == 3, true};
        std::string name;
        const double err = compare(c, algo, threads, &name);
        INFO(name << " " << describe(c, threads) << " groups=" << s.groups);
        CHECK(name == (algo == ConvAlgorithm::automatic ? "grouped_direct" : name));
        CHECK(err < 1e-5);
      }
  for (const ConvShape& s : {ConvShape{12, 18, 3, 2, 1, 3}, ConvShape{40, 40, 3, 1, 1, 4}}) {
    std::string name;
    const double err = compare({s, 1, 6, 5, true, true, true}, ConvAlgorithm::automatic, 2, &name);
    INFO(name);
    CHECK(name == "grouped_im2col_gemm");  // 4 -> 6 or 10 channels per group: not the direct kernel's
    CHECK(err < 1e-5);
  }
  const ConvCase tiny{{32, 32, 3, 2, 1, 4}, 1, 1, 2, true, true, true};  // 1x2 map: every tap a border tap
  CHECK(compare(tiny, ConvAlgorithm::direct, 2) < 1e-5);
  using test_support::kind_of;
  CHECK(kind_of([&] { ConvKernel k({12, 18, 3, 1, 1, 3}, std::vector<float>(12 * 18 * 3), {}, ConvAlgorithm::direct); }) ==
        resnet::ErrorKind::invalid_argument);
  CHECK(kind_of([&] { ConvKernel k({12, 18, 3, 1, 1, 4}, std::vector<float>(486), {}); }) ==
        resnet::ErrorKind::invalid_argument);
}
