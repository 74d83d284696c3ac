// The subcommands, written once against AnyNetwork. This is the only translation
// unit of the tool that includes the image decoder.

#include "commands.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <resnet/core/math.hpp>
#include <resnet/transfer.hpp>
#include <resnet/vision.hpp>

namespace resnet_cli {
namespace {

namespace fs = std::filesystem;
using resnet::Error;
using resnet::ErrorKind;
using resnet::Tensor;

// ---- formatting ----

std::string grouped(long long v) {
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

std::string fixed(double v, int decimals) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(decimals);
  s << v;
  return s.str();
}

std::string pad_right(const std::string& s, std::size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}
std::string pad_left(const std::string& s, std::size_t width) {
  return s.size() >= width ? " " + s : std::string(width - s.size(), ' ') + s;
}

std::string scaled(double v, const char* unit) {
  if (v >= 1e9) return fixed(v / 1e9, 2) + " G" + unit;
  if (v >= 1e6) return fixed(v / 1e6, 2) + " M" + unit;
  if (v >= 1e3) return fixed(v / 1e3, 2) + " K" + unit;
  return fixed(v, 0) + " " + unit;
}

const char* pooling_name(resnet::Pooling p) {
  switch (p) {
    case resnet::Pooling::avg: return "avg";
    case resnet::Pooling::max: return "max";
    default: return "none";
  }
}

// ---- shared steps ----

resnet::ModelOptions model_options(const Command& cmd, int classes) {
  resnet::ModelOptions o;
  o.include_top = !cmd.no_top;
  o.pooling = cmd.pooling;
  o.classes = classes;
  o.precision = cmd.precision;
  o.lowp_layers = cmd.lowp_layers;
  return o;
}

/// The model of cmd.model with `options`, and for int8 the ranges of --ranges; a ranges
/// file calibrated for another model type is an Error before any weight is read.
std::unique_ptr<AnyNetwork> make_model(const Command& cmd, NetworkFactory make, resnet::ModelOptions options) {
  const bool ranged = options.precision == resnet::Precision::int8 && !cmd.ranges.empty();
  if (ranged) options.int8_ranges = resnet::load_ranges(cmd.ranges);
  auto net = make(options);
  const std::string calibrated = options.int8_ranges.model;
  if (ranged && !calibrated.empty() && calibrated != net->type_name())
    throw Error(ErrorKind::invalid_argument, cmd.ranges + ": calibrated for " + calibrated + ", not " +
                                                 net->type_name() + " (" + cmd.model + ")");
  return net;
}

/// Runs `net` over `batches`, recording its conv inputs, and returns their ranges.
resnet::ActivationRanges observe_ranges(const AnyNetwork& net, const std::vector<Tensor>& batches, resnet::Workspace& ws,
                                        const resnet::CalibrationOptions& options) {
  resnet::RangeRecorder recorder;
  Tensor features;
  resnet::Outputs wanted;  // the backbone alone: the convs are all a calibration needs
  wanted.features = &features;
  long long images = 0;
  {
    const resnet::ObservedWorkspace observed(ws, recorder);
    for (const Tensor& batch : batches) {
      net.forward(batch, wanted, ws);
      images += batch.shape().n;
    }
  }
  resnet::ActivationRanges r = recorder.ranges(options);
  r.model = net.type_name();
  r.images = images;
  return r;
}

InputSize network_input(const Command& cmd, const ModelInfo& info, const AnyNetwork& net) {
  const InputSize in = cmd.input.value_or(InputSize{info.crop, info.crop});
  if (in.height < net.min_side() || in.width < net.min_side())
    throw UsageError("--input " + std::to_string(in.height) + "x" + std::to_string(in.width) + " is smaller than " +
                     info.name + "'s minimum of " + std::to_string(net.min_side()) + "x" +
                     std::to_string(net.min_side()));
  return in;
}

using ImagePipeline = resnet::ImagePreprocessing;

ImagePipeline image_pipeline(const Command& cmd, const ModelInfo& info, const AnyNetwork& net) {
  ImagePipeline p{cmd.preprocess.value_or(info.preprocess), cmd.resize.value_or(info.resize),
                  cmd.crop.value_or(info.crop)};
  if (!cmd.resize && cmd.crop && *cmd.crop > p.resize) p.resize = *cmd.crop;  // --crop alone: no upscaling surprise
  if (p.crop > p.resize)
    throw UsageError("--crop " + std::to_string(p.crop) + " is larger than --resize " + std::to_string(p.resize));
  if (p.crop < net.min_side())
    throw UsageError("--crop " + std::to_string(p.crop) + " is smaller than " + info.name + "'s minimum side of " +
                     std::to_string(net.min_side()));
  return p;
}

bool is_builtin_labels(const std::string& s) { return s == "imagenet" || s == "cifar10"; }

/// The class count of a --head file: its class names, else its bias length (0 when the
/// file is a PyTorch checkpoint, whose head load_head() checks against --classes).
int head_file_classes(const std::string& path) {
  if (path.empty() || resnet::io::read_as_torch(resnet::io::detect_format(path))) return 0;
  const resnet::io::SafeTensors file = resnet::io::SafeTensors::stream(path);
  const std::vector<std::string> names = resnet::head_file::decode_class_names(file.metadata(), path);
  if (!names.empty()) return static_cast<int>(names.size());
  for (const resnet::io::TensorInfo& t : file.tensors()) {
    const std::string& n = t.name;
    const bool bias = n.size() >= 4 && n.compare(n.size() - 4, 4, "bias") == 0;
    if (bias && t.shape.size() == 1 && t.shape[0] > 0 && t.shape[0] <= (1 << 20)) return static_cast<int>(t.shape[0]);
  }
  return 0;
}

/// The class count: --classes, else the --head file's, else the length of a --labels file,
/// else the model's default.
int resolve_classes(const Command& cmd, std::vector<std::string>& file_labels) {
  if (!cmd.labels.empty() && !is_builtin_labels(cmd.labels)) file_labels = resnet::load_labels(cmd.labels);
  if (cmd.classes) return *cmd.classes;
  if (const int from_head = head_file_classes(cmd.head)) return from_head;
  return file_labels.empty() ? 0 : static_cast<int>(file_labels.size());
}

/// The backbone of --weights, and the head of --head when given (else the file's own).
void load_model_weights(const Command& cmd, AnyNetwork& net) {
  if (cmd.head.empty()) {
    net.load_weights(cmd.weights);
    return;
  }
  net.load_weights(cmd.weights, resnet::WeightParts::backbone);
  net.load_head(cmd.head);
}

/// Labels in this order: a --labels file, the names a --head file carries, --labels
/// imagenet/cifar10, the model's dataset, "class i".
std::vector<std::string> resolve_labels(const Command& cmd, const ModelInfo& info, int classes,
                                        std::vector<std::string> file_labels, const std::vector<std::string>& head_names) {
  auto from = [](const auto& builtin) { return std::vector<std::string>(builtin.begin(), builtin.end()); };
  std::vector<std::string> labels;
  if (!file_labels.empty()) {
    labels = std::move(file_labels);
  } else if (!head_names.empty() && cmd.labels.empty()) {
    labels = head_names;
  } else if (cmd.labels == "imagenet" || (cmd.labels.empty() && cmd.head.empty() && !info.cifar_labels && classes == 1000)) {
    labels = from(resnet::imagenet_labels());
  } else if (cmd.labels == "cifar10" || (cmd.labels.empty() && cmd.head.empty() && info.cifar_labels && classes == 10)) {
    labels = from(resnet::cifar10_labels());
  } else {
    for (int i = 0; i < classes; ++i) labels.push_back("class " + std::to_string(i));
  }
  if (static_cast<int>(labels.size()) != classes)
    throw UsageError("--labels " + cmd.labels + " has " + std::to_string(labels.size()) + " labels but the model has " +
                     std::to_string(classes) + " classes (set --classes or use a matching label file)");
  return labels;
}

/// Checked before allocating the input, so a typo in --batch is an error, not an OOM.
void check_batch_pixels(const AnyNetwork& net, int batch, int height, int width) {
  const long long pixels = 1LL * batch * height * width;
  if (pixels > net.options().max_batch_pixels)
    throw UsageError("--batch " + std::to_string(batch) + " of " + std::to_string(height) + "x" +
                     std::to_string(width) + " images is " + std::to_string(pixels) + " pixels, over the limit of " +
                     std::to_string(net.options().max_batch_pixels));
}

// ---- summary ----

int summary(const Command& cmd, const ModelInfo& info, NetworkFactory make) {
  auto net = make(model_options(cmd, cmd.classes.value_or(0)));
  const InputSize in = network_input(cmd, info, *net);
  const std::vector<resnet::LayerSummary> rows = net->summary(in.height, in.width);
  const bool keras = net->keras_counting();
  const resnet::ModelOptions& o = net->options();

  std::string head = o.include_top ? std::to_string(o.classes) + " classes" +
                                         (o.classifier == resnet::Classifier::softmax ? ", softmax" : ", logits")
                                   : std::string("no top, pooling ") + pooling_name(o.pooling);
  std::cout << "Model: \"" << info.name << "\"  " << info.description << "\n"
            << "Input: " << in.height << "x" << in.width << "x3, " << head << "\n";
  const std::size_t w_name = 26, w_shape = 20, w_param = 14, w_macs = 18;
  const std::string rule(w_name + w_shape + w_param + w_macs, '=');
  std::cout << rule << "\n"
            << pad_right("Layer (type)", w_name) << pad_right("Output shape", w_shape) << pad_left("Param #", w_param)
            << pad_left("MACs", w_macs) << "\n"
            << rule << "\n";
  long long trainable = 0, non_trainable = 0, macs = 0;
  for (const auto& r : rows) {
    const std::string shape = "(None, " + std::to_string(r.output.h) + ", " + std::to_string(r.output.w) + ", " +
                              std::to_string(r.output.c) + ")";
    const long long params = r.parameters + (keras ? r.non_trainable : 0);
    std::cout << pad_right(r.name + " (" + r.kind + ")", w_name) << pad_right(shape, w_shape)
              << pad_left(grouped(params), w_param) << pad_left(grouped(r.macs), w_macs) << "\n";
    trainable += r.parameters;
    non_trainable += r.non_trainable;
    macs += r.macs;
  }
  std::cout << rule << "\n";
  if (keras) {
    std::cout << "Total params: " << grouped(trainable + non_trainable) << "\n"
              << "Trainable params: " << grouped(trainable) << "\n"
              << "Non-trainable params: " << grouped(non_trainable) << "\n";
  } else {
    std::cout << "Total params: " << grouped(trainable) << "\n"
              << "Trainable params: " << grouped(trainable) << "\n"
              << "Non-trainable params: 0\n"
              << "Buffers (BN running mean/var, not counted by PyTorch): " << grouped(non_trainable) << "\n";
  }
  std::cout << "MACs: " << grouped(macs) << " (" << scaled(static_cast<double>(macs), "MACs")
            << " per image; convolutions and the dense layer)\n";
  return 0;
}

// ---- classify ----

int classify(const Command& cmd, const ModelInfo& info, NetworkFactory make) {
  if (cmd.no_top) throw UsageError("classify needs the classifier; --no-top is for summary and bench");
  std::vector<std::string> file_labels;
  const int classes_wanted = resolve_classes(cmd, file_labels);
  auto net = make_model(cmd, make, model_options(cmd, classes_wanted));
  const int classes = net->options().classes;
  const ImagePipeline pipeline = image_pipeline(cmd, info, *net);
  load_model_weights(cmd, *net);
  const std::vector<std::string> labels =
      resolve_labels(cmd, info, classes, std::move(file_labels), net->class_names());
  const bool probabilities = net->options().classifier == resnet::Classifier::softmax;

  resnet::Workspace ws(cmd.threads);
  Tensor input(resnet::Shape{1, pipeline.crop, pipeline.crop, 3});
  Tensor output;
  int failures = 0;
  for (const std::string& path : cmd.images) {
    try {
      resnet::load_preprocessed(path, pipeline, input.data());
    } catch (const std::exception& e) {
      std::cerr << "resnet classify: skipped " << e.what() << "\n";
      ++failures;
      continue;
    }
    net->forward(input, output, ws);
    const Tensor scores = probabilities ? output : resnet::softmax(output);
    const auto predictions = resnet::decode_predictions(scores, cmd.top, labels)[0];
    std::cout << path << "\n";
    for (const auto& p : predictions) {
      const std::string percent = p.score < 0.00005f ? "<0.01%" : fixed(100.0 * p.score, 2) + "%";
      std::cout << "  " << pad_left(percent, 8) << "  " << p.label << "  (class " << p.index << ")\n";
    }
  }
  return failures == 0 ? 0 : 1;
}

// ---- progress (eval, train-head) ----

/// A progress bar on a terminal; elsewhere (logs, CI) a plain line every tenth.
class Progress {
 public:
  Progress(std::string what, std::size_t total)
      : what_(std::move(what)), total_(total), tty_(isatty(fileno(stderr)) != 0) {}

