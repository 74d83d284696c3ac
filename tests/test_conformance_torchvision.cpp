// torchvision conformance: tests/python/gen_torchvision.py builds resnet18..152 with
// seeded random weights and non-trivial BN statistics, and records PyTorch's logits,
// pooled features and last feature map at 224x224 and 193x257 (batch 2). The library,
// loading the same safetensors file, must match within 1e-3 * max(1, |ref|) with the
// same top-5, with and without the top.
#include "support.hpp"

using namespace resnet;
using namespace test_support;

namespace {

template <class Model>
void check_torchvision(int depth) {
  const std::string stem = "tv_resnet" + std::to_string(depth);
  const std::string weights_path = data_path(stem + ".safetensors");
  const std::string io_path = data_path(stem + "_io.safetensors");
  REQUIRE(file_exists(weights_path));
  REQUIRE(file_exists(io_path));
  const auto weights = io::SafeTensors::open(weights_path);
  const auto io = io::SafeTensors::open(io_path);

  Model classifier;
  classifier.load_weights(weights);
  ModelOptions pooled_options;
  pooled_options.include_top = false;
  Model pooled(pooled_options);
  pooled.load_weights(weights);
  ModelOptions map_options = pooled_options;
  map_options.pooling = Pooling::none;
  Model feature_map(map_options);
  feature_map.load_weights(weights);

  Workspace ws(2);
  for (const std::string size : {"224x224", "193x257"}) {
    INFO(stem << " at " << size);
    const Tensor input = nchw_tensor(reference(io, "input_" + size));

    const Reference logits = reference(io, "logits_" + size);
    const Tensor got = classifier.forward(input, ws);
    REQUIRE(got.size() == logits.values.size());
    CHECK(max_scaled_error(got.data(), logits.values) <= 1e-3);
    check_same_top5(got.data(), logits.values, input.n(), 1000);

    const Reference features = reference(io, "pooled_" + size);
    const Tensor got_features = pooled.forward(input, ws);
    REQUIRE(got_features.size() == features.values.size());
    CHECK(max_scaled_error(got_features.data(), features.values) <= 1e-3);

    const Reference map = reference(io, "fmap_" + size);
    const Tensor got_map = feature_map.forward(input, ws, Layout::nchw);
    CHECK(got_map.layout() == Layout::nchw);
    REQUIRE(got_map.size() == map.values.size());
    CHECK(got_map.c() == map.shape[1]);
    CHECK(got_map.h() == map.shape[2]);
    CHECK(got_map.w() == map.shape[3]);
    CHECK(max_scaled_error(got_map.data(), map.values) <= 1e-3);
  }
}

}  // namespace

TEST_CASE("torchvision resnet18 conformance", "[conformance][torchvision]") { check_torchvision<ResNet18>(18); }
TEST_CASE("torchvision resnet34 conformance", "[conformance][torchvision]") { check_torchvision<ResNet34>(34); }
TEST_CASE("torchvision resnet50 conformance", "[conformance][torchvision]") { check_torchvision<ResNet50>(50); }
TEST_CASE("torchvision resnet101 conformance", "[conformance][torchvision]") { check_torchvision<ResNet101>(101); }
TEST_CASE("torchvision resnet152 conformance", "[conformance][torchvision]") { check_torchvision<ResNet152>(152); }

TEST_CASE("NHWC and NCHW inputs give the same result", "[conformance][layout]") {
  const std::string weights_path = data_path("tv_resnet18.safetensors");
  REQUIRE(file_exists(weights_path));
  ResNet18 model;
  model.load_weights(weights_path);
  const auto io = io::SafeTensors::open(data_path("tv_resnet18_io.safetensors"));
  const Tensor nchw = nchw_tensor(reference(io, "input_193x257"));
  const Tensor nhwc = nchw.to(Layout::nhwc);
  Workspace ws(1);
  const Tensor a = model.forward(nchw, ws);
  const Tensor b = model.forward(nhwc, ws);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a.data()[i] == b.data()[i]);
}
