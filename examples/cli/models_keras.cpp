#include "commands.hpp"

namespace resnet_cli {

void add_keras_models(std::vector<ModelInfo>& m) {
  using resnet::Preprocess;
  m.push_back(entry<resnet::keras::ResNet50>("keras-resnet50", "Keras ResNet50 (V1: stride on the first 1x1), BGR input",
                                             Preprocess::caffe, 256, 224));
#ifndef RESNET_REPRESENTATIVE_MODELS_ONLY
  m.push_back(entry<resnet::keras::ResNet101>("keras-resnet101", "Keras ResNet101 (V1), BGR input", Preprocess::caffe, 256, 224));
  m.push_back(entry<resnet::keras::ResNet152>("keras-resnet152", "Keras ResNet152 (V1), BGR input", Preprocess::caffe, 256, 224));
#endif
}

}  // namespace resnet_cli
