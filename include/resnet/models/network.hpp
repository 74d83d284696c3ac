#pragma once
/// A whole residual network: stem, stages, an optional final norm (V2) and the head.
/// Structure is fixed at compile time; batch, height, width, the class count and the
/// Keras head options are run-time values.
///
/// Thread safety: after load_weights()/init_random() a network is immutable and
/// forward() is const, so any number of threads may share one network, each with its
/// own Workspace. Loading is not thread-safe with respect to concurrent forward calls.
///
/// Non-finite inputs: NaN and Inf propagate through the arithmetic like in PyTorch
/// (ReLU and max pooling keep NaN); they never cause undefined behaviour.

#include <cstring>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "resnet/blocks/stage.hpp"
#include "resnet/core/error.hpp"
#include "resnet/core/tensor.hpp"
#include "resnet/core/workspace.hpp"
#include "resnet/io/safetensors.hpp"
#include "resnet/io/weights.hpp"
#include "resnet/layers/batch_norm.hpp"
#include "resnet/layers/dense.hpp"
#include "resnet/layers/pooling.hpp"

namespace resnet {

/// Keras' `pooling` argument, used when the top is left off.
enum class Pooling { none, avg, max };

/// What the classifier outputs: raw logits (torchvision, CIFAR) or softmax
/// probabilities (Keras' default `classifier_activation`).
enum class Classifier { logits, softmax };

struct ModelOptions {
  bool include_top = true;                ///< the dense classifier
  Pooling pooling = Pooling::avg;         ///< without the top: none (feature map), avg or max
  int classes = 0;                        ///< 0: the model's default (1000; 10 for CIFAR)
  std::optional<Classifier> classifier;   ///< unset: the family's default
  long long max_batch_pixels = 1LL << 26; ///< cap on batch x height x width of an input (2^40 at most)
};

/// One row of a model summary (Keras' model.summary()): a stem, block or head layer.
struct LayerSummary {
  std::string name;   ///< in the family's weight naming: `layer1.0`, `conv2_block1`, ...
  std::string kind;   ///< stem, block, norm, pool, dense, softmax
  Shape output;       ///< for a batch of one
  long long parameters = 0;     ///< trainable
  long long non_trainable = 0;  ///< BN running statistics
  long long macs = 0;
};

/// Which part of a weight file load_weights() takes.
enum class WeightParts { all, backbone };

/// A stem: one conv unit, then an optional pool.
struct NoPool {};

template <class Unit, class Pool = NoPool>
class Stem {
  static constexpr bool pooled = !std::is_same_v<Pool, NoPool>;

 public:
  static constexpr int in_channels = Unit::in_channels;
  static constexpr int out_channels = Unit::out_channels;
  static constexpr Extent output_extent(Extent in) noexcept {
    in = Unit::output_extent(in);
    if constexpr (pooled) in = Pool::output_extent(in);
    return in;
  }
  static constexpr long long parameter_count() noexcept { return Unit::parameter_count(); }
  static constexpr long long non_trainable_count() noexcept { return Unit::non_trainable_count(); }
  static constexpr long long macs(Extent in) noexcept { return Unit::macs(in); }

  void load(WeightReader& reader) { unit_.load(reader, reader.stem_conv(), reader.stem_bn()); }
  void init_random(RandomWeights& rng) { unit_.init_random(rng); }
  Shape plan(Shape in, MemoryPlan& plan, int threads) const {
    in = unit_.plan(in, plan, threads);
    if constexpr (pooled) in = Pool::plan(in, plan);
    return in;
  }
  FeatureMap forward(const FeatureMap& x, Workspace& ws) const {
    FeatureMap y = unit_.forward(x, ws.free_buffer({x.data}), ws);
    if constexpr (pooled) y = Pool::forward(y, ws.free_buffer({y.data}), ws.pool());
    return y;
  }

