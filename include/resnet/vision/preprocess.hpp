#pragma once
/// Image preprocessing for the ResNet variants: torchvision's evaluation pipeline
/// (resize the shorter side with antialiased bilinear filtering, center crop) and the
/// per-pixel normalisations each set of weights expects. Needs no image codec.
///
/// Resizing is PIL's by default: torchvision's Resize on a PIL image (its reference
/// scripts, most user code) calls Image.resize(BILINEAR), which filters 8-bit images in
/// fixed point and rounds to uint8 after each pass. Resampling::tensor instead follows
/// torchvision's resize of a float tensor (antialias=True), rounded once at the end.
///
/// | mode    | weights                         | operation on RGB values in [0, 255]              |
/// |---------|---------------------------------|--------------------------------------------------|
/// | torch   | torchvision, Keras 'torch' mode | x / 255, then (x - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225] |
/// | caffe   | Keras ResNet50/101/152 (v1)     | RGB -> BGR, then subtract [103.939, 116.779, 123.68] (B, G, R) |
/// | tf      | Keras ResNet50V2/101V2/152V2    | x / 127.5 - 1                                    |
/// | cifar   | CIFAR-10 ResNets (akamaster)    | same as torch: the ImageNet statistics           |

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "resnet/core/error.hpp"
#include "resnet/core/tensor.hpp"
#include "resnet/vision/image_buffer.hpp"

