#pragma once
/// Fitting a classifier head on backbone features: multinomial logistic regression
/// (softmax cross-entropy with an L2 penalty on the weights, bias unpenalised), full batch,
/// by L-BFGS, as scikit-learn's LogisticRegression(solver="lbfgs") does:
///
///   loss(W, b) = sum_i CE(softmax(W x_i + b), y_i) + l2 / 2 * ||W||^2
///
/// so `l2` is scikit-learn's 1 / C (C = 1 -> l2 = 1). Like scikit-learn the solver works on
/// loss / n, starts from zero and stops when every gradient entry of loss / n is at most
/// `tolerance` in size, or after `max_iterations` iterations.
///
/// Deterministic: the samples are cut into fixed chunks whose partial sums are added in
/// chunk order, so the result does not depend on the number of threads or their timing.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <deque>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "resnet/core/error.hpp"
#include "resnet/core/separate.hpp"
#include "resnet/core/workspace.hpp"
#include "resnet/layers/dense.hpp"
#include "resnet/transfer/feature_set.hpp"

namespace resnet {

/// One L-BFGS iteration, as reported to FitOptions::on_iteration and kept in the history.
struct FitStep {
  int iteration = 0;
  double loss = 0;                  ///< loss / n (per training sample, L2 term included)
  double gradient = 0;              ///< largest |entry| of the gradient of loss / n
  double train_accuracy = 0;        ///< in [0, 1], on the training rows (flipped copies too)
  double validation_accuracy = std::numeric_limits<double>::quiet_NaN();  ///< NaN without a validation set
  int evaluations = 0;              ///< loss evaluations so far (line search included)
};

struct FitOptions {
  double l2 = 1.0;          ///< scikit-learn's 1 / C; 0 for no penalty
  int max_iterations = 100; ///< scikit-learn's max_iter
  double tolerance = 1e-4;  ///< scikit-learn's tol: on the largest gradient entry of loss / n
  int memory = 10;          ///< L-BFGS correction pairs kept (scipy's default)
  std::function<void(const FitStep&)> on_iteration;  ///< called after every iteration
};

/// A fitted linear classifier: logits = weight x + bias.
struct LinearHead {
  int classes = 0;
  int width = 0;              ///< input features
  std::vector<float> weight;  ///< classes x width, row-major (PyTorch's fc.weight)
  std::vector<float> bias;    ///< classes
};

struct FitResult {
  LinearHead head;
  std::vector<std::string> classes;  ///< the training set's class names
  std::vector<FitStep> history;      ///< one entry per iteration
  bool converged = false;            ///< the gradient or loss criterion was met
  std::string stopped_because;       ///< why the iterations ended, in words
};

/// The head as a Dense layer for a network whose features are `In` wide, ready for
/// Network::set_head (with FitResult::classes as the class names).
template <int In>
Dense<In> to_dense(const LinearHead& head) {
  if (head.width != In)
    throw Error(ErrorKind::shape_mismatch, "to_dense: the head takes " + std::to_string(head.width) +
                                               " features but the network gives " + std::to_string(In));
  return Dense<In>(head.classes, head.weight, head.bias);
}

/// Top-1 accuracy of `head` on `set` (its original rows, not the flipped copies).
inline double accuracy(const LinearHead& head, const FeatureSet& set) {
  if (set.width != head.width)
    throw Error(ErrorKind::shape_mismatch, "accuracy: features of width " + std::to_string(set.width) +
                                               " for a head of width " + std::to_string(head.width));
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const RowMajor> w(head.weight.data(), head.classes, head.width);
  std::size_t correct = 0;
  Eigen::VectorXf logits(head.classes);
  for (std::size_t i = 0; i < set.size(); ++i) {
    logits.noalias() = w * Eigen::Map<const Eigen::VectorXf>(set.row(i), head.width);
    logits += Eigen::Map<const Eigen::VectorXf>(head.bias.data(), head.classes);
    Eigen::Index best = 0;
    logits.maxCoeff(&best);
    correct += best == set.labels[i];
  }
  return set.size() ? static_cast<double>(correct) / static_cast<double>(set.size()) : 0.0;
}

namespace detail {

/// The objective on a training set held in double precision: value, gradient and the
/// number of rows whose largest logit is their label.
class SoftmaxObjective {
 public:
  using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  static constexpr Eigen::Index chunk_rows = 256;  // fixed: the summation order must not depend on threads

