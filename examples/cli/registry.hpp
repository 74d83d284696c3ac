#pragma once
// The model registry: each name maps once to its C++ type, through a function pointer
// to run_model<Model> (commands.hpp). The families live in separate translation units
// so the compiler instantiates the networks in parallel. A build with
// RESNET_ALL_MODELS=OFF (CMakeLists.txt; the sanitizer stage of scripts/test.sh) defines
// RESNET_REPRESENTATIVE_MODELS_ONLY and registers one model per kind of block and the
// CIFAR models, those the tests run the command with.

#include <string>
#include <vector>

#include "options.hpp"

namespace resnet_cli {

void add_torchvision_models(std::vector<ModelInfo>& models);
void add_keras_models(std::vector<ModelInfo>& models);
void add_preact_models(std::vector<ModelInfo>& models);
void add_cifar_models(std::vector<ModelInfo>& models);

inline const std::vector<ModelInfo>& registry() {
  static const std::vector<ModelInfo> models = [] {
    std::vector<ModelInfo> m;
    add_torchvision_models(m);
    add_keras_models(m);
    add_preact_models(m);
    add_cifar_models(m);
    return m;
  }();
  return models;
}

inline const ModelInfo* find_model(const std::string& name) {
  for (const ModelInfo& m : registry())
    if (name == m.name) return &m;
  return nullptr;
}

}  // namespace resnet_cli
