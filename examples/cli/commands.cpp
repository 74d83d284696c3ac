// The four subcommands, written once against AnyNetwork. This is the only translation
// unit of the tool that includes the image decoder.

#include "commands.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <resnet/core/math.hpp>
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
  return o;
}

InputSize network_input(const Command& cmd, const ModelInfo& info, const AnyNetwork& net) {
  const InputSize in = cmd.input.value_or(InputSize{info.crop, info.crop});
  if (in.height < net.min_side() || in.width < net.min_side())
    throw UsageError("--input " + std::to_string(in.height) + "x" + std::to_string(in.width) + " is smaller than " +
                     info.name + "'s minimum of " + std::to_string(net.min_side()) + "x" +
                     std::to_string(net.min_side()));
  return in;
}

struct ImagePipeline {
  resnet::Preprocess mode;
  int resize;
  int crop;
};

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

/// Decodes, resizes, crops and normalises one image into `out` (crop x crop x 3, NHWC).
void load_into(const std::string& path, const ImagePipeline& p, float* out) {
  const resnet::Image image = resnet::load_image(path);
  const Tensor x = resnet::preprocess_imagenet(image, p.mode, p.resize, p.crop, resnet::Layout::nhwc);
  std::copy(x.data(), x.data() + x.size(), out);
}

bool is_builtin_labels(const std::string& s) { return s == "imagenet" || s == "cifar10"; }

/// The class count: --classes, else the length of a --labels file, else the model's default.
int resolve_classes(const Command& cmd, std::vector<std::string>& file_labels) {
  if (!cmd.labels.empty() && !is_builtin_labels(cmd.labels)) file_labels = resnet::load_labels(cmd.labels);
  if (cmd.classes) return *cmd.classes;
  return file_labels.empty() ? 0 : static_cast<int>(file_labels.size());
}

