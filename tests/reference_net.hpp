#pragma once
// A deliberately plain reference for the layer and block tests: NCHW, double
// precision, nested loops, written straight from docs/spec.md 0.2 and 1.4 and sharing
// no code with the library. Slow on purpose; only small odd shapes go through it.
//
// Also here: an in-memory weight-file builder (random tensors written under
// torchvision or Keras names, kernels in the file's own layout) and the conversions
// between the reference's NCHW doubles and the library's NHWC floats.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <resnet/core/tensor.hpp>
#include <resnet/io/safetensors.hpp>

namespace ref {

/// An NCHW activation in double precision.
struct Map {
  int n = 0, c = 0, h = 0, w = 0;
  std::vector<double> v;

  Map() = default;
  Map(int n_, int c_, int h_, int w_, double fill = 0.0)
      : n(n_), c(c_), h(h_), w(w_), v(static_cast<std::size_t>(n_) * c_ * h_ * w_, fill) {}

  double& at(int in, int ic, int y, int x) { return v[((static_cast<std::size_t>(in) * c + ic) * h + y) * w + x]; }
  double at(int in, int ic, int y, int x) const { return v[((static_cast<std::size_t>(in) * c + ic) * h + y) * w + x]; }
};

/// A convolution as PyTorch stores it: OIHW weights, optional bias, symmetric padding.
struct Conv {
  int out_c = 0, in_c = 0, k = 1, stride = 1, pad = 0;
  std::vector<double> weight;  // [out_c][in_c][k][k]
  std::vector<double> bias;    // empty: no bias

