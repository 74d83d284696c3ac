// Keras structures: tests/python/gen_keras_reference.py re-implements Keras ResNet V1
// (stride on the first 1x1, conv biases, eps 1.001e-5) and V2 (pre-activation, stride
// in a stage's last block, max-pool shortcut, post BN, zero-padded stem pool) in
// PyTorch following the spec, and writes weights under Keras names and layouts (HWIO
// kernels, [in, out] dense). One loaded model gives logits, probabilities, pooled
// features and the last map from one pass (max pooling from a second pass of the same
// model); for ResNet50 and ResNet50V2 the models built with each Keras head option give
// the same values through their options.
#include "support.hpp"

using namespace resnet;
using namespace test_support;

namespace {

template <class Model>
Model loaded(const io::SafeTensors& weights, ModelOptions options = {}) {
  Model model(options);
  model.load_weights(weights);
  return model;
}

template <class Model>
void check_keras(const std::string& name, bool check_options = false) {
  const std::string weights_path = data_path("keras_" + name + ".safetensors");
  const std::string io_path = data_path("keras_" + name + "_io.safetensors");
  REQUIRE(file_exists(weights_path));
  REQUIRE(file_exists(io_path));
  const auto weights = io::SafeTensors::open(weights_path);
  const auto io = io::SafeTensors::open(io_path);
  const Model model = loaded<Model>(weights);  // Keras defaults: top, softmax

  Workspace ws(2);
  for (const std::string size : {"224x224", "193x257"}) {
    INFO(name << " at " << size);
    const Tensor input = nchw_tensor(reference(io, "input_" + size));
    Tensor got_logits, got_probs, got_avg, got_map, got_max;
    Outputs outputs;
    outputs.logits = &got_logits;
    outputs.probabilities = &got_probs;
    outputs.pooled = &got_avg;
    outputs.features = &got_map;
    outputs.layout = Layout::nchw;
    model.forward(input, outputs, ws);
    Outputs max_pooled;
    max_pooled.pooled = &got_max;
    max_pooled.pooling = GlobalPool::max;
    model.forward(input, max_pooled, ws);

    const Reference logits = reference(io, "logits_" + size);
    REQUIRE(got_logits.size() == logits.values.size());
    CHECK(max_scaled_error(got_logits.data(), logits.values) <= 1e-3);
    check_same_top5(got_logits.data(), logits.values, input.n(), 1000);
    CHECK(max_scaled_error(got_probs.data(), reference(io, "probs_" + size).values) <= 1e-3);
    CHECK(max_scaled_error(got_avg.data(), reference(io, "pooled_avg_" + size).values) <= 1e-3);
    CHECK(max_scaled_error(got_max.data(), reference(io, "pooled_max_" + size).values) <= 1e-3);
    const Reference map = reference(io, "fmap_" + size);
    REQUIRE(got_map.size() == map.values.size());
    CHECK(got_map.h() == map.shape[2]);
    CHECK(got_map.w() == map.shape[3]);
    CHECK(max_scaled_error(got_map.data(), map.values) <= 1e-3);

    if (!check_options) continue;
    CHECK(model.forward(input, ws).values() == got_probs.values());
    ModelOptions options;
    options.classifier = Classifier::logits;
    CHECK(loaded<Model>(weights, options).forward(input, ws).values() == got_logits.values());
    options.include_top = false;
    options.pooling = Pooling::avg;
    CHECK(loaded<Model>(weights, options).forward(input, ws).values() == got_avg.values());
    options.pooling = Pooling::max;
    CHECK(loaded<Model>(weights, options).forward(input, ws).values() == got_max.values());
    options.pooling = Pooling::none;
    CHECK(loaded<Model>(weights, options).forward(input, ws, Layout::nchw).values() == got_map.values());
  }
}

}  // namespace

TEST_CASE("pre-activation ResNet18V2 conformance", "[conformance][keras]") { check_keras<ResNet18V2>("resnet18v2"); }
// Built with RESNET_ALL_MODELS=OFF (the sanitizer stage), the exhaustive models are left
// out: tests/conformance.cmake names the representative one of each family.
#ifndef RESNET_REPRESENTATIVE_MODELS_ONLY
TEST_CASE("Keras ResNet50 (V1) conformance", "[conformance][keras]") { check_keras<keras::ResNet50>("resnet50", true); }
TEST_CASE("Keras ResNet101 (V1) conformance", "[conformance][keras]") { check_keras<keras::ResNet101>("resnet101"); }
TEST_CASE("Keras ResNet152 (V1) conformance", "[conformance][keras]") { check_keras<keras::ResNet152>("resnet152"); }
TEST_CASE("Keras ResNet50V2 conformance", "[conformance][keras]") { check_keras<ResNet50V2>("resnet50v2", true); }
TEST_CASE("Keras ResNet101V2 conformance", "[conformance][keras]") { check_keras<ResNet101V2>("resnet101v2"); }
TEST_CASE("Keras ResNet152V2 conformance", "[conformance][keras]") { check_keras<ResNet152V2>("resnet152v2"); }
TEST_CASE("pre-activation ResNet34V2 conformance", "[conformance][keras]") { check_keras<ResNet34V2>("resnet34v2"); }
#endif