  /// `status` follows the count ("top-1 81.0%").
  void update(std::size_t done, const std::string& status, double seconds) {
    const double rate = seconds > 0 ? done / seconds : 0.0;
    if (tty_) {
      const int width = 30;
      const int filled = total_ ? static_cast<int>(width * done / total_) : width;
      std::cerr << "\r[" << std::string(filled, '#') << std::string(width - filled, '.') << "] " << done << "/"
                << total_ << "  " << status << (status.empty() ? "" : "  ") << fixed(rate, 0) << " img/s"
                << std::flush;
      drawn_ = true;
    } else if (done == total_ || done * 10 / std::max<std::size_t>(total_, 1) > tenths_) {
      tenths_ = done * 10 / std::max<std::size_t>(total_, 1);
      std::cerr << what_ << ": " << done << "/" << total_ << " images" << (status.empty() ? "" : ", ") << status
                << "\n";
    }
  }
  /// A message that must not be drawn over by the bar.
  void message(const std::string& text) {
    if (drawn_) std::cerr << "\r\033[K";
    std::cerr << text << "\n";
  }
  void finish() {
    if (drawn_) std::cerr << "\n";
    drawn_ = false;
  }

 private:
  std::string what_;
  std::size_t total_;
  bool tty_;
  bool drawn_ = false;
  std::size_t tenths_ = 0;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// ---- eval ----

int eval(const Command& cmd, const ModelInfo& info, NetworkFactory make) {
  if (cmd.no_top) throw UsageError("eval needs the classifier; --no-top is for summary and bench");
  const resnet::ImageFolder folder = resnet::read_image_folder(cmd.folder);
  const std::vector<std::string>& class_names = folder.classes;

  auto net = make_model(cmd, make, model_options(cmd, cmd.classes.value_or(head_file_classes(cmd.head))));
  const int classes = net->options().classes;
  const ImagePipeline pipeline = image_pipeline(cmd, info, *net);
  const int batch = cmd.batch.value_or(32);
  check_batch_pixels(*net, batch, pipeline.crop, pipeline.crop);
  load_model_weights(cmd, *net);
  if (static_cast<int>(class_names.size()) != classes)
    std::cerr << "resnet eval: note: " << class_names.size() << " class folders but the model has " << classes
              << " classes; folder i (in sorted order) is compared with class i\n";
  else if (!net->class_names().empty() && net->class_names() != class_names)
    std::cerr << "resnet eval: note: the head's class names differ from the folder names; folder i (in sorted "
                 "order) is compared with class i\n";

  resnet::Workspace ws(cmd.threads);
  std::vector<float> staging;
  std::vector<std::string> failures;
  Tensor input, output;

  std::vector<std::size_t> per_class_total(class_names.size()), per_class_correct(class_names.size());
  std::size_t evaluated = 0, top1 = 0, top5 = 0, skipped = 0;
  Progress progress("eval", folder.images.size());
  const auto start = std::chrono::steady_clock::now();

  for (std::size_t first = 0; first < folder.images.size(); first += static_cast<std::size_t>(batch)) {
    const std::size_t count = std::min(folder.images.size() - first, static_cast<std::size_t>(batch));
    failures.clear();
    const std::vector<std::size_t> loaded =
        resnet::decode_batch(folder.images, first, count, pipeline, staging, failures, ws.pool());
    skipped += failures.size();
    for (const std::string& f : failures) progress.message("resnet eval: skipped " + f);
    if (!loaded.empty()) {
      const resnet::Shape shape{static_cast<int>(loaded.size()), pipeline.crop, pipeline.crop, 3};
      if (input.shape() != shape) input = Tensor(shape);
      std::copy_n(staging.data(), input.size(), input.data());
      net->forward(input, output, ws);
      for (std::size_t n = 0; n < loaded.size(); ++n) {
        const float* row = output.data() + n * static_cast<std::size_t>(classes);
        const int truth = folder.images[loaded[n]].label;
        // Ranked as decode_predictions ranks; a NaN score is never a hit, even among NaNs.
        const std::vector<int> best = resnet::top_k(row, classes, 5);
        const auto found = std::find(best.begin(), best.end(), truth);
        const bool scored = truth < classes && !std::isnan(row[truth]);
        ++evaluated;
        ++per_class_total[static_cast<std::size_t>(truth)];
        if (scored && found == best.begin()) {
          ++top1;
          ++per_class_correct[static_cast<std::size_t>(truth)];
        }
        if (scored && found != best.end()) ++top5;
      }
    }
    progress.update(first + count, "top-1 " + fixed(evaluated ? 100.0 * top1 / evaluated : 0.0, 1) + "%",
                    seconds_since(start));
  }
  progress.finish();
  const double seconds = seconds_since(start);

  auto percent = [](std::size_t a, std::size_t b) { return b ? fixed(100.0 * a / b, 2) + "%" : std::string("n/a"); };
  std::cout << info.name << " on " << cmd.folder << ": " << folder.images.size() << " files in " << class_names.size()
            << " classes\n";
  if (class_names.size() <= 20)
    for (std::size_t c = 0; c < class_names.size(); ++c)
      std::cout << "  " << pad_right(class_names[c], 16) << pad_left(percent(per_class_correct[c], per_class_total[c]), 8)
                << "  (" << per_class_correct[c] << "/" << per_class_total[c] << ")\n";
  std::cout << "top-1: " << percent(top1, evaluated) << " (" << top1 << "/" << evaluated << ")\n"
            << (classes > 5 ? "top-5: " + percent(top5, evaluated) + " (" + std::to_string(top5) + "/" +
                                  std::to_string(evaluated) + ")\n"
                            : std::string())
            << "skipped: " << skipped << " unreadable file" << (skipped == 1 ? "" : "s")
            << (skipped ? " (named above)" : "") << "\n"
            << "time: " << fixed(seconds, 2) << " s, " << fixed(seconds > 0 ? evaluated / seconds : 0.0, 1)
            << " images/s (batch " << batch << ", " << ws.threads() << " thread" << (ws.threads() == 1 ? "" : "s")
            << ")\n";
  return 0;
}

// ---- train-head ----

/// What features depend on, so that a cache made from anything else is not reused.
std::string feature_key(const Command& cmd, const ModelInfo& info, const ImagePipeline& p, const std::string& folder) {
  std::error_code ec;
  const auto weights = fs::absolute(cmd.weights, ec).string();
  const auto bytes = fs::file_size(cmd.weights, ec);
  const auto time = fs::last_write_time(cmd.weights, ec).time_since_epoch().count();
  return std::string(info.name) + "|" + weights + "|" + std::to_string(bytes) + "|" + std::to_string(time) + "|" +
         fs::absolute(folder, ec).string() + "|" + resnet::to_string(p.mode) + "|" + std::to_string(p.resize) + "|" +
         std::to_string(p.crop) + "|flip=" + (cmd.flip ? "1" : "0");
}

/// The features of one folder: from `cache` when it was made from the same inputs, else
/// through the backbone (with a progress bar), then saved to `cache`.
resnet::FeatureSet folder_features(const Command& cmd, const ModelInfo& info, const AnyNetwork& net,
                                   const ImagePipeline& pipeline, const std::string& dir, bool flip,
                                   const std::string& cache, resnet::Workspace& ws) {
  Command keyed = cmd;
  keyed.flip = flip;
  const std::string key = feature_key(keyed, info, pipeline, dir);
  if (!cache.empty() && fs::exists(cache)) {
    std::string cached_key;
    resnet::FeatureSet cached = resnet::load_feature_set(cache, &cached_key);
    if (cached_key == key) {
      std::cerr << "resnet train-head: features of " << dir << " from " << cache << " (" << cached.size()
                << " images)\n";
      return cached;
    }
    std::cerr << "resnet train-head: " << cache << " holds features of other inputs; extracting again\n";
  }
  const resnet::ImageFolder folder = resnet::read_image_folder(dir, /*require_files=*/true);
  resnet::FeatureOptions options;
  options.preprocessing = pipeline;
  options.batch = cmd.batch.value_or(64);
  options.flip = flip;
  Progress progress("features of " + dir, folder.images.size());
  const auto start = std::chrono::steady_clock::now();
  options.on_skip = [&](const std::string& why) { progress.message("resnet train-head: skipped " + why); };
  options.on_progress = [&](std::size_t done, std::size_t) { progress.update(done, "", seconds_since(start)); };
  resnet::FeatureSet set = resnet::extract_features(net, folder, options, ws);
  progress.finish();
  std::cerr << "resnet train-head: " << set.size() << " images of " << dir << " in " << fixed(seconds_since(start), 1)
            << " s" << (flip ? " (and their mirror images)" : "") << ", skipped " << set.skipped << " unreadable\n";
  if (!cache.empty()) resnet::save_feature_set(cache, set, key);
  return set;
}

int train_head(const Command& cmd, const ModelInfo& info, NetworkFactory make) {
  if (cmd.no_top) throw UsageError("train-head fits the classifier; --no-top is for summary and bench");
  if (cmd.val_split && !(*cmd.val_split > 0.0 && *cmd.val_split < 1.0))
    throw UsageError("--val-split must be in (0, 1), got " + fixed(*cmd.val_split, 3));
  if (!(cmd.l2 >= 0.0 && std::isfinite(cmd.l2))) throw UsageError("--l2 must be finite and >= 0");
  // The class folders decide the class count; listing them first catches an empty or
  // single-class folder before the backbone is loaded.
  const resnet::ImageFolder listing = resnet::read_image_folder(cmd.folder, /*require_files=*/true);
  if (listing.classes.size() < 2)
    throw Error(ErrorKind::invalid_argument, cmd.folder + ": a classifier needs at least two class folders, found " +
                                                 std::to_string(listing.classes.size()) + " (" + listing.classes[0] +
                                                 ")");
  auto net = make(model_options(cmd, static_cast<int>(listing.classes.size())));
  const ImagePipeline pipeline = image_pipeline(cmd, info, *net);
  check_batch_pixels(*net, cmd.batch.value_or(64) * (cmd.flip ? 2 : 1), pipeline.crop, pipeline.crop);
  net->load_weights(cmd.weights, resnet::WeightParts::backbone);

  resnet::Workspace ws(cmd.threads);
  resnet::FeatureSet train =
      folder_features(cmd, info, *net, pipeline, cmd.folder, cmd.flip, cmd.features_cache, ws);
  resnet::FeatureSet validation;
  if (!cmd.val_folder.empty()) {
    const std::string cache = cmd.features_cache.empty() ? "" : cmd.features_cache + ".val";
    validation = folder_features(cmd, info, *net, pipeline, cmd.val_folder, false, cache, ws);
    if (validation.classes != train.classes)
      throw Error(ErrorKind::invalid_argument, cmd.val_folder + ": its class folders differ from those of " + cmd.folder);
  } else if (cmd.val_split) {
    std::tie(train, validation) = resnet::split_validation(train, *cmd.val_split, cmd.seed);
  }
  const bool validated = validation.size() > 0;

  resnet::FitOptions options;
  options.l2 = cmd.l2;
  options.max_iterations = cmd.max_iter;
  options.on_iteration = [&](const resnet::FitStep& s) {
    std::cerr << "iter " << pad_left(std::to_string(s.iteration), 4) << "  loss " << fixed(s.loss, 6) << "  |grad| "
              << std::scientific << std::setprecision(2) << s.gradient << std::defaultfloat << "  train "
              << fixed(100.0 * s.train_accuracy, 2) << "%"
              << (validated ? "  val " + fixed(100.0 * s.validation_accuracy, 2) + "%" : std::string()) << "\n";
  };
  const auto start = std::chrono::steady_clock::now();
  const resnet::FitResult fit = resnet::fit_logistic_regression(train, validated ? &validation : nullptr, options, ws);
  const double seconds = seconds_since(start);
  net->set_head(fit.head, fit.classes);
  net->save_head(cmd.out);

  std::cout << "wrote " << cmd.out << ": " << fit.head.classes << " classes x " << fit.head.width << " features ("
            << info.name << " backbone), l2 " << cmd.l2 << "\n"
            << "fit: " << fit.history.size() << " iterations in " << fixed(seconds, 2) << " s (" << ws.threads()
            << " thread" << (ws.threads() == 1 ? "" : "s") << "), " << fit.stopped_because << "\n"
            << "train: " << fixed(100.0 * resnet::accuracy(fit.head, train), 2) << "% of " << train.size()
            << " images" << (train.flipped.empty() ? "" : " (fitted with their mirror images too)") << ", skipped "
            << train.skipped << " unreadable\n";
  if (validated)
    std::cout << "validation: " << fixed(100.0 * resnet::accuracy(fit.head, validation), 2) << "% of "
              << validation.size() << " images\n";
  return 0;
}

// ---- bench ----

int bench(const Command& cmd, const ModelInfo& info, NetworkFactory make) {
  const bool self_calibrated = cmd.precision == resnet::Precision::int8 && cmd.ranges.empty();
  resnet::ModelOptions options = model_options(cmd, cmd.classes.value_or(0));
  if (self_calibrated) options.precision = resnet::Precision::fp32;  // first the fp32 twin, to calibrate
  auto net = make_model(cmd, make, options);
  const InputSize in = network_input(cmd, info, *net);
  const int batch = cmd.batch.value_or(1);
  check_batch_pixels(*net, batch, in.height, in.width);
  if (cmd.weights.empty())
    net->init_random(cmd.seed);
  else
    net->load_weights(cmd.weights);

  Tensor input(resnet::Shape{batch, in.height, in.width, 3});
  std::mt19937 rng(static_cast<std::mt19937::result_type>(cmd.seed));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : input.values()) v = normal(rng);

