#pragma once
/// The weight naming of each model family (docs/spec.md section 4) and the loader the
/// layers read through. A layer asks its loader for "the conv kernel at this site"; the
/// loader knows how the family spells the site's tensors and lays them out, and turns
/// them into the library's layouts (OHWI kernels, [out][in] dense) once, at load time.
///
/// Names of the sites of a model, per scheme:
///   site              torchvision / CIFAR           Keras
///   stem conv, BN     conv1, bn1                    conv1_conv, conv1_bn
///   block b of s      layer{s+1}.{b}                conv{s+2}_block{b+1}
///   conv i of block   .conv{i} (i = 0: downsample.0) _{i}_conv
///   BN i of block     .bn{i}   (i = 0: downsample.1) _{i}_bn
///   pre-activation    ._preact_bn                   _preact_bn
///   final norm (V2)   post_bn                       post_bn
///   classifier        fc (CIFAR: linear)            predictions

#include <cstdint>
#include <string>
#include <vector>

#include "resnet/core/precision.hpp"
#include "resnet/io/safetensors.hpp"
#include "resnet/io/tensor_reader.hpp"
#include "resnet/io/torch_checkpoint.hpp"
#include "resnet/layers/common.hpp"

namespace resnet {

namespace naming {

/// PyTorch state dicts: `site.weight` / `site.bias`, OIHW kernels, [out][in] dense.
struct Torchvision {
  static constexpr bool keras_layout = false;
  static std::string stem() { return "conv1"; }
  static std::string stem_bn() { return "bn1"; }
  static std::string block(int stage, int block) {
    return "layer" + std::to_string(stage + 1) + "." + std::to_string(block);
  }
  static std::string conv(const std::string& block, int index) {
    return block + (index == 0 ? ".downsample.0" : ".conv" + std::to_string(index));
  }
  static std::string bn(const std::string& block, int index) {
    return block + (index == 0 ? ".downsample.1" : ".bn" + std::to_string(index));
  }
  static std::string preact_bn(const std::string& block) { return block + "._preact_bn"; }
  static std::string post_bn() { return "post_bn"; }
  static std::string classifier() { return "fc"; }
  /// DataParallel prefixes every name with `module.`; the loader accepts both spellings.
  static std::string common_prefix() { return "module."; }
};

/// akamaster's CIFAR checkpoints: torchvision names with a `linear` classifier.
struct Cifar : Torchvision {
  static std::string classifier() { return "linear"; }
};

/// Keras layer names: `site/kernel`, `site/gamma`, ..., HWIO kernels, [in][out] dense.
struct Keras {
  static constexpr bool keras_layout = true;
  static std::string stem() { return "conv1_conv"; }
  static std::string stem_bn() { return "conv1_bn"; }
  static std::string block(int stage, int block) {
    return "conv" + std::to_string(stage + 2) + "_block" + std::to_string(block + 1);
  }
  static std::string conv(const std::string& block, int index) { return block + "_" + std::to_string(index) + "_conv"; }
  static std::string bn(const std::string& block, int index) { return block + "_" + std::to_string(index) + "_bn"; }
  static std::string preact_bn(const std::string& block) { return block + "_preact_bn"; }
  static std::string post_bn() { return "post_bn"; }
  static std::string classifier() { return "predictions"; }
  static std::string common_prefix() { return {}; }
};

}  // namespace naming

/// What layers load through: a tensor reader plus a family's naming. Layers and blocks
/// take any type with this interface as a template parameter, so they depend on no file
/// format and no naming scheme.
template <class Names>
class WeightLoader {
 public:
  using names = Names;

  explicit WeightLoader(const io::SafeTensors& file) : reader_(file, prefix_of(file)) {}
  explicit WeightLoader(const io::TorchCheckpoint& file) : reader_(file, prefix_of(file)) {}

  const std::string& file_name() const noexcept { return reader_.file_name(); }