namespace resnet {

enum class Preprocess { torch, caffe, tf, cifar };

/// Which implementation of antialiased bilinear resizing: PIL's (Image.resize, 8-bit fixed
/// point, what torchvision does to PIL images) or torchvision's float tensor path.
enum class Resampling { pil, tensor };

inline const char* to_string(Preprocess mode) noexcept {
  switch (mode) {
    case Preprocess::torch: return "torch";
    case Preprocess::caffe: return "caffe";
    case Preprocess::tf: return "tf";
    case Preprocess::cifar: return "cifar";
  }
  return "unknown";
}

/// "torch", "caffe", "tf" or "cifar" (for command lines); anything else is an
/// ErrorKind::invalid_argument error.
inline Preprocess parse_preprocess(const std::string& name) {
  if (name == "torch") return Preprocess::torch;
  if (name == "caffe") return Preprocess::caffe;
  if (name == "tf") return Preprocess::tf;
  if (name == "cifar") return Preprocess::cifar;
  throw Error(ErrorKind::invalid_argument,
              "unknown preprocessing mode '" + name + "' (expected torch, caffe, tf or cifar)");
}

struct ImageSize {
  int height = 0;
  int width = 0;
};

struct CropOffsets {
  int top = 0;
  int left = 0;
};

namespace detail {

inline void check_positive_size(const char* where, const char* what, int value) {
  if (value <= 0)
    throw Error(ErrorKind::invalid_argument,
                std::string(where) + ": " + what + " must be positive, got " + std::to_string(value));
}

/// Taps of a separable antialiased bilinear resampler along one axis, computed as
/// torchvision's tensor `resize(..., antialias=True)` does (PyTorch's
/// `_upsample_bilinear2d_aa`, itself PIL's scheme): a triangle filter stretched by the
/// downscale factor, so every input pixel under the footprint contributes, with the
/// weights renormalised at the borders. The arithmetic stays in float where PyTorch's
/// does, so results agree to float rounding.
struct ResampleTaps {
  std::vector<int> first;      ///< first input index of output i
  std::vector<int> count;      ///< number of input indices of output i
  std::vector<int> offset;     ///< where output i's weights start in `weights`
  std::vector<float> weights;  ///< normalised, summing to 1 per output
};

inline ResampleTaps antialias_taps(int in_size, int out_size) {
  ResampleTaps taps;
  taps.first.resize(out_size);
  taps.count.resize(out_size);
  taps.offset.resize(out_size);
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  const float support = scale >= 1.0f ? scale : 1.0f;  // triangle half-width 1, stretched
  const float invscale = scale >= 1.0f ? static_cast<float>(1.0 / scale) : 1.0f;
  for (int i = 0; i < out_size; ++i) {
    const float center = static_cast<float>(scale * (i + 0.5));
    const long long lo = std::max(static_cast<long long>((center - support) + 0.5), 0LL);
    const long long hi = std::min(static_cast<long long>((center + support) + 0.5),
                                  static_cast<long long>(in_size));
    const int n = static_cast<int>(std::max(hi - lo, 0LL));
    taps.first[i] = static_cast<int>(lo);
    taps.count[i] = n;
    taps.offset[i] = static_cast<int>(taps.weights.size());
    float total = 0.0f;
    for (int j = 0; j < n; ++j) {
      float x = static_cast<float>((static_cast<float>(j + lo) - center + 0.5) * invscale);
      x = std::fabs(x);
      const float w = x < 1.0f ? 1.0f - x : 0.0f;
      taps.weights.push_back(w);
      total += w;
    }
    if (total != 0.0f)
      for (int j = 0; j < n; ++j) taps.weights[taps.offset[i] + j] /= total;
  }
  return taps;
}

inline std::uint8_t round_to_u8(float v) {
  // Half-to-even, as torch.round does when torchvision casts back to uint8.
  return static_cast<std::uint8_t>(std::nearbyint(std::min(std::max(v, 0.0f), 255.0f)));
}

/// ImageNet statistics as float32, the values torchvision's Normalize holds.
constexpr float kImagenetMean[3] = {0.485f, 0.456f, 0.406f};
constexpr float kImagenetStd[3] = {0.229f, 0.224f, 0.225f};
/// Keras 'caffe' means in B, G, R order.
constexpr float kCaffeMeanBgr[3] = {103.939f, 116.779f, 123.68f};

/// Normalises one RGB pixel given in [0, 255]; out[c] is output channel c (B, G, R in
/// caffe mode, R, G, B otherwise). Operation order follows the reference libraries
/// (divide, then subtract, then divide) so the float results match theirs.
inline void normalize_pixel(Preprocess mode, const float rgb[3], float out[3]) {
  switch (mode) {
    case Preprocess::torch:
    case Preprocess::cifar:
      for (int c = 0; c < 3; ++c) out[c] = (rgb[c] / 255.0f - kImagenetMean[c]) / kImagenetStd[c];
      return;
    case Preprocess::caffe:
      for (int c = 0; c < 3; ++c) out[c] = rgb[2 - c] - kCaffeMeanBgr[c];
      return;
    case Preprocess::tf:
      for (int c = 0; c < 3; ++c) out[c] = rgb[c] / 127.5f - 1.0f;
      return;
  }
  throw Error(ErrorKind::invalid_argument, "unknown Preprocess mode");
}

}  // namespace detail

/// The size torchvision's `Resize(size)` gives: the shorter side becomes `size`, the
/// longer `int(size * long / short)` (computed in double, truncated); an image whose
/// shorter side already equals `size` keeps its size. Example: 375x500 -> 256x341.
inline ImageSize resized_shorter_side_size(int height, int width, int size) {
  detail::check_positive_size("resize_shorter_side", "image height", height);
  detail::check_positive_size("resize_shorter_side", "image width", width);
  detail::check_positive_size("resize_shorter_side", "target size", size);
  const bool width_is_short = width <= height;
  const int short_side = width_is_short ? width : height;
  const int long_side = width_is_short ? height : width;
  if (short_side == size) return {height, width};
  const double new_long = std::trunc(static_cast<double>(size) * long_side / short_side);
  if (new_long > std::numeric_limits<int>::max())
    throw Error(ErrorKind::too_large, "resize_shorter_side: resizing " + std::to_string(height) + "x" +
                                          std::to_string(width) + " to shorter side " +
                                          std::to_string(size) + " gives a side over INT_MAX");
  const int long_out = static_cast<int>(new_long);
  return width_is_short ? ImageSize{long_out, size} : ImageSize{size, long_out};
}

namespace detail {

/// One separable pass over interleaved RGB rows. `src` holds `rows` rows of `in_w`
/// pixels when filtering along x, or `in_h` rows of `width` pixels along y.
template <class Src>
void resample_rows(const Src* src, int rows, int in_w, int out_w, float* dst) {
  const ResampleTaps taps = antialias_taps(in_w, out_w);
  for (int y = 0; y < rows; ++y) {
    const Src* row = src + static_cast<std::size_t>(y) * in_w * 3;
    float* out = dst + static_cast<std::size_t>(y) * out_w * 3;
    for (int x = 0; x < out_w; ++x) {
      const float* w = taps.weights.data() + taps.offset[x];
      const Src* s = row + static_cast<std::size_t>(taps.first[x]) * 3;
      for (int c = 0; c < 3; ++c) {
        float acc = 0.0f;
        for (int j = 0; j < taps.count[x]; ++j) acc += static_cast<float>(s[j * 3 + c]) * w[j];
        out[x * 3 + c] = acc;
      }
    }
  }
}

template <class Src>
void resample_columns(const Src* src, int in_h, int out_h, int width, float* dst) {
  const ResampleTaps taps = antialias_taps(in_h, out_h);
  const std::size_t row = static_cast<std::size_t>(width) * 3;
  for (int y = 0; y < out_h; ++y) {
    const float* w = taps.weights.data() + taps.offset[y];
    float* acc = dst + static_cast<std::size_t>(y) * row;
    std::fill(acc, acc + row, 0.0f);
    for (int j = 0; j < taps.count[y]; ++j) {
      const Src* s = src + static_cast<std::size_t>(taps.first[y] + j) * row;
      const float wj = w[j];
      for (std::size_t i = 0; i < row; ++i) acc[i] += static_cast<float>(s[i]) * wj;
    }
  }
}

/// The resampled image as unrounded floats (HWC); the image must already be checked.
/// Width first, then height, as PyTorch does; an unchanged axis is not filtered.
inline std::vector<float> resample_antialias(const Image& image, int out_height, int out_width) {
  const int in_h = image.height, in_w = image.width;
  const std::size_t out_size = static_cast<std::size_t>(out_height) * out_width * 3;
  if (out_width == in_w && out_height == in_h) return std::vector<float>(image.rgb.begin(), image.rgb.end());
  if (out_width == in_w) {
    std::vector<float> out(out_size);
    resample_columns(image.rgb.data(), in_h, out_height, in_w, out.data());
    return out;
  }
  std::vector<float> horizontal(static_cast<std::size_t>(in_h) * out_width * 3);
  resample_rows(image.rgb.data(), in_h, in_w, out_width, horizontal.data());
  if (out_height == in_h) return horizontal;
  std::vector<float> out(out_size);
  resample_columns(horizontal.data(), in_h, out_height, out_width, out.data());
  return out;
}

/// PIL's resampling of 8-bit images (Image.resize, BILINEAR, no box, no reducing_gap):
/// the same stretched triangle as above, but the taps are computed in double, normalised,
/// then turned into integers with kPilPrecisionBits fraction bits; each pass sums
/// pixel * tap in int32 from a rounding offset of one half and keeps the clipped integer
/// part. Horizontal first, over only the rows the vertical pass reads; an unchanged axis
/// is not filtered.
constexpr int kPilPrecisionBits = 22;  // 32 - 8 - 2: room for 8-bit pixels and sum overshoot

struct PilTaps {
  int ksize = 0;                     ///< taps reserved per output
  std::vector<int> first;            ///< first input index of output i
  std::vector<int> count;            ///< taps of output i (at most ksize)
  std::vector<std::int32_t> coeffs;  ///< output i's taps at i * ksize
};

inline PilTaps pil_bilinear_taps(int in_size, int out_size) {
  PilTaps t;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = filterscale;  // the triangle reaches 1 input pixel, stretched
  const double inverse = 1.0 / filterscale;
  t.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.coeffs.assign(static_cast<std::size_t>(out_size) * t.ksize, 0);
  std::vector<double> k(static_cast<std::size_t>(t.ksize));
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
    const int n = std::min(static_cast<int>(center + support + 0.5), in_size) - lo;
    double total = 0.0;
    for (int j = 0; j < n; ++j) {
      const double x = std::fabs((j + lo - center + 0.5) * inverse);
      k[j] = x < 1.0 ? 1.0 - x : 0.0;
      total += k[j];
    }
    std::int32_t* c = &t.coeffs[static_cast<std::size_t>(i) * t.ksize];
    for (int j = 0; j < n; ++j) {
      const double w = (total != 0.0 ? k[j] / total : k[j]) * (1 << kPilPrecisionBits);
      c[j] = static_cast<std::int32_t>(w < 0 ? w - 0.5 : w + 0.5);
    }
    t.first[i] = lo;
    t.count[i] = n;
  }
  return t;
}

inline std::uint8_t pil_clip8(std::int32_t sum) {
  return static_cast<std::uint8_t>(std::min(std::max(sum, 0) >> kPilPrecisionBits, 255));
}

inline Image resize_pil(const Image& image, int out_height, int out_width) {
  constexpr std::int32_t half = 1 << (kPilPrecisionBits - 1);
  const PilTaps vertical = pil_bilinear_taps(image.height, out_height);
  const int rows_first = vertical.first[0];
  const int rows_end = vertical.first[out_height - 1] + vertical.count[out_height - 1];
  const bool need_vertical = out_height != image.height;
  Image horizontal;
  const Image* src = &image;
  int row_offset = 0;
  if (out_width != image.width) {
    const PilTaps t = pil_bilinear_taps(image.width, out_width);
    horizontal = Image(out_width, rows_end - rows_first);
    for (int y = 0; y < horizontal.height; ++y) {
      const std::uint8_t* row = &image.rgb[static_cast<std::size_t>(y + rows_first) * image.width * 3];
      std::uint8_t* out = &horizontal.rgb[static_cast<std::size_t>(y) * out_width * 3];
      for (int x = 0; x < out_width; ++x) {
        const std::int32_t* k = &t.coeffs[static_cast<std::size_t>(x) * t.ksize];
        const std::uint8_t* s = row + static_cast<std::size_t>(t.first[x]) * 3;
        std::int32_t r = half, g = half, b = half;
        for (int j = 0; j < t.count[x]; ++j, s += 3) {
          r += s[0] * k[j];
          g += s[1] * k[j];
          b += s[2] * k[j];
        }
        out[x * 3] = pil_clip8(r);
        out[x * 3 + 1] = pil_clip8(g);
        out[x * 3 + 2] = pil_clip8(b);
      }
    }
    if (!need_vertical) return horizontal;
    src = &horizontal;
    row_offset = rows_first;
  }
  const std::size_t row = static_cast<std::size_t>(src->width) * 3;
  Image out(src->width, out_height);
  std::vector<std::int32_t> sum(row);
  for (int y = 0; y < out_height; ++y) {
    // Row by row over whole lines: integer sums, so the order of the taps does not matter.
    std::fill(sum.begin(), sum.end(), half);
    const std::int32_t* k = &vertical.coeffs[static_cast<std::size_t>(y) * vertical.ksize];
    for (int j = 0; j < vertical.count[y]; ++j) {
      const std::uint8_t* s = &src->rgb[static_cast<std::size_t>(vertical.first[y] - row_offset + j) * row];
      for (std::size_t i = 0; i < row; ++i) sum[i] += s[i] * k[j];
    }
    std::uint8_t* o = &out.rgb[static_cast<std::size_t>(y) * row];
    for (std::size_t i = 0; i < row; ++i) o[i] = pil_clip8(sum[i]);
  }
  return out;
}

}  // namespace detail

