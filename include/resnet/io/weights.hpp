#pragma once
/// Reads a model's weights out of a safetensors file under one of the naming schemes
/// of docs/spec.md section 4, converting layouts to the library's own (OHWI kernels,
/// [out][in] dense) once at load time. Every tensor the model takes is checked for
/// its shape; after loading, finish() reports tensors the model had no use for.

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "resnet/core/error.hpp"
#include "resnet/io/safetensors.hpp"

namespace resnet {

/// The naming and layout convention of a weight file.
enum class Naming {
  torchvision,  ///< `layer1.0.conv1.weight`, OIHW kernels, `fc` head (a `module.` prefix on
                ///< every name, as DataParallel writes it, is accepted here and for cifar)
  cifar,        ///< torchvision-style names, `linear` head
  keras,        ///< `conv2_block1_1_conv/kernel`, HWIO kernels, `predictions` head
};

/// Batch-norm statistics as stored; folded or applied by the layer that owns them.
/// A block's name as the naming scheme writes it: `layer1.0` or `conv2_block1`.
inline std::string block_name(Naming naming, int stage, int block) {
  if (naming == Naming::keras) return "conv" + std::to_string(stage + 2) + "_block" + std::to_string(block + 1);
  return "layer" + std::to_string(stage + 1) + "." + std::to_string(block);
}

struct BatchNormParams {
  std::vector<float> gamma, beta, mean, var;
};

class WeightReader {
 public:
  WeightReader(const io::SafeTensors& file, Naming naming) : file_(file), naming_(naming) {
    // Checkpoints saved from a DataParallel wrapper prefix every name with `module.`.
    bool all_prefixed = !file_.tensors().empty();
    for (const auto& t : file_.tensors()) all_prefixed = all_prefixed && t.name.rfind("module.", 0) == 0;
    if (all_prefixed && naming_ != Naming::keras) prefix_ = "module.";
  }

  Naming naming() const noexcept { return naming_; }
  const std::string& file_name() const noexcept { return file_.name(); }

  // ---- names of the weighted sites of a model (docs/spec.md 4.1, 4.2, 4.4) ----

  /// Prefix of block `block` (0-based) of stage `stage` (0-based).
  std::string block_prefix(int stage, int block) const {
    return block_name(naming_, stage, block) + (naming_ == Naming::keras ? "" : ".");
  }
  /// Conv number `index` inside a block; index 0 is the projection shortcut.
  std::string block_conv(const std::string& prefix, int index) const {
    if (naming_ == Naming::keras) return prefix + "_" + std::to_string(index) + "_conv";
    return index == 0 ? prefix + "downsample.0" : prefix + "conv" + std::to_string(index);
  }
  /// The BN after conv number `index`; index 0 is the projection's BN.
  std::string block_bn(const std::string& prefix, int index) const {
    if (naming_ == Naming::keras) return prefix + "_" + std::to_string(index) + "_bn";
    return index == 0 ? prefix + "downsample.1" : prefix + "bn" + std::to_string(index);
  }
  std::string preact_bn(const std::string& prefix) const { return prefix + "_preact_bn"; }
  std::string stem_conv() const { return naming_ == Naming::keras ? "conv1_conv" : "conv1"; }
  std::string stem_bn() const { return naming_ == Naming::keras ? "conv1_bn" : "bn1"; }
  std::string post_bn() const { return "post_bn"; }
  std::string classifier() const {
    switch (naming_) {
      case Naming::keras: return "predictions";
      case Naming::cifar: return "linear";
      default: return "fc";
    }
  }

  // ---- typed reads with layout conversion ----

  /// A conv kernel as OHWI [out][k][k][in].
  std::vector<float> conv_kernel(const std::string& site, int out_c, int in_c, int k) {
    if (naming_ == Naming::keras) {
      auto hwio = take(site + "/kernel", {k, k, in_c, out_c});
      std::vector<float> ohwi(hwio.size());
      for (int y = 0; y < k; ++y)
        for (int x = 0; x < k; ++x)
          for (int i = 0; i < in_c; ++i)
            for (int o = 0; o < out_c; ++o)
              ohwi[((static_cast<std::size_t>(o) * k + y) * k + x) * in_c + i] =
                  hwio[((static_cast<std::size_t>(y) * k + x) * in_c + i) * out_c + o];
      return ohwi;
    }
    auto oihw = take(site + ".weight", {out_c, in_c, k, k});
    std::vector<float> ohwi(oihw.size());
    for (int o = 0; o < out_c; ++o)
      for (int i = 0; i < in_c; ++i)
        for (int y = 0; y < k; ++y)
          for (int x = 0; x < k; ++x)
            ohwi[((static_cast<std::size_t>(o) * k + y) * k + x) * in_c + i] =
                oihw[((static_cast<std::size_t>(o) * in_c + i) * k + y) * k + x];
    return ohwi;
  }