std::vector<std::string> resolve_labels(const Command& cmd, const ModelInfo& info, int classes,
                                        std::vector<std::string> file_labels) {
  auto from = [](const auto& builtin) { return std::vector<std::string>(builtin.begin(), builtin.end()); };
  std::vector<std::string> labels;
  if (!file_labels.empty()) {
    labels = std::move(file_labels);
  } else if (cmd.labels == "imagenet" || (cmd.labels.empty() && !info.cifar_labels && classes == 1000)) {
    labels = from(resnet::imagenet_labels());
  } else if (cmd.labels == "cifar10" || (cmd.labels.empty() && info.cifar_labels && classes == 10)) {
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
  auto net = make(model_options(cmd, classes_wanted));
  const int classes = net->options().classes;
  const std::vector<std::string> labels = resolve_labels(cmd, info, classes, std::move(file_labels));
  const ImagePipeline pipeline = image_pipeline(cmd, info, *net);
  net->load_weights(cmd.weights);
  const bool probabilities = net->options().classifier == resnet::Classifier::softmax;

  resnet::Workspace ws(cmd.threads);
  Tensor input(resnet::Shape{1, pipeline.crop, pipeline.crop, 3});
  Tensor output;
  int failures = 0;
  for (const std::string& path : cmd.images) {
    try {
      load_into(path, pipeline, input.data());
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

// ---- eval ----

struct Sample {
  std::string path;
  int label;
};

bool hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

/// torchvision's ImageFolder: class folders in sorted order, their files (recursively,
/// following links) in sorted order. Every file is tried, whatever its extension, so a
/// misnamed or broken file is reported rather than silently left out.
std::vector<Sample> image_folder(const std::string& root, std::vector<std::string>& classes) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw Error(ErrorKind::io, root + ": not a directory");
  for (const auto& e : fs::directory_iterator(root, ec))
    if (e.is_directory()) classes.push_back(e.path().filename().string());
  if (ec) throw Error(ErrorKind::io, root + ": cannot list (" + ec.message() + ")");
  std::sort(classes.begin(), classes.end());
  if (classes.empty())
    throw Error(ErrorKind::io, root + ": no class folders (expected the layout DIR/<class>/<image>)");
  std::vector<Sample> samples;
  for (std::size_t c = 0; c < classes.size(); ++c) {
    std::vector<std::string> files;
    const fs::path dir = fs::path(root) / classes[c];
    for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (hidden(it->path())) {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file()) files.push_back(it->path().string());
    }
    if (ec) throw Error(ErrorKind::io, dir.string() + ": cannot list (" + ec.message() + ")");
    std::sort(files.begin(), files.end());
    for (auto& f : files) samples.push_back({std::move(f), static_cast<int>(c)});
  }
  return samples;
}

/// A progress bar on a terminal; elsewhere (logs, CI) a plain line every tenth.
class Progress {
 public:
  explicit Progress(std::size_t total) : total_(total), tty_(isatty(fileno(stderr)) != 0) {}

  void update(std::size_t done, std::size_t evaluated, std::size_t correct, double seconds) {
    const double accuracy = evaluated ? 100.0 * correct / evaluated : 0.0;
    const double rate = seconds > 0 ? done / seconds : 0.0;
    if (tty_) {
      const int width = 30;
      const int filled = total_ ? static_cast<int>(width * done / total_) : width;
      std::cerr << "\r[" << std::string(filled, '#') << std::string(width - filled, '.') << "] " << done << "/"
                << total_ << "  top-1 " << fixed(accuracy, 1) << "%  " << fixed(rate, 0) << " img/s" << std::flush;
      drawn_ = true;
    } else if (done == total_ || done * 10 / std::max<std::size_t>(total_, 1) > tenths_) {
      tenths_ = done * 10 / std::max<std::size_t>(total_, 1);
      std::cerr << "eval: " << done << "/" << total_ << " images, top-1 so far " << fixed(accuracy, 1) << "%\n";
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
  std::size_t total_;
  bool tty_;
  bool drawn_ = false;
  std::size_t tenths_ = 0;
};

int eval(const Command& cmd, const ModelInfo& info, NetworkFactory make) {
  if (cmd.no_top) throw UsageError("eval needs the classifier; --no-top is for summary and bench");
  const std::string& root = cmd.folder;
  std::vector<std::string> class_names;
  const std::vector<Sample> samples = image_folder(root, class_names);

  auto net = make(model_options(cmd, cmd.classes.value_or(0)));
  const int classes = net->options().classes;
  const ImagePipeline pipeline = image_pipeline(cmd, info, *net);
  const int batch = cmd.batch.value_or(32);
  check_batch_pixels(*net, batch, pipeline.crop, pipeline.crop);
  net->load_weights(cmd.weights);
  if (static_cast<int>(class_names.size()) != classes)
    std::cerr << "resnet eval: note: " << class_names.size() << " class folders but the model has " << classes
              << " classes; folder i (in sorted order) is compared with class i\n";

  resnet::Workspace ws(cmd.threads);
  const std::size_t image_floats = static_cast<std::size_t>(pipeline.crop) * pipeline.crop * 3;
  std::vector<float> staging(image_floats * static_cast<std::size_t>(batch));
  std::vector<std::string> errors(static_cast<std::size_t>(batch));
  Tensor input, output;

  std::vector<std::size_t> per_class_total(class_names.size()), per_class_correct(class_names.size());
  std::size_t evaluated = 0, top1 = 0, top5 = 0, skipped = 0;
  Progress progress(samples.size());
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };

  for (std::size_t first = 0; first < samples.size(); first += static_cast<std::size_t>(batch)) {
    const std::size_t count = std::min(samples.size() - first, static_cast<std::size_t>(batch));
    // Decoding runs on the workspace's threads too; a worker must not throw.
    ws.pool().parallel_for(static_cast<std::ptrdiff_t>(count), [&](std::ptrdiff_t begin, std::ptrdiff_t end) {
      for (std::ptrdiff_t i = begin; i < end; ++i) {
        auto& error = errors[static_cast<std::size_t>(i)];
        error.clear();
        try {
          load_into(samples[first + static_cast<std::size_t>(i)].path, pipeline,
                    staging.data() + static_cast<std::size_t>(i) * image_floats);
        } catch (const std::exception& e) {
          error = e.what();
        } catch (...) {
          error = samples[first + static_cast<std::size_t>(i)].path + ": unknown failure";
        }
      }
    });
    std::vector<int> labels;
    for (std::size_t i = 0; i < count; ++i) {
      if (!errors[i].empty()) {
        ++skipped;
        progress.message("resnet eval: skipped " + errors[i]);
        continue;
      }
      if (labels.size() != i)
        std::copy_n(staging.data() + i * image_floats, image_floats, staging.data() + labels.size() * image_floats);
      labels.push_back(samples[first + i].label);
    }
    if (!labels.empty()) {
      const resnet::Shape shape{static_cast<int>(labels.size()), pipeline.crop, pipeline.crop, 3};
      if (input.shape() != shape) input = Tensor(shape);
      std::copy_n(staging.data(), input.size(), input.data());
      net->forward(input, output, ws);
      for (std::size_t n = 0; n < labels.size(); ++n) {
        const float* row = output.data() + n * static_cast<std::size_t>(classes);
        const int truth = labels[n];
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
    progress.update(first + count, evaluated, top1, elapsed());
  }
  progress.finish();
  const double seconds = elapsed();

  auto percent = [](std::size_t a, std::size_t b) { return b ? fixed(100.0 * a / b, 2) + "%" : std::string("n/a"); };
  std::cout << info.name << " on " << root << ": " << samples.size() << " files in " << class_names.size()
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

// ---- bench ----

int bench(const Command& cmd, const ModelInfo& info, NetworkFactory make) {
  auto net = make(model_options(cmd, cmd.classes.value_or(0)));
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
            << (cmd.weights.empty() ? "random weights (seed " + std::to_string(cmd.seed) + ")" : cmd.weights) << "\n"
            << "output: " << output.shape().str() << "\n"
            << "latency: median " << fixed(median, 2) << " ms, p90 " << fixed(p90, 2) << " ms, min " << fixed(ms[0], 2)
            << " ms  (" << cmd.iters << " runs after " << cmd.warmup << " warm-up)\n"
            << "throughput: " << fixed(1000.0 * batch * ms.size() / total, 2) << " images/s, "
            << fixed(1000.0 * static_cast<double>(macs) * batch * ms.size() / total / 1e9, 2) << " GMAC/s\n";
  return 0;
}

}  // namespace

int run_command(const Command& cmd, const ModelInfo& info, NetworkFactory make) {
  switch (cmd.subcommand) {
    case Subcommand::summary: return summary(cmd, info, make);
    case Subcommand::classify: return classify(cmd, info, make);
    case Subcommand::eval: return eval(cmd, info, make);
    case Subcommand::bench: return bench(cmd, info, make);
  }
  return 2;
}

}  // namespace resnet_cli