/// Resizes to exactly out_height x out_width with antialiased bilinear filtering: PIL's
/// Image.resize(BILINEAR) by default, pixel for pixel; Resampling::tensor gives
/// torchvision's tensor `resize(..., antialias=True)` on the image as float, rounded back
/// to uint8 half-to-even. Width is filtered first, then height; an unchanged axis is not
/// filtered.
inline Image resize_bilinear(const Image& image, int out_height, int out_width,
                             Resampling how = Resampling::pil) {
  detail::check_image(image, "resize_bilinear");
  detail::check_positive_size("resize_bilinear", "output height", out_height);
  detail::check_positive_size("resize_bilinear", "output width", out_width);
  if (out_height == image.height && out_width == image.width) return image;
  if (how == Resampling::pil) return detail::resize_pil(image, out_height, out_width);
  const std::vector<float> pixels = detail::resample_antialias(image, out_height, out_width);
  Image out(out_width, out_height);
  for (std::size_t i = 0; i < out.rgb.size(); ++i) out.rgb[i] = detail::round_to_u8(pixels[i]);
  return out;
}

/// torchvision `Resize(size)` with bilinear antialiased filtering: the shorter side
/// becomes `size` (see resized_shorter_side_size for the other side).
inline Image resize_shorter_side(const Image& image, int size, Resampling how = Resampling::pil) {
  detail::check_image(image, "resize_shorter_side");
  const ImageSize target = resized_shorter_side_size(image.height, image.width, size);
  return resize_bilinear(image, target.height, target.width, how);
}

