// Shortcuts, residual blocks and a stage against compositions of the plain NCHW
// double reference (reference_net.hpp), written from docs/spec.md 1.4. Every block is
// loaded from an in-memory safetensors file with random weights under hand-spelled
// names (docs/spec.md 4.1, 4.2), run on odd maps (7x9, 1x1, 2x3; batch 2), and the workspace
// is filled with NaN first so a read of memory nobody wrote shows up in the output.
//
// Tolerance: |got - ref| <= tol * max(1, |ref|). tol = 1e-4 (kBlockTol) where every conv
// runs a GEMM path or nothing is computed. Blocks with a 3x3 stride-1 conv run it
// through Winograd F(4x4) (in * out <= 256 * 256), whose rounding error is about ten
// times the GEMM's (a lone 64->64 conv: 1.8e-5 against 1.9e-6) and is amplified by the
// folded BN scale; measured worst 7.8e-5 (CIFAR 32->64 block, the 4-block KV2 stage),
// so those use kBlockWinogradTol = 5e-4, still far below what a wrong index or a missing
// term gives (>= 1e-2).

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <resnet/blocks/basic.hpp>
#include <resnet/blocks/bottleneck.hpp>
#include <resnet/blocks/stage.hpp>
#include <resnet/core/workspace.hpp>
#include <resnet/models/naming.hpp>

#include "layer_harness.hpp"

using namespace resnet;

