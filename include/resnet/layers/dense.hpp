#pragma once
/// The classifier: y = W x + b with In features fixed by the network and the class
/// count chosen at run time (Keras' `classes`, torchvision's `num_classes`).

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "resnet/core/error.hpp"
#include "resnet/core/math.hpp"
#include "resnet/core/thread_pool.hpp"
#include "resnet/core/workspace.hpp"
#include "resnet/kernels/dense_int8.hpp"
#include "resnet/layers/common.hpp"

namespace resnet {

template <int In>
class Dense {
  static_assert(In > 0, "Dense: the input feature count must be positive");

 public:
  static constexpr int in_features = In;
  static constexpr int in_channels = In;  // out_channels is classes(), a run-time value
  static constexpr long long parameter_count(int classes) noexcept { return 1LL * classes * In + classes; }

  explicit Dense(int classes = 1000) : classes_(classes) {
    if (classes < 1)
      throw Error(ErrorKind::invalid_argument, "Dense: classes must be at least 1, got " + std::to_string(classes));
  }

  /// A head with given weights: `weight` row-major (classes x In), as PyTorch's
  /// `fc.weight`; `bias` one value per class. Used for heads fitted in the library
  /// (resnet/transfer) rather than loaded from a file.
  Dense(int classes, std::vector<float> weight, std::vector<float> bias) : Dense(classes) {
    if (weight.size() != static_cast<std::size_t>(classes) * In || bias.size() != static_cast<std::size_t>(classes))
      throw Error(ErrorKind::shape_mismatch, "Dense: expected weight [" + std::to_string(classes) + ", " +
                                                 std::to_string(In) + "] and bias [" + std::to_string(classes) +
                                                 "], got " + std::to_string(weight.size()) + " and " +
                                                 std::to_string(bias.size()) + " values");
    weight_ = std::move(weight);
    bias_ = std::move(bias);
  }

  int classes() const noexcept { return classes_; }
  /// Row-major (classes x In); empty before load()/init_random().
  const std::vector<float>& weight() const noexcept { return weight_; }
  const std::vector<float>& bias() const noexcept { return bias_; }

  template <class Loader>
  void load(Loader& loader, const std::string& site) {
    std::vector<float> weight = loader.dense_kernel(site, classes_, In), bias = loader.bias(site, classes_);
    kernels::QuantizedWeights quantized = quantize(weight, int8_on_);  // before anything changes
    weight_ = std::move(weight);
    bias_ = std::move(bias);
    int8_ = std::move(quantized);
  }
  void init_random(RandomWeights& rng) {
    weight_ = rng.normal(static_cast<std::size_t>(classes_) * In, std::sqrt(1.0f / In));
    bias_ = rng.uniform(classes_, -0.1f, 0.1f);
    int8_ = quantize(weight_, int8_on_);
  }

  /// An int8 model's classifier multiplies by its weights quantized to s8 per class
  /// (kernels/dense_int8.hpp: a quarter of the bytes to stream, the features stay fp32);
  /// weight() and bias() stay the loaded fp32 values; load() and init_random() quantize
  /// their new weights while it is on. A weight that is NaN or infinite is an Error (invalid_argument), and the layer is
  /// left as it was.
  void use_int8_weights(bool on) {
    int8_ = quantize(weight_, on);
    int8_on_ = on;
  }
  bool int8_weights() const noexcept { return int8_on_; }

  /// (n, 1, 1, In) features in, (n, 1, 1, classes) out = fusion.act(W x + b + residual).
  /// At batch 1 this is a matrix-vector product that streams the whole weight matrix
  /// (8 MB for ResNet-50's 1000 classes in fp32, 2 MB in s8) once from DRAM: blocks of
  /// classes are spread over the pool's threads.
  FeatureMap forward(const FeatureMap& in, Workspace& ws, const Fusion& fusion = {}) const {
    const Shape& s = in.shape();
    if (s.h != 1 || s.w != 1 || s.c != In)
      throw Error(ErrorKind::shape_mismatch, "Dense: input " + s.str() + " is not (n, 1, 1, " + std::to_string(In) +
                                                 "); pool the feature map first");
    if (weight_.empty())
      throw Error(ErrorKind::invalid_argument, "Dense: no weights; call load() or init_random() first");
    detail::expect_residual("Dense", {s.n, 1, 1, classes_}, fusion);
    FeatureMap result = ws.allocate({s.n, 1, 1, classes_});
    if (ws.planning()) return result;
    using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    constexpr int kBlock = 64;  // classes per task
    const float* features = in.data();
    float* out = result.data();
    const int n = s.n;
    ws.pool().parallel_tasks((classes_ + kBlock - 1) / kBlock, [&](std::ptrdiff_t block, int) {
      const int c0 = static_cast<int>(block) * kBlock, count = std::min(kBlock, classes_ - c0);
      if (int8_on_) {
        kernels::dense_s8_weights(int8_, In, c0, c0 + count, features, n, bias_.data(), out, classes_);
      } else {
        Eigen::Map<const RowMajor> w(weight_.data() + static_cast<std::size_t>(c0) * In, count, In);
        for (int i = 0; i < n; ++i) {  // row by row: a matrix-vector product allocates nothing
          Eigen::Map<const Eigen::RowVectorXf> x(features + static_cast<std::size_t>(i) * In, In);
          Eigen::Map<Eigen::RowVectorXf> y(out + static_cast<std::size_t>(i) * classes_ + c0, count);
          y.noalias() = x * w.transpose();
          y += Eigen::Map<const Eigen::RowVectorXf>(bias_.data() + c0, count);
        }
      }
      for (int i = 0; i < n; ++i) {
        const std::size_t row = static_cast<std::size_t>(i) * classes_ + c0;
        detail::apply_fusion(out, row, row + count, fusion);
      }
    });
    return result;
  }

 private:
  // s8 weights of `weight` while `on`; throws for a NaN or infinite weight.
  kernels::QuantizedWeights quantize(const std::vector<float>& weight, bool on) const {
    if (!on || weight.empty()) return {};
    return kernels::quantize_weights_per_channel(weight.data(), classes_, In, In);
  }

  int classes_;
  std::vector<float> weight_, bias_;
  bool int8_on_ = false;
  kernels::QuantizedWeights int8_;  // of weight_, while int8_on_
};

}  // namespace resnet
