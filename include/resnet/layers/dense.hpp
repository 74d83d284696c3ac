#pragma once
/// The classifier: y = W x + b with In features fixed by the network and the class
/// count chosen at run time (Keras' `classes`, torchvision's `num_classes`).

#include <string>
#include <vector>

#include <Eigen/Core>

#include "resnet/core/error.hpp"
#include "resnet/io/weights.hpp"
#include "resnet/layers/common.hpp"

namespace resnet {

template <int In>
class Dense {
  static_assert(In > 0, "Dense: the input feature count must be positive");

 public:
  static constexpr int in_features = In;
  static constexpr long long parameter_count(int classes) noexcept { return 1LL * classes * In + classes; }

  explicit Dense(int classes = 1000) : classes_(classes) {
    if (classes < 1)
      throw Error(ErrorKind::invalid_argument, "Dense: classes must be at least 1, got " + std::to_string(classes));
  }

  int classes() const noexcept { return classes_; }

  void load(WeightReader& reader, const std::string& site) {
    weight_ = reader.dense_kernel(site, classes_, In);
    bias_ = reader.bias(site, classes_);
  }
  void init_random(RandomWeights& rng) {
    weight_ = rng.normal(static_cast<std::size_t>(classes_) * In, std::sqrt(1.0f / In));
    bias_ = rng.uniform(classes_, -0.1f, 0.1f);
  }

  /// features: n x In, row-major; out: n x classes.
  void forward(const float* features, int n, float* out) const {
    using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::Map<const RowMajor> x(features, n, In);
    Eigen::Map<const RowMajor> w(weight_.data(), classes_, In);
    Eigen::Map<RowMajor> y(out, n, classes_);
    for (int i = 0; i < n; ++i)  // row by row: a matrix-vector product allocates nothing
      y.row(i).noalias() = x.row(i) * w.transpose();
    y.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias_.data(), classes_);
  }

 private:
  int classes_;
  std::vector<float> weight_, bias_;
};

/// Row-wise softmax in place, shifted by the row maximum for stability.
inline void softmax_rows(float* data, int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    float* x = data + static_cast<std::size_t>(r) * cols;
    float top = x[0];
    for (int c = 1; c < cols; ++c) top = x[c] > top ? x[c] : top;
    double sum = 0.0;
    for (int c = 0; c < cols; ++c) sum += (x[c] = std::exp(x[c] - top));
    for (int c = 0; c < cols; ++c) x[c] = static_cast<float>(x[c] / sum);
  }
}

}  // namespace resnet
