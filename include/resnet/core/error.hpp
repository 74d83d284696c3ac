#pragma once
/// The single exception type of the library. Every failure that user input can
/// cause (a weight file, an image, a shape, a size) is reported as a resnet::Error
/// whose kind() can be tested and whose what() names the file, the tensor and the
/// expected and actual values. Nothing in the library aborts or asserts on user input.

#include <stdexcept>
#include <string>

namespace resnet {

enum class ErrorKind {
  io,                 ///< a file could not be opened or read
  format,             ///< a file breaks its format (safetensors header, JSON, offsets)
  unsupported_dtype,  ///< a tensor has a dtype the library cannot convert
  missing_tensor,     ///< a weight the model needs is absent from the file
  unexpected_tensor,  ///< the file holds a tensor the model has no place for
  shape_mismatch,     ///< a tensor or an input has the wrong shape
  invalid_argument,   ///< a size, option or value out of its allowed range
  too_large,          ///< a size over a configured cap, or arithmetic that would overflow
  image,              ///< an image could not be decoded
  unsupported_cpu,    ///< the CPU or this build lacks the instructions a requested precision needs
};

inline const char* to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::io: return "io";
    case ErrorKind::format: return "format";
    case ErrorKind::unsupported_dtype: return "unsupported_dtype";
    case ErrorKind::missing_tensor: return "missing_tensor";
    case ErrorKind::unexpected_tensor: return "unexpected_tensor";
    case ErrorKind::shape_mismatch: return "shape_mismatch";
    case ErrorKind::invalid_argument: return "invalid_argument";
    case ErrorKind::too_large: return "too_large";
    case ErrorKind::image: return "image";
    case ErrorKind::unsupported_cpu: return "unsupported_cpu";
  }
  return "unknown";
}

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace resnet