namespace {

constexpr double kBlockTol = 1e-4;
constexpr double kBlockWinogradTol = 5e-4;

using harness::kSizes;
using harness::run;
using harness::Size;

using BlockReference = std::function<ref::Map(const ref::Map&)>;

/// Loads Block from `wf` at `prefix`, checks every tensor was taken, and compares the
/// block with `reference` on every size of kSizes.
template <class Block, class Names>
void check_block(const ref::WeightFile& wf, const std::string& prefix, const BlockReference& reference, unsigned seed,
                 double tol, int threads = 1) {
  const io::SafeTensors file = wf.build();
  WeightLoader<Names> loader(file);
  Block block;
  block.load(loader, prefix);
  REQUIRE_NOTHROW(loader.finish());
  for (const Size& sz : kSizes) {
    INFO("block " << prefix << " map " << sz.n << "x" << Block::in_channels << "x" << sz.h << "x" << sz.w << " threads "
                  << threads);
    const ref::Map x = ref::random_map(sz.n, Block::in_channels, sz.h, sz.w, seed, -2.0, 2.0);
    const ref::Map want = reference(x);
    const ref::Map got = run(block, x, threads);
    const Extent e = Block::output_extent({sz.h, sz.w});
    CHECK(e.h == want.h);
    CHECK(e.w == want.w);
    CHECK(got.c == Block::out_channels);
    CHECK(ref::max_scaled_error(got, want) <= tol);
  }
}

// ---- reference blocks (docs/spec.md 1.4), built while writing their weights ----

/// V1 basic block: relu(bn2(conv2(relu(bn1(conv1_s(x))))) + sc(x)).
/// shortcut: 'p' projection conv+BN, 'a' option A, 'i' identity.
BlockReference basic_v1(ref::WeightFile& wf, const std::string& p, int in, int planes, int stride, char shortcut) {
  const ref::Conv c1 = wf.conv(p + "conv1", planes, in, 3, stride, false);
  const ref::Norm b1 = wf.batch_norm(p + "bn1", planes, 1e-5);
  const ref::Conv c2 = wf.conv(p + "conv2", planes, planes, 3, 1, false);
  const ref::Norm b2 = wf.batch_norm(p + "bn2", planes, 1e-5);
  ref::Conv c0;
  ref::Norm b0;
  if (shortcut == 'p') {
    c0 = wf.conv(p + "downsample.0", planes, in, 1, stride, false);
    b0 = wf.batch_norm(p + "downsample.1", planes, 1e-5);
  }
  return [=](const ref::Map& x) {
    const ref::Map h = ref::batch_norm(ref::conv2d(ref::relu(ref::batch_norm(ref::conv2d(x, c1), b1)), c2), b2);
    const ref::Map sc = shortcut == 'p'   ? ref::batch_norm(ref::conv2d(x, c0), b0)
                        : shortcut == 'a' ? ref::option_a(x, planes)
                                          : x;
    return ref::relu(ref::add(h, sc));
  };
}

/// V1 bottleneck, torchvision names (no conv bias, stride on the 3x3 or the first 1x1).
BlockReference bottleneck_tv(ref::WeightFile& wf, const std::string& p, int in, int width, int stride, bool stride_on_1x1,
                        bool project) {
  const int s1 = stride_on_1x1 ? stride : 1, s2 = stride_on_1x1 ? 1 : stride;
  const ref::Conv c1 = wf.conv(p + "conv1", width, in, 1, s1, false);
  const ref::Norm b1 = wf.batch_norm(p + "bn1", width, 1e-5);
  const ref::Conv c2 = wf.conv(p + "conv2", width, width, 3, s2, false);
  const ref::Norm b2 = wf.batch_norm(p + "bn2", width, 1e-5);
  const ref::Conv c3 = wf.conv(p + "conv3", 4 * width, width, 1, 1, false);
  const ref::Norm b3 = wf.batch_norm(p + "bn3", 4 * width, 1e-5);
  ref::Conv c0;
  ref::Norm b0;
  if (project) {
    c0 = wf.conv(p + "downsample.0", 4 * width, in, 1, stride, false);
    b0 = wf.batch_norm(p + "downsample.1", 4 * width, 1e-5);
  }
  return [=](const ref::Map& x) {
    ref::Map h = ref::relu(ref::batch_norm(ref::conv2d(x, c1), b1));
    h = ref::relu(ref::batch_norm(ref::conv2d(h, c2), b2));
    h = ref::batch_norm(ref::conv2d(h, c3), b3);
    return ref::relu(ref::add(h, project ? ref::batch_norm(ref::conv2d(x, c0), b0) : x));
  };
}

/// KV1 bottleneck (residual_block_v1): Keras names, every conv biased, stride on _1_conv.
BlockReference bottleneck_kv1(ref::WeightFile& wf, const std::string& p, int in, int f, int stride, bool project) {
  const double eps = 1.001e-5;
  ref::Conv c0;
  ref::Norm b0;
  if (project) {
    c0 = wf.conv(p + "_0_conv", 4 * f, in, 1, stride, true);
    b0 = wf.batch_norm(p + "_0_bn", 4 * f, eps);
  }
  const ref::Conv c1 = wf.conv(p + "_1_conv", f, in, 1, stride, true);
  const ref::Norm b1 = wf.batch_norm(p + "_1_bn", f, eps);
  const ref::Conv c2 = wf.conv(p + "_2_conv", f, f, 3, 1, true);
  const ref::Norm b2 = wf.batch_norm(p + "_2_bn", f, eps);
  const ref::Conv c3 = wf.conv(p + "_3_conv", 4 * f, f, 1, 1, true);
  const ref::Norm b3 = wf.batch_norm(p + "_3_bn", 4 * f, eps);
  return [=](const ref::Map& x) {
    const ref::Map sc = project ? ref::batch_norm(ref::conv2d(x, c0), b0) : x;
    ref::Map h = ref::relu(ref::batch_norm(ref::conv2d(x, c1), b1));
    h = ref::relu(ref::batch_norm(ref::conv2d(h, c2), b2));
    h = ref::batch_norm(ref::conv2d(h, c3), b3);
    return ref::relu(ref::add(sc, h));
  };
}

/// KV2 bottleneck (residual_block_v2): a = relu(preact_bn(x)); projection on a,
/// otherwise subsample or identity on the raw x; _1/_2 with BN, no bias; _3 and _0
/// biased, no BN; no ReLU after the add.
BlockReference bottleneck_kv2(ref::WeightFile& wf, const std::string& p, int in, int f, int stride, bool project) {
  const double eps = 1.001e-5;
  const ref::Norm pre = wf.batch_norm(p + "_preact_bn", in, eps);
  ref::Conv c0;
  if (project) c0 = wf.conv(p + "_0_conv", 4 * f, in, 1, stride, true);
  const ref::Conv c1 = wf.conv(p + "_1_conv", f, in, 1, 1, false);
  const ref::Norm b1 = wf.batch_norm(p + "_1_bn", f, eps);
  const ref::Conv c2 = wf.conv(p + "_2_conv", f, f, 3, stride, false);  // ZeroPad 1 + valid == pad 1 (docs/spec.md 1.7)
  const ref::Norm b2 = wf.batch_norm(p + "_2_bn", f, eps);
  const ref::Conv c3 = wf.conv(p + "_3_conv", 4 * f, f, 1, 1, true);
  return [=](const ref::Map& x) {
    const ref::Map a = ref::relu(ref::batch_norm(x, pre));
    const ref::Map sc = project ? ref::conv2d(a, c0) : stride > 1 ? ref::max_pool(x, 1, stride, 0, false) : x;
    ref::Map h = ref::relu(ref::batch_norm(ref::conv2d(a, c1), b1));
    h = ref::relu(ref::batch_norm(ref::conv2d(h, c2), b2));
    h = ref::conv2d(h, c3);
    return ref::add(sc, h);
  };
}

/// Pre-activation basic block in the Keras V2 style (the library's PreActBasicBlock):
/// a = relu(preact_bn(x)); h = conv2(relu(bn1(conv1_s(a)))) with conv2 biased;
/// shortcut = biased 1x1 projection of a where channels change, else subsample /
/// identity of x; no ReLU after the add.
BlockReference basic_kv2(ref::WeightFile& wf, const std::string& p, int in, int planes, int stride) {
  const double eps = 1.001e-5;
  const bool project = in != planes;
  const ref::Norm pre = wf.batch_norm(p + "_preact_bn", in, eps);
  ref::Conv c0;
  if (project) c0 = wf.conv(p + "_0_conv", planes, in, 1, stride, true);
  const ref::Conv c1 = wf.conv(p + "_1_conv", planes, in, 3, stride, false);
  const ref::Norm b1 = wf.batch_norm(p + "_1_bn", planes, eps);
  const ref::Conv c2 = wf.conv(p + "_2_conv", planes, planes, 3, 1, true);
  return [=](const ref::Map& x) {
    const ref::Map a = ref::relu(ref::batch_norm(x, pre));
    const ref::Map sc = project ? ref::conv2d(a, c0) : stride > 1 ? ref::subsample(x) : x;
    const ref::Map h = ref::conv2d(ref::relu(ref::batch_norm(ref::conv2d(a, c1), b1)), c2);
    return ref::add(sc, h);
  };
}

}  // namespace

