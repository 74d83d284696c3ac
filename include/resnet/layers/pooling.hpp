#pragma once
/// Pooling and padding layers. None has weights; all work on NHWC maps.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "resnet/core/error.hpp"
#include "resnet/core/workspace.hpp"
#include "resnet/kernels/lowp_common.hpp"
#include "resnet/layers/common.hpp"

namespace resnet {

/// How padded cells take part in a max pool (docs/spec.md 0.2, 1.7): PyTorch's implicit
/// padding never wins; Keras' ZeroPadding2D puts real zeros into the window.
enum class PoolPadding { never_wins, zeros };

namespace detail {

/// What max_of_window compares a map's element as: itself, or for bf16 bits
/// (std::uint16_t, a bf16 model's map) the fp32 value they widen to.
template <class T>
struct PoolValue {
  using type = T;
};
template <>
struct PoolValue<std::uint16_t> {
  using type = float;
};

/// y[c] = max(start, the window's pixels' channel c) for c < C: `rows` x `cols` pixels of
/// C values, rows `row_stride` values apart; 64 bytes of compared values at a time in one
/// register (GCC/Clang vector extensions), so each output is written once instead of once
/// per tap. fp32: NaN wins, as in PyTorch (a value replaces the maximum when it is greater
/// or NaN). u8 (an int8 model's map): the max of quantized values is the quantized max,
/// quantization being monotonic. bf16 bits: compared as fp32, so NaN wins as there; the
/// maximum is one of the values (or `start`), so writing it back as bf16 (the top half of
/// its fp32 bits, Out = std::uint16_t) or as fp32 (Out = float) is exact.
template <class T, class Out>
void max_of_window(const T* window, int rows, int cols, std::size_t row_stride, int C,
                   typename PoolValue<T>::type start, Out* y) {
  using V = typename PoolValue<T>::type;
  constexpr bool bf16_in = std::is_same_v<T, std::uint16_t>, bf16_out = std::is_same_v<Out, std::uint16_t>;
  static_assert(std::is_same_v<T, Out> || (bf16_in && std::is_same_v<Out, float>),
                "max_of_window: the output is the input's type, or fp32 for bf16 bits");
  typedef V Lanes __attribute__((vector_size(64)));
  typedef std::uint32_t Words __attribute__((vector_size(64)));
  typedef std::uint16_t Halves __attribute__((vector_size(32)));
  constexpr int lanes = 64 / sizeof(V);
  int c = 0;
  for (; c + lanes <= C; c += lanes) {
    Lanes best = Lanes{} + start;
    for (int r = 0; r < rows; ++r)
      for (int q = 0; q < cols; ++q) {
        const T* p = window + r * row_stride + static_cast<std::size_t>(q) * C + c;
        Lanes x;
        if constexpr (bf16_in) {
          Halves h;
          std::memcpy(&h, p, sizeof h);
          const Words bits = __builtin_convertvector(h, Words) << 16;
          std::memcpy(&x, &bits, sizeof x);
        } else {
          std::memcpy(&x, p, sizeof x);
        }
        best = ((x > best) | (x != x)) ? x : best;
      }
    if constexpr (bf16_out) {
      Words bits;
      std::memcpy(&bits, &best, sizeof bits);
      const Halves h = __builtin_convertvector(bits >> 16, Halves);
      std::memcpy(y + c, &h, sizeof h);
    } else {
      std::memcpy(y + c, &best, sizeof best);
    }
  }
  for (; c < C; ++c) {
    V best = start;
    for (int r = 0; r < rows; ++r)
      for (int q = 0; q < cols; ++q) {
        const T v = window[r * row_stride + static_cast<std::size_t>(q) * C + c];
        V x;
        if constexpr (bf16_in)
          x = kernels::bf16_to_float(v);
        else
          x = v;
        best = x > best || x != x ? x : best;
      }
    if constexpr (bf16_out) {
      std::uint32_t bits;
      std::memcpy(&bits, &best, sizeof bits);
      y[c] = static_cast<std::uint16_t>(bits >> 16);
    } else {
      y[c] = best;
    }
  }
}

#if defined(__AVX512F__)
/// Output row oy of a 3x3, stride-2 max pool over an fp32 map of C = 16k channels (every
/// ResNet's stem pool), pixel by pixel with each pixel's channels read contiguously. Each
/// input column's maximum over the window's rows is taken once and serves both outputs
/// whose windows share that column: four maxima per output vector where max_of_window
/// takes nine taps, one 16-channel slice of the row after another. ResNeXt-50's stem pool
/// (112 x 112 x 64), per job in a pass: 130 -> 65 us on one thread, 74 -> 35 us on two
/// (EPYC). NaN wins as there; a window whose maximum is both +0 and -0 may give either.
/// start(touches_pad): the value a window starts from (-inf, or Keras' zero padding).
template <class Start>
void max_pool_row_3x3s2(const float* image, int h, int w, int C, int pad, int oy, int ow, Start start,
                        float* out) {
  const int y0 = std::max(oy * 2 - pad, 0), y1 = std::min(oy * 2 - pad + 3, h);
  const std::size_t row_stride = static_cast<std::size_t>(w) * C;
  const float* top = image + y0 * row_stride;
  // VMAXPS returns its second operand where either is NaN, so max(a, b) keeps a NaN b
  // and max(b, a) a NaN a; where neither is NaN the two are the same bits (but for +0
  // against -0), and OR keeps a NaN of either (all exponent bits, mantissa not zero).
  const auto max_nan_wins = [](__m512 a, __m512 b) {
    return _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_castps_si512(_mm512_max_ps(a, b)), _mm512_castps_si512(_mm512_max_ps(b, a))));
  };
  const auto column = [&](int x, int c) {  // the window rows' maximum at column x, channels c..c+15
    const float* p = top + static_cast<std::size_t>(x) * C + c;
    __m512 m = _mm512_loadu_ps(p);
    for (int r = 1; r < y1 - y0; ++r) m = max_nan_wins(m, _mm512_loadu_ps(p + r * row_stride));
    return m;
  };
  // Pixel by pixel, all channels of each (contiguous reads); the last window's right
  // column, for up to 128 channels at a time, kept for the next window.
  for (int c0 = 0; c0 < C; c0 += 128) {
    const int vectors = std::min(C - c0, 128) / 16;
    int carried_x = -1;
    __m512 carried[8];
    for (int ox = 0; ox < ow; ++ox) {
      const int x0 = std::max(ox * 2 - pad, 0), x1 = std::min(ox * 2 - pad + 3, w);
      const __m512 from = _mm512_set1_ps(start(y1 - y0 < 3 || x1 - x0 < 3));
      for (int v = 0; v < vectors; ++v) {
        const int c = c0 + 16 * v;
        __m512 m = from;
        for (int x = x0; x < x1; ++x) {
          const __m512 col = x == carried_x ? carried[v] : column(x, c);
          m = max_nan_wins(m, col);
          if (x == x1 - 1) carried[v] = col;
        }
        _mm512_storeu_ps(out + static_cast<std::size_t>(ox) * C + c, m);
      }
      carried_x = x1 - 1;
    }
  }
}
#endif
}  // namespace detail