  double w(int o, int i, int y, int x) const {
    return weight[((static_cast<std::size_t>(o) * in_c + i) * k + y) * k + x];
  }
};

/// Inference batch norm statistics, applied in the textbook form.
struct Norm {
  std::vector<double> gamma, beta, mean, var;
  double eps = 1e-5;
};

/// Zero padding, then valid cross-correlation (docs/spec.md 0.2).
inline Map conv2d(const Map& x, const Conv& cv) {
  const int oh = (x.h + 2 * cv.pad - cv.k) / cv.stride + 1;
  const int ow = (x.w + 2 * cv.pad - cv.k) / cv.stride + 1;
  Map y(x.n, cv.out_c, oh, ow);
  for (int n = 0; n < x.n; ++n)
    for (int o = 0; o < cv.out_c; ++o)
      for (int i = 0; i < oh; ++i)
        for (int j = 0; j < ow; ++j) {
          double sum = cv.bias.empty() ? 0.0 : cv.bias[o];
          for (int c = 0; c < cv.in_c; ++c)
            for (int ky = 0; ky < cv.k; ++ky)
              for (int kx = 0; kx < cv.k; ++kx) {
                const int yy = i * cv.stride - cv.pad + ky;
                const int xx = j * cv.stride - cv.pad + kx;
                if (yy < 0 || yy >= x.h || xx < 0 || xx >= x.w) continue;  // a padded zero
                sum += x.at(n, c, yy, xx) * cv.w(o, c, ky, kx);
              }
          y.at(n, o, i, j) = sum;
        }
  return y;
}

/// y = (x - mean) / sqrt(var + eps) * gamma + beta, per channel.
inline Map batch_norm(const Map& x, const Norm& bn) {
  Map y = x;
  for (int n = 0; n < x.n; ++n)
    for (int c = 0; c < x.c; ++c)
      for (int i = 0; i < x.h; ++i)
        for (int j = 0; j < x.w; ++j)
          y.at(n, c, i, j) = (x.at(n, c, i, j) - bn.mean[c]) / std::sqrt(bn.var[c] + bn.eps) * bn.gamma[c] + bn.beta[c];
  return y;
}

inline Map relu(Map x) {
  for (double& e : x.v) e = e > 0.0 ? e : 0.0;
  return x;
}

inline Map add(const Map& a, const Map& b) {
  Map y = a;
  for (std::size_t i = 0; i < y.v.size(); ++i) y.v[i] += b.v[i];
  return y;
}

/// Pads every side with `p` cells holding `value`.
inline Map pad(const Map& x, int p, double value) {
  Map y(x.n, x.c, x.h + 2 * p, x.w + 2 * p, value);
  for (int n = 0; n < x.n; ++n)
    for (int c = 0; c < x.c; ++c)
      for (int i = 0; i < x.h; ++i)
        for (int j = 0; j < x.w; ++j) y.at(n, c, i + p, j + p) = x.at(n, c, i, j);
  return y;
}

/// Keras ZeroPadding2D.
inline Map zero_pad(const Map& x, int p) { return pad(x, p, 0.0); }

/// Max pool k/s/p. zero_padding = false: PyTorch, padding is -inf and never wins;
/// true: Keras ZeroPadding2D + valid pool, padded zeros take part (docs/spec.md 0.2, 1.7).
inline Map max_pool(const Map& x, int k, int s, int p, bool zero_padding) {
  const Map padded = pad(x, p, zero_padding ? 0.0 : -std::numeric_limits<double>::infinity());
  const int oh = (padded.h - k) / s + 1, ow = (padded.w - k) / s + 1;
  Map y(x.n, x.c, oh, ow);
  for (int n = 0; n < x.n; ++n)
    for (int c = 0; c < x.c; ++c)
      for (int i = 0; i < oh; ++i)
        for (int j = 0; j < ow; ++j) {
          double m = -std::numeric_limits<double>::infinity();
          for (int ky = 0; ky < k; ++ky)
            for (int kx = 0; kx < k; ++kx) m = std::max(m, padded.at(n, c, i * s + ky, j * s + kx));
          y.at(n, c, i, j) = m;
        }
  return y;
}

/// x[:, :, ::2, ::2]: Keras V2's MaxPooling2D(1, strides=2); ceil(H/2) outputs.
inline Map subsample(const Map& x) {
  Map y(x.n, x.c, (x.h + 1) / 2, (x.w + 1) / 2);
  for (int n = 0; n < x.n; ++n)
    for (int c = 0; c < x.c; ++c)
      for (int i = 0; i < y.h; ++i)
        for (int j = 0; j < y.w; ++j) y.at(n, c, i, j) = x.at(n, c, 2 * i, 2 * j);
  return y;
}

/// CIFAR option A (docs/spec.md 1.4): subsample, then (out_c - in_c) / 2 zero channels before
/// and after the input channels.
inline Map option_a(const Map& x, int out_c) {
  const Map s = subsample(x);
  const int before = (out_c - x.c) / 2;
  Map y(x.n, out_c, s.h, s.w);
  for (int n = 0; n < x.n; ++n)
    for (int c = 0; c < x.c; ++c)
      for (int i = 0; i < s.h; ++i)
        for (int j = 0; j < s.w; ++j) y.at(n, before + c, i, j) = s.at(n, c, i, j);
  return y;
}

/// Global average / max pool: (n, c, 1, 1).
inline Map global_avg(const Map& x) {
  Map y(x.n, x.c, 1, 1);
  for (int n = 0; n < x.n; ++n)
    for (int c = 0; c < x.c; ++c) {
      double sum = 0.0;
      for (int i = 0; i < x.h; ++i)
        for (int j = 0; j < x.w; ++j) sum += x.at(n, c, i, j);
      y.at(n, c, 0, 0) = sum / (x.h * x.w);
    }
  return y;
}

inline Map global_max(const Map& x) {
  Map y(x.n, x.c, 1, 1);
  for (int n = 0; n < x.n; ++n)
    for (int c = 0; c < x.c; ++c) {
      double m = -std::numeric_limits<double>::infinity();
      for (int i = 0; i < x.h; ++i)
        for (int j = 0; j < x.w; ++j) m = std::max(m, x.at(n, c, i, j));
      y.at(n, c, 0, 0) = m;
    }
  return y;
}

/// y[n][o] = sum_i W[o][i] x[n][i] + b[o]; x is n x in, W is [out][in].
inline std::vector<double> dense(const std::vector<double>& x, int n, int in, const std::vector<double>& weight,
                                 const std::vector<double>& bias) {
  const int out = static_cast<int>(bias.size());
  std::vector<double> y(static_cast<std::size_t>(n) * out);
  for (int r = 0; r < n; ++r)
    for (int o = 0; o < out; ++o) {
      double sum = bias[o];
      for (int i = 0; i < in; ++i)
        sum += weight[static_cast<std::size_t>(o) * in + i] * x[static_cast<std::size_t>(r) * in + i];
      y[static_cast<std::size_t>(r) * out + o] = sum;
    }
  return y;
}

/// exp(x_i) / sum_j exp(x_j) per row, computed directly (inputs in tests are small).
inline std::vector<double> softmax_rows(const std::vector<double>& x, int rows, int cols) {
  std::vector<double> y(x.size());
  for (int r = 0; r < rows; ++r) {
    double sum = 0.0;
    for (int c = 0; c < cols; ++c) sum += std::exp(x[static_cast<std::size_t>(r) * cols + c]);
    for (int c = 0; c < cols; ++c)
      y[static_cast<std::size_t>(r) * cols + c] = std::exp(x[static_cast<std::size_t>(r) * cols + c]) / sum;
  }
  return y;
}

// ---- NCHW double <-> NHWC float ----

/// A random map with values in [lo, hi).
inline Map random_map(int n, int c, int h, int w, unsigned seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(static_cast<float>(lo), static_cast<float>(hi));
  Map m(n, c, h, w);
  for (double& e : m.v) e = dist(gen);  // float values: the library sees exactly these
  return m;
}

inline resnet::Shape nhwc_shape(const Map& m) { return {m.n, m.h, m.w, m.c}; }

inline std::vector<float> to_nhwc(const Map& m) {
  std::vector<float> out(m.v.size());
  for (int n = 0; n < m.n; ++n)
    for (int c = 0; c < m.c; ++c)
      for (int i = 0; i < m.h; ++i)
        for (int j = 0; j < m.w; ++j)
          out[((static_cast<std::size_t>(n) * m.h + i) * m.w + j) * m.c + c] = static_cast<float>(m.at(n, c, i, j));
  return out;
}

inline Map from_nhwc(const float* data, const resnet::Shape& s) {
  Map m(s.n, s.c, s.h, s.w);
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c)
      for (int i = 0; i < s.h; ++i)
        for (int j = 0; j < s.w; ++j)
          m.at(n, c, i, j) = data[((static_cast<std::size_t>(n) * s.h + i) * s.w + j) * s.c + c];
  return m;
}

