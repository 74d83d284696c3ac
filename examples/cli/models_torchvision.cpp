#include "commands.hpp"

namespace resnet_cli {

void add_torchvision_models(std::vector<ModelInfo>& m) {
  using resnet::Preprocess;
  m.push_back(entry<resnet::ResNet18>("resnet18", "torchvision ResNet-18, basic blocks", Preprocess::torch, 256, 224));
#ifndef RESNET_REPRESENTATIVE_MODELS_ONLY
  m.push_back(entry<resnet::ResNet34>("resnet34", "torchvision ResNet-34, basic blocks", Preprocess::torch, 256, 224));
#endif
  m.push_back(entry<resnet::ResNet50>("resnet50", "torchvision ResNet-50 (V1.5: stride on the 3x3)", Preprocess::torch, 256, 224));
#ifndef RESNET_REPRESENTATIVE_MODELS_ONLY
  m.push_back(entry<resnet::ResNet101>("resnet101", "torchvision ResNet-101 (V1.5)", Preprocess::torch, 256, 224));
  m.push_back(entry<resnet::ResNet152>("resnet152", "torchvision ResNet-152 (V1.5)", Preprocess::torch, 256, 224));
#endif
  m.push_back(entry<resnet::ResNeXt50_32x4d>("resnext50_32x4d", "torchvision ResNeXt-50 32x4d (grouped 3x3)",
                                             Preprocess::torch, 256, 224));
#ifndef RESNET_REPRESENTATIVE_MODELS_ONLY
  m.push_back(entry<resnet::ResNeXt101_32x8d>("resnext101_32x8d", "torchvision ResNeXt-101 32x8d (grouped 3x3)",
                                              Preprocess::torch, 256, 224));
  m.push_back(entry<resnet::ResNeXt101_64x4d>("resnext101_64x4d", "torchvision ResNeXt-101 64x4d (grouped 3x3)",
                                              Preprocess::torch, 256, 224));
  m.push_back(entry<resnet::WideResNet50_2>("wide_resnet50_2", "torchvision Wide ResNet-50-2 (3x3 twice as wide)",
                                            Preprocess::torch, 256, 224));
  m.push_back(entry<resnet::WideResNet101_2>("wide_resnet101_2", "torchvision Wide ResNet-101-2 (3x3 twice as wide)",
                                             Preprocess::torch, 256, 224));
#endif
}

}  // namespace resnet_cli