template <int K, int Stride, int Pad, PoolPadding Mode = PoolPadding::never_wins>
struct MaxPool : Weightless {
  static_assert(K > 0 && Stride > 0 && Pad >= 0 && Pad < K, "MaxPool: need K > 0, Stride > 0, 0 <= Pad < K");

  static constexpr Extent output_extent(Extent in) noexcept {
    return {(in.h + 2 * Pad - K) / Stride + 1, (in.w + 2 * Pad - K) / Stride + 1};
  }

  /// fp32 in and out; or, in an int8 model's stem, u8 in and out: the input quantized
  /// as fusion.u8_output says the output must be (the next convs' input quantization); or,
  /// in a bf16 model's stem, bf16 in, and bf16 out where fusion.bf16_output asks (the max
  /// of rounded values is the rounded max: rounding is monotonic), else fp32.
  FeatureMap forward(const FeatureMap& in, Workspace& ws, const Fusion& fusion = {}) const {
    const Shape s = in.shape();
    const Extent e = output_extent({s.h, s.w});
    if (e.h < 1 || e.w < 1)
      throw Error(ErrorKind::shape_mismatch, "MaxPool: input " + s.str() + " is smaller than its window");
    detail::expect_residual("MaxPool", {s.n, e.h, e.w, s.c}, fusion);
    const bool u8 = in.u8();
    if (u8 && (in.bf16() || !fusion.u8_output || fusion.bf16_output || fusion.residual || fusion.relu() ||
               fusion.u8_output->scale != in.u8_scale() || fusion.u8_output->zero_point != in.u8_zero_point()))
      throw Error(ErrorKind::invalid_argument,
                  "MaxPool: a u8 input map goes only to a u8 output of the same quantization, with nothing fused");
    const bool bf16_in = in.bf16() && !u8;
    const bool bf16_out = bf16_in && fusion.bf16_output && !fusion.residual && !fusion.relu();
    FeatureMap result = ws.allocate({s.n, e.h, e.w, s.c});
    if (u8) result.set_u8(in.u8_scale(), in.u8_zero_point());
    if (bf16_out) result.set_bf16();
    if (ws.planning()) return result;
    const auto start = [](bool touches_pad) {
      return Mode == PoolPadding::zeros && touches_pad ? 0.0f : -std::numeric_limits<float>::infinity();
    };
    if (bf16_out) {
      pool_rows(in.bf16_data(), s, e, result.bf16_data(), ws.pool(), start, [](std::size_t, std::size_t) {});
      return result;
    }
    if (bf16_in) {
      pool_rows(in.bf16_data(), s, e, result.data(), ws.pool(), start,
                [&](std::size_t begin, std::size_t end) { detail::apply_fusion(result.data(), begin, end, fusion); });
      return result;
    }
    if (u8) {
      // Keras' zero padding is the u8 value of 0.0: the zero point (within [0, 255]).
      const auto zero = static_cast<std::uint8_t>(in.u8_zero_point());
      pool_rows(
          in.u8_data(), s, e, result.u8_data(), ws.pool(),
          [zero](bool touches_pad) { return Mode == PoolPadding::zeros && touches_pad ? zero : std::uint8_t{0}; },
          [](std::size_t, std::size_t) {});
      return result;
    }
    pool_rows(in.data(), s, e, result.data(), ws.pool(), start,
              [&](std::size_t begin, std::size_t end) { detail::apply_fusion(result.data(), begin, end, fusion); });
    return result;
  }

