// Helpers shared by the image tests (test_image, test_preprocess, test_pil_exact).
#pragma once

#include <cstddef>
#include <cstdint>

#include "resnet/io/zip.hpp"
#include "resnet/vision/image_buffer.hpp"

namespace image_support {

/// The synthetic test image; the same formula is in tests/python/gen_preprocess_ref.py.
inline resnet::Image synthetic(int h, int w) {
  resnet::Image image(w, h);
  for (std::uint32_t y = 0; y < static_cast<std::uint32_t>(h); ++y)
    for (std::uint32_t x = 0; x < static_cast<std::uint32_t>(w); ++x)
      for (std::uint32_t c = 0; c < 3; ++c) {
        std::uint32_t v = (x * 0x9E3779B1u) ^ (y * 0x85EBCA77u) ^ (c * 0xC2B2AE3Du);
        v ^= v >> 15;
        v *= 0x2C1B3C6Du;
        v ^= v >> 13;
        image.at(static_cast<int>(y), static_cast<int>(x), static_cast<int>(c)) = static_cast<std::uint8_t>(v >> 24);
      }
  return image;
}

/// CRC-32 as zlib computes it (the references hold zlib.crc32 of PIL's pixel bytes): the
/// zip reader's, which these comparisons check against zlib too.
using resnet::io::detail::crc32;

}  // namespace image_support