  SoftmaxObjective(const FeatureSet& train, double l2) : classes_(static_cast<int>(train.classes.size())), l2_(l2) {
    const std::size_t images = train.size();
    const Eigen::Index rows = static_cast<Eigen::Index>(images * (train.flipped.empty() ? 1 : 2));
    x_.resize(rows, train.width);
    labels_.reserve(static_cast<std::size_t>(rows));
    for (Eigen::Index r = 0; r < rows; ++r) {
      const std::size_t image = static_cast<std::size_t>(r) % images;
      const float* src = (static_cast<std::size_t>(r) < images ? train.values.data() : train.flipped.data()) +
                         image * static_cast<std::size_t>(train.width);
      for (int j = 0; j < train.width; ++j) x_(r, j) = src[j];
      labels_.push_back(train.labels[image]);
    }
  }

  Eigen::Index rows() const noexcept { return x_.rows(); }
  Eigen::Index parameters() const noexcept { return static_cast<Eigen::Index>(classes_) * (x_.cols() + 1); }

  /// theta = [W row-major (classes x width), b]; returns loss / n, writes its gradient.
  double evaluate(const Eigen::VectorXd& theta, Eigen::VectorXd& gradient, std::size_t& correct, ThreadPool& pool) {
    const Eigen::Index k = classes_, d = x_.cols(), n = x_.rows();
    const Eigen::Map<const Matrix> w(theta.data(), k, d);
    const auto b = theta.tail(k);
    const Eigen::Index chunks = (n + chunk_rows - 1) / chunk_rows;
    partial_gradient_.resize(chunks, parameters());
    partial_loss_.assign(static_cast<std::size_t>(chunks), 0.0);
    partial_correct_.assign(static_cast<std::size_t>(chunks), 0);
    pool.parallel_tasks(chunks, [&](std::ptrdiff_t chunk, int) {
      const Eigen::Index first = chunk * chunk_rows, count = std::min(chunk_rows, n - first);
      const auto x = x_.middleRows(first, count);
      Matrix p = x * w.transpose();  // logits, then probabilities minus the one-hot labels
      p.rowwise() += b.transpose();
      double loss = 0;
      std::size_t hits = 0;
      for (Eigen::Index r = 0; r < count; ++r) {
        const int label = labels_[static_cast<std::size_t>(first + r)];
        Eigen::Index best = 0;
        const double top = p.row(r).maxCoeff(&best);
        const double label_logit = p(r, label);
        hits += best == label;
        p.row(r) = (p.row(r).array() - top).exp();
        const double sum = p.row(r).sum();
        loss += std::log(sum) + top - label_logit;  // -log softmax, without overflow
        p.row(r) /= sum;
        p(r, label) -= 1.0;
      }
      auto g = partial_gradient_.row(chunk);
      Eigen::Map<Matrix>(g.data(), k, d).noalias() = p.transpose() * x;
      g.tail(k) = p.colwise().sum().transpose();
      partial_loss_[static_cast<std::size_t>(chunk)] = loss;
      partial_correct_[static_cast<std::size_t>(chunk)] = hits;
    });
    gradient.setZero(parameters());
    double loss = 0;
    correct = 0;
    for (Eigen::Index c = 0; c < chunks; ++c) {
      gradient += partial_gradient_.row(c).transpose();
      loss += partial_loss_[static_cast<std::size_t>(c)];
      correct += partial_correct_[static_cast<std::size_t>(c)];
    }
    const double inv_n = 1.0 / static_cast<double>(n);
    const auto weights = theta.head(k * d);
    gradient *= inv_n;
    gradient.head(k * d) += l2_ * inv_n * weights;
    return (loss + 0.5 * l2_ * weights.squaredNorm()) * inv_n;
  }

