#pragma once
/// Pooling and padding layers. None has weights; all work on NHWC maps.

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "resnet/core/error.hpp"
#include "resnet/core/workspace.hpp"
#include "resnet/layers/common.hpp"

namespace resnet {

/// How padded cells take part in a max pool (docs/spec.md 0.2, 1.7): PyTorch's implicit
/// padding never wins; Keras' ZeroPadding2D puts real zeros into the window.
enum class PoolPadding { never_wins, zeros };

template <int K, int Stride, int Pad, PoolPadding Mode = PoolPadding::never_wins>
struct MaxPool : Weightless {
  static_assert(K > 0 && Stride > 0 && Pad >= 0 && Pad < K, "MaxPool: need K > 0, Stride > 0, 0 <= Pad < K");

  static constexpr Extent output_extent(Extent in) noexcept {
    return {(in.h + 2 * Pad - K) / Stride + 1, (in.w + 2 * Pad - K) / Stride + 1};
  }

  FeatureMap forward(const FeatureMap& in, Workspace& ws, const Fusion& fusion = {}) const {
    const Shape s = in.shape();
    const Extent e = output_extent({s.h, s.w});
    if (e.h < 1 || e.w < 1)
      throw Error(ErrorKind::shape_mismatch, "MaxPool: input " + s.str() + " is smaller than its window");
    detail::expect_residual("MaxPool", {s.n, e.h, e.w, s.c}, fusion);
    FeatureMap result = ws.allocate({s.n, e.h, e.w, s.c});
    if (ws.planning()) return result;
    float* out = result.data();
    const int C = s.c;
    ws.pool().parallel_for(static_cast<std::ptrdiff_t>(s.n) * e.h, [&](std::ptrdiff_t begin, std::ptrdiff_t end) {
      for (std::ptrdiff_t row = begin; row < end; ++row) {
        const int n = static_cast<int>(row / e.h), oy = static_cast<int>(row % e.h);
        for (int ox = 0; ox < e.w; ++ox) {
          float* y = out + ((static_cast<std::size_t>(n) * e.h + oy) * e.w + ox) * C;
          const bool touches_pad = oy * Stride - Pad < 0 || ox * Stride - Pad < 0 ||
                                   oy * Stride - Pad + K > s.h || ox * Stride - Pad + K > s.w;
          const float start = (Mode == PoolPadding::zeros && touches_pad)
                                  ? 0.0f
                                  : -std::numeric_limits<float>::infinity();
          std::fill(y, y + C, start);
          for (int ky = 0; ky < K; ++ky) {
            const int iy = oy * Stride - Pad + ky;
            if (iy < 0 || iy >= s.h) continue;
            for (int kx = 0; kx < K; ++kx) {
              const int ix = ox * Stride - Pad + kx;
              if (ix < 0 || ix >= s.w) continue;
              const float* x = in.data() + ((static_cast<std::size_t>(n) * s.h + iy) * s.w + ix) * C;
              for (int c = 0; c < C; ++c) y[c] = x[c] > y[c] || x[c] != x[c] ? x[c] : y[c];  // NaN wins
            }
          }
        }
      }
      const std::size_t row_floats = static_cast<std::size_t>(e.w) * C;
      detail::apply_fusion(out, static_cast<std::size_t>(begin) * row_floats, static_cast<std::size_t>(end) * row_floats,
                           fusion);
    });
    return result;
  }
};

/// Zero padding as its own layer (Keras ZeroPadding2D). The models fold it into the
/// following conv or pool; it is kept for users composing their own networks.
template <int Pad>
struct ZeroPad : Weightless {
  static_assert(Pad >= 0, "ZeroPad: padding must be non-negative");
  static constexpr Extent output_extent(Extent in) noexcept { return {in.h + 2 * Pad, in.w + 2 * Pad}; }


  FeatureMap forward(const FeatureMap& in, Workspace& ws, const Fusion& fusion = {}) const {
    const Shape s = in.shape();
    const Extent e = output_extent({s.h, s.w});
    detail::expect_residual("ZeroPad", {s.n, e.h, e.w, s.c}, fusion);
    FeatureMap result = ws.allocate({s.n, e.h, e.w, s.c});
    if (ws.planning()) return result;
    float* out = result.data();
    const std::size_t row = static_cast<std::size_t>(s.w) * s.c;
    std::fill(out, out + result.size(), 0.0f);
    for (int n = 0; n < s.n; ++n)
      for (int y = 0; y < s.h; ++y)
        std::memcpy(out + ((static_cast<std::size_t>(n) * e.h + y + Pad) * e.w + Pad) * s.c,
                    in.data() + (static_cast<std::size_t>(n) * s.h + y) * row, row * sizeof(float));
    detail::apply_fusion(out, 0, result.size(), fusion);
    return result;
  }
};

/// Global average or max over H x W, one value per channel: (n, 1, 1, c).
enum class GlobalPool { avg, max };

/// Global pooling as a layer; the kind is a run-time choice (Keras' `pooling`).
struct GlobalPooling : Weightless {
  explicit GlobalPooling(GlobalPool pool = GlobalPool::avg) : kind(pool) {}
  GlobalPool kind;

  static constexpr Extent output_extent(Extent) noexcept { return {1, 1}; }

  FeatureMap forward(const FeatureMap& in, Workspace& ws, const Fusion& fusion = {}) const {
    const Shape s = in.shape();
    detail::expect_residual("GlobalPooling", {s.n, 1, 1, s.c}, fusion);
    FeatureMap result = ws.allocate({s.n, 1, 1, s.c});
    if (ws.planning()) return result;
    const std::size_t pixels = static_cast<std::size_t>(s.h) * s.w;
    for (int n = 0; n < s.n; ++n) {
      float* y = result.data() + static_cast<std::size_t>(n) * s.c;
      const float* x = in.data() + static_cast<std::size_t>(n) * pixels * s.c;
      if (kind == GlobalPool::avg) {
        // Accumulate in double: a 7x7 map of large activations loses bits in float.
        for (int c = 0; c < s.c; ++c) {
          double sum = 0.0;
          for (std::size_t p = 0; p < pixels; ++p) sum += x[p * s.c + c];
          y[c] = static_cast<float>(sum / static_cast<double>(pixels));
        }
      } else {
        std::copy(x, x + s.c, y);
        for (std::size_t p = 1; p < pixels; ++p)
          for (int c = 0; c < s.c; ++c) {
            const float v = x[p * s.c + c];
            y[c] = v > y[c] || v != v ? v : y[c];
          }
      }
    }
    detail::apply_fusion(result.data(), 0, result.size(), fusion);
    return result;
  }
};

}  // namespace resnet
