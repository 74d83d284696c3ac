#pragma once
/// Pooled backbone features of a labelled image set: what a classifier head is fitted on.
/// Extracted from an ImageFolder by extract_features (transfer/features.hpp, needs the
/// image codecs); saved and loaded here, so that refitting with another L2 does not run the
/// backbone again; split into training and validation sets.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "resnet/core/error.hpp"
#include "resnet/io/safetensors.hpp"
#include "resnet/models/head_file.hpp"

namespace resnet {

struct FeatureSet {
  int width = 0;                     ///< features per image (the backbone's channels)
  std::vector<std::string> classes;  ///< class names; a label indexes them
  std::vector<float> values;         ///< size() x width, row-major, one row per image
  /// Empty, or the features of each image flipped left to right, row for row as `values`
  /// (augmentation: fit_logistic_regression trains on both).
  std::vector<float> flipped;
  std::vector<int> labels;           ///< one per image, in [0, classes.size())
  std::size_t skipped = 0;           ///< images left out because they could not be read

  std::size_t size() const noexcept { return labels.size(); }
  const float* row(std::size_t i) const noexcept { return values.data() + i * static_cast<std::size_t>(width); }
};

/// Checks that `set` is well formed: sizes agree, labels index its classes, every value is
/// finite. `what` names the set in the ErrorKind::invalid_argument it throws.
inline void check_feature_set(const FeatureSet& set, const std::string& what) {
  const std::size_t n = set.size();
  if (set.width < 1) throw Error(ErrorKind::invalid_argument, what + ": no features (width 0)");
  if (n == 0) throw Error(ErrorKind::invalid_argument, what + ": no images");
  const std::size_t floats = n * static_cast<std::size_t>(set.width);
  if (set.values.size() != floats || (!set.flipped.empty() && set.flipped.size() != floats))
    throw Error(ErrorKind::invalid_argument, what + ": " + std::to_string(set.values.size()) + " feature values for " +
                                                 std::to_string(n) + " images of width " + std::to_string(set.width));
  for (std::size_t i = 0; i < n; ++i)
    if (set.labels[i] < 0 || set.labels[i] >= static_cast<int>(set.classes.size()))
      throw Error(ErrorKind::invalid_argument, what + ": image " + std::to_string(i) + " has label " +
                                                   std::to_string(set.labels[i]) + ", outside the " +
                                                   std::to_string(set.classes.size()) + " classes");
  for (const std::vector<float>* v : {&set.values, &set.flipped})
    for (std::size_t k = 0; k < v->size(); ++k)
      if (!std::isfinite((*v)[k]))
        throw Error(ErrorKind::invalid_argument,
                    what + ": feature " + std::to_string(k % set.width) + " of image " + std::to_string(k / set.width) +
                        (v == &set.flipped ? " (flipped)" : "") + " is not finite (" + std::to_string((*v)[k]) + ")");
}

/// Splits `set` into (training, validation), class by class, so that each class keeps
/// its share: round(fraction x its images) of them, chosen by a shuffle seeded with
/// `seed`, go to validation. Each class keeps at least one training image.
inline std::pair<FeatureSet, FeatureSet> split_validation(const FeatureSet& set, double fraction,
                                                          std::uint64_t seed = 0) {
  if (!(fraction > 0.0 && fraction < 1.0))
    throw Error(ErrorKind::invalid_argument,
                "split_validation: the validation fraction must be in (0, 1), got " + std::to_string(fraction));
  std::vector<std::vector<std::size_t>> by_class(set.classes.size());
  for (std::size_t i = 0; i < set.size(); ++i) by_class[static_cast<std::size_t>(set.labels[i])].push_back(i);
  std::mt19937_64 rng(seed);
  std::vector<char> to_validation(set.size(), 0);
  for (auto& members : by_class) {
    // Fisher-Yates with our own draws: std::shuffle's order differs between libraries.
    for (std::size_t i = members.size(); i > 1; --i) std::swap(members[i - 1], members[rng() % i]);
    const auto count = static_cast<std::size_t>(std::lround(fraction * static_cast<double>(members.size())));
    for (std::size_t k = 0; k < std::min(count, members.empty() ? 0 : members.size() - 1); ++k)
      to_validation[members[k]] = 1;
  }
  std::pair<FeatureSet, FeatureSet> parts;
  for (FeatureSet* part : {&parts.first, &parts.second}) {
    part->width = set.width;
    part->classes = set.classes;
  }
  parts.first.skipped = set.skipped;
  const std::size_t w = static_cast<std::size_t>(set.width);
  for (std::size_t i = 0; i < set.size(); ++i) {
    FeatureSet& part = to_validation[i] ? parts.second : parts.first;
    part.values.insert(part.values.end(), set.row(i), set.row(i) + w);
    if (!set.flipped.empty() && !to_validation[i])  // validation is measured on the images as they are
      part.flipped.insert(part.flipped.end(), set.flipped.begin() + i * w, set.flipped.begin() + (i + 1) * w);
    part.labels.push_back(set.labels[i]);
  }
  if (parts.second.size() == 0)
    throw Error(ErrorKind::invalid_argument, "split_validation: a fraction of " + std::to_string(fraction) +
                                                 " leaves no validation image (too few images per class)");
  return parts;
}

/// Saves `set` as safetensors (`features` [n, width], optional `flipped`, `labels` [n])
/// with its class names, skipped count and `key` (what the features were computed from,
/// as the caller spells it) in the metadata. Written beside `path`, then renamed.
inline void save_feature_set(const std::string& path, const FeatureSet& set, const std::string& key) {
  check_feature_set(set, "save_feature_set");
  const auto n = static_cast<std::int64_t>(set.size());
  std::vector<io::TensorToWrite> tensors = {{"features", {n, set.width}, set.values},
                                            {"labels", {n}, std::vector<float>(set.labels.begin(), set.labels.end())}};
  if (!set.flipped.empty()) tensors.push_back({"flipped", {n, set.width}, set.flipped});
  const std::map<std::string, std::string> metadata = {{head_file::classes_key, head_file::encode_class_names(set.classes)},
                                                       {"key", key},
                                                       {"skipped", std::to_string(set.skipped)}};
  io::write_safetensors(path, tensors, metadata);
}

/// Loads a file written by save_feature_set; `key` receives its key. A file that is not
/// one (missing tensors, wrong shapes, labels that are not class indices) is an Error.
inline FeatureSet load_feature_set(const std::string& path, std::string* key = nullptr) {
  const io::SafeTensors file = io::SafeTensors::stream(path);
  auto fail = [&](const std::string& what) { throw Error(ErrorKind::format, path + ": " + what); };
  FeatureSet set;
  set.classes = head_file::decode_class_names(file.metadata(), path);
  if (set.classes.empty()) fail("no class names (not a feature file of save_feature_set)");
  const io::TensorInfo* features = file.find("features");
  const io::TensorInfo* labels = file.find("labels");
  if (!features || !labels || features->shape.size() != 2 || labels->shape.size() != 1 ||
      labels->shape[0] != features->shape[0] || features->shape[1] < 1 || features->shape[1] > (1 << 20))
    fail("expected tensors features [n, width] and labels [n]");
  set.width = static_cast<int>(features->shape[1]);
  set.values = file.read_f32(*features);
  for (float v : file.read_f32(*labels)) {
    if (!(v >= 0.0f && v < static_cast<float>(set.classes.size())) || v != std::floor(v))
      fail("label " + std::to_string(v) + " is not a class index");
    set.labels.push_back(static_cast<int>(v));
  }
  if (const io::TensorInfo* flipped = file.find("flipped")) {
    if (flipped->shape != features->shape) fail("tensor flipped has another shape than features");
    set.flipped = file.read_f32(*flipped);
  }
  const auto& metadata = file.metadata();
  if (auto it = metadata.find("skipped"); it != metadata.end()) {
    const std::string& text = it->second;
    if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
      fail("metadata \"skipped\" is not a count: '" + text + "'");
    set.skipped = std::stoull(text);
  }
  if (key) {
    auto it = metadata.find("key");
    *key = it == metadata.end() ? std::string() : it->second;
  }
  if (file.tensors().size() != (set.flipped.empty() ? 2u : 3u)) fail("unexpected tensors besides features, labels, flipped");
  check_feature_set(set, path);
  return set;
}

}  // namespace resnet
