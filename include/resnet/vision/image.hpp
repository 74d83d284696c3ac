#pragma once
/// Decoding JPEG and PNG files into resnet::Image (interleaved RGB8), pixel for pixel as
/// `PIL.Image.open(f).convert("RGB")` does.
///
/// This is the one part of the library that links codecs: libjpeg-turbo (Debian:
/// libjpeg62-turbo-dev) and libpng (libpng-dev), the libraries Debian's Pillow uses for
/// JPEG and zlib-compressed data. CMake: link `resnet::vision` instead of `resnet::resnet`.
///
/// JPEG goes through libjpeg with Pillow's settings (ISLOW DCT, fancy upsampling, libjpeg's
/// own YCbCr->RGB), so the pixels are libjpeg's, as under PIL. Conversions follow Pillow's
/// `convert("RGB")` (9.4, Debian 12):
/// - grey is replicated; 1-, 2- and 4-bit grey is scaled to 0..255 (x255, x85, x17);
/// - 16-bit grey is PIL mode "I", and I -> RGB *clips* to 255 (it does not rescale);
/// - other 16-bit PNGs keep the high byte of each sample;
/// - alpha (and tRNS) is dropped, not blended onto a background;
/// - palette indices past the PLTE entries read PIL's default palette, a grey ramp;
/// - 4-component JPEGs are CMYK stored inverted (Adobe's convention, which PIL always
///   assumes) and become RGB by PIL's cmyk2rgb: (255 - k) - (255 - k) * c / 255, rounded
///   as PIL rounds.
/// EXIF orientation and ICC profiles are not applied (PIL and torchvision do not either).
///
/// Safety: the width and height are read from the header and checked against
/// ImageLimits::max_pixels before any pixel memory is allocated; truncated, corrupt and
/// unsupported files are resnet::Error naming the file. Decoding keeps no global state:
/// codec errors return through setjmp/longjmp to a frame owning no C++ objects, so any
/// number of threads may decode at once.

#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <string>
#include <system_error>
#include <vector>

#include <jpeglib.h>  // needs <cstdio> first
#include <jerror.h>
#include <png.h>

#include "resnet/core/error.hpp"
#include "resnet/vision/image_buffer.hpp"