 private:
  // Every output row of every image, over the pool; start(touches_pad) is a window's
  // value before its first pixel, and then(begin, end) runs on each chunk's outputs.
  template <class T, class Out, class Start, class Then>
  static void pool_rows(const T* in, const Shape& s, const Extent& e, Out* out, ThreadPool& pool, Start start,
                        Then then) {
    const int C = s.c;
    pool.parallel_for(static_cast<std::ptrdiff_t>(s.n) * e.h, [&](std::ptrdiff_t begin, std::ptrdiff_t end) {
      for (std::ptrdiff_t row = begin; row < end; ++row) {
        const int n = static_cast<int>(row / e.h), oy = static_cast<int>(row % e.h);
#if defined(__AVX512F__)
        if constexpr (K == 3 && Stride == 2 && std::is_same_v<T, float> && std::is_same_v<Out, float>) {
          if (C % 16 == 0) {
            detail::max_pool_row_3x3s2(in + static_cast<std::size_t>(n) * s.h * s.w * C, s.h, s.w, C, Pad, oy, e.w,
                                       start, out + (static_cast<std::size_t>(n) * e.h + oy) * e.w * C);
            continue;
          }
        }
#endif
        const int y0 = std::max(oy * Stride - Pad, 0), y1 = std::min(oy * Stride - Pad + K, s.h);
        for (int ox = 0; ox < e.w; ++ox) {
          const int x0 = std::max(ox * Stride - Pad, 0), x1 = std::min(ox * Stride - Pad + K, s.w);
          const T* window = in + ((static_cast<std::size_t>(n) * s.h + y0) * s.w + x0) * C;
          Out* y = out + ((static_cast<std::size_t>(n) * e.h + oy) * e.w + ox) * C;
          detail::max_of_window(window, y1 - y0, x1 - x0, static_cast<std::size_t>(s.w) * C, C,
                                start(y1 - y0 < K || x1 - x0 < K), y);
        }
      }
      const std::size_t row = static_cast<std::size_t>(e.w) * C;
      then(static_cast<std::size_t>(begin) * row, static_cast<std::size_t>(end) * row);
    });
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
    constexpr int kChannels = 256;  // a task's channels: ResNet-50's 2048 make 8 tasks
    const Shape s = in.shape();
    detail::expect_residual("GlobalPooling", {s.n, 1, 1, s.c}, fusion);
    FeatureMap result = ws.allocate({s.n, 1, 1, s.c});
    if (ws.planning()) return result;
    const std::size_t pixels = static_cast<std::size_t>(s.h) * s.w;
    // Tasks of (image, kChannels channels); each channel sums its pixels in order, one
    // channel per lane, so the result does not depend on the split.
    const int chunks = (s.c + kChannels - 1) / kChannels;
    ws.pool().parallel_tasks(static_cast<std::ptrdiff_t>(s.n) * chunks, [&](std::ptrdiff_t task, int) {
      const int n = static_cast<int>(task / chunks), c0 = static_cast<int>(task % chunks) * kChannels;
      const int count = std::min(kChannels, s.c - c0);
      const float* x = in.data() + static_cast<std::size_t>(n) * pixels * s.c + c0;
      float* y = result.data() + static_cast<std::size_t>(n) * s.c + c0;
      if (kind == GlobalPool::avg) {
        // Accumulate in double: a 7x7 map of large activations loses bits in float.
        double sum[kChannels] = {};
        for (std::size_t p = 0; p < pixels; ++p)
          for (int c = 0; c < count; ++c) sum[c] += x[p * s.c + c];
        for (int c = 0; c < count; ++c) y[c] = static_cast<float>(sum[c] / static_cast<double>(pixels));
      } else {
        std::copy(x, x + count, y);
        for (std::size_t p = 1; p < pixels; ++p)
          for (int c = 0; c < count; ++c) {
            const float v = x[p * s.c + c];
            y[c] = v > y[c] || v != v ? v : y[c];
          }
      }
    });
    detail::apply_fusion(result.data(), 0, result.size(), fusion);
    return result;
  }
};

}  // namespace resnet