 private:
  Unit unit_;
};

/// Family-wide conventions: weight naming, the classifier's default output, the
/// smallest input side accepted.
struct TorchFamily {
  static constexpr Naming naming = Naming::torchvision;
  static constexpr Classifier classifier = Classifier::logits;
  static constexpr int default_classes = 1000;
  static constexpr int min_side = 32;
};
struct KerasFamily {
  static constexpr Naming naming = Naming::keras;
  static constexpr Classifier classifier = Classifier::softmax;
  static constexpr int default_classes = 1000;
  static constexpr int min_side = 32;
};
struct CifarFamily {
  static constexpr Naming naming = Naming::cifar;
  static constexpr Classifier classifier = Classifier::logits;
  static constexpr int default_classes = 10;
  static constexpr int min_side = 1;
};

template <class Family, class StemT, class PostNorm, class... Stages>
class Network {
  using StageTuple = std::tuple<Stages...>;
  static constexpr std::size_t stage_count_ = sizeof...(Stages);
  static constexpr bool post_normalised = !std::is_same_v<PostNorm, NoNorm>;

  template <std::size_t... I>
  static constexpr bool stages_chain(std::index_sequence<I...>) {
    return ((std::tuple_element_t<I, StageTuple>::out_channels ==
             std::tuple_element_t<I + 1, StageTuple>::in_channels) && ... && true);
  }
  static_assert(std::tuple_element_t<0, StageTuple>::in_channels == StemT::out_channels,
                "Network: the first stage's in_channels must equal the stem's out_channels");
  static_assert(stages_chain(std::make_index_sequence<stage_count_ - 1>{}),
                "Network: each stage's in_channels must equal the previous stage's out_channels");

 public:
  using family = Family;
  static constexpr int stage_count = static_cast<int>(stage_count_);
  static constexpr int feature_channels = std::tuple_element_t<stage_count_ - 1, StageTuple>::out_channels;
  static constexpr int min_side = Family::min_side;

  explicit Network(ModelOptions options = {}) : options_(options), head_(resolve_classes(options)) {
    options_.classes = head_.classes();
    if (!options_.classifier) options_.classifier = Family::classifier;
    if (options_.max_batch_pixels < 1)
      throw Error(ErrorKind::invalid_argument, "ModelOptions: max_batch_pixels must be positive");
  }

  const ModelOptions& options() const noexcept { return options_; }
  int classes() const noexcept { return options_.classes; }

  // ---- compile-time facts (docs/spec.md sections 2 and 3) ----

  /// Trainable parameters: conv weights and biases, BN gamma and beta, the dense layer.
  static constexpr long long parameter_count(int classes = Family::default_classes, bool include_top = true) noexcept {
    long long total = StemT::parameter_count() + (Stages::parameter_count() + ...) + PostNorm::parameter_count();
    return total + (include_top ? Dense<feature_channels>::parameter_count(classes) : 0);
  }
  /// BN running means and variances (Keras counts them in its totals, torchvision not).
  static constexpr long long non_trainable_count() noexcept {
    return StemT::non_trainable_count() + (Stages::non_trainable_count() + ...) + PostNorm::non_trainable_count();
  }
  /// Multiply-accumulates of the convolutions and the dense layer for one image.
  static constexpr long long macs(int height, int width, int classes = Family::default_classes,
                                  bool include_top = true) noexcept {
    Extent e = StemT::output_extent({height, width});
    long long total = StemT::macs({height, width});
    ((total += Stages::macs(e), e = Stages::output_extent(e)), ...);
    return total + (include_top ? 1LL * feature_channels * classes : 0);
  }
  /// Side of the last feature map for an input side.
  static constexpr Extent feature_extent(int height, int width) noexcept {
    Extent e = StemT::output_extent({height, width});
    ((e = Stages::output_extent(e)), ...);
    return e;
  }