// ================================================================ shortcuts

TEST_CASE("Identity shortcut hands back its input untouched", "[blocks][shortcut]") {
  const ref::Map x = ref::random_map(2, 13, 7, 9, 1);
  Workspace ws(1);
  Identity<13> id;
  ws.run([&] {
    const FeatureMap in = ws.import(harness::to_tensor(x).data(), ref::nhwc_shape(x), Layout::nhwc);
    const FeatureMap y = id.forward(in, ws);
    CHECK(y.data() == in.data());  // shared, not copied
    CHECK(y.shape() == in.shape());
  });
  CHECK(ref::max_scaled_error(run(id, x), x) == 0.0);
  CHECK(Identity<13>::parameter_count() == 0);
}

TEST_CASE("Projection shortcut is BN(conv1x1 stride 2) under torchvision names", "[blocks][shortcut]") {
  ref::WeightFile wf(ref::Layout::torch, 2);
  const ref::Conv c0 = wf.conv("layer2.0.downsample.0", 19, 13, 1, 2, false);
  const ref::Norm b0 = wf.batch_norm("layer2.0.downsample.1", 19, 1e-5);
  const io::SafeTensors file = wf.build();
  WeightLoader<naming::Torchvision> loader(file);
  REQUIRE(loader.block(1, 0) == "layer2.0");
  Projection<ConvUnit<Conv2d<13, 19, 1, 2>, BatchNorm<19, TorchEps>>> proj;
  proj.load(loader, "layer2.0");
  REQUIRE_NOTHROW(loader.finish());

  for (const Size& sz : kSizes) {
    const ref::Map x = ref::random_map(sz.n, 13, sz.h, sz.w, 3);
    const ref::Map got = run(proj, x);
    REQUIRE(ref::nhwc_shape(got) == (Shape{sz.n, (sz.h + 1) / 2, (sz.w + 1) / 2, 19}));
    CHECK(ref::max_scaled_error(got, ref::batch_norm(ref::conv2d(x, c0), b0)) <= kBlockTol);
  }
}

