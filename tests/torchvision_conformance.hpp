#pragma once
// The torchvision conformance check shared by test_conformance_torchvision.cpp and
// test_conformance_resnext.cpp: a model loads `<stem>.safetensors` (a generator's seeded
// state dict) and must give the logits, pooled features and last feature map of
// `<stem>_io.safetensors` from one pass, at 224x224 and 193x257 (batch 2), within
// 1e-3 * max(1, |ref|) and with the same top-5; the plain forward gives the same logits.
#include "support.hpp"

namespace test_support {

/// `<stem>.safetensors` (its path) and `<stem>_io.safetensors` (open), both required.
struct TorchvisionReference {
  std::string weights;
  resnet::io::SafeTensors io;
};
inline TorchvisionReference torchvision_reference(const std::string& stem) {
  const std::string weights = data_path(stem + ".safetensors"), io = data_path(stem + "_io.safetensors");
  REQUIRE(file_exists(weights));
  REQUIRE(file_exists(io));
  return {weights, resnet::io::SafeTensors::open(io)};
}

/// got within 1e-3 * max(1, |ref|) of the reference, element for element.
inline void check_close(const resnet::Tensor& got, const Reference& ref) {
  REQUIRE(got.size() == ref.values.size());
  CHECK(max_scaled_error(got.data(), ref.values) <= 1e-3);
}

template <class Model>
void check_torchvision(const std::string& stem) {
  using namespace resnet;
  const TorchvisionReference files = torchvision_reference(stem);
  Model model;
  model.load_weights(io::SafeTensors::open(files.weights));

  Workspace ws(2);
  for (const std::string size : {"224x224", "193x257"}) {
    INFO(stem << " at " << size);
    const Tensor input = nchw_tensor(reference(files.io, "input_" + size));
    Tensor got_logits, got_features, got_map;
    Outputs outputs;
    outputs.logits = &got_logits;
    outputs.pooled = &got_features;
    outputs.features = &got_map;
    outputs.layout = Layout::nchw;
    model.forward(input, outputs, ws);

    const Reference logits = reference(files.io, "logits_" + size);
    check_close(got_logits, logits);
    check_same_top5(got_logits.data(), logits.values, input.n(), 1000);
    check_close(got_features, reference(files.io, "pooled_" + size));
    const Reference map = reference(files.io, "fmap_" + size);
    CHECK(got_map.layout() == Layout::nchw);
    CHECK((std::vector<int>{got_map.n(), got_map.c(), got_map.h(), got_map.w()}) ==
          (std::vector<int>(map.shape.begin(), map.shape.end())));
    check_close(got_map, map);

    CHECK(model.forward(input, ws).values() == got_logits.values());  // the options' path: logits
  }
}

}  // namespace test_support
