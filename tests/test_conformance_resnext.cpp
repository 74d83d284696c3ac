// torchvision's ResNeXt and Wide ResNet: tests/python/gen_resnext.py builds each with
// seeded random weights and non-trivial BN statistics and records PyTorch's logits, pooled
// features and last feature map at 224x224 and 193x257 (batch 2); the library loads the
// state dict by torchvision's names (grouped kernels [out, in/groups, 3, 3]) and must give
// all three from one pass (torchvision_conformance.hpp). Models built without the top
// give PyTorch's pooled features and map.
#include "support.hpp"
#include "torchvision_conformance.hpp"

using namespace resnet;
using namespace test_support;

TEST_CASE("torchvision resnext50_32x4d conformance", "[conformance][resnext]") {
  check_torchvision<ResNeXt50_32x4d>("tv_resnext50_32x4d");
}
// Built with RESNET_ALL_MODELS=OFF (the sanitizer stage), the exhaustive models are left
// out: tests/conformance.cmake names the representative one of each family.
#ifndef RESNET_REPRESENTATIVE_MODELS_ONLY
TEST_CASE("torchvision resnext101_32x8d conformance", "[conformance][resnext]") {
  check_torchvision<ResNeXt101_32x8d>("tv_resnext101_32x8d");
}
TEST_CASE("torchvision resnext101_64x4d conformance", "[conformance][resnext]") {
  check_torchvision<ResNeXt101_64x4d>("tv_resnext101_64x4d");
}
TEST_CASE("torchvision wide_resnet50_2 conformance", "[conformance][resnext]") {
  check_torchvision<WideResNet50_2>("tv_wide_resnet50_2");
}
TEST_CASE("torchvision wide_resnet101_2 conformance", "[conformance][resnext]") {
  check_torchvision<WideResNet101_2>("tv_wide_resnet101_2");
}
#endif

TEST_CASE("ResNeXt-50 without the top gives PyTorch's pooled features and map", "[conformance][resnext]") {
  const TorchvisionReference files = torchvision_reference("tv_resnext50_32x4d");
  const Tensor input = nchw_tensor(reference(files.io, "input_193x257"));
  ModelOptions options;
  options.include_top = false;
  ResNeXt50_32x4d pooled_model(options);
  pooled_model.load_weights(files.weights);  // the file's fc is skipped
  options.pooling = Pooling::none;
  ResNeXt50_32x4d map_model(options);
  map_model.load_weights(files.weights);
  Workspace ws(2);
  check_close(pooled_model.forward(input, ws), reference(files.io, "pooled_193x257"));
  check_close(map_model.forward(input, ws, Layout::nchw), reference(files.io, "fmap_193x257"));
}
