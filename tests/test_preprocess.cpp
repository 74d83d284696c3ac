// Preprocessing against torchvision (reference data from tests/python/gen_preprocess_ref.py)
// and against the worked values of docs/spec.md section 5.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "resnet/io/safetensors.hpp"
#include "resnet/vision/preprocess.hpp"

#include "image_support.hpp"
#include "support.hpp"

namespace preprocess_tests {

using resnet::ErrorKind;
using resnet::Image;
using resnet::Layout;
using resnet::Preprocess;
using resnet::Tensor;
using test_support::kind_of;

using image_support::synthetic;

struct Case {
  int h, w, resize;
  std::string name() const {
    return "h" + std::to_string(h) + "_w" + std::to_string(w) + "_r" + std::to_string(resize);
  }
};

const Case kCases[] = {{375, 500, 256}, {333, 500, 256}, {37, 91, 256},   {1000, 1001, 256}, {225, 224, 256},
                       {300, 257, 256}, {500, 375, 256}, {256, 300, 256}, {375, 500, 232}};

const resnet::io::SafeTensors& reference() {
  static const resnet::io::SafeTensors file =
      resnet::io::SafeTensors::open(std::string(RESNET_TEST_DATA) + "/preprocess_ref.safetensors");
  return file;
}

struct RefTensor {
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

RefTensor reference_tensor(const std::string& name) {
  const auto* info = reference().find(name);
  if (info == nullptr) FAIL("reference tensor " << name << " missing; rerun gen_preprocess_ref.py");
  return {info->shape, reference().read_f32(*info)};
}

Image image_from(const RefTensor& t) {  // HWC floats holding integers
  REQUIRE(t.shape.size() == 3);
  Image image(static_cast<int>(t.shape[1]), static_cast<int>(t.shape[0]));
  for (std::size_t i = 0; i < t.values.size(); ++i) image.rgb[i] = static_cast<std::uint8_t>(t.values[i]);
  return image;
}

TEST_CASE("resize sizes follow torchvision's shorter-side rule", "[preprocess]") {
  // docs/spec.md 5.2 [RUN].
  auto size = [](int h, int w, int s) {
    const auto r = resnet::resized_shorter_side_size(h, w, s);
    return std::make_pair(r.height, r.width);
  };
  CHECK(size(375, 500, 256) == std::make_pair(256, 341));
  CHECK(size(375, 500, 232) == std::make_pair(232, 309));
  CHECK(size(333, 500, 256) == std::make_pair(256, 384));
  CHECK(size(1000, 1001, 256) == std::make_pair(256, 256));
  CHECK(size(500, 375, 256) == std::make_pair(341, 256));
  CHECK(size(256, 300, 256) == std::make_pair(256, 300));  // short side already 256: unchanged
  CHECK(size(256, 256, 256) == std::make_pair(256, 256));
  CHECK(size(37, 91, 256) == std::make_pair(256, 629));   // upscaling
}

TEST_CASE("center crop offsets round half to even", "[preprocess]") {
  // docs/spec.md 5.2 [RUN]: W=341 -> 58, W=343 -> 60, H=375 -> 76.
  CHECK(resnet::center_crop_offsets(256, 341, 224, 224).left == 58);
  CHECK(resnet::center_crop_offsets(256, 343, 224, 224).left == 60);
  CHECK(resnet::center_crop_offsets(375, 256, 224, 224).top == 76);
  CHECK(resnet::center_crop_offsets(256, 256, 224, 224).top == 16);
  CHECK(resnet::center_crop_offsets(224, 224, 224, 224).left == 0);
}

TEST_CASE("caffe and tf modes give the spec's worked values", "[preprocess]") {
  Image red(1, 1);
  red.rgb = {255, 0, 0};
  const Tensor caffe = resnet::to_tensor({red}, Preprocess::caffe);
  // (B, G, R) = (-103.939, -116.779, 131.32), computed in float32 as Keras does.
  CHECK(caffe.at(0, 0, 0, 0) == -103.939f);
  CHECK(caffe.at(0, 0, 0, 1) == -116.779f);
  CHECK(caffe.at(0, 0, 0, 2) == 255.0f - 123.68f);
  CHECK(caffe.at(0, 0, 0, 2) == Approx(131.32).margin(1e-5));

  Tensor x(1, 1, 3, 3);
  const float values[3] = {0.0f, 127.5f, 255.0f};
  for (int i = 0; i < 3; ++i)
    for (int c = 0; c < 3; ++c) x.at(0, 0, i, c) = values[i];
  const Tensor tf = resnet::preprocess_input(x, Preprocess::tf);
  for (int c = 0; c < 3; ++c) {
    CHECK(tf.at(0, 0, 0, c) == -1.0f);
    CHECK(tf.at(0, 0, 1, c) == 0.0f);
    CHECK(tf.at(0, 0, 2, c) == 1.0f);
  }
  const Tensor caffe2 = resnet::preprocess_input(x, Preprocess::caffe);
  CHECK(caffe2.at(0, 0, 2, 0) == 255.0f - 103.939f);
}

TEST_CASE("torch mode: x/255 then ImageNet mean and std", "[preprocess]") {
  Image image(2, 1);
  image.rgb = {0, 128, 255, 10, 20, 30};
  const Tensor t = resnet::to_tensor({image}, Preprocess::torch);
  const Tensor cifar = resnet::to_tensor({image}, Preprocess::cifar);
  const double mean[3] = {0.485, 0.456, 0.406}, stdev[3] = {0.229, 0.224, 0.225};
  REQUIRE(t.shape() == (resnet::Shape{1, 1, 2, 3}));
  CHECK(t.layout() == Layout::nchw);
  for (int x = 0; x < 2; ++x)
    for (int c = 0; c < 3; ++c) {
      const double expected = (image.at(0, x, c) / 255.0 - mean[c]) / stdev[c];
      CHECK(t.at(0, 0, x, c) == Approx(expected).margin(1e-6));
      CHECK(cifar.at(0, 0, x, c) == t.at(0, 0, x, c));
    }
  // NCHW memory order: channel planes.
  CHECK(t.data()[0] == t.at(0, 0, 0, 0));
  CHECK(t.data()[1] == t.at(0, 0, 1, 0));
  CHECK(t.data()[2] == t.at(0, 0, 0, 1));
  const Tensor nhwc = resnet::to_tensor({image}, Preprocess::torch, Layout::nhwc);
  CHECK(nhwc.data()[1] == t.at(0, 0, 0, 1));
}

TEST_CASE("resize matches torchvision's antialiased bilinear resize", "[preprocess][torchvision]") {
  float worst_float = 0.0f;  // ours before rounding vs torchvision on floats, 0..255 units
  int worst_u8 = 0;          // ours vs torchvision on uint8
  long long differing = 0, total = 0;
  for (const Case& c : kCases) {
    INFO("case " << c.name());
    const Image input = synthetic(c.h, c.w);
    const RefTensor expected_f = reference_tensor(c.name() + ".resize_f");
    const RefTensor expected_u8 = reference_tensor(c.name() + ".resize_u8");
    const Image ours = resnet::resize_shorter_side(input, c.resize, resnet::Resampling::tensor);
    REQUIRE(ours.height == expected_f.shape[0]);
    REQUIRE(ours.width == expected_f.shape[1]);
    const std::vector<float> ours_f =
        ours.height == input.height && ours.width == input.width
            ? std::vector<float>(input.rgb.begin(), input.rgb.end())
            : resnet::detail::resample_antialias(input, ours.height, ours.width);
    float case_float = 0.0f;
    int case_u8 = 0;
    for (std::size_t i = 0; i < ours.rgb.size(); ++i) {
      case_float = std::max(case_float, std::fabs(ours_f[i] - expected_f.values[i]));
      const int d = std::abs(static_cast<int>(ours.rgb[i]) - static_cast<int>(expected_u8.values[i]));
      case_u8 = std::max(case_u8, d);
      differing += d != 0;
    }
    total += static_cast<long long>(ours.rgb.size());
    // Same filter, same float32 arithmetic: only summation rounding (and FMA) differ.
    CHECK(case_float < 2e-3f);
    // Rounding can flip only where torchvision's value sits within that error of a .5.
    CHECK(case_u8 <= 1);
    worst_float = std::max(worst_float, case_float);
    worst_u8 = std::max(worst_u8, case_u8);
  }
  CHECK(differing * 10000 <= total);  // at most 0.01 % of the values off by one
  WARN("resize vs torchvision: max |diff| before rounding " << worst_float << " (0..255 units), after rounding "
                                                            << worst_u8 << ", " << differing << " of " << total
                                                            << " uint8 values differ");
}

TEST_CASE("resize to an explicit size matches torchvision", "[preprocess][torchvision]") {
  const int sizes[][4] = {{61, 83, 61, 40}, {61, 83, 17, 83}, {61, 83, 150, 29}};
  for (const auto& s : sizes) {
    const std::string name = "explicit_h" + std::to_string(s[0]) + "_w" + std::to_string(s[1]) + "_to_h" +
                             std::to_string(s[2]) + "_w" + std::to_string(s[3]);
    INFO(name);
    const RefTensor expected = reference_tensor(name);
    const Image input = synthetic(s[0], s[1]);
    const std::vector<float> ours = resnet::detail::resample_antialias(input, s[2], s[3]);
    const Image rounded = resnet::resize_bilinear(input, s[2], s[3], resnet::Resampling::tensor);
    REQUIRE(ours.size() == expected.values.size());
    float worst = 0.0f;
    bool rounds_within_half = true;
    for (std::size_t i = 0; i < ours.size(); ++i) {
      worst = std::max(worst, std::fabs(ours[i] - expected.values[i]));
      rounds_within_half = rounds_within_half && std::fabs(rounded.rgb[i] - expected.values[i]) <= 0.5f + 2e-3f;
    }
    CHECK(worst < 2e-3f);
    CHECK(rounds_within_half);
  }
}

TEST_CASE("center crop and normalisation match torchvision exactly", "[preprocess][torchvision]") {
  for (const Case& c : kCases) {
    INFO("case " << c.name());
    // Start from torchvision's own resized image so that only crop and normalise are tested.
    const Image resized = image_from(reference_tensor(c.name() + ".resize_u8"));
    const RefTensor crop_ref = reference_tensor(c.name() + ".crop_u8");
    const Image crop = resnet::center_crop(resized, 224, 224);
    REQUIRE(crop.rgb.size() == crop_ref.values.size());
    bool same = true;
    for (std::size_t i = 0; i < crop.rgb.size(); ++i) same = same && crop.rgb[i] == crop_ref.values[i];
    CHECK(same);  // any offset error shifts every pixel

    const RefTensor norm_ref = reference_tensor(c.name() + ".normalized");  // CHW
    const Tensor t = resnet::to_tensor({crop}, Preprocess::torch);
    REQUIRE(t.size() == norm_ref.values.size());
    float worst = 0.0f;
    for (std::size_t i = 0; i < t.size(); ++i) worst = std::max(worst, std::fabs(t.data()[i] - norm_ref.values[i]));
    CHECK(worst <= 1e-6f);
  }
}

TEST_CASE("preprocess_imagenet matches torchvision's eval transform", "[preprocess][torchvision]") {
  // One rounding flip in the resize moves a value by 1/255/std <= 0.0175.
  const float one_level = 1.0f / 255.0f / 0.224f + 1e-5f;
  for (const Case& c : kCases) {
    INFO("case " << c.name());
    const Tensor t = resnet::preprocess_imagenet(synthetic(c.h, c.w), Preprocess::torch, c.resize, 224,
                                                 Layout::nchw, resnet::Resampling::tensor);
    REQUIRE(t.shape() == (resnet::Shape{1, 224, 224, 3}));
    const RefTensor norm_ref = reference_tensor(c.name() + ".normalized");
    long long differing = 0;
    float worst = 0.0f;
    for (std::size_t i = 0; i < t.size(); ++i) {
      const float d = std::fabs(t.data()[i] - norm_ref.values[i]);
      worst = std::max(worst, d);
      differing += d > 1e-6f;
    }
    CHECK(worst <= one_level + 1e-6f);
    CHECK(differing * 10000 <= static_cast<long long>(t.size()));
  }
}

TEST_CASE("to_tensor stacks a batch", "[preprocess]") {
  const Image a = synthetic(5, 7), b = synthetic(5, 7);
  Image c = synthetic(5, 7);
  c.rgb[0] = 0;
  const Tensor t = resnet::to_tensor({a, b, c}, Preprocess::tf);
  REQUIRE(t.shape() == (resnet::Shape{3, 5, 7, 3}));
  CHECK(t.at(1, 4, 6, 2) == a.at(4, 6, 2) / 127.5f - 1.0f);
  CHECK(t.at(2, 0, 0, 0) == -1.0f);
}

TEST_CASE("preprocessing rejects bad sizes with clear errors", "[preprocess][errors]") {
  const Image image = synthetic(10, 12);
  std::string message;
  CHECK(kind_of([&] { resnet::resize_shorter_side(image, 0); }, &message) == ErrorKind::invalid_argument);
  CHECK(message.find("0") != std::string::npos);
  CHECK(kind_of([&] { resnet::resize_shorter_side(image, -5); }) == ErrorKind::invalid_argument);
  CHECK(kind_of([&] { resnet::resize_bilinear(image, 3, 0); }) == ErrorKind::invalid_argument);
  CHECK(kind_of([&] { resnet::center_crop(image, 11, 4); }, &message) == ErrorKind::invalid_argument);
  CHECK(message.find("11x4") != std::string::npos);
  CHECK(message.find("10x12") != std::string::npos);
  CHECK(kind_of([&] { resnet::center_crop(image, 0, 4); }) == ErrorKind::invalid_argument);
  CHECK(kind_of([&] { resnet::to_tensor({}, Preprocess::torch); }) == ErrorKind::invalid_argument);
  CHECK(kind_of([&] { resnet::to_tensor({image, synthetic(10, 13)}, Preprocess::torch); }, &message) ==
        ErrorKind::shape_mismatch);
  CHECK(message.find("10x13") != std::string::npos);
  CHECK(kind_of([&] { resnet::preprocess_imagenet(image, Preprocess::torch, 200, 224); }) ==
        ErrorKind::invalid_argument);
  CHECK(kind_of([&] { resnet::preprocess_imagenet(Image(), Preprocess::torch); }) == ErrorKind::invalid_argument);
  Image broken = synthetic(4, 4);
  broken.rgb.pop_back();
  CHECK(kind_of([&] { resnet::resize_shorter_side(broken, 8); }) == ErrorKind::shape_mismatch);
  CHECK(kind_of([&] { resnet::preprocess_input(Tensor(1, 2, 2, 4), Preprocess::torch); }) ==
        ErrorKind::shape_mismatch);
  CHECK(kind_of([&] { resnet::parse_preprocess("pytorch"); }) == ErrorKind::invalid_argument);
  CHECK(resnet::parse_preprocess("caffe") == Preprocess::caffe);
  CHECK(std::string(resnet::to_string(Preprocess::tf)) == "tf");
}

}  // namespace preprocess_tests
