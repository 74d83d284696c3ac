#pragma once
/// resnet::Image, an interleaved 8-bit RGB pixel buffer. This header needs no image
/// codec, so preprocessing can be used without libjpeg or libpng; decoding lives in image.hpp.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "resnet/core/error.hpp"

namespace resnet {

/// Interleaved RGB8, row-major: pixel (y, x) channel c is rgb[(y * width + x) * 3 + c].
struct Image {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;

  Image() = default;
  /// A black image of the given size (sizes are checked by the functions that use it).
  Image(int w, int h)
      : width(w), height(h),
        rgb(w > 0 && h > 0 ? static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3 : 0, 0) {}

  std::uint8_t& at(int y, int x, int c) noexcept {
    return rgb[(static_cast<std::size_t>(y) * width + x) * 3 + c];
  }
  std::uint8_t at(int y, int x, int c) const noexcept {
    return rgb[(static_cast<std::size_t>(y) * width + x) * 3 + c];
  }
};

namespace detail {

inline std::string image_size_str(const Image& image) {
  return std::to_string(image.height) + "x" + std::to_string(image.width) + " (HxW)";
}

/// Rejects images whose sizes are not positive or whose buffer does not hold
/// width * height * 3 bytes; `where` names the calling function.
inline void check_image(const Image& image, const char* where) {
  if (image.width <= 0 || image.height <= 0)
    throw Error(ErrorKind::invalid_argument,
                std::string(where) + ": image size " + image_size_str(image) + " is not positive");
  const std::size_t expected =
      static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height) * 3;
  if (image.rgb.size() != expected)
    throw Error(ErrorKind::shape_mismatch,
                std::string(where) + ": image " + image_size_str(image) + " needs " +
                    std::to_string(expected) + " RGB bytes, buffer holds " +
                    std::to_string(image.rgb.size()));
}

}  // namespace detail
}  // namespace resnet