  if (self_calibrated) {
    // Random weights have no calibration file: the ranges of the random input itself
    // (the timing does not depend on them).
    resnet::Workspace calibration(cmd.threads);
    options.precision = resnet::Precision::int8;
    options.int8_ranges = observe_ranges(*net, {input}, calibration, cmd.calibration);
    net = make(options);
    net->init_random(cmd.seed);
  }

  long long macs = 0;
  for (const auto& r : net->summary(in.height, in.width)) macs += r.macs;

  resnet::Workspace ws(cmd.threads);
  Tensor output;
  for (int i = 0; i < cmd.warmup; ++i) net->forward(input, output, ws);
  std::vector<double> ms;
  for (int i = 0; i < cmd.iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    net->forward(input, output, ws);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  double total = 0;
  for (double t : ms) total += t;
  std::sort(ms.begin(), ms.end());
  const double median = ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
  const double p90 = ms[static_cast<std::size_t>(std::ceil(0.9 * ms.size())) - 1];  // nearest rank

  std::cout << info.name << ": batch " << batch << ", " << in.height << "x" << in.width << ", " << ws.threads()
            << " thread" << (ws.threads() == 1 ? "" : "s") << ", "
            << (cmd.precision == resnet::Precision::fp32 ? "" : std::string(resnet::to_string(cmd.precision)) +
                                                                  (cmd.lowp_layers == resnet::LowpLayers::all ? " (all convs), " : ", "))
            << (cmd.weights.empty() ? "random weights (seed " + std::to_string(cmd.seed) + ")" : cmd.weights)
            << (self_calibrated ? ", int8 ranges of the input" : "") << "\n"
            << "output: " << output.shape().str() << "\n"
            << "latency: median " << fixed(median, 2) << " ms, p90 " << fixed(p90, 2) << " ms, min " << fixed(ms[0], 2)
            << " ms  (" << cmd.iters << " runs after " << cmd.warmup << " warm-up)\n"
            << "throughput: " << fixed(1000.0 * batch * ms.size() / total, 2) << " images/s, "
            << fixed(1000.0 * static_cast<double>(macs) * batch * ms.size() / total / 1e9, 2) << " GMAC/s\n";
  return 0;
}

// ---- calibrate ----

/// `count` of `images` spread evenly over the list, which holds each class's files in turn,
/// so that every class is sampled; all of them when there are no more.
std::vector<resnet::LabeledImage> spread(const std::vector<resnet::LabeledImage>& images, std::size_t count) {
  if (count >= images.size()) return images;
  std::vector<resnet::LabeledImage> picked;
  for (std::size_t i = 0; i < count; ++i) picked.push_back(images[i * images.size() / count]);
  return picked;
}

/// The images of a calibration folder: an ImageFolder (DIR/<class>/<image>), or, where DIR
/// holds no folder, its files (../shared/data/imagenet-samples), sorted; labels play no part.
std::vector<resnet::LabeledImage> calibration_files(const std::string& dir) {
  std::error_code ec;
  bool classes = false, files = false;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().filename().string().rfind('.', 0) == 0) continue;
    classes = classes || e.is_directory();
    files = files || e.is_regular_file();
  }
  if (ec || classes || !files) return resnet::read_image_folder(dir, /*require_files=*/true).images;  // or its Error
  std::vector<resnet::LabeledImage> images;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename().string().rfind('.', 0) != 0) images.push_back({e.path().string(), 0});
  std::sort(images.begin(), images.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return images;
}

int calibrate(const Command& cmd, const ModelInfo& info, NetworkFactory make) {
  const std::vector<resnet::LabeledImage> all = calibration_files(cmd.folder);
  auto net = make(model_options(cmd, cmd.classes.value_or(0)));
  const ImagePipeline pipeline = image_pipeline(cmd, info, *net);
  const int batch = cmd.batch.value_or(32);
  check_batch_pixels(*net, batch, pipeline.crop, pipeline.crop);
  net->load_weights(cmd.weights, resnet::WeightParts::backbone);  // the classifier is not quantized

  const std::vector<resnet::LabeledImage> images = spread(all, static_cast<std::size_t>(cmd.calibration_images));
  resnet::Workspace ws(cmd.threads);
  std::vector<float> staging;
  std::vector<std::string> failures;
  std::vector<Tensor> batches;
  std::size_t skipped = 0;
  Progress progress("calibrate", images.size());
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t first = 0; first < images.size(); first += static_cast<std::size_t>(batch)) {
    const std::size_t count = std::min(images.size() - first, static_cast<std::size_t>(batch));
    failures.clear();
    const std::vector<std::size_t> loaded = resnet::decode_batch(images, first, count, pipeline, staging, failures, ws.pool());
    skipped += failures.size();
    for (const std::string& f : failures) progress.message("resnet calibrate: skipped " + f);
    if (!loaded.empty()) {
      batches.emplace_back(resnet::Shape{static_cast<int>(loaded.size()), pipeline.crop, pipeline.crop, 3});
      std::copy_n(staging.data(), batches.back().size(), batches.back().data());
    }
    progress.update(first + count, "", seconds_since(start));
  }
  progress.finish();
  if (batches.empty()) throw Error(ErrorKind::image, cmd.folder + ": no image could be decoded");
  const resnet::ActivationRanges r = observe_ranges(*net, batches, ws, cmd.calibration);
  resnet::save_ranges(cmd.out, r);
  std::cout << "wrote " << cmd.out << ": the input ranges of " << r.convs.size() << " convs of " << info.name << " ("
            << r.method << ", " << r.images << " images of " << cmd.folder << ", skipped " << skipped
            << " unreadable) in " << fixed(seconds_since(start), 1) << " s\n";
  return 0;
}

}  // namespace

int run_command(const Command& cmd, const ModelInfo& info, NetworkFactory make) {
  switch (cmd.subcommand) {
    case Subcommand::summary: return summary(cmd, info, make);
    case Subcommand::classify: return classify(cmd, info, make);
    case Subcommand::eval: return eval(cmd, info, make);
    case Subcommand::train_head: return train_head(cmd, info, make);
    case Subcommand::bench: return bench(cmd, info, make);
    case Subcommand::calibrate: return calibrate(cmd, info, make);
  }
  return 2;
}

}  // namespace resnet_cli