/// torchvision `CenterCrop` offsets: top = round((H - h) / 2), left = round((W - w) / 2)
/// with round-half-to-even (Python's round). Example: W = 341, w = 224 -> left 58.
inline CropOffsets center_crop_offsets(int in_height, int in_width, int height, int width) {
  detail::check_positive_size("center_crop", "crop height", height);
  detail::check_positive_size("center_crop", "crop width", width);
  detail::check_positive_size("center_crop", "image height", in_height);
  detail::check_positive_size("center_crop", "image width", in_width);
  if (height > in_height || width > in_width)
    throw Error(ErrorKind::invalid_argument,
                "center_crop: crop " + std::to_string(height) + "x" + std::to_string(width) +
                    " (HxW) is larger than the image " + std::to_string(in_height) + "x" +
                    std::to_string(in_width));
  // nearbyint rounds half to even in the default rounding mode, unlike std::round.
  return {static_cast<int>(std::nearbyint((in_height - height) / 2.0)),
          static_cast<int>(std::nearbyint((in_width - width) / 2.0))};
}

inline Image center_crop(const Image& image, int height, int width) {
  detail::check_image(image, "center_crop");
  const CropOffsets at = center_crop_offsets(image.height, image.width, height, width);
  Image out(width, height);
  const std::size_t row = static_cast<std::size_t>(width) * 3;
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* src = &image.rgb[(static_cast<std::size_t>(at.top + y) * image.width + at.left) * 3];
    std::copy(src, src + row, out.rgb.begin() + static_cast<std::ptrdiff_t>(y * row));
  }
  return out;
}

