#pragma once
// The parsed command line of the `resnet` tool, shared by every subcommand.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <resnet/resnet.hpp>
#include <resnet/vision/preprocess.hpp>

namespace resnet_cli {

enum class Subcommand { summary, classify, eval, train_head, bench, calibrate };

/// A mistake on the command line found after parsing (an unknown model, a crop larger
/// than the resize): exit status 2, as for CLI11's parse errors.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct InputSize {
  int height = 0;
  int width = 0;
};

struct Command {
  Subcommand subcommand = Subcommand::summary;
  std::string model;
  std::vector<std::string> images;  ///< classify
  std::string folder;               ///< eval, train-head, calibrate: the ImageFolder root

  std::optional<int> classes;
  std::optional<InputSize> input;  ///< summary/bench: the network's input size
  bool no_top = false;
  resnet::Pooling pooling = resnet::Pooling::avg;

  std::string weights;
  std::string head;  ///< classify/eval: a head file (train-head's --out) on the backbone of --weights

  // train-head
  std::string out;             ///< the head file to write (calibrate: the ranges file)
  std::string val_folder;      ///< --val DIR
  std::optional<double> val_split;
  double l2 = 1.0;             ///< scikit-learn's 1 / C
  bool flip = false;
  int max_iter = 100;
  std::string features_cache;  ///< reuse the backbone's features between fits
  std::optional<resnet::Preprocess> preprocess;
  std::string labels;  ///< "", "imagenet", "cifar10" or a file with one label per line
  std::optional<int> resize;  ///< classify/eval: shorter side before the centre crop
  std::optional<int> crop;    ///< classify/eval: side of the square centre crop
  int top = 5;

  resnet::Precision precision = resnet::Precision::fp32;  ///< classify/eval/bench: --precision
  resnet::LowpLayers lowp_layers = resnet::LowpLayers::measured;  ///< --lowp-layers
  std::string ranges;  ///< --ranges: an int8 model's calibrated conv input ranges

  // calibrate (and --out, DIR above)
  int calibration_images = 500;  ///< --images: how many of DIR, spread over its classes
  resnet::CalibrationOptions calibration;  ///< --method, --percentile

  std::optional<int> batch;
  int threads = 0;  ///< 0: one per core
  int iters = 10;
  int warmup = 2;
  std::uint64_t seed = 0;
};

/// What the registry knows about a model name beyond its type: the conventions of the
/// weights published for it.
struct ModelInfo {
  const char* name;
  const char* description;
  resnet::Preprocess preprocess;
  int resize;  ///< shorter side before the centre crop
  int crop;    ///< default input side
  bool cifar_labels;
  int (*run)(const Command&, const ModelInfo&);  ///< the subcommands, instantiated for this type
};

}  // namespace resnet_cli
