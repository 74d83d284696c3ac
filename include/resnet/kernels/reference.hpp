#pragma once
/// The plain direct convolution every fast path is tested against: seven nested loops,
/// double accumulation, no blocking and no cleverness.

#include <algorithm>

#include "resnet/kernels/conv_params.hpp"

namespace resnet::kernels {

/// out[n][oy][ox][o] = act(sum_{ky,kx,c} in[n][oy*s+ky-pad][ox*s+kx-pad][g*ci + c] * w[o][ky][kx][c]
///                         + bias[o] + residual[n][oy][ox][o]); bias and residual may be null;
/// ci = in_c / groups, c < ci, g = o / (out_c / groups) (groups = 1: every input channel).
/// in is NHWC [n][h][w][in_c]; out is NHWC [n][out_h][out_w][out_c]; weight is OHWI.
inline void conv2d_reference(const ConvShape& s, const float* weight_ohwi, const float* bias, const float* in,
                             int n, int h, int w, float* out, const float* residual = nullptr, bool relu = false) {
  const int oh = s.out_side(h), ow = s.out_side(w);
  for (int b = 0; b < n; ++b)
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox) {
        const long long pixel = (1LL * b * oh + oy) * ow + ox;
        for (int o = 0; o < s.out_c; ++o) {
          const int ci = s.group_in(), first = o / s.group_out() * ci;
          double acc = bias ? bias[o] : 0.0;
          for (int ky = 0; ky < s.kernel; ++ky) {
            const int iy = oy * s.stride + ky - s.pad;
            if (iy < 0 || iy >= h) continue;
            for (int kx = 0; kx < s.kernel; ++kx) {
              const int ix = ox * s.stride + kx - s.pad;
              if (ix < 0 || ix >= w) continue;
              const float* x = in + ((1LL * b * h + iy) * w + ix) * s.in_c + first;
              const float* k = weight_ohwi + ((1LL * o * s.kernel + ky) * s.kernel + kx) * ci;
              for (int c = 0; c < ci; ++c) acc += double(x[c]) * double(k[c]);
            }
          }
          if (residual) acc += residual[pixel * s.out_c + o];
          if (relu) acc = std::max(acc, 0.0);
          out[pixel * s.out_c + o] = static_cast<float>(acc);
        }
      }
}

}  // namespace resnet::kernels
