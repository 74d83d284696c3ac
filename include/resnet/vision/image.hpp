#pragma once
/// Decoding JPEG and PNG files into resnet::Image (interleaved RGB8).
///
/// This is the one part of the library that needs stb_image (Debian/Ubuntu:
/// libstb-dev, header <stb/stb_image.h>). The header compiles stb's decoder into
/// every translation unit that includes it, as `static` functions, so any number of
/// translation units of one program may include it without link clashes. Only the
/// JPEG and PNG decoders are compiled in: fewer parsers, fewer ways for a hostile
/// file to reach rarely exercised code.
///
/// If your program already includes <stb/stb_image.h> itself, include it *before*
/// this header: this header then uses your declarations, and you provide the one
/// STB_IMAGE_IMPLEMENTATION translation unit (or link -lstb) as stb requires.
///
/// Conversions (the same as PIL's `Image.convert("RGB")`): grey is replicated into
/// R, G and B; an alpha channel is dropped, not blended onto a background; 16-bit PNG
/// samples keep their high byte. EXIF orientation is not applied (PIL and
/// torchvision do not apply it either).

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <string>
#include <system_error>
#include <vector>

#include "resnet/core/error.hpp"
#include "resnet/vision/image_buffer.hpp"

#if !defined(STBI_INCLUDE_STB_IMAGE_H)
#define RESNET_OWNS_STB_IMAGE 1
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#endif
#include <stb/stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
// Keep a later `#include <stb/stb_image.h>` in this translation unit declaration-only.
#undef STB_IMAGE_IMPLEMENTATION
#endif