namespace {

/// Spec 7.6 as stated: zeros at both ends, input channel c at 8+c (16+c for 32->64),
/// sampled at even rows and columns, ceil(H/2) x ceil(W/2).
template <int In, int Out>
void check_option_a() {
  constexpr int before = (Out - In) / 2;
  for (const Size& sz : {Size{1, 7, 9}, Size{2, 8, 8}, Size{1, 1, 1}, Size{2, 2, 3}, Size{1, 32, 32}}) {
    INFO(In << "->" << Out << " map " << sz.h << "x" << sz.w);
    const ref::Map x = ref::random_map(sz.n, In, sz.h, sz.w, 4, 0.5, 1.5);  // never zero
    const ref::Map got = run(ZeroPadShortcut<In, Out>{}, x);
    REQUIRE(ref::nhwc_shape(got) == (Shape{sz.n, (sz.h + 1) / 2, (sz.w + 1) / 2, Out}));

    bool zeros_ok = true, copies_ok = true;
    for (int n = 0; n < got.n; ++n)
      for (int c = 0; c < Out; ++c)
        for (int i = 0; i < got.h; ++i)
          for (int j = 0; j < got.w; ++j) {
            const double v = got.at(n, c, i, j);
            if (c < before || c >= before + In)
              zeros_ok = zeros_ok && v == 0.0;
            else
              copies_ok = copies_ok && v == x.at(n, c - before, 2 * i, 2 * j);
          }
    CHECK(zeros_ok);
    CHECK(copies_ok);
    CHECK(ref::max_scaled_error(got, ref::option_a(x, Out)) == 0.0);
  }
}

}  // namespace

TEST_CASE("CIFAR option A 16->32: channels 0-7 and 24-31 zero, 8+c = x[c, ::2, ::2] (docs/spec.md 7.6)",
          "[blocks][shortcut][spec]") {
  check_option_a<16, 32>();
}

TEST_CASE("CIFAR option A 32->64: 16 zero channels on each side (docs/spec.md 7.6)", "[blocks][shortcut][spec]") {
  check_option_a<32, 64>();
}

TEST_CASE("SubsampleShortcut is x[:, ::2, ::2] with ceil(H/2) outputs", "[blocks][shortcut]") {
  for (const Size& sz : kSizes) {
    const ref::Map x = ref::random_map(sz.n, 13, sz.h, sz.w, 5);
    const ref::Map got = run(SubsampleShortcut<13>{}, x);
    CHECK(ref::max_scaled_error(got, ref::subsample(x)) == 0.0);
    CHECK(ref::max_scaled_error(got, ref::max_pool(x, 1, 2, 0, false)) == 0.0);  // the Keras layer it stands for
  }
}

// ================================================================ V1 blocks

TEST_CASE("BasicBlock with projection (torchvision layer2.0)", "[blocks][basic]") {
  ref::WeightFile wf(ref::Layout::torch, 10);
  const BlockReference r = basic_v1(wf, "layer2.0.", 13, 16, 2, 'p');
  check_block<BasicBlock<13, 16, 2, TorchEps>, naming::Torchvision>(wf, "layer2.0", r, 11, kBlockWinogradTol);
}

TEST_CASE("BasicBlock with identity (torchvision layer1.1)", "[blocks][basic]") {
  ref::WeightFile wf(ref::Layout::torch, 12);
  const BlockReference r = basic_v1(wf, "layer1.1.", 16, 16, 1, 'i');
  check_block<BasicBlock<16, 16, 1, TorchEps>, naming::Torchvision>(wf, "layer1.1", r, 13, kBlockWinogradTol);
}

