#pragma once
// The subcommands see a model only through AnyNetwork, so each of them is written (and
// compiled) once; NetworkOf<Model> is the one place a model's type is used. entry<Model>
// binds a registry name to that type.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <resnet/resnet.hpp>
#include <resnet/transfer/logistic_regression.hpp>
#include <resnet/vision/labels.hpp>

#include "options.hpp"

namespace resnet_cli {

/// A constructed model with its type erased.
class AnyNetwork {
 public:
  virtual ~AnyNetwork() = default;
  virtual const resnet::ModelOptions& options() const = 0;
  virtual int min_side() const = 0;
  /// Keras counts BN moving statistics as (non-trainable) parameters; PyTorch keeps them
  /// as buffers outside its parameter count.
  virtual bool keras_counting() const = 0;
  virtual std::vector<resnet::LayerSummary> summary(int height, int width) const = 0;
  virtual void load_weights(const std::string& path, resnet::WeightParts parts = resnet::WeightParts::all) = 0;
  virtual void load_head(const std::string& path) = 0;
  virtual void set_head(const resnet::LinearHead& head, const std::vector<std::string>& class_names) = 0;
  virtual void save_head(const std::string& path) const = 0;
  virtual const std::vector<std::string>& class_names() const = 0;
  virtual void init_random(std::uint64_t seed) = 0;
  /// The model type's name (RESNET_NAMED_MODEL's), which calibrate records in a ranges file.
  virtual std::string type_name() const = 0;
  virtual void forward(const resnet::Tensor& input, resnet::Tensor& output, resnet::Workspace& ws) const = 0;
  virtual void forward(const resnet::Tensor& input, const resnet::Outputs& outputs, resnet::Workspace& ws) const = 0;
};

template <class Model>
class NetworkOf final : public AnyNetwork {
 public:
  explicit NetworkOf(const resnet::ModelOptions& options) : model_(options) {}
  const resnet::ModelOptions& options() const override { return model_.options(); }
  int min_side() const override { return Model::min_side; }
  bool keras_counting() const override { return Model::family::names::keras_layout; }
  std::vector<resnet::LayerSummary> summary(int height, int width) const override {
    return model_.summary(height, width);
  }
  void load_weights(const std::string& path, resnet::WeightParts parts) override { model_.load_weights(path, parts); }
  void load_head(const std::string& path) override { model_.load_head(path); }
  void set_head(const resnet::LinearHead& head, const std::vector<std::string>& class_names) override {
    model_.set_head(resnet::to_dense<Model::feature_channels>(head), class_names);
  }
  void save_head(const std::string& path) const override { model_.save_head(path); }
  const std::vector<std::string>& class_names() const override { return model_.class_names(); }
  void init_random(std::uint64_t seed) override { model_.init_random(seed); }
  std::string type_name() const override { return resnet::model_name<Model>(); }
  void forward(const resnet::Tensor& input, resnet::Tensor& output, resnet::Workspace& ws) const override {
    model_.forward(input, output, ws);
  }
  void forward(const resnet::Tensor& input, const resnet::Outputs& outputs, resnet::Workspace& ws) const override {
    model_.forward(input, outputs, ws);
  }

 private:
  Model model_;
};

using NetworkFactory = std::unique_ptr<AnyNetwork> (*)(const resnet::ModelOptions&);

/// Runs cmd.subcommand on a model made by `make` (commands.cpp).
int run_command(const Command& cmd, const ModelInfo& info, NetworkFactory make);

template <class Model>
std::unique_ptr<AnyNetwork> make_network(const resnet::ModelOptions& options) {
  return std::make_unique<NetworkOf<Model>>(options);
}

template <class Model>
int run_model(const Command& cmd, const ModelInfo& info) {
  return run_command(cmd, info, &make_network<Model>);
}

template <class Model>
ModelInfo entry(const char* name, const char* description, resnet::Preprocess preprocess, int resize, int crop,
                bool cifar_labels = false) {
  return ModelInfo{name, description, preprocess, resize, crop, cifar_labels, &run_model<Model>};
}

}  // namespace resnet_cli
