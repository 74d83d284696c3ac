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

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "resnet/blocks/stage.hpp"
#include "resnet/core/error.hpp"
#include "resnet/core/fusion.hpp"
#include "resnet/core/math.hpp"
#include "resnet/core/precision.hpp"
#include "resnet/core/tensor.hpp"
#include "resnet/core/workspace.hpp"
#include "resnet/io/safetensors.hpp"
#include "resnet/io/torch_checkpoint.hpp"
#include "resnet/layers/batch_norm.hpp"
#include "resnet/layers/dense.hpp"
#include "resnet/layers/pooling.hpp"
#include "resnet/models/head_file.hpp"
#include "resnet/models/naming.hpp"

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
  /// What the convolutions compute in. fp32 (the default) is always available; bf16
  /// rounds weights (packed once, at load) and each conv's input to bfloat16 and
  /// accumulates in fp32, for the convs `lowp_layers` picks (the rest, the classifier and
  /// the maps between layers stay fp32; docs/lowp.md). int8 quantizes the weights per
  /// output channel (s8) and each conv's input per tensor (u8, by int8_ranges), sums in
  /// int32 and dequantizes in the epilogue; the classifier's weights are s8 per class,
  /// its features fp32; grouped convs stay fp32; maps pass from conv to conv as u8, and
  /// as u8 beside bf16 where a block adds them (docs/lowp.md).
  /// Constructing a model with a precision the CPU or build lacks (AVX512-BF16,
  /// AVX512-VNNI) throws ErrorKind::unsupported_cpu; int8 without int8_ranges throws
  /// ErrorKind::invalid_argument.
  Precision precision = Precision::fp32;
  LowpLayers lowp_layers = LowpLayers::measured;  ///< which convs a bf16 model runs in bf16
  /// int8: each conv input's calibrated range (calibrate() or load_ranges(),
  /// models/calibration.hpp); loading weights checks that they fit the model.
  ActivationRanges int8_ranges;
  /// A batch runs through the network this many images at a time, each group through
  /// every layer before the next (the same values as one pass). 0: as many as make about
  /// 8,192 input pixels (one image of 224x224, eight of CIFAR's 32x32), which measured
  /// fastest here: a whole batch of large images outgrows the caches (ResNet-50, 224x224,
  /// one thread: batch 8 took 1.2x (fp32) and 1.4x (int8) the time per image of batch 1),
  /// while single small images leave the threads too little work; and the late stages,
  /// whose maps are small, then run on several such groups at once (pass_plan(),
  /// docs/design.md).
  int images_per_pass = 0;
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

/// What one forward pass hands back: ask for any combination, from one loaded model.
/// What is not asked for is not computed (the classifier runs only for logits or
/// probabilities). Tensors are reshaped only when their shape or layout differs, so
/// repeated calls with one input shape allocate nothing.
struct Outputs {
  Tensor* logits = nullptr;         ///< (n, 1, 1, classes): the classifier's raw output; needs include_top
  Tensor* probabilities = nullptr;  ///< (n, 1, 1, classes): softmax of the logits; needs include_top
  Tensor* pooled = nullptr;         ///< (n, 1, 1, channels): global pool of the last feature map
  Tensor* features = nullptr;       ///< the last feature map (V2: after the final norm and ReLU)
  std::vector<Tensor>* stages = nullptr;  ///< each stage's output (C2..C5; V2: before the final norm)
  Layout layout = Layout::nhwc;           ///< layout of `features` and `stages`
  /// How `pooled` pools; unset: as the model's options say (avg, or max for a model built
  /// without the top and with pooling max). The classifier always reads the average.
  std::optional<GlobalPool> pooling;
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