  /// What convolutions pack their weights for (ModelOptions::precision, lowp_layers).
  ConvArithmetic arithmetic;

  // ---- sites ----
  std::string stem() const { return Names::stem(); }
  std::string stem_bn() const { return Names::stem_bn(); }
  std::string block(int stage, int block) const { return Names::block(stage, block); }
  std::string conv(const std::string& block, int index) const { return Names::conv(block, index); }
  std::string bn(const std::string& block, int index) const { return Names::bn(block, index); }
  std::string preact_bn(const std::string& block) const { return Names::preact_bn(block); }
  std::string post_bn() const { return Names::post_bn(); }
  std::string classifier() const { return Names::classifier(); }

  // ---- typed reads, converted to the library's layouts ----

  /// A conv kernel as OHWI [out][k][k][in].
  std::vector<float> conv_kernel(const std::string& site, int out_c, int in_c, int k) {
    const bool keras = Names::keras_layout;
    const std::vector<float> file = keras ? reader_.take(site + "/kernel", {k, k, in_c, out_c})
                                          : reader_.take(site + ".weight", {out_c, in_c, k, k});
    std::vector<float> ohwi(file.size());
    for (int o = 0; o < out_c; ++o)
      for (int y = 0; y < k; ++y)
        for (int x = 0; x < k; ++x)
          for (int i = 0; i < in_c; ++i) {
            const std::size_t from = keras ? ((static_cast<std::size_t>(y) * k + x) * in_c + i) * out_c + o
                                           : ((static_cast<std::size_t>(o) * in_c + i) * k + y) * k + x;
            ohwi[((static_cast<std::size_t>(o) * k + y) * k + x) * in_c + i] = file[from];
          }
    return ohwi;
  }

  std::vector<float> bias(const std::string& site, int channels) {
    return reader_.take(site + (Names::keras_layout ? "/bias" : ".bias"), {channels});
  }

  BatchNormParams batch_norm(const std::string& site, int channels) {
    const bool keras = Names::keras_layout;
    BatchNormParams p;
    p.gamma = reader_.take(site + (keras ? "/gamma" : ".weight"), {channels});
    p.beta = reader_.take(site + (keras ? "/beta" : ".bias"), {channels});
    p.mean = reader_.take(site + (keras ? "/moving_mean" : ".running_mean"), {channels});
    p.var = reader_.take(site + (keras ? "/moving_variance" : ".running_var"), {channels});
    if (!keras) reader_.skip(site + ".num_batches_tracked");
    return p;
  }

  /// A dense kernel as [out][in].
  std::vector<float> dense_kernel(const std::string& site, int out_features, int in_features) {
    if (!Names::keras_layout) return reader_.take(site + ".weight", {out_features, in_features});
    const std::vector<float> io = reader_.take(site + "/kernel", {in_features, out_features});
    std::vector<float> oi(io.size());
    for (int i = 0; i < in_features; ++i)
      for (int o = 0; o < out_features; ++o)
        oi[static_cast<std::size_t>(o) * in_features + i] = io[static_cast<std::size_t>(i) * out_features + o];
    return oi;
  }

  /// Whether the file has tensors under `site` (an optional head).
  bool has(const std::string& site) const { return reader_.has_scope(site); }
  /// Accepts the tensors under `site` without taking them (a head the model drops).
  void skip(const std::string& site) { reader_.skip_scope(site); }

  /// Errors if the file holds tensors the model did not take (BN step counters aside).
  void finish() const {
    reader_.finish([](const std::string& name) {
      static const std::string counter = "num_batches_tracked";
      return name.size() >= counter.size() && name.compare(name.size() - counter.size(), counter.size(), counter) == 0;
    });
  }

 private:
  template <class File>
  static std::string prefix_of(const File& file) {
    const std::string prefix = Names::common_prefix();
    return !prefix.empty() && io::TensorReader::all_names_start_with(file, prefix) ? prefix : std::string();
  }

  io::TensorReader reader_;
};

}  // namespace resnet