  std::vector<float> bias(const std::string& site, int channels) {
    return take(site + (naming_ == Naming::keras ? "/bias" : ".bias"), {channels});
  }

  BatchNormParams batch_norm(const std::string& site, int channels) {
    const bool keras = naming_ == Naming::keras;
    BatchNormParams p;
    p.gamma = take(site + (keras ? "/gamma" : ".weight"), {channels});
    p.beta = take(site + (keras ? "/beta" : ".bias"), {channels});
    p.mean = take(site + (keras ? "/moving_mean" : ".running_mean"), {channels});
    p.var = take(site + (keras ? "/moving_variance" : ".running_var"), {channels});
    if (!keras) skip_if_present(site + ".num_batches_tracked");
    return p;
  }

  /// A dense kernel as [out][in].
  std::vector<float> dense_kernel(const std::string& site, int out_features, int in_features) {
    if (naming_ == Naming::keras) {
      auto io = take(site + "/kernel", {in_features, out_features});
      std::vector<float> oi(io.size());
      for (int i = 0; i < in_features; ++i)
        for (int o = 0; o < out_features; ++o)
          oi[static_cast<std::size_t>(o) * in_features + i] = io[static_cast<std::size_t>(i) * out_features + o];
      return oi;
    }
    return take(site + ".weight", {out_features, in_features});
  }

  /// Whether any tensor of the file lives under `site` (used for optional heads).
  bool has_site(const std::string& site) const {
    const std::string full = prefix_ + site;
    for (const auto& t : file_.tensors())
      if (t.name.compare(0, full.size(), full) == 0 && t.name.size() > full.size() &&
          (t.name[full.size()] == '.' || t.name[full.size()] == '/'))
        return true;
    return false;
  }

  /// Marks every tensor under `site` as deliberately unused (a head the model drops).
  void ignore_site(const std::string& site) {
    const std::string full = prefix_ + site;
    for (const auto& t : file_.tensors())
      if (t.name.compare(0, full.size(), full) == 0) used_.insert(t.name);
  }

  /// Errors if the file holds tensors the model did not take.
  void finish() const {
    std::vector<std::string> extra;
    for (const auto& t : file_.tensors())
      if (!used_.count(t.name) && !is_num_batches_tracked(t.name)) extra.push_back(t.name);
    if (extra.empty()) return;
    std::string list;
    for (std::size_t i = 0; i < extra.size() && i < 5; ++i) list += (i ? ", " : "") + extra[i];
    if (extra.size() > 5) list += ", ... (" + std::to_string(extra.size()) + " in all)";
    throw Error(ErrorKind::unexpected_tensor,
                file_.name() + ": tensors this model has no place for: " + list);
  }

 private:
  static bool is_num_batches_tracked(const std::string& name) {
    static const std::string suffix = "num_batches_tracked";
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  }

  static std::string shape_string(const std::vector<std::int64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
  }

  std::vector<float> take(const std::string& key, std::vector<std::int64_t> expected) {
    const std::string name = prefix_ + key;
    const io::TensorInfo* t = file_.find(name);
    if (!t)
      throw Error(ErrorKind::missing_tensor,
                  file_.name() + ": " + name + ": missing (expected shape " + shape_string(expected) + ")");
    if (t->shape != expected)
      throw Error(ErrorKind::shape_mismatch, file_.name() + ": " + name + ": expected shape " +
                                                 shape_string(expected) + ", file has " + shape_string(t->shape));
    used_.insert(name);
    return file_.read_f32(*t);
  }

  void skip_if_present(const std::string& key) { used_.insert(prefix_ + key); }

  const io::SafeTensors& file_;
  Naming naming_;
  std::string prefix_;
  std::set<std::string> used_;
};

}  // namespace resnet