  template <class Loader>
  void load(Loader& loader) {
    unit_.load(loader, loader.stem(), loader.stem_bn());
  }
  void init_random(RandomWeights& rng) { unit_.init_random(rng); }
  /// With a max pool, u8 values asked of the stem (an int8 model's first stage reads
  /// them) are the conv's output, which the pool keeps u8; bf16 ones beside them it cannot
  /// give. bf16 values alone (a bf16 model's) are likewise the conv's, kept by the pool.
  FeatureMap forward(const FeatureMap& x, Workspace& ws, const Fusion& fusion = {}) const {
    if constexpr (pooled) {
      Fusion into_pool;
      if (!fusion.residual && !fusion.relu()) {
        if (!fusion.bf16_output) into_pool.u8_output = fusion.u8_output;
        into_pool.bf16_output = fusion.bf16_output && !fusion.u8_output;
      }
      Fusion pool_fusion = fusion;
      if (!into_pool.u8_output) pool_fusion.u8_output = nullptr;
      if (!into_pool.u8_output && !into_pool.bf16_output) pool_fusion.bf16_output = false;
      return pool_.forward(unit_.forward(x, ws, into_pool), ws, pool_fusion);
    } else {
      return unit_.forward(x, ws, fusion);
    }
  }

 private:
  Unit unit_;
  std::conditional_t<pooled, Pool, NoPool> pool_;
};

/// Family-wide conventions: weight naming (models/naming.hpp), the classifier's default
/// output, the smallest input side accepted.
struct TorchFamily {
  using names = naming::Torchvision;
  static constexpr Classifier classifier = Classifier::logits;
  static constexpr int default_classes = 1000;
  static constexpr int min_side = 32;
};
struct KerasFamily {
  using names = naming::Keras;
  static constexpr Classifier classifier = Classifier::softmax;
  static constexpr int default_classes = 1000;
  static constexpr int min_side = 32;
};
struct CifarFamily {
  using names = naming::Cifar;
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
  using names = typename Family::names;
  static constexpr int stage_count = static_cast<int>(stage_count_);
  static constexpr int feature_channels = std::tuple_element_t<stage_count_ - 1, StageTuple>::out_channels;
  static constexpr int min_side = Family::min_side;

  explicit Network(ModelOptions options = {}) : options_(options), head_(resolve_classes(options)) {
    options_.classes = head_.classes();
    head_.use_int8_weights(options_.precision == Precision::int8);
    if (!options_.classifier) options_.classifier = Family::classifier;
    if (options_.max_batch_pixels < 1)
      throw Error(ErrorKind::invalid_argument, "ModelOptions: max_batch_pixels must be positive");
    if (options_.images_per_pass < 0)
      throw Error(ErrorKind::invalid_argument, "ModelOptions: images_per_pass must be 0 (automatic) or positive");
    require_precision(options_.precision);
    if (options_.precision == Precision::int8 && options_.int8_ranges.convs.empty())
      throw Error(ErrorKind::invalid_argument,
                  "ModelOptions: precision int8 needs the calibrated input range of every conv (int8_ranges: "
                  "calibrate() or load_ranges())");
  }