/// Keras-style `preprocess_input`: `x` holds RGB values in [0, 255] (c == 3, any layout);
/// returns the normalised tensor in the same layout (channels B, G, R in caffe mode).
inline Tensor preprocess_input(const Tensor& x, Preprocess mode) {
  if (x.c() != 3)
    throw Error(ErrorKind::shape_mismatch,
                "preprocess_input: expected 3 colour channels, got shape " + x.shape().str());
  Tensor out(x.shape(), x.layout());
  for (int n = 0; n < x.n(); ++n)
    for (int y = 0; y < x.h(); ++y)
      for (int xx = 0; xx < x.w(); ++xx) {
        const float rgb[3] = {x.at(n, y, xx, 0), x.at(n, y, xx, 1), x.at(n, y, xx, 2)};
        float v[3];
        detail::normalize_pixel(mode, rgb, v);
        for (int c = 0; c < 3; ++c) out.at(n, y, xx, c) = v[c];
      }
  return out;
}

/// Stacks same-sized images into a float32 batch of shape (N, 3, H, W) — Shape{N, H, W, 3}
/// stored in `layout` — normalised for `mode`. No resizing: see preprocess_imagenet.
inline Tensor to_tensor(const std::vector<Image>& batch, Preprocess mode, Layout layout = Layout::nchw) {
  if (batch.empty()) throw Error(ErrorKind::invalid_argument, "to_tensor: empty batch");
  for (std::size_t i = 0; i < batch.size(); ++i) {
    detail::check_image(batch[i], "to_tensor");
    if (batch[i].width != batch[0].width || batch[i].height != batch[0].height)
      throw Error(ErrorKind::shape_mismatch,
                  "to_tensor: image " + std::to_string(i) + " is " + detail::image_size_str(batch[i]) +
                      " but image 0 is " + detail::image_size_str(batch[0]));
  }
  if (batch.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw Error(ErrorKind::too_large, "to_tensor: batch too large");
  const int h = batch[0].height, w = batch[0].width;
  Tensor out(Shape{static_cast<int>(batch.size()), h, w, 3}, layout);
  for (int n = 0; n < out.n(); ++n) {
    const Image& image = batch[static_cast<std::size_t>(n)];
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const float rgb[3] = {static_cast<float>(image.at(y, x, 0)), static_cast<float>(image.at(y, x, 1)),
                              static_cast<float>(image.at(y, x, 2))};
        float v[3];
        detail::normalize_pixel(mode, rgb, v);
        for (int c = 0; c < 3; ++c) out.at(n, y, x, c) = v[c];
      }
  }
  return out;
}

/// torchvision's ImageNet evaluation transform on one image: resize the shorter side to
/// `resize_size` (antialiased bilinear), center crop `crop_size` square, normalise for
/// `mode`. Returns a (1, 3, crop_size, crop_size) tensor. Use resize_size = 232 for torchvision's
/// IMAGENET1K_V2 weights of ResNet-50/101/152, 256 otherwise. Keras weights (caffe, tf)
/// were published without a resize convention; this applies the same resize and crop.
/// Preprocess::cifar normalises like torch; CIFAR images need no resize (use to_tensor).
inline Tensor preprocess_imagenet(const Image& image, Preprocess mode, int resize_size = 256,
                                  int crop_size = 224, Layout layout = Layout::nchw,
                                  Resampling how = Resampling::pil) {
  detail::check_image(image, "preprocess_imagenet");
  detail::check_positive_size("preprocess_imagenet", "resize size", resize_size);
  detail::check_positive_size("preprocess_imagenet", "crop size", crop_size);
  if (crop_size > resize_size)
    throw Error(ErrorKind::invalid_argument, "preprocess_imagenet: crop " + std::to_string(crop_size) +
                                                 " is larger than the resized shorter side " +
                                                 std::to_string(resize_size));
  const Image resized = resize_shorter_side(image, resize_size, how);
  return to_tensor({center_crop(resized, crop_size, crop_size)}, mode, layout);
}

}  // namespace resnet