  /// The model layer by layer for an input of height x width, with this instance's
  /// head options. Totals equal parameter_count(), non_trainable_count() and macs().
  std::vector<LayerSummary> summary(int height, int width) const {
    std::vector<LayerSummary> rows;
    Extent e = StemT::output_extent({height, width});
    rows.push_back({Family::naming == Naming::keras ? "conv1" : "stem", "stem", {1, e.h, e.w, StemT::out_channels},
                    StemT::parameter_count(), StemT::non_trainable_count(), StemT::macs({height, width})});
    int stage = 0;
    auto add_stage = [&](auto tag) {
      using S = typename decltype(tag)::type;
      e = S::describe(e, [&](int b, Extent, Extent out, int channels, long long p, long long nt, long long m) {
        rows.push_back({block_name(Family::naming, stage, b), "block", {1, out.h, out.w, channels}, p, nt, m});
      });
      ++stage;
    };
    (add_stage(type_tag<Stages>{}), ...);
    if constexpr (post_normalised)
      rows.push_back({"post_bn", "norm", {1, e.h, e.w, feature_channels}, PostNorm::parameter_count(),
                      PostNorm::non_trainable_count(), 0});
    if (options_.include_top) {
      rows.push_back({"avg_pool", "pool", {1, 1, 1, feature_channels}, 0, 0, 0});
      rows.push_back({Family::naming == Naming::keras ? "predictions" : Family::naming == Naming::cifar ? "linear" : "fc",
                      "dense", {1, 1, 1, options_.classes}, Dense<feature_channels>::parameter_count(options_.classes), 0,
                      1LL * feature_channels * options_.classes});
      if (*options_.classifier == Classifier::softmax) rows.push_back({"softmax", "softmax", {1, 1, 1, options_.classes}, 0, 0, 0});
    } else if (options_.pooling != Pooling::none) {
      rows.push_back({options_.pooling == Pooling::avg ? "avg_pool" : "max_pool", "pool", {1, 1, 1, feature_channels}, 0, 0, 0});
    }
    return rows;
  }

  // ---- weights ----

  /// Loads every tensor the model needs; a missing, extra or misshapen tensor is an
  /// error naming file, tensor and shapes. On error the model is left unchanged.
  /// With WeightParts::backbone the file's classifier (if any) is ignored and the head
  /// comes from load_head() — a custom class count on a pretrained backbone.
  void load_weights(const std::string& path, WeightParts parts = WeightParts::all) {
    load_weights(io::SafeTensors::stream(path), parts);  // tensors read one at a time: the file is never held whole
  }
  void load_weights(const io::SafeTensors& file, WeightParts parts = WeightParts::all) {
    Network fresh(options_);
    fresh.head_ = head_;
    fresh.head_ready_ = head_ready_;
    WeightReader reader(file, Family::naming);
    fresh.load_from(reader, parts == WeightParts::all && options_.include_top);
    reader.finish();
    *this = std::move(fresh);
  }

  /// Loads only the classifier (`fc`, `linear` or `predictions`, as the family names
  /// it) with this model's class count, from a file holding nothing else.
  void load_head(const std::string& path) { load_head(io::SafeTensors::stream(path)); }
  void load_head(const io::SafeTensors& file) {
    if (!options_.include_top)
      throw Error(ErrorKind::invalid_argument, "load_head: the model was built without its top (include_top = false)");
    Dense<feature_channels> head(options_.classes);
    WeightReader reader(file, Family::naming);
    head.load(reader, reader.classifier());
    reader.finish();
    head_ = std::move(head);
    head_ready_ = true;
  }

  /// Seeded random weights, for benchmarks and demos without a weight file.
  void init_random(std::uint64_t seed = 0) {
    RandomWeights rng(seed);
    stem_.init_random(rng);
    std::apply([&](auto&... stage) { (stage.init_random(rng), ...); }, stages_);
    if constexpr (post_normalised) post_.init_random(rng);
    head_.init_random(rng);
    backbone_ready_ = head_ready_ = true;
  }

  /// True once forward() can run: backbone loaded, and the head too if there is one.
  bool has_weights() const noexcept { return backbone_ready_ && (head_ready_ || !options_.include_top); }

  // ---- inference ----

  /// Shape of forward()'s result for an input shape: (n, classes) or (n, channels)
  /// as (n, 1, 1, c), or the last feature map (n, h, w, channels).
  Shape output_shape(const Shape& input) const {
    if (options_.include_top) return {input.n, 1, 1, options_.classes};
    if (options_.pooling != Pooling::none) return {input.n, 1, 1, feature_channels};
    const Extent e = feature_extent(input.h, input.w);
    return {input.n, e.h, e.w, feature_channels};
  }

