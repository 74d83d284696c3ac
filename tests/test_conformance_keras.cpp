// Keras structures: tests/python/gen_keras_reference.py re-implements Keras ResNet V1
// (stride on the first 1x1, conv biases, eps 1.001e-5) and V2 (pre-activation, stride
// in a stage's last block, max-pool shortcut, post BN, zero-padded stem pool) in
// PyTorch following the spec, and writes weights under Keras names and layouts (HWIO
// kernels, [in, out] dense). The library must match every head option.
#include "support.hpp"

using namespace resnet;
using namespace test_support;

namespace {

template <class Model>
Model loaded(const io::SafeTensors& weights, ModelOptions options) {
  Model model(options);
  model.load_weights(weights);
  return model;
}

template <class Model>
void check_keras(const std::string& name) {
  const std::string weights_path = data_path("keras_" + name + ".safetensors");
  const std::string io_path = data_path("keras_" + name + "_io.safetensors");
  REQUIRE(file_exists(weights_path));
  REQUIRE(file_exists(io_path));
  const auto weights = io::SafeTensors::open(weights_path);
  const auto io = io::SafeTensors::open(io_path);

  ModelOptions top;  // Keras default: softmax probabilities
  ModelOptions logits_options;
  logits_options.classifier = Classifier::logits;
  ModelOptions avg;
  avg.include_top = false;
  avg.pooling = Pooling::avg;
  ModelOptions max = avg;
  max.pooling = Pooling::max;
  ModelOptions none = avg;
  none.pooling = Pooling::none;

  const Model probs_model = loaded<Model>(weights, top);
  const Model logits_model = loaded<Model>(weights, logits_options);
  const Model avg_model = loaded<Model>(weights, avg);
  const Model max_model = loaded<Model>(weights, max);
  const Model map_model = loaded<Model>(weights, none);

  Workspace ws(2);
  for (const std::string size : {"224x224", "193x257"}) {
    INFO(name << " at " << size);
    const Tensor input = nchw_tensor(reference(io, "input_" + size));

    const Reference logits = reference(io, "logits_" + size);
    const Tensor got_logits = logits_model.forward(input, ws);
    REQUIRE(got_logits.size() == logits.values.size());
    CHECK(max_scaled_error(got_logits.data(), logits.values) <= 1e-3);
    check_same_top5(got_logits.data(), logits.values, input.n(), 1000);

    const Reference probs = reference(io, "probs_" + size);
    const Tensor got_probs = probs_model.forward(input, ws);
    CHECK(max_scaled_error(got_probs.data(), probs.values) <= 1e-3);

    const Reference pooled_avg = reference(io, "pooled_avg_" + size);
    CHECK(max_scaled_error(avg_model.forward(input, ws).data(), pooled_avg.values) <= 1e-3);
    const Reference pooled_max = reference(io, "pooled_max_" + size);
    CHECK(max_scaled_error(max_model.forward(input, ws).data(), pooled_max.values) <= 1e-3);

    const Reference map = reference(io, "fmap_" + size);
    const Tensor got_map = map_model.forward(input, ws, Layout::nchw);
    REQUIRE(got_map.size() == map.values.size());
    CHECK(got_map.h() == map.shape[2]);
    CHECK(got_map.w() == map.shape[3]);
    CHECK(max_scaled_error(got_map.data(), map.values) <= 1e-3);
  }
}

}  // namespace

TEST_CASE("Keras ResNet50 (V1) conformance", "[conformance][keras]") { check_keras<keras::ResNet50>("resnet50"); }
TEST_CASE("Keras ResNet101 (V1) conformance", "[conformance][keras]") { check_keras<keras::ResNet101>("resnet101"); }
TEST_CASE("Keras ResNet152 (V1) conformance", "[conformance][keras]") { check_keras<keras::ResNet152>("resnet152"); }
TEST_CASE("Keras ResNet50V2 conformance", "[conformance][keras]") { check_keras<ResNet50V2>("resnet50v2"); }
TEST_CASE("Keras ResNet101V2 conformance", "[conformance][keras]") { check_keras<ResNet101V2>("resnet101v2"); }
TEST_CASE("Keras ResNet152V2 conformance", "[conformance][keras]") { check_keras<ResNet152V2>("resnet152v2"); }
TEST_CASE("pre-activation ResNet18V2 conformance", "[conformance][keras]") { check_keras<ResNet18V2>("resnet18v2"); }
TEST_CASE("pre-activation ResNet34V2 conformance", "[conformance][keras]") { check_keras<ResNet34V2>("resnet34v2"); }