TEST_CASE("BasicBlock with option A shortcut (CIFAR layer2.0, module. prefix)", "[blocks][basic][cifar]") {
  ref::WeightFile wf(ref::Layout::torch, 14, "module.");
  const BlockReference r = basic_v1(wf, "layer2.0.", 16, 32, 2, 'a');
  check_block<BasicBlock<16, 32, 2, TorchEps, ShortcutKind::zero_pad>, naming::Cifar>(wf, "layer2.0", r, 15,
                                                                       kBlockWinogradTol);
}

TEST_CASE("BasicBlock 32->64 option A (CIFAR layer3.0)", "[blocks][basic][cifar]") {
  ref::WeightFile wf(ref::Layout::torch, 16);
  const BlockReference r = basic_v1(wf, "layer3.0.", 32, 64, 2, 'a');
  check_block<BasicBlock<32, 64, 2, TorchEps, ShortcutKind::zero_pad>, naming::Cifar>(wf, "layer3.0", r, 17,
                                                                       kBlockWinogradTol);
}

TEST_CASE("Bottleneck, stride 2 on the 3x3 (torchvision V1.5)", "[blocks][bottleneck]") {
  ref::WeightFile wf(ref::Layout::torch, 20);
  const BlockReference r = bottleneck_tv(wf, "layer2.0.", 13, 6, 2, false, true);
  check_block<Bottleneck<13, 6, 2, StrideOn::middle_3x3, TorchEps>, naming::Torchvision>(wf, "layer2.0", r, 21, kBlockTol);
}

TEST_CASE("Bottleneck, stride 2 on the first 1x1 (torchvision names)", "[blocks][bottleneck]") {
  ref::WeightFile wf(ref::Layout::torch, 22);
  const BlockReference r = bottleneck_tv(wf, "layer2.0.", 13, 6, 2, true, true);
  check_block<Bottleneck<13, 6, 2, StrideOn::first_1x1, TorchEps>, naming::Torchvision>(wf, "layer2.0", r, 23,
                                                                   kBlockWinogradTol);
}

TEST_CASE("Bottleneck, projection at stride 1 and identity (torchvision layer1)", "[blocks][bottleneck]") {
  {
    ref::WeightFile wf(ref::Layout::torch, 24);
    const BlockReference r = bottleneck_tv(wf, "layer1.0.", 13, 6, 1, false, true);  // 13 != 24: projects
    check_block<Bottleneck<13, 6, 1, StrideOn::middle_3x3, TorchEps>, naming::Torchvision>(wf, "layer1.0", r, 25,
                                                                      kBlockWinogradTol);
  }
  {
    ref::WeightFile wf(ref::Layout::torch, 26);
    const BlockReference r = bottleneck_tv(wf, "layer1.1.", 24, 6, 1, false, false);
    check_block<Bottleneck<24, 6, 1, StrideOn::middle_3x3, TorchEps>, naming::Torchvision>(wf, "layer1.1", r, 27,
                                                                      kBlockWinogradTol);
  }
}

TEST_CASE("Keras V1 bottleneck: biased convs, stride on _1_conv (conv3_block1)", "[blocks][bottleneck][keras]") {
  ref::WeightFile wf(ref::Layout::keras, 30);
  const BlockReference r = bottleneck_kv1(wf, "conv3_block1", 13, 6, 2, true);
  check_block<Bottleneck<13, 6, 2, StrideOn::first_1x1, KerasEps, Bias::with>, naming::Keras>(wf, "conv3_block1", r, 31,
                                                                               kBlockWinogradTol);
}

TEST_CASE("Keras V1 bottleneck with identity (conv3_block2)", "[blocks][bottleneck][keras]") {
  ref::WeightFile wf(ref::Layout::keras, 32);
  const BlockReference r = bottleneck_kv1(wf, "conv3_block2", 24, 6, 1, false);
  check_block<Bottleneck<24, 6, 1, StrideOn::first_1x1, KerasEps, Bias::with>, naming::Keras>(wf, "conv3_block2", r, 33,
                                                                               kBlockWinogradTol);
}

