#pragma once
/// Class labels and post-processing: softmax and Keras-style decode_predictions.

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "resnet/core/error.hpp"
#include "resnet/core/math.hpp"
#include "resnet/core/tensor.hpp"

namespace resnet {

/// The 1000 ImageNet class names in the index order of the models' outputs, spelled as
/// torchvision spells them (`weights.meta["categories"]`: "tench", "goldfish",
/// "great white shark", ...). Keras' imagenet_class_index.json has the same order with
/// different spellings ("great_white_shark").
inline const std::array<const char*, 1000>& imagenet_labels() {
  static const std::array<const char*, 1000> labels = {{
#include "resnet/vision/imagenet_labels.inc"
  }};
  return labels;
}

/// CIFAR-10 classes in torchvision's order (the order of the CIFAR checkpoints' outputs).
inline const std::array<const char*, 10>& cifar10_labels() {
  static const std::array<const char*, 10> labels = {
      {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}};
  return labels;
}

/// Reads one label per line (a trailing '\r' is dropped, as are blank lines at the end).
/// Throws resnet::Error: ErrorKind::io when the file cannot be read, ErrorKind::format
/// when it holds no label or a blank line between labels.
inline std::vector<std::string> load_labels(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw Error(ErrorKind::io, path + ": cannot open (" + std::strerror(errno) + ")");
  std::vector<std::string> labels;
  std::string line;
  while (std::getline(file, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    labels.push_back(line);
  }
  if (file.bad()) throw Error(ErrorKind::io, path + ": read failed");
  while (!labels.empty() && labels.back().empty()) labels.pop_back();
  if (labels.empty()) throw Error(ErrorKind::format, path + ": no labels (empty file)");
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i].empty())
      throw Error(ErrorKind::format, path + ": line " + std::to_string(i + 1) + " is blank");
  return labels;
}

struct Prediction {
  int index = 0;
  std::string label;
  float score = 0.0f;
};

namespace detail {

/// Rows of a (batch x classes) tensor, stored as N x 1 x 1 x C.
inline void check_score_rows(const Tensor& scores, const char* where) {
  if (scores.h() != 1 || scores.w() != 1 || scores.n() < 1 || scores.c() < 1)
    throw Error(ErrorKind::shape_mismatch,
                std::string(where) + ": expected a (batch x classes) tensor stored as N x 1 x 1 x C, got " +
                    scores.shape().str());
}

template <class LabelAt>
std::vector<std::vector<Prediction>> decode_predictions(const Tensor& scores, int top, std::size_t label_count,
                                                        LabelAt label_at) {
  check_score_rows(scores, "decode_predictions");
  if (top < 1)
    throw Error(ErrorKind::invalid_argument, "decode_predictions: top must be at least 1, got " + std::to_string(top));
  if (static_cast<std::size_t>(scores.c()) != label_count)
    throw Error(ErrorKind::shape_mismatch, "decode_predictions: scores have " + std::to_string(scores.c()) +
                                               " classes but there are " + std::to_string(label_count) + " labels");
  const int classes = scores.c();
  std::vector<std::vector<Prediction>> result(static_cast<std::size_t>(scores.n()));
  for (int n = 0; n < scores.n(); ++n) {
    // N x 1 x 1 x C holds the same bytes in either layout: row n is contiguous.
    const float* row = scores.data() + static_cast<std::size_t>(n) * classes;
    auto& predictions = result[static_cast<std::size_t>(n)];
    for (const int index : top_k(row, classes, top))
      predictions.push_back(Prediction{index, std::string(label_at(static_cast<std::size_t>(index))), row[index]});
  }
  return result;
}

}  // namespace detail

/// Keras-style decoding of a (batch x classes) score tensor (N x 1 x 1 x C): for each row
/// the `top` highest scores, best first, ties broken towards the lower class index.
/// `top` larger than the class count returns every class. Throws resnet::Error when top < 1
/// (invalid_argument) or the class count differs from the number of labels (shape_mismatch).
inline std::vector<std::vector<Prediction>> decode_predictions(const Tensor& scores, int top,
                                                               const std::vector<std::string>& labels) {
  return detail::decode_predictions(scores, top, labels.size(),
                                    [&](std::size_t i) -> const std::string& { return labels[i]; });
}

template <std::size_t N>
std::vector<std::vector<Prediction>> decode_predictions(const Tensor& scores, int top,
                                                        const std::array<const char*, N>& labels) {
  return detail::decode_predictions(scores, top, N, [&](std::size_t i) { return labels[i]; });
}

/// decode_predictions with the ImageNet labels.
inline std::vector<std::vector<Prediction>> decode_predictions(const Tensor& scores, int top = 5) {
  return decode_predictions(scores, top, imagenet_labels());
}

/// Softmax over the channel axis at every (n, y, x), computed stably (the row maximum is
/// subtracted before exponentiating, the sum accumulates in double). Same shape and
/// layout as `logits`; for a (batch x classes) tensor that is the usual row-wise softmax.
inline Tensor softmax(const Tensor& logits) {
  if (logits.c() < 1)
    throw Error(ErrorKind::shape_mismatch, "softmax: no classes in shape " + logits.shape().str());
  Tensor out = logits.to(Layout::nhwc);  // channels contiguous: one row per (n, y, x)
  softmax_rows(out.data(), logits.n() * logits.h() * logits.w(), logits.c());
  if (logits.layout() != Layout::nhwc) out = out.to(logits.layout());
  return out;
}

}  // namespace resnet
