#include "commands.hpp"

namespace resnet_cli {

void add_torchvision_models(std::vector<ModelInfo>& m) {
  using resnet::Preprocess;
  m.push_back(entry<resnet::ResNet18>("resnet18", "torchvision ResNet-18, basic blocks", Preprocess::torch, 256, 224));
  m.push_back(entry<resnet::ResNet34>("resnet34", "torchvision ResNet-34, basic blocks", Preprocess::torch, 256, 224));
  m.push_back(entry<resnet::ResNet50>("resnet50", "torchvision ResNet-50 (V1.5: stride on the 3x3)", Preprocess::torch, 256, 224));
  m.push_back(entry<resnet::ResNet101>("resnet101", "torchvision ResNet-101 (V1.5)", Preprocess::torch, 256, 224));
  m.push_back(entry<resnet::ResNet152>("resnet152", "torchvision ResNet-152 (V1.5)", Preprocess::torch, 256, 224));
}

}  // namespace resnet_cli