// ================================================================ pre-activation blocks

TEST_CASE("PreActBottleneck with projection on the pre-activation (KV2 conv2_block1)", "[blocks][preact][keras]") {
  ref::WeightFile wf(ref::Layout::keras, 40);
  const BlockReference r = bottleneck_kv2(wf, "conv2_block1", 13, 6, 1, true);
  check_block<PreActBottleneck<13, 6, 1, true, KerasEps>, naming::Keras>(wf, "conv2_block1", r, 41, kBlockWinogradTol);
}

TEST_CASE("PreActBottleneck with projection and stride 2", "[blocks][preact][keras]") {
  ref::WeightFile wf(ref::Layout::keras, 42);
  const BlockReference r = bottleneck_kv2(wf, "conv3_block1", 13, 6, 2, true);
  check_block<PreActBottleneck<13, 6, 2, true, KerasEps>, naming::Keras>(wf, "conv3_block1", r, 43, kBlockTol);
}

TEST_CASE("PreActBottleneck with subsampling shortcut on the raw input (KV2 conv2_block3)", "[blocks][preact][keras]") {
  ref::WeightFile wf(ref::Layout::keras, 44);
  const BlockReference r = bottleneck_kv2(wf, "conv2_block3", 24, 6, 2, false);
  check_block<PreActBottleneck<24, 6, 2, false, KerasEps>, naming::Keras>(wf, "conv2_block3", r, 45, kBlockTol);
}

TEST_CASE("PreActBottleneck with identity on the raw input (KV2 conv2_block2)", "[blocks][preact][keras]") {
  ref::WeightFile wf(ref::Layout::keras, 46);
  const BlockReference r = bottleneck_kv2(wf, "conv2_block2", 24, 6, 1, false);
  check_block<PreActBottleneck<24, 6, 1, false, KerasEps>, naming::Keras>(wf, "conv2_block2", r, 47, kBlockWinogradTol);
}

TEST_CASE("PreActBasicBlock: projection, subsampling and identity shortcuts", "[blocks][preact][keras]") {
  {
    ref::WeightFile wf(ref::Layout::keras, 50);
    const BlockReference r = basic_kv2(wf, "conv3_block1", 13, 16, 2);
    check_block<PreActBasicBlock<13, 16, 2, KerasEps>, naming::Keras>(wf, "conv3_block1", r, 51, kBlockWinogradTol);
  }
  {
    ref::WeightFile wf(ref::Layout::keras, 52);
    const BlockReference r = basic_kv2(wf, "conv3_block2", 16, 16, 2);
    check_block<PreActBasicBlock<16, 16, 2, KerasEps>, naming::Keras>(wf, "conv3_block2", r, 53, kBlockWinogradTol);
  }
  {
    ref::WeightFile wf(ref::Layout::keras, 54);
    const BlockReference r = basic_kv2(wf, "conv3_block3", 16, 16, 1);
    check_block<PreActBasicBlock<16, 16, 1, KerasEps>, naming::Keras>(wf, "conv3_block3", r, 55, kBlockWinogradTol);
  }
}

TEST_CASE("Blocks give the same result with a three-thread workspace", "[blocks][threads]") {
  {
    ref::WeightFile wf(ref::Layout::torch, 60);
    const BlockReference r = bottleneck_tv(wf, "layer2.0.", 13, 6, 2, false, true);
    check_block<Bottleneck<13, 6, 2, StrideOn::middle_3x3, TorchEps>, naming::Torchvision>(wf, "layer2.0", r, 61, kBlockTol,
                                                                      3);
  }
  {
    ref::WeightFile wf(ref::Layout::keras, 62);
    const BlockReference r = bottleneck_kv2(wf, "conv2_block1", 13, 6, 1, true);
    check_block<PreActBottleneck<13, 6, 1, true, KerasEps>, naming::Keras>(wf, "conv2_block1", r, 63, kBlockWinogradTol, 3);
  }
}

// ================================================================ stages

