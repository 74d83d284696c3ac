#include "commands.hpp"

namespace resnet_cli {

void add_cifar_models(std::vector<ModelInfo>& m) {
  using resnet::Preprocess;
  // 32x32 images are used as they are (resize 32 and crop 32 leave them unchanged).
  m.push_back(entry<resnet::CifarResNet20>("cifar-resnet20", "CIFAR-10 ResNet-20 (option-A shortcuts)", Preprocess::cifar, 32, 32, true));
  m.push_back(entry<resnet::CifarResNet32>("cifar-resnet32", "CIFAR-10 ResNet-32", Preprocess::cifar, 32, 32, true));
  m.push_back(entry<resnet::CifarResNet44>("cifar-resnet44", "CIFAR-10 ResNet-44", Preprocess::cifar, 32, 32, true));
  m.push_back(entry<resnet::CifarResNet56>("cifar-resnet56", "CIFAR-10 ResNet-56", Preprocess::cifar, 32, 32, true));
  m.push_back(entry<resnet::CifarResNet110>("cifar-resnet110", "CIFAR-10 ResNet-110 (no checkpoint in ../shared/data)",
                                            Preprocess::cifar, 32, 32, true));
}

}  // namespace resnet_cli