namespace resnet {

/// Caps applied before any pixel memory is allocated.
struct ImageLimits {
  /// Largest width * height accepted, checked against the sizes the file's header
  /// claims, before decoding (100 megapixels = 300 MB of RGB).
  long long max_pixels = 100'000'000;
  /// Largest file load_image reads into memory.
  long long max_file_bytes = 1LL << 30;
};

namespace detail {

inline bool starts_with_bytes(const std::uint8_t* bytes, std::size_t size,
                              std::initializer_list<std::uint8_t> magic) {
  if (size < magic.size()) return false;
  std::size_t i = 0;
  for (std::uint8_t b : magic)
    if (bytes[i++] != b) return false;
  return true;
}

inline bool is_jpeg(const std::uint8_t* bytes, std::size_t size) {
  return starts_with_bytes(bytes, size, {0xFF, 0xD8, 0xFF});
}

inline bool is_png(const std::uint8_t* bytes, std::size_t size) {
  return starts_with_bytes(bytes, size, {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A});
}

/// Checks a DHT (Huffman table) segment payload. stb_image (2022 and earlier) writes a
/// table's code lengths into fixed 257-entry arrays without checking that the 16 counts
/// sum to at most 256, so a hostile file could overflow them; refuse such tables here.
inline std::string jpeg_dht_problem(const std::uint8_t* p, std::size_t length) {
  std::size_t at = 0;
  while (at < length) {
    if (length - at < 17) return "corrupt JPEG (short Huffman table segment)";
    std::size_t codes = 0;
    for (int i = 1; i <= 16; ++i) codes += p[at + static_cast<std::size_t>(i)];
    if (codes > 256)
      return "corrupt JPEG (Huffman table with " + std::to_string(codes) + " codes, at most 256)";
    at += 17;
    if (length - at < codes) return "corrupt JPEG (Huffman table longer than its segment)";
    at += codes;
  }
  return {};
}

/// Walks a JPEG's marker segments and entropy-coded scans: returns an empty string when
/// the end-of-image marker is reached before the data runs out and every Huffman table is
/// well formed, else the reason. stb_image refuses cut-off files too, but with a symptom
/// ("expected marker", "bad huffman code"); this names the cause. Stray bytes between
/// segments are skipped, as libjpeg does. Runs before stb sees the data.
inline std::string jpeg_structure_problem(const std::uint8_t* b, std::size_t size) {
  const std::string truncated = "truncated JPEG (data ends before the end-of-image marker)";
  std::size_t pos = 2;  // after SOI
  while (pos < size) {
    if (b[pos] != 0xFF) {
      ++pos;
      continue;
    }
    while (pos < size && b[pos] == 0xFF) ++pos;  // fill bytes
    if (pos >= size) return truncated;
    const std::uint8_t marker = b[pos++];
    if (marker == 0xD9) return {};  // EOI
    if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (pos + 2 > size) return truncated;
    const std::size_t length = (static_cast<std::size_t>(b[pos]) << 8) | b[pos + 1];
    if (length < 2) return "corrupt JPEG (segment length " + std::to_string(length) + ")";
    if (pos + length > size) return truncated;
    if (marker == 0xC4) {
      std::string problem = jpeg_dht_problem(b + pos + 2, length - 2);
      if (!problem.empty()) return problem;
    }
    pos += length;
    if (marker != 0xDA) continue;
    // Entropy-coded data after SOS: 0xFF is followed by 0x00 (a stuffed byte) or a
    // restart marker inside the scan; any other marker ends the scan.
    while (pos < size) {
      if (b[pos] != 0xFF) {
        ++pos;
        continue;
      }
      if (pos + 1 >= size) return truncated;
      const std::uint8_t next = b[pos + 1];
      if (next == 0x00 || (next >= 0xD0 && next <= 0xD7)) {
        pos += 2;
      } else if (next == 0xFF) {
        ++pos;
      } else {
        break;
      }
    }
  }
  return truncated;
}

/// Width and height from a PNG's IHDR chunk, read without stb so that sizes too large
/// for stb to even describe are still reported against our cap.
inline bool png_header_size(const std::uint8_t* b, std::size_t size, long long& w, long long& h) {
  if (size < 24 || !starts_with_bytes(b + 12, 4, {'I', 'H', 'D', 'R'})) return false;
  auto be32 = [&](std::size_t at) {
    return (static_cast<long long>(b[at]) << 24) | (static_cast<long long>(b[at + 1]) << 16) |
           (static_cast<long long>(b[at + 2]) << 8) | static_cast<long long>(b[at + 3]);
  };
  w = be32(16);
  h = be32(20);
  return true;
}

inline void check_pixel_cap(const std::string& name, long long w, long long h,
                            const ImageLimits& limits) {
  if (w <= 0 || h <= 0)
    throw Error(ErrorKind::image, name + ": image has zero size (" + std::to_string(w) + "x" +
                                      std::to_string(h) + ")");
  if (w > limits.max_pixels || h > limits.max_pixels / w)
    throw Error(ErrorKind::too_large,
                name + ": image of " + std::to_string(w) + "x" + std::to_string(h) +
                    " (WxH) exceeds the cap of " + std::to_string(limits.max_pixels) +
                    " pixels (ImageLimits::max_pixels)");
}

inline std::string stb_reason() {
  const char* reason = stbi_failure_reason();
  return reason != nullptr ? reason : "unknown reason";
}

}  // namespace detail

/// Decodes a JPEG or PNG held in memory; `name` (a path or any label) starts every
/// error message. Throws resnet::Error: ErrorKind::image for empty, truncated, corrupt
/// or unrecognised data and zero sizes; ErrorKind::too_large when the header claims more
/// than limits.max_pixels pixels (checked before any pixel memory is allocated).
inline Image decode_image(const std::uint8_t* bytes, std::size_t size, const std::string& name,
                          const ImageLimits& limits = {}) {
  if (bytes == nullptr || size == 0) throw Error(ErrorKind::image, name + ": empty file");
  if (size > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw Error(ErrorKind::too_large,
                name + ": " + std::to_string(size) + " bytes is more than the decoder accepts");
  const bool jpeg = detail::is_jpeg(bytes, size);
  const bool png = detail::is_png(bytes, size);
  if (!jpeg && !png)
    throw Error(ErrorKind::image, name + ": not a JPEG or PNG image (unrecognised signature)");

  long long claimed_w = 0, claimed_h = 0;
  if (png && detail::png_header_size(bytes, size, claimed_w, claimed_h))
    detail::check_pixel_cap(name, claimed_w, claimed_h, limits);

  if (jpeg) {
    const std::string problem = detail::jpeg_structure_problem(bytes, size);
    if (!problem.empty()) throw Error(ErrorKind::image, name + ": " + problem);
  }

  const int len = static_cast<int>(size);
  int w = 0, h = 0, channels = 0;
  if (stbi_info_from_memory(bytes, len, &w, &h, &channels) == 0) {
    const std::string reason = detail::stb_reason();
    throw Error(reason == "too large" ? ErrorKind::too_large : ErrorKind::image,
                name + ": cannot read the " + (jpeg ? "JPEG" : "PNG") + " header (" + reason + ")");
  }
  detail::check_pixel_cap(name, w, h, limits);

  int dw = 0, dh = 0, dc = 0;
  stbi_uc* pixels = stbi_load_from_memory(bytes, len, &dw, &dh, &dc, 3);
  if (pixels == nullptr)
    throw Error(ErrorKind::image, name + ": cannot decode the " + std::string(jpeg ? "JPEG" : "PNG") +
                                      " data (" + detail::stb_reason() + ")");
  Image image;
  image.width = dw;
  image.height = dh;
  try {
    if (dw != w || dh != h)
      throw Error(ErrorKind::image, name + ": decoded size differs from the header size");
    image.rgb.assign(pixels, pixels + static_cast<std::size_t>(dw) * static_cast<std::size_t>(dh) * 3);
  } catch (...) {
    stbi_image_free(pixels);
    throw;
  }
  stbi_image_free(pixels);
  return image;
}

/// Reads and decodes a JPEG or PNG file. Throws resnet::Error: ErrorKind::io when the
/// file cannot be opened or read (the message names the path and the system's reason),
/// ErrorKind::too_large for files over limits.max_file_bytes, and what decode_image throws.
inline Image load_image(const std::string& path, const ImageLimits& limits = {}) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error(ErrorKind::io, path + ": cannot open (is a directory)");
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file) throw Error(ErrorKind::io, path + ": cannot open (" + std::strerror(errno) + ")");
  const std::streamoff end = file.tellg();
  if (end < 0) throw Error(ErrorKind::io, path + ": cannot determine the file size");
  if (end > limits.max_file_bytes)
    throw Error(ErrorKind::too_large, path + ": file of " + std::to_string(end) +
                                          " bytes exceeds ImageLimits::max_file_bytes = " +
                                          std::to_string(limits.max_file_bytes));
  if (end == 0) throw Error(ErrorKind::image, path + ": empty file");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(end));
  file.seekg(0);
  if (!file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size())))
    throw Error(ErrorKind::io, path + ": read failed after " + std::to_string(file.gcount()) + " of " +
                                   std::to_string(bytes.size()) + " bytes");
  return decode_image(bytes.data(), bytes.size(), path, limits);
}

}  // namespace resnet