namespace resnet {

/// Caps applied before any pixel memory is allocated.
struct ImageLimits {
  /// Largest width * height accepted, checked against the sizes the file's header
  /// claims, before decoding (100 megapixels = 300 MB of RGB).
  long long max_pixels = 100'000'000;
  /// Largest file load_image reads into memory.
  long long max_file_bytes = 1LL << 30;
  /// Most scans a progressive JPEG may have: each scan re-reads the whole coefficient
  /// buffer, so thousands of tiny scans cost minutes (libjpeg-turbo's advice: a few
  /// hundred; real encoders write about ten).
  int max_jpeg_scans = 500;
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

/// Width and height from a PNG's IHDR chunk, read before libpng sees the file, so that a
/// header claiming a huge size is refused even when the rest of the file is missing.
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

/// Resizes without throwing: the codec frames below must not be left by an exception.
inline bool resize_nothrow(std::vector<std::uint8_t>& v, std::size_t n) noexcept {
  try {
    v.resize(n);
    return true;
  } catch (...) {
    return false;
  }
}

enum class CodecStatus { ok, failed, truncated, too_large, no_memory, unsupported };

/// Everything a codec call touches lives here, in the caller's frame: the function that
/// calls setjmp owns no C++ object a longjmp could skip, and nothing it changes after
/// setjmp is an automatic variable of its own.
struct JpegSession {
  jpeg_decompress_struct cinfo;  // cinfo.client_data points back here, for the handlers
  jpeg_error_mgr errors;
  jpeg_progress_mgr progress;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated = false;
  int max_scans = 0;
  long long width = 0, height = 0;
  int components = 0;                 ///< 1 (grey), 3 (RGB) or 4 (inverted CMYK)
  std::vector<std::uint8_t> pixels;   ///< width * height * components
};

inline JpegSession& jpeg_session(j_common_ptr cinfo) { return *static_cast<JpegSession*>(cinfo->client_data); }

inline void jpeg_fail(j_common_ptr cinfo) {
  JpegSession& s = jpeg_session(cinfo);
  (*cinfo->err->format_message)(cinfo, s.message);
  std::longjmp(s.jump, 1);
}

/// Warnings about corrupt data are ignored, as PIL ignores them; running out of data is
/// not a warning here: PIL refuses truncated files too.
inline void jpeg_message(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
    jpeg_session(cinfo).truncated = true;
    jpeg_fail(cinfo);
  }
}

inline void jpeg_count_scans(j_common_ptr cinfo) {
  JpegSession& s = jpeg_session(cinfo);
  if (s.cinfo.input_scan_number > s.max_scans) {
    std::snprintf(s.message, sizeof s.message, "more than %d scans (ImageLimits::max_jpeg_scans)", s.max_scans);
    std::longjmp(s.jump, 1);
  }
}

/// Decodes into s.pixels: the component count PIL's mode has (L, RGB, CMYK), before
/// its convert("RGB").
inline CodecStatus jpeg_decode(JpegSession& s, const std::uint8_t* bytes, std::size_t size,
                               long long max_pixels) {
  j_decompress_ptr cinfo = &s.cinfo;
  cinfo->err = jpeg_std_error(&s.errors);
  cinfo->client_data = &s;  // kept by jpeg_create_decompress, like err
  s.errors.error_exit = jpeg_fail;
  s.errors.emit_message = jpeg_message;
  if (setjmp(s.jump)) {
    jpeg_destroy_decompress(cinfo);
    return s.truncated ? CodecStatus::truncated : CodecStatus::failed;
  }
  jpeg_create_decompress(cinfo);
  s.progress.progress_monitor = jpeg_count_scans;
  cinfo->progress = &s.progress;
  jpeg_mem_src(cinfo, bytes, static_cast<unsigned long>(size));
  jpeg_read_header(cinfo, TRUE);
  s.width = cinfo->image_width;
  s.height = cinfo->image_height;
  s.components = cinfo->num_components;
  if (s.width <= 0 || s.height <= 0 || s.width > max_pixels || s.height > max_pixels / s.width) {
    jpeg_destroy_decompress(cinfo);
    return CodecStatus::too_large;
  }
  switch (s.components) {
    case 1: cinfo->out_color_space = JCS_GRAYSCALE; break;
    case 3: cinfo->out_color_space = JCS_RGB; break;
    case 4: cinfo->out_color_space = JCS_CMYK; break;  // YCCK is converted to CMYK by libjpeg
    default:
      std::snprintf(s.message, sizeof s.message, "%d colour components (PIL reads 1, 3 or 4)", s.components);
      jpeg_destroy_decompress(cinfo);
      return CodecStatus::unsupported;
  }
  // Pillow's decoder settings (not in draft mode): libjpeg's defaults, stated here because
  // the pixels depend on them.
  cinfo->dct_method = JDCT_ISLOW;
  cinfo->do_fancy_upsampling = TRUE;
  jpeg_start_decompress(cinfo);
  if (static_cast<long long>(cinfo->output_width) != s.width ||
      static_cast<long long>(cinfo->output_height) != s.height || cinfo->output_components != s.components) {
    std::snprintf(s.message, sizeof s.message, "decoder output differs from the header");
    jpeg_destroy_decompress(cinfo);
    return CodecStatus::failed;
  }
  const std::size_t stride = static_cast<std::size_t>(s.width) * static_cast<std::size_t>(s.components);
  if (!resize_nothrow(s.pixels, stride * static_cast<std::size_t>(s.height))) {
    jpeg_destroy_decompress(cinfo);
    return CodecStatus::no_memory;
  }
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW rows[16];
    const JDIMENSION first = cinfo->output_scanline;
    const JDIMENSION n = std::min<JDIMENSION>(16, cinfo->output_height - first);
    for (JDIMENSION i = 0; i < n; ++i) rows[i] = s.pixels.data() + (first + i) * stride;
    jpeg_read_scanlines(cinfo, rows, n);
  }
  jpeg_finish_decompress(cinfo);  // reads to the end-of-image marker: a cut file fails here
  jpeg_destroy_decompress(cinfo);
  return CodecStatus::ok;
}

struct PngSession {
  png_structp png = nullptr;
  png_infop info = nullptr;
  const std::uint8_t* data = nullptr;
  std::size_t size = 0, pos = 0;
  char message[256] = {};
  bool truncated = false;
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0, channels = 0;
  std::uint8_t palette[256][3];       ///< PLTE entries, PIL's grey ramp past them
  std::vector<std::uint8_t> raw;      ///< rows as libpng gives them (< 8 bits unpacked to bytes)
  std::vector<png_bytep> rows;
};

inline PngSession& png_session(png_structp png) { return *static_cast<PngSession*>(png_get_error_ptr(png)); }

inline void png_fail(png_structp png, png_const_charp message) {
  std::snprintf(png_session(png).message, sizeof png_session(png).message, "%s", message);
  png_longjmp(png, 1);
}

inline void png_ignore_warning(png_structp, png_const_charp) {}