/// Largest |got - want| / max(1, |want|); NaN anywhere counts as infinitely wrong.
inline double max_scaled_error(const Map& got, const Map& want) {
  if (got.n != want.n || got.c != want.c || got.h != want.h || got.w != want.w)
    return std::numeric_limits<double>::infinity();
  double worst = 0.0;
  for (std::size_t i = 0; i < want.v.size(); ++i) {
    const double e = std::abs(got.v[i] - want.v[i]) / std::max(1.0, std::abs(want.v[i]));
    if (!(e <= worst)) worst = std::isnan(e) ? std::numeric_limits<double>::infinity() : e;
  }
  return worst;
}

// ---- in-memory weight files ----

enum class Layout { torch, keras };

/// Random weights written under hand-spelled names (docs/spec.md 4.1, 4.2) in the file's
/// own layout; the reference keeps them as OIHW / [out][in] doubles.
class WeightFile {
 public:
  WeightFile(Layout layout, unsigned seed, std::string prefix = "")
      : layout_(layout), gen_(seed), prefix_(std::move(prefix)) {}

  /// A conv at `site` (`layer1.0.conv1` or `conv2_block1_1_conv`): He-scaled weights,
  /// optional bias, symmetric padding k/2.
  Conv conv(const std::string& site, int out_c, int in_c, int k, int stride, bool bias) {
    Conv cv;
    cv.out_c = out_c;
    cv.in_c = in_c;
    cv.k = k;
    cv.stride = stride;
    cv.pad = k / 2;
    const double scale = std::sqrt(3.0 * 2.0 / (in_c * k * k));  // uniform with He variance
    cv.weight = values(static_cast<std::size_t>(out_c) * in_c * k * k, -scale, scale);
    std::vector<float> file(cv.weight.size());
    if (layout_ == Layout::torch) {
      std::copy(cv.weight.begin(), cv.weight.end(), file.begin());
      put(site + ".weight", {out_c, in_c, k, k}, file);
    } else {  // HWIO: file[y][x][i][o] = W[o][i][y][x]
      for (int o = 0; o < out_c; ++o)
        for (int i = 0; i < in_c; ++i)
          for (int y = 0; y < k; ++y)
            for (int x = 0; x < k; ++x)
              file[((static_cast<std::size_t>(y) * k + x) * in_c + i) * out_c + o] =
                  static_cast<float>(cv.w(o, i, y, x));
      put(site + "/kernel", {k, k, in_c, out_c}, file);
    }
    if (bias) {
      cv.bias = values(out_c, -0.3, 0.3);
      put(site + (layout_ == Layout::torch ? ".bias" : "/bias"), {out_c}, floats(cv.bias));
    }
    return cv;
  }