namespace {

template <class S, class Names>
void check_stage(const ref::WeightFile& wf, int stage, const std::vector<BlockReference>& blocks, unsigned seed,
                 double tol) {
  const io::SafeTensors file = wf.build();
  WeightLoader<Names> loader(file);
  S net;
  net.load(loader, stage);
  REQUIRE_NOTHROW(loader.finish());
  for (const Size& sz : kSizes) {
    INFO("stage map " << sz.n << "x" << S::in_channels << "x" << sz.h << "x" << sz.w);
    const ref::Map x = ref::random_map(sz.n, S::in_channels, sz.h, sz.w, seed, -2.0, 2.0);
    ref::Map want = x;
    for (const BlockReference& b : blocks) want = b(want);
    const ref::Map got = run(net, x);
    const Extent e = S::output_extent({sz.h, sz.w});
    CHECK(e.h == want.h);
    CHECK(e.w == want.w);
    CHECK(ref::max_scaled_error(got, want) <= tol);
  }
}

}  // namespace

TEST_CASE("Stage of three basic blocks (torchvision layer2.0-2)", "[blocks][stage]") {
  ref::WeightFile wf(ref::Layout::torch, 70);
  const std::vector<BlockReference> blocks = {basic_v1(wf, "layer2.0.", 13, 16, 2, 'p'),
                                         basic_v1(wf, "layer2.1.", 16, 16, 1, 'i'),
                                         basic_v1(wf, "layer2.2.", 16, 16, 1, 'i')};
  using S = Stage<BasicBlock<13, 16, 2, TorchEps>, BasicBlock<16, 16, 1, TorchEps>, 3>;
  check_stage<S, naming::Torchvision>(wf, 1, blocks, 71, kBlockWinogradTol);
}

TEST_CASE("Stage with a distinct last block (KV2 conv2: project, repeat, stride last)", "[blocks][stage][keras]") {
  ref::WeightFile wf(ref::Layout::keras, 72);
  const std::vector<BlockReference> blocks = {
      bottleneck_kv2(wf, "conv2_block1", 13, 4, 1, true), bottleneck_kv2(wf, "conv2_block2", 16, 4, 1, false),
      bottleneck_kv2(wf, "conv2_block3", 16, 4, 1, false), bottleneck_kv2(wf, "conv2_block4", 16, 4, 2, false)};
  using S = Stage<PreActBottleneck<13, 4, 1, true, KerasEps>, PreActBottleneck<16, 4, 1, false, KerasEps>, 4,
                  PreActBottleneck<16, 4, 2, false, KerasEps>>;
  check_stage<S, naming::Keras>(wf, 0, blocks, 73, kBlockWinogradTol);
}

TEST_CASE("Block loading names a missing tensor; finish() names a leftover one", "[blocks][errors]") {
  SECTION("missing projection") {
    ref::WeightFile wf(ref::Layout::torch, 80);
    basic_v1(wf, "layer2.0.", 13, 16, 2, 'i');  // everything except the downsample
    const io::SafeTensors file = wf.build();
    WeightLoader<naming::Torchvision> loader(file);
    BasicBlock<13, 16, 2, TorchEps> block;
    try {
      block.load(loader, "layer2.0");
      FAIL("no error for a missing downsample");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::missing_tensor);
      CHECK_THAT(e.what(), Catch::Contains("layer2.0.downsample.0.weight"));
    }
  }
  SECTION("a tensor the block has no place for") {
    ref::WeightFile wf(ref::Layout::keras, 81);
    bottleneck_kv2(wf, "conv2_block2", 24, 6, 1, true);  // writes a _0_conv the identity block lacks
    const io::SafeTensors file = wf.build();
    WeightLoader<naming::Keras> loader(file);
    PreActBottleneck<24, 6, 1, false, KerasEps> block;
    block.load(loader, "conv2_block2");
    try {
      loader.finish();
      FAIL("no error for a leftover tensor");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::unexpected_tensor);
      CHECK_THAT(e.what(), Catch::Contains("conv2_block2_0_conv/kernel"));
    }
  }
}