inline void png_read_bytes(png_structp png, png_bytep out, png_size_t n) {
  PngSession& s = png_session(png);
  if (n > s.size - s.pos) {
    s.truncated = true;
    png_error(png, "data ends early");
  }
  std::memcpy(out, s.data + s.pos, n);
  s.pos += n;
}

inline CodecStatus png_decode(PngSession& s, long long max_pixels) {
  s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, png_fail, png_ignore_warning);
  if (s.png == nullptr) return CodecStatus::no_memory;
  s.info = png_create_info_struct(s.png);
  if (s.info == nullptr) {
    png_destroy_read_struct(&s.png, nullptr, nullptr);
    return CodecStatus::no_memory;
  }
  if (setjmp(png_jmpbuf(s.png))) {
    png_destroy_read_struct(&s.png, &s.info, nullptr);
    return s.truncated ? CodecStatus::truncated : CodecStatus::failed;
  }
  png_set_read_fn(s.png, &s, png_read_bytes);
  png_read_info(s.png, s.info);
  int interlace = 0;
  png_get_IHDR(s.png, s.info, &s.width, &s.height, &s.bit_depth, &s.color_type, &interlace, nullptr, nullptr);
  if (static_cast<long long>(s.width) > max_pixels ||
      static_cast<long long>(s.height) > max_pixels / std::max<long long>(s.width, 1)) {
    png_destroy_read_struct(&s.png, &s.info, nullptr);
    return CodecStatus::too_large;
  }
  for (int i = 0; i < 256; ++i) s.palette[i][0] = s.palette[i][1] = s.palette[i][2] = static_cast<std::uint8_t>(i);
  png_colorp plte = nullptr;
  int entries = 0;
  if (s.color_type == PNG_COLOR_TYPE_PALETTE && png_get_PLTE(s.png, s.info, &plte, &entries) != 0)
    for (int i = 0; i < std::min(entries, 256); ++i) {
      s.palette[i][0] = plte[i].red;
      s.palette[i][1] = plte[i].green;
      s.palette[i][2] = plte[i].blue;
    }
  if (s.bit_depth < 8) png_set_packing(s.png);  // one byte per sample, values unscaled
  png_set_interlace_handling(s.png);
  png_read_update_info(s.png, s.info);
  s.channels = png_get_channels(s.png, s.info);
  const std::size_t stride = png_get_rowbytes(s.png, s.info);
  if (!resize_nothrow(s.raw, stride * s.height)) {
    png_destroy_read_struct(&s.png, &s.info, nullptr);
    return CodecStatus::no_memory;
  }
  try {
    s.rows.resize(s.height);
  } catch (...) {
    png_destroy_read_struct(&s.png, &s.info, nullptr);
    return CodecStatus::no_memory;
  }
  for (png_uint_32 y = 0; y < s.height; ++y) s.rows[y] = s.raw.data() + y * stride;
  png_read_image(s.png, s.rows.data());
  // The chunks after the image data are not read: nothing in them changes the pixels.
  png_destroy_read_struct(&s.png, &s.info, nullptr);
  return CodecStatus::ok;
}

/// PIL's convert("RGB") of the mode libpng's rows correspond to.
inline void png_to_rgb(const PngSession& s, Image& out) {
  const std::size_t n = static_cast<std::size_t>(s.width) * s.height;
  const std::uint8_t* in = s.raw.data();
  std::uint8_t* o = out.rgb.data();
  const bool wide = s.bit_depth == 16;
  const int bytes = wide ? 2 : 1;  // per sample; the high byte comes first
  switch (s.color_type) {
    case PNG_COLOR_TYPE_PALETTE:
      for (std::size_t i = 0; i < n; ++i, o += 3) std::memcpy(o, s.palette[in[i]], 3);
      return;
    case PNG_COLOR_TYPE_GRAY:
    case PNG_COLOR_TYPE_GRAY_ALPHA: {
      const std::size_t step = static_cast<std::size_t>(s.channels) * bytes;
      const int scale = s.bit_depth >= 8 ? 1 : 255 / ((1 << s.bit_depth) - 1);
      const bool clip16 = wide && s.color_type == PNG_COLOR_TYPE_GRAY;  // mode "I" clips
      for (std::size_t i = 0; i < n; ++i, in += step, o += 3) {
        std::uint8_t v = in[0];
        if (clip16) v = static_cast<std::uint8_t>(std::min((in[0] << 8) | in[1], 255));
        else v = static_cast<std::uint8_t>(v * scale);
        o[0] = o[1] = o[2] = v;
      }
      return;
    }
    default: {  // RGB, RGBA
      const std::size_t step = static_cast<std::size_t>(s.channels) * bytes;
      for (std::size_t i = 0; i < n; ++i, in += step, o += 3) {
        o[0] = in[0];
        o[1] = in[bytes];
        o[2] = in[2 * bytes];
      }
    }
  }
}