  /// Runs the network on `input` (NHWC or NCHW, as its layout says; 3 channels).
  /// `output` is reshaped only when its shape or layout differs, so repeated calls
  /// with one shape and one workspace allocate nothing. Feature maps come back in
  /// `output_layout` (NHWC unless asked otherwise).
  void forward(const Tensor& input, Tensor& output, Workspace& ws, Layout output_layout = Layout::nhwc) const {
    forward(input.data(), input.size(), input.shape(), input.layout(), output, ws, output_layout);
  }
  Tensor forward(const Tensor& input, Workspace& ws, Layout output_layout = Layout::nhwc) const {
    Tensor output;
    forward(input, output, ws, output_layout);
    return output;
  }
  /// Convenience: a workspace with one thread per core, made for this call.
  Tensor forward(const Tensor& input) const {
    Workspace ws;
    return forward(input, ws);
  }

  /// The raw-buffer form: `size` floats at `data` holding `shape` in `layout`.
  void forward(const float* data, std::size_t size, const Shape& shape, Layout layout, Tensor& output,
               Workspace& ws, Layout output_layout = Layout::nhwc) const {
    const FeatureMap last = run(data, size, shape, layout, ws, [](int, const FeatureMap&) {});
    write_output(last, ws, output, output_layout);
  }

  /// The stage outputs (C2..C5 for ImageNet models), for detection or segmentation
  /// heads; each in `layout`. The head is not run.
  void forward_stages(const Tensor& input, std::vector<Tensor>& stages, Workspace& ws,
                      Layout layout = Layout::nhwc) const {
    stages.resize(stage_count_);
    run(input.data(), input.size(), input.shape(), input.layout(), ws,
        [&](int i, const FeatureMap& x) { copy_map(x, stages[static_cast<std::size_t>(i)], layout); },
        /*with_post=*/false);
  }

 private:
  static int resolve_classes(const ModelOptions& o) {
    if (o.classes < 0)
      throw Error(ErrorKind::invalid_argument, "ModelOptions: classes must be positive, got " + std::to_string(o.classes));
    return o.classes == 0 ? Family::default_classes : o.classes;
  }

  void load_from(WeightReader& reader, bool with_head) {
    stem_.load(reader);
    int index = 0;
    std::apply([&](auto&... stage) { (stage.load(reader, index++), ...); }, stages_);
    if constexpr (post_normalised) post_.load(reader, reader.post_bn());
    if (with_head) {
      head_.load(reader, reader.classifier());
      head_ready_ = true;
    } else {
      reader.ignore_site(reader.classifier());
    }
    backbone_ready_ = true;
  }

  void check_input(const float* data, std::size_t size, const Shape& s) const {
    if (!backbone_ready_)
      throw Error(ErrorKind::invalid_argument, "forward: the model has no weights; call load_weights() or init_random()");
    if (options_.include_top && !head_ready_)
      throw Error(ErrorKind::invalid_argument,
                  "forward: the classifier has no weights; call load_head() after loading a backbone");
    if (s.n < 1 || s.h < 1 || s.w < 1 || s.c < 1)
      throw Error(ErrorKind::invalid_argument, "forward: input shape " + s.str() + " has a zero or negative size");
    if (s.c != 3)
      throw Error(ErrorKind::shape_mismatch, "forward: the input must have 3 channels, got " + std::to_string(s.c));
    if (s.h < min_side || s.w < min_side)
      throw Error(ErrorKind::invalid_argument, "forward: input " + std::to_string(s.h) + "x" + std::to_string(s.w) +
                                                   " is smaller than this model's minimum of " +
                                                   std::to_string(min_side) + "x" + std::to_string(min_side));
    // Past 2^40 pixels the activation sizes of the memory plan could overflow 64 bits,
    // so no max_batch_pixels lifts that limit.
    const long long cap = std::min(options_.max_batch_pixels, 1LL << 40);
    const long double pixels = static_cast<long double>(s.n) * s.h * s.w;
    if (pixels > static_cast<long double>(cap))
      throw Error(ErrorKind::too_large, "forward: input " + s.str() + " has more than " + std::to_string(cap) +
                                            " pixels (max_batch_pixels = " +
                                            std::to_string(options_.max_batch_pixels) + ", at most 2^40)");
    if (data == nullptr || size < static_cast<std::size_t>(s.elements()))
      throw Error(ErrorKind::shape_mismatch, "forward: the input buffer holds " + std::to_string(size) +
                                                 " floats but shape " + s.str() + " needs " +
                                                 std::to_string(s.elements()));
  }