  const ModelOptions& options() const noexcept { return options_; }
  /// What the convs are built with; it points to this network's int8_ranges.
  ConvArithmetic arithmetic() const noexcept { return {options_.precision, options_.lowp_layers, &options_.int8_ranges, 0}; }
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
    rows.push_back({std::is_same_v<names, naming::Keras> ? "conv1" : "stem", "stem", {1, e.h, e.w, StemT::out_channels},
                    StemT::parameter_count(), StemT::non_trainable_count(), StemT::macs({height, width})});
    int stage = 0;
    auto add_stage = [&](auto tag) {
      using S = typename decltype(tag)::type;
      e = S::describe(e, [&](int b, Extent, Extent out, int channels, long long p, long long nt, long long m) {
        rows.push_back({names::block(stage, b), "block", {1, out.h, out.w, channels}, p, nt, m});
      });
      ++stage;
    };
    (add_stage(type_tag<Stages>{}), ...);
    if constexpr (post_normalised)
      rows.push_back({"post_bn", "norm", {1, e.h, e.w, feature_channels}, PostNorm::parameter_count(),
                      PostNorm::non_trainable_count(), 0});
    if (options_.include_top) {
      rows.push_back({"avg_pool", "pool", {1, 1, 1, feature_channels}, 0, 0, 0});
      rows.push_back({names::classifier(), "dense", {1, 1, 1, options_.classes}, Dense<feature_channels>::parameter_count(options_.classes), 0,
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
  /// `path` may be a safetensors file or a PyTorch checkpoint (.pth/.pt/.th, zip or legacy
  /// format), told apart by its first bytes; either is read one tensor at a time, so the
  /// file is never held whole.
  void load_weights(const std::string& path, WeightParts parts = WeightParts::all) {
    if (io::read_as_torch(io::detect_format(path))) load_weights(io::TorchCheckpoint::open(path), parts);
    else load_weights(io::SafeTensors::stream(path), parts);
  }
  void load_weights(const io::SafeTensors& file, WeightParts parts = WeightParts::all);
  void load_weights(const io::TorchCheckpoint& file, WeightParts parts = WeightParts::all);

  /// Loads only the classifier (`fc`, `linear` or `predictions`, as the family names
  /// it) with this model's class count, from a file holding nothing else (either format).
  /// A safetensors head may carry its class names (head_file.hpp); then class_names()
  /// returns them, and a name count other than classes() is an error.
  void load_head(const std::string& path) {
    if (io::read_as_torch(io::detect_format(path))) load_head(io::TorchCheckpoint::open(path));
    else load_head(io::SafeTensors::stream(path));
  }
  void load_head(const io::SafeTensors& file) {
    std::vector<std::string> names = head_file::decode_class_names(file.metadata(), file.name());
    if (!names.empty() && static_cast<int>(names.size()) != options_.classes)
      throw Error(ErrorKind::shape_mismatch, file.name() + ": the head has " + std::to_string(names.size()) +
                                                 " classes but the model was built with classes = " +
                                                 std::to_string(options_.classes));
    load_head_from(file);
    class_names_ = std::move(names);
  }
  void load_head(const io::TorchCheckpoint& file) {
    load_head_from(file);
    class_names_.clear();
  }

  /// Installs a head made in memory (a fitted one: resnet/transfer.hpp) without a file
  /// round trip. Its class count must be this model's; `class_names` is empty or one
  /// name per class.
  void set_head(Dense<feature_channels> head, std::vector<std::string> class_names = {}) {
    if (!options_.include_top)
      throw Error(ErrorKind::invalid_argument, "set_head: the model was built without its top (include_top = false)");
    if (head.classes() != options_.classes)
      throw Error(ErrorKind::shape_mismatch, "set_head: the head has " + std::to_string(head.classes()) +
                                                 " classes but the model was built with classes = " +
                                                 std::to_string(options_.classes));
    if (head.weight().empty())
      throw Error(ErrorKind::invalid_argument, "set_head: the head has no weights");
    if (!class_names.empty() && static_cast<int>(class_names.size()) != options_.classes)
      throw Error(ErrorKind::shape_mismatch, "set_head: " + std::to_string(class_names.size()) +
                                                 " class names for " + std::to_string(options_.classes) + " classes");
    head.use_int8_weights(options_.precision == Precision::int8);  // may throw: before anything changes
    head_ = std::move(head);
    head_ready_ = true;
    class_names_ = std::move(class_names);
  }

  /// The class names of the head, when it came with them (load_head() of a file that
  /// carries them, or set_head()); otherwise empty.
  const std::vector<std::string>& class_names() const noexcept { return class_names_; }

  /// Writes the head alone, in the family's naming and with class_names() in the
  /// metadata, so that load_head() of another model of this type reads it back. The file
  /// appears complete or not at all (written beside `path`, then renamed).
  void save_head(const std::string& path) const {
    if (!options_.include_top || !head_ready_)
      throw Error(ErrorKind::invalid_argument, "save_head: the model has no classifier weights to save");
    std::map<std::string, std::string> metadata;
    if (!class_names_.empty()) metadata[head_file::classes_key] = head_file::encode_class_names(class_names_);
    io::write_safetensors(
        path, head_file::head_tensors<names>(options_.classes, feature_channels, head_.weight(), head_.bias()),
        metadata);
  }

  /// Seeded random weights, for benchmarks and demos without a weight file.
  /// On error (int8 ranges that do not fit) the model is left unchanged.
  void init_random(std::uint64_t seed = 0);

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

  /// How forward() groups a batch of `shape`: passes of `images` images, in each of
  /// which the stem runs on groups of `group[0]` images and stage s on groups of
  /// `group[s + 1]`. Groups never shrink; where a group grows, the maps of the smaller
  /// groups before it are gathered into one (the last of them may be short).
  ///
  /// Automatic (images_per_pass 0): the stem and the early stages take images for about
  /// 8,192 input pixels a group. The first stage whose input map takes 4x as many images
  /// for as many pixels starts the late stages, and a pass holds that many images (up to
  /// 8,192 pixels of that stage's input). The late stages run on the images of several
  /// early groups at once, so their weights, larger than their maps (ResNet-50's last
  /// stage: 15 MB in fp32 for 49 pixels an image), are read once for several images; but
  /// no more than about 2^19 values of a stage's output a group, for beyond that a
  /// block's output and the residual it adds leave the core's cache (ResNet-101's stage
  /// 3 on 8 images gathered took 8-12 % longer a pass than in groups of 2, every
  /// precision; docs/design.md). ResNet-50 at 224x224, batch 8: stage 3 on 2 images at
  /// a time, stage 4 on 4. A set images_per_pass is one group through every stage.
  struct PassPlan {
    int images = 1;                             ///< per pass of the workspace
    std::array<int, stage_count_ + 1> group{};  ///< images per group: the stem, then each stage
  };
  PassPlan pass_plan(const Shape& shape) const {
    PassPlan plan;
    if (options_.images_per_pass > 0) {
      plan.images = options_.images_per_pass;
      plan.group.fill(plan.images);
      return plan;
    }
    constexpr long long kGroupPixels = 8192, kLateGroupValues = 1 << 19;
    const auto images_for = [](long long per_image, long long budget, int least, int most) {
      return static_cast<int>(std::clamp<long long>(budget / std::max(1LL, per_image), least, most));
    };
    const auto equal_groups = [](int images, int most) {  // 8 in at most 5: 4 + 4, not 5 + 3
      const int groups = (images + most - 1) / most;
      return (images + groups - 1) / groups;
    };
    const int early = images_for(1LL * shape.h * shape.w, kGroupPixels, 1, shape.n);
    std::array<Extent, stage_count_ + 1> extent{};  // each stage's input, then the last output
    extent[0] = StemT::output_extent({shape.h, shape.w});
    std::size_t i = 0;
    ((extent[i + 1] = Stages::output_extent(extent[i]), ++i), ...);
    const std::array<int, stage_count_> channels{Stages::out_channels...};
    plan.group.fill(early);
    for (std::size_t stage = 0; stage < stage_count_; ++stage) {
      const int late = images_for(1LL * extent[stage].h * extent[stage].w, kGroupPixels, early, shape.n);
      if (late < 4 * early) continue;
      const int gathered = equal_groups(shape.n, late);  // equal passes: 32 as 8 x 4, not 10 x 3 + 2
      for (std::size_t s = stage; s < stage_count_; ++s) {
        const int before = plan.group[s];
        const long long values = 1LL * extent[s + 1].h * extent[s + 1].w * channels[s];
        const int most = images_for(values, kLateGroupValues, before, gathered);
        plan.group[s + 1] = std::max(before, equal_groups(gathered, most));
      }
      break;
    }
    plan.images = plan.group[stage_count_];  // a pass: one group of the last stage
    return plan;
  }

  /// Runs the network on `input` (NHWC or NCHW, as its layout says; 3 channels) and
  /// writes what the model's options ask for: the classifier's output with the top; without
  /// it the pooled features, or the last feature map (in `output_layout`) for pooling none.
  /// `output` is reshaped only when its shape or layout differs.
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
    Outputs wanted;
    wanted.layout = output_layout;
    if (options_.include_top)
      (*options_.classifier == Classifier::softmax ? wanted.probabilities : wanted.logits) = &output;
    else if (options_.pooling == Pooling::none)
      wanted.features = &output;
    else
      wanted.pooled = &output;
    forward(data, size, shape, layout, wanted, ws);
  }

  /// Any combination of stage maps, last feature map, pooled features and logits from
  /// one pass (see Outputs).
  void forward(const Tensor& input, const Outputs& outputs, Workspace& ws) const {
    forward(input.data(), input.size(), input.shape(), input.layout(), outputs, ws);
  }
  void forward(const float* data, std::size_t size, const Shape& shape, Layout layout, const Outputs& outputs,
               Workspace& ws) const;

  /// The stage outputs (C2..C5 for ImageNet models), for detection or segmentation
  /// heads; each in `layout`. The head is not run.
  void forward_stages(const Tensor& input, std::vector<Tensor>& stages, Workspace& ws,
                      Layout layout = Layout::nhwc) const {
    Outputs wanted;
    wanted.stages = &stages;
    wanted.layout = layout;
    forward(input, wanted, ws);
  }

 private:
  static int resolve_classes(const ModelOptions& o) {
    if (o.classes < 0)
      throw Error(ErrorKind::invalid_argument, "ModelOptions: classes must be positive, got " + std::to_string(o.classes));
    return o.classes == 0 ? Family::default_classes : o.classes;
  }

  // Built on a copy, assigned only when everything loaded: a failed load changes nothing.
  template <class File>
  void load_file(const File& file, WeightParts parts) {
    Network fresh(options_);
    fresh.head_ = head_;
    fresh.head_ready_ = head_ready_;
    WeightLoader<names> loader(file);
    loader.arithmetic = arithmetic();
    fresh.load_from(loader, parts == WeightParts::all && options_.include_top);
    loader.finish();
    check_conv_count(loader.arithmetic);
    *this = std::move(fresh);
  }

  // Each int8 conv took its range by index; a model with fewer convs than the ranges
  // would otherwise take another model's ranges without a word.
  void check_conv_count(const ConvArithmetic& built) const {
    if (options_.precision != Precision::int8) return;
    const std::size_t held = options_.int8_ranges.convs.size();
    if (held != static_cast<std::size_t>(built.convs))
      throw Error(ErrorKind::shape_mismatch, options_.int8_ranges.label() + ": " + std::to_string(held) +
                                                 " conv inputs, but this model has " + std::to_string(built.convs) +
                                                 " convs (were they calibrated for another model?)");
  }

  template <class File>
  void load_head_from(const File& file) {
    if (!options_.include_top)
      throw Error(ErrorKind::invalid_argument, "load_head: the model was built without its top (include_top = false)");
    Dense<feature_channels> head(options_.classes);
    head.use_int8_weights(options_.precision == Precision::int8);
    WeightLoader<names> loader(file);
    check_head_width(file, loader.classifier());
    head.load(loader, loader.classifier());
    loader.finish();
    head_ = std::move(head);
    head_ready_ = true;
  }

  /// A head fitted on another backbone has the wrong input width; say so in those words
  /// rather than as a bare shape mismatch.
  template <class File>
  void check_head_width(const File& file, const std::string& site) const {
    const auto* bias = file.find(site + (names::keras_layout ? "/bias" : ".bias"));
    const auto* weight = file.find(site + (names::keras_layout ? "/kernel" : ".weight"));
    if (!bias || !weight || bias->shape.size() != 1 || weight->shape.size() != 2) return;  // the loader names what is wrong
    const std::int64_t classes = bias->shape[0];
    const std::int64_t width = weight->shape[names::keras_layout ? 0 : 1];
    if (width != feature_channels)
      throw Error(ErrorKind::shape_mismatch, file.name() + ": the head takes " + std::to_string(width) +
                                                 " features but this backbone gives " +
                                                 std::to_string(feature_channels) +
                                                 " (was it fitted on another model?)");
    if (classes != options_.classes)
      throw Error(ErrorKind::shape_mismatch, file.name() + ": the head has " + std::to_string(classes) +
                                                 " classes but the model was built with classes = " +
                                                 std::to_string(options_.classes));
  }

  void load_from(WeightLoader<names>& loader, bool with_head) {
    stem_.load(loader);
    int index = 0;
    std::apply([&](auto&... stage) { (stage.load(loader, index++), ...); }, stages_);
    if constexpr (post_normalised) post_.load(loader, loader.post_bn());
    if (with_head) {
      head_.load(loader, loader.classifier());
      head_ready_ = true;
    } else {
      loader.skip(loader.classifier());
    }
    backbone_ready_ = true;
  }

  void check_input(const float* data, std::size_t size, const Shape& s) const {
    if (!backbone_ready_)
      throw Error(ErrorKind::invalid_argument, "forward: the model has no weights; call load_weights() or init_random()");
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

  /// f(stage, index) for each stage in order; index() is the stage's index, a constant.
  template <class F>
  void for_each_stage(F&& f) const {
    for_each_stage_impl(f, std::make_index_sequence<stage_count_>{});
  }
  template <class F, std::size_t... I>
  void for_each_stage_impl(F& f, std::index_sequence<I...>) const {
    (f(std::get<I>(stages_), std::integral_constant<std::size_t, I>{}), ...);
  }

  /// What the stem writes: u8 values (and bf16 ones) where the first stage takes them, or
  /// bf16 values alone (a bf16 model's).
  Fusion stem_fusion(const Workspace& ws) const {
    return ws.conv_input_observer() ? Fusion{} : detail::handover_to(std::get<0>(stages_));
  }

  /// What stage I's last block writes: for an int8 stage followed by one whose first
  /// block takes its input as u8 values (Stage::u8_input()), those, and bf16 ones where
  /// that block adds its input as the residual; for a bf16 stage followed by one that takes
  /// bf16 values (Stage::bf16_input()), those; fp32 where anyone else reads the map (the
  /// caller's stage outputs, a calibration, the last stage's pooling and features).
  template <std::size_t I>
  Fusion stage_fusion(bool stages_read, const Workspace& ws) const {
    if constexpr (I + 1 < stage_count_) {
      if (!stages_read && !ws.conv_input_observer()) return detail::handover_to(std::get<I + 1>(stages_));
    }
    return {};
  }

  /// Copies map `from` into `to` (a map of more images) from image `offset` on, in its
  /// form: fp32, u8, or bf16 then u8 (FeatureMap), each part at its offset.
  static void copy_images(const FeatureMap& from, FeatureMap& to, int offset, const Workspace& ws) {
    if (from.u8()) to.set_u8(from.u8_scale(), from.u8_zero_point());
    if (from.bf16()) to.set_bf16();
    if (ws.planning()) return;
    const std::size_t at = static_cast<std::size_t>(offset) * (to.size() / static_cast<std::size_t>(to.shape().n));
    const std::size_t count = from.size();
    if (from.bf16()) std::memcpy(to.bf16_data() + at, from.bf16_data(), sizeof(std::uint16_t) * count);
    if (from.u8()) std::memcpy(to.u8_data() + at, from.u8_data(), count);
    if (!from.u8() && !from.bf16()) std::memcpy(to.data() + at, from.data(), sizeof(float) * count);
  }

  /// Copies a map of images [first, first + x's batch) out of the workspace, in the
  /// computing pass, into `out`, shaped for all `batch` images.
  static void copy_out(const FeatureMap& x, Tensor& out, Layout layout, int first, int batch, const Workspace& ws) {
    if (ws.planning()) return;
    Shape whole = x.shape();
    whole.n = batch;
    if (out.shape() != whole || out.layout() != layout) out = Tensor(whole, layout);
    const std::size_t per_image = static_cast<std::size_t>(whole.h) * whole.w * whole.c;
    detail::convert_layout(x.data(), out.data() + per_image * first, x.shape(), Layout::nhwc, layout);
  }

  ModelOptions options_;
  StemT stem_;
  StageTuple stages_;
  PostNorm post_;
  Dense<feature_channels> head_;
  std::vector<std::string> class_names_;
  bool backbone_ready_ = false;
  bool head_ready_ = false;
};

// ---- the heavy members, outside the class ----
// Defined out of the class body, so they are not inline: a program built with
// RESNET_SEPARATE_COMPILATION compiles them once per named model (RESNET_SEPARATE_MODEL,
// src/models_*.cpp) instead of in every translation unit that uses the model.

template <class Family, class StemT, class PostNorm, class... Stages>
void Network<Family, StemT, PostNorm, Stages...>::load_weights(const io::SafeTensors& file, WeightParts parts) {
  load_file(file, parts);
}
template <class Family, class StemT, class PostNorm, class... Stages>
void Network<Family, StemT, PostNorm, Stages...>::load_weights(const io::TorchCheckpoint& file, WeightParts parts) {
  load_file(file, parts);
}

template <class Family, class StemT, class PostNorm, class... Stages>
void Network<Family, StemT, PostNorm, Stages...>::init_random(std::uint64_t seed) {
  Network fresh(options_);
  fresh.class_names_ = class_names_;
  RandomWeights rng(seed);
  rng.arithmetic = arithmetic();
  fresh.stem_.init_random(rng);
  std::apply([&](auto&... stage) { (stage.init_random(rng), ...); }, fresh.stages_);
  if constexpr (post_normalised) fresh.post_.init_random(rng);
  fresh.head_.init_random(rng);
  check_conv_count(rng.arithmetic);
  fresh.backbone_ready_ = fresh.head_ready_ = true;
  *this = std::move(fresh);
}

template <class Family, class StemT, class PostNorm, class... Stages>
void Network<Family, StemT, PostNorm, Stages...>::forward(const float* data, std::size_t size, const Shape& shape, Layout layout,
                                                  const Outputs& outputs, Workspace& ws) const {
  check_input(data, size, shape);
  const bool classify = outputs.logits || outputs.probabilities;
  if (classify && !options_.include_top)
    throw Error(ErrorKind::invalid_argument, "forward: logits or probabilities asked for, but the model was built "
                                             "without its top (include_top = false)");
  // Features alone need no head: a backbone's features are what a new head is fitted on.
  if (classify && !head_ready_)
    throw Error(ErrorKind::invalid_argument,
                "forward: the classifier has no weights; call load_head() after loading a backbone");
  if (outputs.stages) outputs.stages->resize(stage_count_);
  const bool max_by_options = !options_.include_top && options_.pooling == Pooling::max;
  const GlobalPooling pool{outputs.pooling.value_or(max_by_options ? GlobalPool::max : GlobalPool::avg)};
  // Stages [from, to) on x, images [first, first + x's batch) of the input. A statement
  // per stage, not one fold of assignments: each stage's input map is released as soon as
  // the stage has run (see Sequential::forward_unit).
  const auto run_stages = [&](FeatureMap& x, std::size_t from, std::size_t to, int first) {
    for_each_stage([&](const auto& stage, auto index) {
      if (index() < from || index() >= to) return;
      x = stage.forward(x, ws, this->template stage_fusion<decltype(index)::value>(outputs.stages != nullptr, ws));
      if (outputs.stages) copy_out(x, (*outputs.stages)[index()], outputs.layout, first, shape.n, ws);
    });
  };
  const PassPlan plan = pass_plan(shape);
  // Images [first, first + part.n), a pass of the workspace each (planning, computing).
  const auto pass = [&](int first, const Shape& part) {
    ws.run([&] {
      // The map after the stem and stages [0, end - 1) of images [offset, offset +
      // count) of the pass: levels (the stem, then the stages) [begin, end) share one
      // group size; the levels before them ran on smaller groups, gathered here.
      const auto through = [&](const auto& self, std::size_t end, int offset, int count) -> FeatureMap {
        std::size_t begin = end - 1;
        while (begin > 0 && plan.group[begin - 1] == plan.group[end - 1]) --begin;
        FeatureMap x;
        if (begin == 0) {
          Shape group = part;
          group.n = count;
          const float* group_data = data + static_cast<std::size_t>(first + offset) * shape.h * shape.w * shape.c;
          x = stem_.forward(ws.import(group_data, group, layout), ws, stem_fusion(ws));
          begin = 1;
        } else if (plan.group[begin - 1] >= count) {  // a pass's last, short group
          x = self(self, begin, offset, count);
        } else {
          const int smaller = plan.group[begin - 1];
          for (int at = 0; at < count; at += smaller) {
            const FeatureMap y = self(self, begin, offset + at, std::min(smaller, count - at));
            if (at == 0) {
              Shape whole = y.shape();
              whole.n = count;
              x = ws.allocate(whole);
            }
            copy_images(y, x, at, ws);
          }
        }
        run_stages(x, begin - 1, end - 1, first + offset);
        return x;
      };
      FeatureMap x = through(through, stage_count_ + 1, 0, part.n);
      if (!outputs.features && !outputs.pooled && !classify) return;
      if constexpr (post_normalised) x = post_.forward(x, ws, Fusion{nullptr, Act::relu});
      if (outputs.features) copy_out(x, *outputs.features, outputs.layout, first, shape.n, ws);
      if (!outputs.pooled && !classify) return;
      const FeatureMap pooled = pool.forward(x, ws);
      if (outputs.pooled) copy_out(pooled, *outputs.pooled, Layout::nhwc, first, shape.n, ws);
      if (!classify) return;
      const FeatureMap head_in = pool.kind == GlobalPool::avg ? pooled : GlobalPooling{GlobalPool::avg}.forward(x, ws);
      const FeatureMap logits = head_.forward(head_in, ws);
      if (outputs.logits) copy_out(logits, *outputs.logits, Layout::nhwc, first, shape.n, ws);
      if (!outputs.probabilities) return;
      copy_out(logits, *outputs.probabilities, Layout::nhwc, first, shape.n, ws);
      if (!ws.planning())
        softmax_rows(outputs.probabilities->data() + static_cast<std::size_t>(first) * options_.classes, part.n,
                     options_.classes);
    });
  };
  for (int first = 0; first < shape.n; first += plan.images) {
    Shape part = shape;
    part.n = std::min(plan.images, shape.n - first);
    pass(first, part);
  }
}

/// A named model: the network type under a short name of its own, which keeps symbols
/// and compiler messages short, with the constructors of its base.
#define RESNET_NAMED_MODEL(Name, ...)               \
  struct Name : __VA_ARGS__ {                       \
    using Base = __VA_ARGS__;                       \
    using Base::Base;                               \
    static constexpr const char* name = #Name;      \
  }

/// Separate compilation of named models (core/separate.hpp). RESNET_MODEL_MEMBERS names
/// the members above, the ones that instantiate every block and kernel beneath them, for
/// an explicit instantiation of one named model: RESNET_SEPARATE_MODEL declares them
/// (`extern template`) when the program defines RESNET_SEPARATE_COMPILATION, so that
/// translation units using the model only call them, and RESNET_INSTANTIATE_MODEL defines
/// them, once per program (the library's models: src/models_*.cpp). Both go at namespace
/// scope outside the model's own namespace if that is not `resnet`, with its qualified name.
#define RESNET_MODEL_MEMBERS(extern_, Model)                                                                       \
  extern_ template void Model::Base::forward(const float*, std::size_t, const ::resnet::Shape&, ::resnet::Layout, \
                                             const ::resnet::Outputs&, ::resnet::Workspace&) const;              \
  extern_ template void Model::Base::init_random(std::uint64_t);                                                 \
  extern_ template void Model::Base::load_weights(const ::resnet::io::SafeTensors&, ::resnet::WeightParts);      \
  extern_ template void Model::Base::load_weights(const ::resnet::io::TorchCheckpoint&, ::resnet::WeightParts)
#if defined(RESNET_SEPARATE_COMPILATION)
#define RESNET_SEPARATE_MODEL(Model) RESNET_MODEL_MEMBERS(extern, Model)
#else
#define RESNET_SEPARATE_MODEL(Model) static_assert(true, "")
#endif
#define RESNET_INSTANTIATE_MODEL(Model) RESNET_MODEL_MEMBERS(, Model)

}  // namespace resnet
