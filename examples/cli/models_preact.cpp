#include "commands.hpp"

namespace resnet_cli {

void add_preact_models(std::vector<ModelInfo>& m) {
  using resnet::Preprocess;
  m.push_back(entry<resnet::ResNet50V2>("resnet50v2", "Keras ResNet50V2 (pre-activation)", Preprocess::tf, 256, 224));
#ifndef RESNET_REPRESENTATIVE_MODELS_ONLY
  m.push_back(entry<resnet::ResNet101V2>("resnet101v2", "Keras ResNet101V2 (pre-activation)", Preprocess::tf, 256, 224));
  m.push_back(entry<resnet::ResNet152V2>("resnet152v2", "Keras ResNet152V2 (pre-activation)", Preprocess::tf, 256, 224));
#endif
  m.push_back(entry<resnet::ResNet18V2>("resnet18v2", "pre-activation basic blocks, Keras V2 style (no published weights)",
                                        Preprocess::tf, 256, 224));
#ifndef RESNET_REPRESENTATIVE_MODELS_ONLY
  m.push_back(entry<resnet::ResNet34V2>("resnet34v2", "pre-activation basic blocks, Keras V2 style (no published weights)",
                                        Preprocess::tf, 256, 224));
#endif
}

}  // namespace resnet_cli
