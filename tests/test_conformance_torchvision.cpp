// torchvision conformance: tests/python/gen_torchvision.py builds resnet18..152 with
// seeded random weights and non-trivial BN statistics, and records PyTorch's logits,
// pooled features and last feature map at 224x224 and 193x257 (batch 2). The library,
// loading the same safetensors file once, must give all three from one pass within
// 1e-3 * max(1, |ref|), with the same top-5; a model built without the top gives the
// same pooled features and map through its options.
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

  Model model;
  model.load_weights(weights);

  Workspace ws(2);
  for (const std::string size : {"224x224", "193x257"}) {
    INFO(stem << " at " << size);
    const Tensor input = nchw_tensor(reference(io, "input_" + size));
    Tensor got_logits, got_features, got_map;
    Outputs outputs;
    outputs.logits = &got_logits;
    outputs.pooled = &got_features;
    outputs.features = &got_map;
    outputs.layout = Layout::nchw;
    model.forward(input, outputs, ws);

    const Reference logits = reference(io, "logits_" + size);
    REQUIRE(got_logits.size() == logits.values.size());
    CHECK(max_scaled_error(got_logits.data(), logits.values) <= 1e-3);
    check_same_top5(got_logits.data(), logits.values, input.n(), 1000);

    const Reference features = reference(io, "pooled_" + size);
    REQUIRE(got_features.size() == features.values.size());
    CHECK(max_scaled_error(got_features.data(), features.values) <= 1e-3);

    const Reference map = reference(io, "fmap_" + size);
    CHECK(got_map.layout() == Layout::nchw);
    REQUIRE(got_map.size() == map.values.size());
    CHECK(got_map.c() == map.shape[1]);
    CHECK(got_map.h() == map.shape[2]);
    CHECK(got_map.w() == map.shape[3]);
    CHECK(max_scaled_error(got_map.data(), map.values) <= 1e-3);

    CHECK(model.forward(input, ws).values() == got_logits.values());  // the options' path: logits
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

TEST_CASE("Models built without the top give the one-pass pooled features and map", "[conformance][options]") {
  const std::string weights_path = data_path("tv_resnet18.safetensors");
  REQUIRE(file_exists(weights_path));
  const auto io = io::SafeTensors::open(data_path("tv_resnet18_io.safetensors"));
  const Tensor input = nchw_tensor(reference(io, "input_193x257"));
  ResNet18 model;
  model.load_weights(weights_path);
  Workspace ws(2);
  Tensor pooled, map;
  std::vector<Tensor> stages;
  Outputs outputs;
  outputs.pooled = &pooled;
  outputs.features = &map;
  outputs.stages = &stages;
  model.forward(input, outputs, ws);

  ModelOptions options;
  options.include_top = false;
  ResNet18 pooled_model(options);
  pooled_model.load_weights(weights_path);
  CHECK(pooled_model.forward(input, ws).values() == pooled.values());
  options.pooling = Pooling::none;
  ResNet18 map_model(options);
  map_model.load_weights(weights_path);
  CHECK(map_model.forward(input, ws).values() == map.values());
  REQUIRE(stages.size() == 4);
  CHECK(stages[3].values() == map.values());  // V1: the last stage is the last map
  std::vector<Tensor> alone;
  map_model.forward_stages(input, alone, ws);
  for (std::size_t i = 0; i < 4; ++i) CHECK(alone[i].values() == stages[i].values());
  Outputs wants_logits;
  wants_logits.logits = &pooled;
  CHECK_THROWS_AS(map_model.forward(input, wants_logits, ws), Error);  // no top: no logits
}
