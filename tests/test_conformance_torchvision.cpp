// torchvision conformance: tests/python/gen_torchvision.py builds resnet18..152 with
// seeded random weights and non-trivial BN statistics, and records PyTorch's logits,
// pooled features and last feature map at 224x224 and 193x257 (batch 2). The library,
// loading the same safetensors file once, must give all three from one pass within
// 1e-3 * max(1, |ref|), with the same top-5; a model built without the top gives the
// same pooled features and map through its options.
#include "support.hpp"
#include "torchvision_conformance.hpp"

using namespace resnet;
using namespace test_support;

TEST_CASE("torchvision resnet50 conformance", "[conformance][torchvision]") { check_torchvision<ResNet50>("tv_resnet50"); }
// Built with RESNET_ALL_MODELS=OFF (the sanitizer stage), the exhaustive models are left
// out: tests/conformance.cmake names the representative one of each family.
#ifndef RESNET_REPRESENTATIVE_MODELS_ONLY
TEST_CASE("torchvision resnet18 conformance", "[conformance][torchvision]") { check_torchvision<ResNet18>("tv_resnet18"); }
TEST_CASE("torchvision resnet34 conformance", "[conformance][torchvision]") { check_torchvision<ResNet34>("tv_resnet34"); }
TEST_CASE("torchvision resnet101 conformance", "[conformance][torchvision]") { check_torchvision<ResNet101>("tv_resnet101"); }
TEST_CASE("torchvision resnet152 conformance", "[conformance][torchvision]") { check_torchvision<ResNet152>("tv_resnet152"); }
#endif

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