  /// Stem, stages and post-norm; returns the last feature map (inside `ws`).
  template <class StageVisitor>
  FeatureMap run(const float* data, std::size_t size, const Shape& shape, Layout layout, Workspace& ws,
           StageVisitor&& visit, bool with_post = true) const {
    check_input(data, size, shape);

    MemoryPlan plan;
    plan.need_activation(shape);
    Shape s = stem_.plan(shape, plan, ws.threads());
    std::apply([&](const auto&... stage) { ((s = stage.plan(s, plan, ws.threads())), ...); }, stages_);
    plan.need_activation({shape.n, 1, 1, std::max(feature_channels, options_.classes)});
    ws.reserve(plan);

    FeatureMap x{ws.buffer(0), shape};
    if (layout == Layout::nhwc) {
      std::memcpy(x.data, data, sizeof(float) * static_cast<std::size_t>(shape.elements()));
    } else {
      const std::size_t plane = static_cast<std::size_t>(shape.h) * shape.w;
      for (int n = 0; n < shape.n; ++n)
        for (std::size_t p = 0; p < plane; ++p)
          for (int c = 0; c < 3; ++c)
            x.data[(n * plane + p) * 3 + c] = data[(static_cast<std::size_t>(n) * 3 + c) * plane + p];
    }

    x = stem_.forward(x, ws);
    int index = 0;
    std::apply([&](const auto&... stage) { ((x = stage.forward(x, ws), visit(index++, x)), ...); }, stages_);
    if constexpr (post_normalised)
      if (with_post) x = post_.forward(x, x.data, Act::relu, ws.pool());
    return x;
  }

  void write_output(const FeatureMap& x, Workspace& ws, Tensor& output, Layout output_layout) const {
    if (!options_.include_top && options_.pooling == Pooling::none) {
      copy_map(x, output, output_layout);
      return;
    }
    const Shape want = output_shape(x.shape);
    if (output.shape() != want) output = Tensor(want, output_layout);
    const bool max = !options_.include_top && options_.pooling == Pooling::max;
    if (!options_.include_top) {
      global_pool(x, output.data(), max ? GlobalPool::max : GlobalPool::avg);
      return;
    }
    const FeatureMap pooled = global_pool(x, ws.free_buffer({x.data}), GlobalPool::avg);
    head_.forward(pooled.data, x.shape.n, output.data(), &ws.pool());
    if (*options_.classifier == Classifier::softmax) softmax_rows(output.data(), x.shape.n, options_.classes);
  }

  static void copy_map(const FeatureMap& x, Tensor& out, Layout layout) {
    if (out.shape() != x.shape || out.layout() != layout) out = Tensor(x.shape, layout);
    if (layout == Layout::nhwc) {
      std::memcpy(out.data(), x.data, sizeof(float) * static_cast<std::size_t>(x.shape.elements()));
      return;
    }
    const Shape s = x.shape;
    const std::size_t plane = static_cast<std::size_t>(s.h) * s.w;
    for (int n = 0; n < s.n; ++n)
      for (std::size_t p = 0; p < plane; ++p)
        for (int c = 0; c < s.c; ++c)
          out.data()[(static_cast<std::size_t>(n) * s.c + c) * plane + p] = x.data[(n * plane + p) * s.c + c];
  }

  ModelOptions options_;
  StemT stem_;
  StageTuple stages_;
  PostNorm post_;
  Dense<feature_channels> head_;
  bool backbone_ready_ = false;
  bool head_ready_ = false;
};

}  // namespace resnet
