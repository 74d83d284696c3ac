#pragma once
/// Pooling over NHWC activations: k x k max pooling (the ResNet stem's 3x3/2, KV2's 1x1/2
/// subsampling) and global average / max pooling (the head). Channels are innermost, so
/// every inner loop runs over contiguous channels and vectorises.

#include <algorithm>
#include <cstddef>
#include <limits>
#include <string>

#include "resnet/core/error.hpp"
#include "resnet/core/thread_pool.hpp"

namespace resnet::kernels {

/// What a padded cell holds in max pooling (RESNET_SPEC §0.2):
///   ignore  PyTorch MaxPool2d(padding=p): padded cells never win (implicit -inf);
///   zeros   Keras ZeroPadding2D(p) + MaxPooling2D('valid'): padded cells are 0 and compete.
enum class PoolPadding { ignore, zeros };

/// Output side of a k x k / stride pooling with symmetric padding: (side + 2 pad - k) / stride + 1.
constexpr int pool_out_side(int side, int k, int stride, int pad) { return (side + 2 * pad - k) / stride + 1; }

/// out[n][oy][ox][c] = max over the window of in[n][oy*s+ky-pad][ox*s+kx-pad][c].
/// in: n x h x w x c; out: n x out_h x out_w x c. Rows of the output are split over pool.
inline void max_pool2d(const float* in, int n, int h, int w, int c, int k, int stride, int pad,
                       PoolPadding padding, float* out, ThreadPool& pool) {
  if (n <= 0 || h <= 0 || w <= 0 || c <= 0 || k <= 0 || stride <= 0 || pad < 0 || pad >= k ||
      h + 2 * pad < k || w + 2 * pad < k)
    throw Error(ErrorKind::invalid_argument,
                "max_pool2d: input " + std::to_string(n) + "x" + std::to_string(h) + "x" + std::to_string(w) +
                    "x" + std::to_string(c) + " with window " + std::to_string(k) + ", stride " +
                    std::to_string(stride) + ", padding " + std::to_string(pad) + " has no valid output");
  const int oh = pool_out_side(h, k, stride, pad), ow = pool_out_side(w, k, stride, pad);
  const std::size_t cs = static_cast<std::size_t>(c);
  pool.parallel_for(static_cast<std::ptrdiff_t>(n) * oh, [&](std::ptrdiff_t r0, std::ptrdiff_t r1) {
    for (std::ptrdiff_t r = r0; r < r1; ++r) {
      const std::ptrdiff_t b = r / oh;
      const int oy = static_cast<int>(r % oh);
      const int y0 = oy * stride - pad;
      const int ky0 = std::max(0, -y0), ky1 = std::min(k, h - y0);
      for (int ox = 0; ox < ow; ++ox) {
        const int x0 = ox * stride - pad;
        const int kx0 = std::max(0, -x0), kx1 = std::min(k, w - x0);
        float* dst = out + ((b * oh + oy) * ow + ox) * cs;
        // A window that reaches into the padding sees a 0 under Keras semantics.
        const bool padded = ky0 > 0 || ky1 < k || kx0 > 0 || kx1 < k;
        const float start = padded && padding == PoolPadding::zeros ? 0.0f : -std::numeric_limits<float>::infinity();
        std::fill(dst, dst + cs, start);
        for (int ky = ky0; ky < ky1; ++ky)
          for (int kx = kx0; kx < kx1; ++kx) {
            const float* src = in + ((b * h + y0 + ky) * w + x0 + kx) * cs;
            for (std::size_t i = 0; i < cs; ++i) dst[i] = std::max(dst[i], src[i]);
          }
      }
    }
  });
}

/// out[n][c] = mean over h x w of in[n][y][x][c] (torchvision AdaptiveAvgPool2d(1),
/// Keras GlobalAveragePooling2D). Sums in float over rows, then one division.
inline void global_avg_pool(const float* in, int n, int h, int w, int c, float* out) {
  if (n <= 0 || h <= 0 || w <= 0 || c <= 0)
    throw Error(ErrorKind::invalid_argument, "global_avg_pool: empty input " + std::to_string(n) + "x" +
                                                 std::to_string(h) + "x" + std::to_string(w) + "x" + std::to_string(c));
  const std::size_t cs = static_cast<std::size_t>(c), pixels = static_cast<std::size_t>(h) * w;
  const float scale = 1.0f / static_cast<float>(pixels);
  for (int b = 0; b < n; ++b) {
    float* dst = out + b * cs;
    std::fill(dst, dst + cs, 0.0f);
    for (std::size_t p = 0; p < pixels; ++p) {
      const float* src = in + (b * pixels + p) * cs;
      for (std::size_t i = 0; i < cs; ++i) dst[i] += src[i];
    }
    for (std::size_t i = 0; i < cs; ++i) dst[i] *= scale;
  }
}

/// out[n][c] = max over h x w of in[n][y][x][c] (Keras pooling='max').
inline void global_max_pool(const float* in, int n, int h, int w, int c, float* out) {
  if (n <= 0 || h <= 0 || w <= 0 || c <= 0)
    throw Error(ErrorKind::invalid_argument, "global_max_pool: empty input " + std::to_string(n) + "x" +
                                                 std::to_string(h) + "x" + std::to_string(w) + "x" + std::to_string(c));
  const std::size_t cs = static_cast<std::size_t>(c), pixels = static_cast<std::size_t>(h) * w;
  for (int b = 0; b < n; ++b) {
    float* dst = out + b * cs;
    const float* first = in + b * pixels * cs;
    std::copy(first, first + cs, dst);
    for (std::size_t p = 1; p < pixels; ++p) {
      const float* src = first + p * cs;
      for (std::size_t i = 0; i < cs; ++i) dst[i] = std::max(dst[i], src[i]);
    }
  }
}

}  // namespace resnet::kernels
