#pragma once
/// Reads float tensors out of a safetensors file by name and expected shape, and keeps
/// count of what was taken, so a loader can report the tensors it had no place for.
/// It knows no model: the naming schemes of the families live in models/naming.hpp.

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "resnet/core/error.hpp"
#include "resnet/io/safetensors.hpp"

namespace resnet::io {

class TensorReader {
 public:
  /// `prefix` is put before every name asked for (e.g. DataParallel's `module.`).
  explicit TensorReader(const SafeTensors& file, std::string prefix = {}) : file_(file), prefix_(std::move(prefix)) {}

  const std::string& file_name() const noexcept { return file_.name(); }
  const SafeTensors& file() const noexcept { return file_; }

  /// True when `file` is non-empty and every tensor name starts with `prefix`.
  static bool all_names_start_with(const SafeTensors& file, const std::string& prefix) {
    bool all = !file.tensors().empty();
    for (const auto& t : file.tensors()) all = all && t.name.rfind(prefix, 0) == 0;
    return all;
  }

  /// The tensor `name` as float32, checked to have exactly `expected` as its shape.
  std::vector<float> take(const std::string& name, const std::vector<std::int64_t>& expected) {
    const std::string full = prefix_ + name;
    const TensorInfo* t = file_.find(full);
    if (!t)
      throw Error(ErrorKind::missing_tensor,
                  file_.name() + ": " + full + ": missing (expected shape " + detail::shape_string(expected) + ")");
    if (t->shape != expected)
      throw Error(ErrorKind::shape_mismatch, file_.name() + ": " + full + ": expected shape " +
                                                 detail::shape_string(expected) + ", file has " +
                                                 detail::shape_string(t->shape));
    used_.insert(full);
    return file_.read_f32(*t);
  }

  /// Marks `name` as accounted for whether or not the file has it (optional buffers).
  void skip(const std::string& name) { used_.insert(prefix_ + name); }

  /// Whether a tensor lives under `scope` (`scope.` or `scope/` followed by more).
  bool has_scope(const std::string& scope) const {
    const std::string full = prefix_ + scope;
    for (const auto& t : file_.tensors())
      if (under(t.name, full)) return true;
    return false;
  }

  /// Marks every tensor under `scope` as deliberately unused (a head the model drops).
  void skip_scope(const std::string& scope) {
    const std::string full = prefix_ + scope;
    for (const auto& t : file_.tensors())
      if (under(t.name, full)) used_.insert(t.name);
  }

  /// Errors if the file holds tensors nobody took, other than those `ignorable` accepts.
  template <class Ignorable>
  void finish(Ignorable&& ignorable) const {
    std::vector<std::string> extra;
    for (const auto& t : file_.tensors())
      if (!used_.count(t.name) && !ignorable(t.name)) extra.push_back(t.name);
    if (extra.empty()) return;
    std::string list;
    for (std::size_t i = 0; i < extra.size() && i < 5; ++i) list += (i ? ", " : "") + extra[i];
    if (extra.size() > 5) list += ", ... (" + std::to_string(extra.size()) + " in all)";
    throw Error(ErrorKind::unexpected_tensor, file_.name() + ": tensors this model has no place for: " + list);
  }
  void finish() const {
    finish([](const std::string&) { return false; });
  }

 private:
  static bool under(const std::string& name, const std::string& scope) {
    return name.size() > scope.size() && name.compare(0, scope.size(), scope) == 0 &&
           (name[scope.size()] == '.' || name[scope.size()] == '/');
  }

  const SafeTensors& file_;
  std::string prefix_;
  std::set<std::string> used_;
};

}  // namespace resnet::io