 private:
  int classes_;
  double l2_;
  Matrix x_;
  std::vector<int> labels_;
  Matrix partial_gradient_;
  std::vector<double> partial_loss_;
  std::vector<std::size_t> partial_correct_;
};

}  // namespace detail

/// Fits a softmax head on `train` (its flipped copies too, when it has them). With a
/// `validation` set (same width and classes) each step also reports the accuracy on it.
/// Threads come from `ws`. Throws ErrorKind::invalid_argument for bad options, fewer than
/// two classes, a class without training images, or non-finite features.
FitResult fit_logistic_regression(const FeatureSet& train, const FeatureSet* validation, const FitOptions& options,
                                  Workspace& ws);

// The optimiser (with Eigen's double-precision products beneath it): with
// RESNET_SEPARATE_COMPILATION only declared above, and compiled once in src/separate.cpp
// (core/separate.hpp).
#if RESNET_SEPARATE_DEFINITIONS
RESNET_SEPARATE_INLINE FitResult fit_logistic_regression(const FeatureSet& train, const FeatureSet* validation,
                                                         const FitOptions& options, Workspace& ws) {
  check_feature_set(train, "fit_logistic_regression: training set");
  if (train.classes.size() < 2)
    throw Error(ErrorKind::invalid_argument, "fit_logistic_regression: a classifier needs at least two classes, got " +
                                                 std::to_string(train.classes.size()));
  {
    std::vector<std::size_t> per_class(train.classes.size(), 0);
    for (int label : train.labels) ++per_class[static_cast<std::size_t>(label)];
    for (std::size_t c = 0; c < per_class.size(); ++c)
      if (per_class[c] == 0)
        throw Error(ErrorKind::invalid_argument,
                    "fit_logistic_regression: class '" + train.classes[c] + "' has no training images");
  }
  if (validation) {
    check_feature_set(*validation, "fit_logistic_regression: validation set");
    if (validation->width != train.width || validation->classes != train.classes)
      throw Error(ErrorKind::invalid_argument,
                  "fit_logistic_regression: the validation set has other features or classes than the training set");
  }
  if (!(options.l2 >= 0 && std::isfinite(options.l2)))
    throw Error(ErrorKind::invalid_argument, "fit_logistic_regression: l2 must be finite and >= 0, got " +
                                                 std::to_string(options.l2));
  if (options.max_iterations < 1 || options.memory < 1 || !(options.tolerance >= 0))
    throw Error(ErrorKind::invalid_argument,
                "fit_logistic_regression: max_iterations and memory must be positive and tolerance >= 0");

  const int classes = static_cast<int>(train.classes.size());
  detail::SoftmaxObjective objective(train, options.l2);
  ThreadPool& pool = ws.pool();
  const Eigen::Index size = objective.parameters();

  FitResult result;
  result.classes = train.classes;
  LinearHead& head = result.head;
  head.classes = classes;
  head.width = train.width;
  auto store = [&](const Eigen::VectorXd& theta) {
    const std::size_t weights = static_cast<std::size_t>(classes) * train.width;
    head.weight.resize(weights);
    head.bias.resize(static_cast<std::size_t>(classes));
    for (std::size_t i = 0; i < weights; ++i) head.weight[i] = static_cast<float>(theta[static_cast<Eigen::Index>(i)]);
    for (int c = 0; c < classes; ++c) head.bias[static_cast<std::size_t>(c)] = static_cast<float>(theta[size - classes + c]);
  };

  Eigen::VectorXd x = Eigen::VectorXd::Zero(size), g(size);
  std::size_t correct = 0;
  int evaluations = 1;
  double f = objective.evaluate(x, g, correct, pool);
  std::deque<std::pair<Eigen::VectorXd, Eigen::VectorXd>> pairs;  // (s, y), newest last
  Eigen::VectorXd direction(size), x_new(size), g_new(size);
  std::vector<double> alpha;

  result.stopped_because = "reached max_iterations (" + std::to_string(options.max_iterations) + ")";
  for (int iteration = 1; iteration <= options.max_iterations; ++iteration) {
    if (g.lpNorm<Eigen::Infinity>() <= options.tolerance) {
      result.converged = true;
      result.stopped_because = "gradient below tolerance";
      break;
    }
    // Two-loop recursion: direction = -H g, H0 scaled by s'y / y'y of the newest pair.
    direction = -g;
    alpha.assign(pairs.size(), 0.0);
    for (std::size_t j = pairs.size(); j-- > 0;) {
      alpha[j] = pairs[j].first.dot(direction) / pairs[j].first.dot(pairs[j].second);
      direction -= alpha[j] * pairs[j].second;
    }
    if (!pairs.empty()) direction *= pairs.back().first.dot(pairs.back().second) / pairs.back().second.squaredNorm();
    for (std::size_t j = 0; j < pairs.size(); ++j) {
      const double beta = pairs[j].second.dot(direction) / pairs[j].first.dot(pairs[j].second);
      direction += (alpha[j] - beta) * pairs[j].first;
    }
    double slope = g.dot(direction);
    if (!(slope < 0)) {  // not a descent direction (rounding): restart from steepest descent
      pairs.clear();
      direction = -g;
      slope = -g.squaredNorm();
    }
    // Weak Wolfe line search by bisection (Lewis-Overton); the first step is scaled as
    // scipy's L-BFGS-B scales it, later ones start at 1.
    double step = pairs.empty() ? std::min(1.0, 1.0 / direction.norm()) : 1.0;
    double low = 0, high = std::numeric_limits<double>::infinity(), f_new = f;
    std::size_t correct_new = correct;
    bool accepted = false;
    for (int trial = 0; trial < 60 && !accepted; ++trial) {
      x_new = x + step * direction;
      f_new = objective.evaluate(x_new, g_new, correct_new, pool);
      ++evaluations;
      if (!std::isfinite(f_new) || f_new > f + 1e-4 * step * slope) high = step;
      else if (g_new.dot(direction) < 0.9 * slope) low = step;
      else accepted = true;
      if (!accepted) step = std::isinf(high) ? 2 * step : 0.5 * (low + high);
    }
    if (!accepted) {
      result.stopped_because = "the line search found no better point (at the precision of the loss)";
      result.converged = g.lpNorm<Eigen::Infinity>() <= 10 * options.tolerance;
      break;
    }
    Eigen::VectorXd s = x_new - x, y = g_new - g;
    if (s.dot(y) > 1e-12 * y.squaredNorm()) {
      if (static_cast<int>(pairs.size()) == options.memory) pairs.pop_front();
      pairs.emplace_back(std::move(s), std::move(y));
    }
    const double reduction = (f - f_new) / std::max({std::abs(f), std::abs(f_new), 1.0});
    std::swap(x, x_new);
    std::swap(g, g_new);
    f = f_new;
    correct = correct_new;

    FitStep step_report;
    step_report.iteration = iteration;
    step_report.loss = f;
    step_report.gradient = g.lpNorm<Eigen::Infinity>();
    step_report.train_accuracy = static_cast<double>(correct) / static_cast<double>(objective.rows());
    step_report.evaluations = evaluations;
    if (validation) {
      store(x);
      step_report.validation_accuracy = accuracy(head, *validation);
    }
    result.history.push_back(step_report);
    if (options.on_iteration) options.on_iteration(step_report);
    if (reduction <= 64 * std::numeric_limits<double>::epsilon()) {  // scipy's ftol as scikit-learn sets it
      result.converged = true;
      result.stopped_because = "loss no longer decreasing";
      break;
    }
  }
  store(x);
  return result;
}
#endif  // RESNET_SEPARATE_DEFINITIONS

}  // namespace resnet
