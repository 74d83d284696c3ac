#pragma once
/// Reads float tensors out of a weight file (safetensors or a PyTorch checkpoint) by name
/// and expected shape, and keeps count of what was taken, so a loader can report the
/// tensors it had no place for. It knows no model: the naming schemes of the families
/// live in models/naming.hpp.

#include <cstdint>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "resnet/core/error.hpp"
#include "resnet/io/safetensors.hpp"
#include "resnet/io/torch_checkpoint.hpp"

namespace resnet::io {

class TensorReader {
 public:
  /// `prefix` is put before every name asked for (e.g. DataParallel's `module.`).
  explicit TensorReader(const SafeTensors& file, std::string prefix = {}) : file_(&file), prefix_(std::move(prefix)) {}
  explicit TensorReader(const TorchCheckpoint& file, std::string prefix = {})
      : file_(&file), prefix_(std::move(prefix)) {}

  const std::string& file_name() const noexcept {
    return std::visit([](auto* f) -> const std::string& { return f->name(); }, file_);
  }

  /// True when `file` is non-empty and every tensor name starts with `prefix`.
  template <class File>
  static bool all_names_start_with(const File& file, const std::string& prefix) {
    bool all = !file.tensors().empty();
    for (const auto& t : file.tensors()) all = all && t.name.rfind(prefix, 0) == 0;
    return all;
  }

  /// The tensor `name` as float32, checked to have exactly `expected` as its shape.
  std::vector<float> take(const std::string& name, const std::vector<std::int64_t>& expected) {
    const std::string full = prefix_ + name;
    return std::visit([&](auto* file) {
      const auto* t = file->find(full);
      if (!t)
        throw Error(ErrorKind::missing_tensor,
                    file->name() + ": " + full + ": missing (expected shape " + detail::shape_string(expected) + ")");
      if (t->shape != expected)
        throw Error(ErrorKind::shape_mismatch, file->name() + ": " + full + ": expected shape " +
                                                   detail::shape_string(expected) + ", file has " +
                                                   detail::shape_string(t->shape));
      used_.insert(full);
      return file->read_f32(*t);
    }, file_);
  }

  /// Marks `name` as accounted for whether or not the file has it (optional buffers).
  void skip(const std::string& name) { used_.insert(prefix_ + name); }

  /// Whether a tensor lives under `scope` (`scope.` or `scope/` followed by more).
  bool has_scope(const std::string& scope) const {
    const std::string full = prefix_ + scope;
    bool found = false;
    for_each_name([&](const std::string& name) { found = found || under(name, full); });
    return found;
  }

  /// Marks every tensor under `scope` as deliberately unused (a head the model drops).
  void skip_scope(const std::string& scope) {
    const std::string full = prefix_ + scope;
    for_each_name([&](const std::string& name) {
      if (under(name, full)) used_.insert(name);
    });
  }

  /// Errors if the file holds tensors nobody took, other than those `ignorable` accepts.
  template <class Ignorable>
  void finish(Ignorable&& ignorable) const {
    std::vector<std::string> extra;
    for_each_name([&](const std::string& name) {
      if (!used_.count(name) && !ignorable(name)) extra.push_back(name);
    });
    if (extra.empty()) return;
    std::string list;
    for (std::size_t i = 0; i < extra.size() && i < 5; ++i) list += (i ? ", " : "") + extra[i];
    if (extra.size() > 5) list += ", ... (" + std::to_string(extra.size()) + " in all)";
    throw Error(ErrorKind::unexpected_tensor, file_name() + ": tensors this model has no place for: " + list);
  }
  void finish() const {
    finish([](const std::string&) { return false; });
  }

 private:
  template <class F>
  void for_each_name(F&& f) const {
    std::visit([&](auto* file) {
      for (const auto& t : file->tensors()) f(t.name);
    }, file_);
  }
  static bool under(const std::string& name, const std::string& scope) {
    return name.size() > scope.size() && name.compare(0, scope.size(), scope) == 0 &&
           (name[scope.size()] == '.' || name[scope.size()] == '/');
  }

  std::variant<const SafeTensors*, const TorchCheckpoint*> file_;
  std::string prefix_;
  std::set<std::string> used_;
};

}  // namespace resnet::io