  /// A batch norm at `site` (`layer1.0.bn1` or `conv2_block1_1_bn`).
  Norm batch_norm(const std::string& site, int c, double eps) {
    Norm bn;
    bn.eps = eps;
    bn.gamma = values(c, 0.5, 1.5);
    bn.beta = values(c, -0.3, 0.3);
    bn.mean = values(c, -0.3, 0.3);
    bn.var = values(c, 0.2, 1.5);
    const bool torch = layout_ == Layout::torch;
    const char sep = torch ? '.' : '/';
    put(site + sep + (torch ? "weight" : "gamma"), {c}, floats(bn.gamma));
    put(site + sep + (torch ? "bias" : "beta"), {c}, floats(bn.beta));
    put(site + sep + (torch ? "running_mean" : "moving_mean"), {c}, floats(bn.mean));
    put(site + sep + (torch ? "running_var" : "moving_variance"), {c}, floats(bn.var));
    return bn;
  }

  /// A dense layer: [out][in] in the reference; [out, in] (torch) or kernel [in, out] (keras).
  void dense(const std::string& site, int out, int in, std::vector<double>& weight, std::vector<double>& bias) {
    weight = values(static_cast<std::size_t>(out) * in, -0.5, 0.5);
    bias = values(out, -0.3, 0.3);
    std::vector<float> file(weight.size());
    if (layout_ == Layout::torch) {
      std::copy(weight.begin(), weight.end(), file.begin());
      put(site + ".weight", {out, in}, file);
      put(site + ".bias", {out}, floats(bias));
    } else {
      for (int o = 0; o < out; ++o)
        for (int i = 0; i < in; ++i)
          file[static_cast<std::size_t>(i) * out + o] =
              static_cast<float>(weight[static_cast<std::size_t>(o) * in + i]);
      put(site + "/kernel", {in, out}, file);
      put(site + "/bias", {out}, floats(bias));
    }
  }

  /// The file as bytes, parsed by the library's own reader.
  resnet::io::SafeTensors build() const {
    return resnet::io::SafeTensors::from_memory(resnet::io::serialize_safetensors(tensors_), "test.safetensors");
  }

 private:
  // Values are drawn as floats so the file and the reference hold the same numbers.
  std::vector<double> values(std::size_t count, double lo, double hi) {
    std::uniform_real_distribution<float> dist(static_cast<float>(lo), static_cast<float>(hi));
    std::vector<double> v(count);
    for (double& e : v) e = dist(gen_);
    return v;
  }
  static std::vector<float> floats(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }
  void put(const std::string& name, std::vector<std::int64_t> shape, std::vector<float> data) {
    tensors_.push_back({prefix_ + name, std::move(shape), std::move(data)});
  }

  Layout layout_;
  std::mt19937 gen_;
  std::string prefix_;
  std::vector<resnet::io::TensorToWrite> tensors_;
};

}  // namespace ref
