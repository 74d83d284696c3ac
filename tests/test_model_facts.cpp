// Parameter counts and MACs are compile-time facts; they must equal the published
// numbers of docs/spec.md sections 2 and 3 (torchvision num_params, Keras totals,
// akamaster CIFAR counts, and the exact MAC counts).
#include <catch2/catch.hpp>

#include <resnet/resnet.hpp>

using namespace resnet;

// torchvision: trainable parameters only (docs/spec.md 2.1).
static_assert(ResNet18::parameter_count() == 11'689'512);
static_assert(ResNet34::parameter_count() == 21'797'672);
static_assert(ResNet50::parameter_count() == 25'557'032);
static_assert(ResNet101::parameter_count() == 44'549'160);
static_assert(ResNet152::parameter_count() == 60'192'808);
static_assert(ResNet50::parameter_count(1000, false) == 23'508'032);
static_assert(ResNet18::parameter_count(1000, false) == 11'176'512);
static_assert(ResNet18::non_trainable_count() == 9'600);
static_assert(ResNet50::non_trainable_count() == 53'120);
static_assert(ResNet152::non_trainable_count() == 151'424);

// torchvision's ResNeXt and Wide ResNet (num_params of torchvision 0.14's weights), and
// their MACs against torchvision's published GFLOPS (multiply-adds, two decimals).
static_assert(ResNeXt50_32x4d::parameter_count() == 25'028'904);
static_assert(ResNeXt101_32x8d::parameter_count() == 88'791'336);
static_assert(ResNeXt101_64x4d::parameter_count() == 83'455'272);
static_assert(WideResNet50_2::parameter_count() == 68'883'240);
static_assert(WideResNet101_2::parameter_count() == 126'886'696);
constexpr long long gmacs_x100(long long macs) { return (macs + 5'000'000) / 10'000'000; }
static_assert(gmacs_x100(ResNeXt50_32x4d::macs(224, 224)) == 423);
static_assert(gmacs_x100(ResNeXt101_32x8d::macs(224, 224)) == 1641);
static_assert(gmacs_x100(ResNeXt101_64x4d::macs(224, 224)) == 1546);
static_assert(gmacs_x100(WideResNet50_2::macs(224, 224)) == 1140);
static_assert(gmacs_x100(WideResNet101_2::macs(224, 224)) == 2275);

// Keras totals count BN moving statistics (docs/spec.md 2.2).
template <class M>
constexpr long long keras_total(bool top = true) {
  return M::parameter_count(1000, top) + M::non_trainable_count();
}
static_assert(keras_total<keras::ResNet50>() == 25'636'712);
static_assert(keras_total<keras::ResNet101>() == 44'707'176);
static_assert(keras_total<keras::ResNet152>() == 60'419'944);
static_assert(keras::ResNet50::parameter_count() == 25'583'592);
static_assert(keras_total<keras::ResNet50>(false) == 23'587'712);
static_assert(keras_total<ResNet50V2>() == 25'613'800);
static_assert(keras_total<ResNet101V2>() == 44'675'560);
static_assert(keras_total<ResNet152V2>() == 60'380'648);
static_assert(ResNet50V2::parameter_count() == 25'568'360);
static_assert(ResNet50V2::non_trainable_count() == 45'440);
static_assert(keras_total<ResNet152V2>(false) == 58'331'648);

// Pre-activation 18/34 in the Keras V2 style: no published figures; these were counted
// by hand from the definition (tests/python/gen_keras_reference.py, BASIC_V2_COUNTS).
static_assert(keras_total<ResNet18V2>() == 11'698'408);
static_assert(ResNet18V2::parameter_count() == 11'690'600);
static_assert(keras_total<ResNet34V2>() == 21'815'848);
static_assert(keras_total<ResNet34V2>(false) == 21'302'848);
static_assert(ResNet18V2::macs(224, 224) == 1'293'848'576);
static_assert(ResNet34V2::macs(224, 224) == 3'143'536'640);

// CIFAR (docs/spec.md 2.3).
static_assert(CifarResNet20::parameter_count() == 269'722);
static_assert(CifarResNet32::parameter_count() == 464'154);
static_assert(CifarResNet44::parameter_count() == 658'586);
static_assert(CifarResNet56::parameter_count() == 853'018);
static_assert(CifarResNet110::parameter_count() == 1'727'962);
static_assert(CifarResNet20::non_trainable_count() == 1'376);

// MACs at 224x224, CIFAR at 32x32 (docs/spec.md 3).
static_assert(ResNet18::macs(224, 224) == 1'814'073'344);
static_assert(ResNet34::macs(224, 224) == 3'663'761'408);
static_assert(ResNet50::macs(224, 224) == 4'089'184'256);
static_assert(ResNet101::macs(224, 224) == 7'801'405'440);
static_assert(ResNet152::macs(224, 224) == 11'513'626'624);
static_assert(keras::ResNet50::macs(224, 224) == 3'857'973'248);
static_assert(keras::ResNet101::macs(224, 224) == 7'570'194'432);
static_assert(keras::ResNet152::macs(224, 224) == 11'282'415'616);
static_assert(ResNet50V2::macs(224, 224) == 3'482'255'360);
static_assert(ResNet101V2::macs(224, 224) == 7'194'476'544);
static_assert(ResNet152V2::macs(224, 224) == 10'906'697'728);
static_assert(keras::ResNet50::macs(224, 224, 1000, false) == 3'857'973'248 - 2'048'000);
static_assert(CifarResNet20::macs(32, 32) == 40'551'040);
static_assert(CifarResNet32::macs(32, 32) == 68'862'592);
static_assert(CifarResNet44::macs(32, 32) == 97'174'144);
static_assert(CifarResNet56::macs(32, 32) == 125'485'696);
static_assert(CifarResNet110::macs(32, 32) == 252'887'680);

TEST_CASE("final feature map side is ceil(H/32) for ImageNet models", "[model][shape]") {
  for (int side : {32, 33, 63, 64, 100, 199, 224, 225, 256, 299, 320}) {
    const int expected = (side + 31) / 32;
    CHECK(ResNet50::feature_extent(side, side).h == expected);
    CHECK(ResNet18::feature_extent(side, side + 1).w == (side + 1 + 31) / 32);
    CHECK(keras::ResNet50::feature_extent(side, side).h == expected);
    CHECK(ResNet50V2::feature_extent(side, side).h == expected);
  }
}

TEST_CASE("Keras V2 stage shapes at 224 follow docs/spec.md 1.11", "[model][shape]") {
  CHECK(ResNet50V2::feature_extent(224, 224).h == 7);
  CHECK(ResNet50V2::feature_channels == 2048);
  CHECK(ResNet18::feature_channels == 512);
  CHECK(CifarResNet56::feature_extent(32, 32).h == 8);
  CHECK(CifarResNet56::feature_channels == 64);
}

TEST_CASE("a custom class count changes only the head", "[model][options]") {
  CHECK(ResNet50::parameter_count(10) == 23'508'032 + 2048 * 10 + 10);
  ModelOptions options;
  options.classes = 10;
  ResNet50 model(options);
  CHECK(model.classes() == 10);
  options.classes = -3;
  CHECK_THROWS_AS(ResNet50(options), Error);
}

TEST_CASE("a summary's rows add up to the compile-time totals", "[model][summary]") {
  auto totals = [](const std::vector<LayerSummary>& rows) {
    long long p = 0, nt = 0, m = 0;
    for (const auto& r : rows) p += r.parameters, nt += r.non_trainable, m += r.macs;
    return std::array<long long, 3>{p, nt, m};
  };
  const auto tv = ResNet50().summary(224, 224);
  CHECK(totals(tv) == std::array<long long, 3>{25'557'032, 53'120, 4'089'184'256});
  CHECK(tv[1].name == "layer1.0");
  CHECK(tv[1].output == Shape{1, 56, 56, 256});
  const auto v2 = ResNet50V2().summary(224, 224);
  CHECK(totals(v2)[0] + totals(v2)[1] == 25'613'800);
  CHECK(v2[1].name == "conv2_block1");
  ModelOptions notop;
  notop.include_top = false;
  const auto c = CifarResNet56(notop).summary(32, 32);
  CHECK(totals(c)[2] == 125'485'696 - 640);
}