/// PIL's MULDIV255: a * b / 255 rounded, in integers.
inline int muldiv255(int a, int b) {
  const int t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

/// Decoded JPEG samples to RGB, in place where the layout allows.
inline void jpeg_to_rgb(JpegSession& s, Image& out) {
  const std::size_t n = static_cast<std::size_t>(s.width) * static_cast<std::size_t>(s.height);
  if (s.components == 3) {
    out.rgb = std::move(s.pixels);
    return;
  }
  out.rgb.resize(n * 3);
  const std::uint8_t* in = s.pixels.data();
  std::uint8_t* o = out.rgb.data();
  if (s.components == 1) {
    for (std::size_t i = 0; i < n; ++i) o[3 * i] = o[3 * i + 1] = o[3 * i + 2] = in[i];
    return;
  }
  for (std::size_t i = 0; i < n; ++i, in += 4, o += 3) {
    // PIL's rawmode "CMYK;I": the file holds 255 - ink.
    const int k = in[3];  // = 255 - K, the "nk" of PIL's cmyk2rgb
    for (int c = 0; c < 3; ++c) o[c] = static_cast<std::uint8_t>(std::max(0, k - muldiv255(255 - in[c], k)));
  }
}

inline Image decode_jpeg(const std::uint8_t* bytes, std::size_t size, const std::string& name,
                         const ImageLimits& limits) {
  JpegSession s;
  s.max_scans = limits.max_jpeg_scans;
  switch (jpeg_decode(s, bytes, size, limits.max_pixels)) {
    case CodecStatus::ok: break;
    case CodecStatus::too_large: check_pixel_cap(name, s.width, s.height, limits); [[fallthrough]];
    case CodecStatus::failed:
      throw Error(ErrorKind::image, name + ": cannot decode the JPEG (" + s.message + ")");
    case CodecStatus::truncated:
      throw Error(ErrorKind::image, name + ": truncated JPEG (the data ends before the image does)");
    case CodecStatus::unsupported: throw Error(ErrorKind::image, name + ": unsupported JPEG (" + s.message + ")");
    case CodecStatus::no_memory:
      throw Error(ErrorKind::too_large, name + ": out of memory decoding the JPEG");
  }
  Image image;
  image.width = static_cast<int>(s.width);
  image.height = static_cast<int>(s.height);
  jpeg_to_rgb(s, image);
  return image;
}

inline Image decode_png(const std::uint8_t* bytes, std::size_t size, const std::string& name,
                        const ImageLimits& limits) {
  long long claimed_w = 0, claimed_h = 0;
  if (png_header_size(bytes, size, claimed_w, claimed_h)) check_pixel_cap(name, claimed_w, claimed_h, limits);
  PngSession s;
  s.data = bytes;
  s.size = size;
  switch (png_decode(s, limits.max_pixels)) {
    case CodecStatus::ok: break;
    case CodecStatus::too_large: check_pixel_cap(name, s.width, s.height, limits); [[fallthrough]];
    case CodecStatus::failed:
    case CodecStatus::unsupported:
      throw Error(ErrorKind::image, name + ": cannot decode the PNG (" + s.message + ")");
    case CodecStatus::truncated:
      throw Error(ErrorKind::image, name + ": truncated PNG (the data ends before the image does)");
    case CodecStatus::no_memory: throw Error(ErrorKind::too_large, name + ": out of memory decoding the PNG");
  }
  Image image(static_cast<int>(s.width), static_cast<int>(s.height));
  png_to_rgb(s, image);
  return image;
}

}  // namespace detail

/// Decodes a JPEG or PNG held in memory; `name` (a path or any label) starts every
/// error message. Throws resnet::Error: ErrorKind::image for empty, truncated, corrupt
/// or unrecognised data and zero sizes; ErrorKind::too_large when the header claims more
/// than limits.max_pixels pixels (checked before any pixel memory is allocated).
inline Image decode_image(const std::uint8_t* bytes, std::size_t size, const std::string& name,
                          const ImageLimits& limits = {}) {
  if (bytes == nullptr || size == 0) throw Error(ErrorKind::image, name + ": empty file");
  if (size > std::numeric_limits<unsigned long>::max())
    throw Error(ErrorKind::too_large, name + ": " + std::to_string(size) + " bytes is more than the decoder accepts");
  if (detail::is_jpeg(bytes, size)) return detail::decode_jpeg(bytes, size, name, limits);
  if (detail::is_png(bytes, size)) return detail::decode_png(bytes, size, name, limits);
  throw Error(ErrorKind::image, name + ": not a JPEG or PNG image (unrecognised signature)");
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
