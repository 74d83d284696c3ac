#pragma once
/// Head files: a classifier saved on its own as safetensors, in the family's tensor
/// naming (`fc.*`, CIFAR `linear.*`, Keras `predictions/*`), with its class names in the
/// header's `__metadata__` under "classes" (a JSON array of strings, since metadata
/// values must be strings). load_head() reads such a file back, names and all.

#include <map>
#include <string>
#include <vector>

#include "resnet/core/error.hpp"
#include "resnet/io/json.hpp"
#include "resnet/io/safetensors.hpp"

namespace resnet::head_file {

/// The metadata key of the class names.
inline constexpr const char* classes_key = "classes";

/// `names` as a compact JSON array of strings.
inline std::string encode_class_names(const std::vector<std::string>& names) {
  std::string json = "[";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) json += ',';
    io::detail::append_json_string(json, names[i]);
  }
  return json + "]";
}

/// The class names a file's metadata carries, or none when it has no "classes" entry.
/// A malformed entry (not an array of non-empty strings) is ErrorKind::format naming `file`.
inline std::vector<std::string> decode_class_names(const std::map<std::string, std::string>& metadata,
                                                   const std::string& file) {
  const auto found = metadata.find(classes_key);
  if (found == metadata.end()) return {};
  io::detail::JsonReader json(found->second, file + ": __metadata__ \"classes\"");
  std::vector<std::string> names;
  if (json.peek() != io::detail::JsonType::array) json.fail("expected a JSON array of class names");
  json.begin_array();
  while (json.next_element()) {
    if (json.peek() != io::detail::JsonType::string) json.fail("class names must be strings");
    names.push_back(json.read_string());
    if (names.back().empty()) json.fail("class name " + std::to_string(names.size() - 1) + " is empty");
  }
  json.finish();
  if (names.empty()) json.fail("no class names");
  return names;
}

/// The tensors of a (classes x in) head in the naming `Names` uses (models/naming.hpp):
/// PyTorch's [classes, in] `weight`, or Keras' transposed [in, classes] `kernel`.
template <class Names>
std::vector<io::TensorToWrite> head_tensors(int classes, int in, const std::vector<float>& weight,
                                            const std::vector<float>& bias) {
  const std::string site = Names::classifier();
  if (!Names::keras_layout)
    return {{site + ".weight", {classes, in}, weight}, {site + ".bias", {classes}, bias}};
  std::vector<float> kernel(weight.size());
  for (int o = 0; o < classes; ++o)
    for (int i = 0; i < in; ++i)
      kernel[static_cast<std::size_t>(i) * classes + o] = weight[static_cast<std::size_t>(o) * in + i];
  return {{site + "/kernel", {in, classes}, std::move(kernel)}, {site + "/bias", {classes}, bias}};
}

}  // namespace resnet::head_file
