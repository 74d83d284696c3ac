#pragma once
/// Calibration for int8 models: run the fp32 model over sample images, record the range of
/// every conv's input, and keep it as ActivationRanges (core/precision.hpp) for
/// ModelOptions::int8_ranges, saved to and loaded from a small safetensors file so that
/// calibration runs once.
///
///   resnet::ResNet50 fp32;                       // the same model type, fp32
///   fp32.load_weights("resnet50.safetensors");
///   resnet::ActivationRanges r = resnet::calibrate(fp32, batches, ws);
///   resnet::save_ranges("ranges.safetensors", r);
///   resnet::ModelOptions o;
///   o.precision = resnet::Precision::int8;
///   o.int8_ranges = resnet::load_ranges("ranges.safetensors");
///   resnet::ResNet50 int8(o);
///   int8.load_weights("resnet50.safetensors");
///
/// Two ways to turn what was seen into a range (CalibrationMethod):
///   minmax      the smallest and largest value seen, as PyTorch's MinMaxObserver;
///   percentile  each tail clipped at a percentile of all values seen (99.99 keeps all but
///               one value in 10,000 inside the range), which gives the bulk of the values
///               finer steps at the price of clamping rare outliers.
/// Both come from one pass: the recorder keeps the exact min and max and a histogram of
/// each sign by the top 14 bits of |x| (exponent and 6 mantissa bits: bins 1/64 of an
/// octave wide), so a percentile is found to within 1.6% of its value whatever the range.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "resnet/core/error.hpp"
#include "resnet/core/precision.hpp"
#include "resnet/core/tensor.hpp"
#include "resnet/core/workspace.hpp"
#include "resnet/io/safetensors.hpp"

namespace resnet {

enum class CalibrationMethod { minmax, percentile };

struct CalibrationOptions {
  CalibrationMethod method = CalibrationMethod::percentile;
  double percentile = 99.99;  ///< percentile: the share of values kept inside the range, in (50, 100]
};

/// "minmax" or "percentile 99.99", as ActivationRanges::method records it.
inline std::string describe(const CalibrationOptions& o) {
  if (o.method == CalibrationMethod::minmax) return "minmax";
  std::string p = std::to_string(o.percentile);
  p.erase(p.find_last_not_of('0') + 1);
  if (!p.empty() && p.back() == '.') p.pop_back();
  return "percentile " + p;
}

/// Records every conv input a forward pass shows it (Workspace::observe_conv_inputs).
class RangeRecorder final : public ConvInputObserver {
 public:
  void conv_input(int conv, const float* data, std::size_t count, int channels) override {
    if (conv < 0) return;
    if (static_cast<std::size_t>(conv) >= convs_.size()) convs_.resize(static_cast<std::size_t>(conv) + 1);
    Seen& s = convs_[static_cast<std::size_t>(conv)];
    if (s.positive.empty()) {
      s.positive.assign(kBins, 0);
      s.negative.assign(kBins, 0);
    }
    s.channels = channels;
    for (std::size_t i = 0; i < count; ++i) {
      const float x = data[i];
      if (!std::isfinite(x)) continue;  // NaN or Inf has no range; the model propagates it anyway
      s.min = std::min(s.min, x);
      s.max = std::max(s.max, x);
      ++(x < 0.0f ? s.negative : s.positive)[bin(x)];
      ++s.values;
    }
  }

  /// Convs seen so far (the largest index + 1).
  int convs() const noexcept { return static_cast<int>(convs_.size()); }

