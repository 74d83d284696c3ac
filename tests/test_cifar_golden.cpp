// Real pretrained CIFAR-10 checkpoints (../shared/data/cifar10/checkpoints, converted to
// safetensors by tools/convert_torch.py) must reproduce the golden logits that
// PyTorch 1.13 computed on the spec's synthetic input (docs/spec.md section 7.7).
#include "skip.hpp"
#include "support.hpp"

using namespace resnet;
using test_support::data_path;

namespace {

// u8[c][h][w] = (37c + 11h + 7w) mod 256, normalised with the ImageNet mean/std.
Tensor golden_input() {
  const float mean[3] = {0.485f, 0.456f, 0.406f};
  const float stddev[3] = {0.229f, 0.224f, 0.225f};
  Tensor x(1, 32, 32, 3, Layout::nchw);
  for (int c = 0; c < 3; ++c)
    for (int h = 0; h < 32; ++h)
      for (int w = 0; w < 32; ++w) {
        const int u8 = (37 * c + 11 * h + 7 * w) % 256;
        x.at(0, h, w, c) = (static_cast<float>(u8) / 255.0f - mean[c]) / stddev[c];
      }
  return x;
}

template <class Model>
void check_golden(const std::string& file, const std::vector<float>& expected, int argmax) {
  const std::string path = data_path(file);
  if (!test_support::file_exists(std::string(RESNET_SHARED_DATA) + "/cifar10/checkpoints"))
    RESNET_SKIP(RESNET_SHARED_DATA << "/cifar10/checkpoints is absent");
  REQUIRE(test_support::file_exists(path));
  Model model;
  model.load_weights(path);
  Workspace ws(1);
  const Tensor logits = model.forward(golden_input(), ws);
  REQUIRE(logits.size() == 10);
  for (int i = 0; i < 10; ++i) CHECK(std::abs(logits.data()[i] - expected[i]) <= 1e-4);
  CHECK(test_support::top_k(logits.data(), 10, 1)[0] == argmax);
}

}  // namespace

TEST_CASE("the spec's golden input starts with the published values", "[cifar][golden]") {
  const Tensor x = golden_input();
  CHECK(x.data()[0] == Approx(-2.1179039f).margin(1e-6));
  CHECK(x.data()[1] == Approx(-1.9980307f).margin(1e-6));
  CHECK(x.data()[3] == Approx(-1.7582841f).margin(1e-6));
  double sum = 0;
  for (float v : x.values()) sum += v;
  CHECK(sum == Approx(789.47237).margin(1e-3));
}

TEST_CASE("CIFAR ResNet-20 checkpoint gives PyTorch's golden logits", "[cifar][golden]") {
  check_golden<CifarResNet20>("cifar_resnet20.safetensors",
                              {7.238957f, 4.334517f, -4.137290f, 0.413599f, -19.762194f, 8.409420f, 1.511909f,
                               -4.687288f, 1.021632f, 5.611602f},
                              5);
}
TEST_CASE("CIFAR ResNet-32 checkpoint gives PyTorch's golden logits", "[cifar][golden]") {
  check_golden<CifarResNet32>("cifar_resnet32.safetensors",
                              {11.786994f, 4.451186f, 2.057333f, -6.534715f, -12.392191f, -2.678949f, 2.239415f,
                               -7.222591f, 1.950963f, 6.343472f},
                              0);
}
TEST_CASE("CIFAR ResNet-44 checkpoint gives PyTorch's golden logits", "[cifar][golden]") {
  check_golden<CifarResNet44>("cifar_resnet44.safetensors",
                              {7.744858f, 4.537485f, -5.792151f, -1.059172f, -7.783817f, 3.342970f, -3.315772f,
                               -9.356305f, 15.146027f, -3.530226f},
                              8);
}
TEST_CASE("CIFAR ResNet-56 checkpoint gives PyTorch's golden logits", "[cifar][golden]") {
  check_golden<CifarResNet56>("cifar_resnet56.safetensors",
                              {13.764550f, 2.124181f, -5.463790f, -2.563520f, -11.030157f, -3.558962f, -1.761678f,
                               -5.369875f, 9.673777f, 4.138619f},
                              0);
}

TEST_CASE("the CIFAR loader reads the published conv1 sums", "[cifar][golden]") {
  const std::string path = data_path("cifar_resnet20.safetensors");
  if (!test_support::file_exists(std::string(RESNET_SHARED_DATA) + "/cifar10/checkpoints"))
    RESNET_SKIP(RESNET_SHARED_DATA << "/cifar10/checkpoints is absent");
  REQUIRE(test_support::file_exists(path));
  const auto file = io::SafeTensors::open(path);
  const auto* t = file.find("conv1.weight");
  if (!t) t = file.find("module.conv1.weight");
  REQUIRE(t);
  double sum = 0;
  for (float v : file.read_f32(*t)) sum += v;
  CHECK(sum == Approx(1.3100982).margin(1e-5));
}