  /// The range of every conv input seen, chosen by `options`. Throws invalid_argument for a
  /// percentile outside (50, 100] or a conv that saw no finite value.
  ActivationRanges ranges(const CalibrationOptions& options = {}) const {
    const bool clip = options.method == CalibrationMethod::percentile;
    if (clip && !(options.percentile > 50.0 && options.percentile <= 100.0))
      throw Error(ErrorKind::invalid_argument,
                  "calibrate: percentile " + std::to_string(options.percentile) + " is outside (50, 100]");
    ActivationRanges r;
    r.method = describe(options);
    for (std::size_t c = 0; c < convs_.size(); ++c) {
      const Seen& s = convs_[c];
      if (s.values == 0)
        throw Error(ErrorKind::invalid_argument,
                    "calibrate: conv " + std::to_string(c) + " saw no finite input value (no image run, or all NaN)");
      ConvInputRange range{s.min, s.max, s.channels};
      if (clip) {
        // Values allowed past each end of the range.
        const double tail = static_cast<double>(s.values) * (100.0 - options.percentile) / 100.0;
        range.max = std::min(s.max, std::max(0.0f, edge(s.positive, tail)));
        range.min = std::max(s.min, std::min(0.0f, -edge(s.negative, tail)));
      }
      r.convs.push_back(range);
    }
    return r;
  }

 private:
  static constexpr std::size_t kBins = std::size_t(1) << 14;
  struct Seen {
    float min = std::numeric_limits<float>::infinity(), max = -std::numeric_limits<float>::infinity();
    int channels = 0;
    long long values = 0;
    std::vector<std::uint64_t> positive, negative;  // by bin(|x|)
  };

  // |x|'s bits without the sign, less the 17 low mantissa bits: monotonic in |x|.
  static std::size_t bin(float x) noexcept {
    std::uint32_t u;
    std::memcpy(&u, &x, sizeof u);
    return (u & 0x7FFFFFFFu) >> 17;
  }
  // The largest |x| of the highest bin that leaves at most `tail` values above it.
  static float edge(const std::vector<std::uint64_t>& hist, double tail) noexcept {
    double above = 0;
    for (std::size_t b = hist.size(); b-- > 0;) {
      above += static_cast<double>(hist[b]);
      if (above > tail) {
        const std::uint32_t u = static_cast<std::uint32_t>(((b + 1) << 17) - 1);
        float x;
        std::memcpy(&x, &u, sizeof x);
        return x;
      }
    }
    return 0.0f;
  }

  std::vector<Seen> convs_;
};

namespace detail {
template <class T, class = void>
struct has_model_name : std::false_type {};
template <class T>
struct has_model_name<T, std::void_t<decltype(T::name)>> : std::true_type {};
}  // namespace detail

/// The name calibrate() records for a model type: RESNET_NAMED_MODEL's, else "".
template <class Model>
std::string model_name() {
  if constexpr (detail::has_model_name<Model>::value) return Model::name;
  else return "";
}

/// Observes a workspace's conv inputs for its lifetime.
class ObservedWorkspace {
 public:
  ObservedWorkspace(Workspace& ws, ConvInputObserver& observer) : ws_(ws) { ws_.observe_conv_inputs(&observer); }
  ~ObservedWorkspace() { ws_.observe_conv_inputs(nullptr); }
  ObservedWorkspace(const ObservedWorkspace&) = delete;
  ObservedWorkspace& operator=(const ObservedWorkspace&) = delete;

 private:
  Workspace& ws_;
};

/// Runs `model` (fp32: the ranges are those of the activations an fp32 model computes)
/// over `batches` of preprocessed images, as its forward() takes them, and returns the
/// input range of each conv, chosen by `options`, with the model's name and the image count.
template <class Model>
ActivationRanges calibrate(const Model& model, const std::vector<Tensor>& batches, Workspace& ws,
                           const CalibrationOptions& options = {}) {
  RangeRecorder recorder;
  long long images = 0;
  {
    const ObservedWorkspace observed(ws, recorder);
    for (const Tensor& batch : batches) {
      model.forward(batch, ws);
      images += batch.shape().n;
    }
  }
  ActivationRanges r = recorder.ranges(options);
  r.model = model_name<Model>();
  r.images = images;
  return r;
}

namespace detail {
inline constexpr const char* ranges_format = "resnet int8 ranges 1";
}  // namespace detail

/// Writes `r` as safetensors: F32 tensors input_min, input_max and input_channels of one
/// value per conv, the method, model and image count in __metadata__. The file appears
/// complete or not at all (io::write_safetensors).
inline void save_ranges(const std::string& path, const ActivationRanges& r) {
  const auto n = static_cast<std::int64_t>(r.convs.size());
  std::vector<float> lo, hi, channels;
  for (const ConvInputRange& c : r.convs) {
    lo.push_back(c.min);
    hi.push_back(c.max);
    channels.push_back(static_cast<float>(c.channels));
  }
  io::write_safetensors(path, {{"input_min", {n}, lo}, {"input_max", {n}, hi}, {"input_channels", {n}, channels}},
                        {{"format", detail::ranges_format},
                         {"model", r.model},
                         {"method", r.method},
                         {"images", std::to_string(r.images)}});
}

/// Reads a file save_ranges() wrote. Anything else is an Error naming `path` and what is
/// wrong: not safetensors (format), another kind of safetensors file or a missing tensor
/// (format / missing_tensor), tensors of different lengths or not 1-D (shape_mismatch),
/// a range that is not finite or has min > max, or a channel count that is not a positive
/// integer (invalid_argument).
inline ActivationRanges load_ranges(const std::string& path) {
  const io::SafeTensors file = io::SafeTensors::open(path);
  const std::map<std::string, std::string>& meta = file.metadata();
  const auto format = meta.find("format");
  if (format == meta.end() || format->second != detail::ranges_format)
    throw Error(ErrorKind::format, path + ": not an int8 ranges file (its __metadata__ has no format \"" +
                                       std::string(detail::ranges_format) + "\"; `resnet calibrate` writes them)");
  const auto column = [&](const char* name) {
    const io::TensorInfo* t = file.find(name);
    if (!t) throw Error(ErrorKind::missing_tensor, path + ": " + name + ": missing");
    if (t->shape.size() != 1)
      throw Error(ErrorKind::shape_mismatch, path + ": " + name + ": shape " + io::detail::shape_string(t->shape) +
                                                 ", expected one value per conv");
    return file.read_f32(*t);
  };
  const std::vector<float> lo = column("input_min"), hi = column("input_max"), channels = column("input_channels");
  if (lo.empty() || lo.size() != hi.size() || lo.size() != channels.size())
    throw Error(ErrorKind::shape_mismatch, path + ": input_min, input_max and input_channels hold " +
                                               std::to_string(lo.size()) + ", " + std::to_string(hi.size()) + " and " +
                                               std::to_string(channels.size()) +
                                               " values; expected one per conv, at least one");
  ActivationRanges r;
  r.source = path;
  const auto text = [&](const char* key) {
    const auto found = meta.find(key);
    return found == meta.end() ? std::string() : found->second;
  };
  r.model = text("model");
  r.method = text("method");
  const std::string images = text("images");
  r.images = images.empty() || images.size() > 18 || images.find_first_not_of("0123456789") != std::string::npos
                 ? 0
                 : std::stoll(images);
  for (std::size_t i = 0; i < lo.size(); ++i) {
    const std::string conv = path + ": conv " + std::to_string(i);
    if (!std::isfinite(lo[i]) || !std::isfinite(hi[i]) || lo[i] > hi[i])
      throw Error(ErrorKind::invalid_argument, conv + ": the range [" + std::to_string(lo[i]) + ", " +
                                                   std::to_string(hi[i]) + "] is not finite or is empty");
    if (!(channels[i] >= 1.0f && channels[i] <= float(1 << 20)) || channels[i] != std::floor(channels[i]))
      throw Error(ErrorKind::invalid_argument,
                  conv + ": input_channels " + std::to_string(channels[i]) + " is not a positive integer");
    r.convs.push_back({lo[i], hi[i], static_cast<int>(channels[i])});
  }
  return r;
}

}  // namespace resnet
