// `resnet`: summary, classify, eval, train-head, bench and calibrate for every model of the library.
// Exit status: 0 success, 1 a failure at run time (a file, an image, weights), 2 a
// mistake on the command line: every CLI11 parse error (unknown option, missing or bad
// value, missing argument), an unknown command or model.

#include <algorithm>
#include <cmath>
#include <exception>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "options.hpp"
#include "registry.hpp"

namespace resnet_cli {
namespace {

// ---- help ----

/// Help pages in the tool's own layout rather than CLI11's: the usage line, the
/// description, then the commands, arguments and options in columns as wide as their
/// longest entry (-h, --help last), then the footer.
class HelpFormatter : public CLI::FormatterBase {
 public:
  struct Page {
    std::string usage;    ///< after "usage: "
    std::string summary;  ///< a command's line in `resnet --help`
  };
  void add_page(const CLI::App* app, Page page) { pages_[app] = std::move(page); }

  std::string make_help(const CLI::App* app, std::string, CLI::AppFormatMode) const override {
    std::vector<Row> commands, arguments, options;
    for (const CLI::App* sub : app->get_subcommands({})) commands.push_back({sub->get_name(), pages_.at(sub).summary});
    for (const CLI::Option* opt : app->get_options())
      if (opt != app->get_help_ptr()) (opt->get_positional() ? arguments : options).push_back(row(opt));
    options.push_back(row(app->get_help_ptr()));
    std::ostringstream out;
    out << "usage: " << pages_.at(app).usage << "\n\n" << app->get_description() << "\n";
    section(out, "commands", commands);
    section(out, "arguments", arguments);
    section(out, "options", options);
    if (!app->get_footer().empty()) out << "\n" << app->get_footer();
    return out.str();
  }

 private:
  struct Row {
    std::string name, text;
  };
  static Row row(const CLI::Option* opt) {
    if (opt->get_positional())
      return {opt->get_name() + (opt->get_expected_max() > 1 ? "..." : ""), opt->get_description()};
    std::string names;
    for (const std::string& s : opt->get_snames()) names += (names.empty() ? "-" : ", -") + s;
    for (const std::string& l : opt->get_lnames()) names += (names.empty() ? "--" : ", --") + l;
    const std::string& value = opt->get_option_text();
    return {value.empty() ? names : names + " " + value, opt->get_description()};
  }
  static void section(std::ostream& out, const char* title, const std::vector<Row>& rows) {
    if (rows.empty()) return;
    std::size_t width = 0;
    for (const Row& r : rows) width = std::max(width, r.name.size());
    out << "\n" << title << ":\n";
    for (const Row& r : rows) {
      out << "  " << r.name << std::string(width + 2 - r.name.size(), ' ');
      for (const char c : r.text) {
        out << c;
        if (c == '\n') out << std::string(width + 4, ' ');
      }
      out << "\n";
    }
  }

  std::map<const CLI::App*, Page> pages_;
};

std::string tool_footer() {
  std::string text = R"(Run `resnet <command> --help` for the options of a command.

examples:
  resnet summary resnet50
  resnet classify resnet50 --weights resnet50-0676ba61.pth cat.jpg
  resnet eval cifar-resnet56 --weights resnet56-4bfd9763.th ../shared/data/cifar10/test
  resnet train-head cifar-resnet56 --weights resnet56-4bfd9763.th my_images --out head.safetensors
  resnet classify cifar-resnet56 --weights resnet56-4bfd9763.th --head head.safetensors photo.jpg
  resnet bench resnet50 --batch 8 --threads 2
  resnet calibrate cifar-resnet56 --weights resnet56-4bfd9763.th ../shared/data/cifar10/train --out r56.safetensors
  resnet eval cifar-resnet56 --weights resnet56-4bfd9763.th --precision int8 --ranges r56.safetensors ../shared/data/cifar10/test

weights: PyTorch checkpoints (.pth/.pt/.th as torch.save writes them, zip or legacy
format) or safetensors files (Keras: made by tools/convert_keras_h5.py).

models:
)";
  for (const ModelInfo& m : registry()) {
    std::string name = m.name;
    name.resize(18, ' ');
    text += "  " + name + m.description + " [" + resnet::to_string(m.preprocess) + "]\n";
  }
  return text;
}

// ---- values ----

/// Why `text` is not a base-10 integer in [lo, hi], or "" when it is one (then in `value`).
std::string integer_error(const std::string& text, long long lo, long long hi, long long& value) {
  std::size_t used = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size()) return "expected an integer, got '" + text + "'";
  if (value < lo || value > hi)
    return text + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  return "";
}

/// Checks a base-10 integer and hands it on in plain decimal: CLI11 itself reads integers
/// with strtoll base 0, which would take "010" as octal and "0x10" as hex.
CLI::Validator integer_in(long long lo, long long hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) {
        long long value = 0;
        std::string error = integer_error(text, lo, hi, value);
        if (error.empty()) text = std::to_string(value);
        return error;
      },
      "");
}

/// T: int, std::optional<int> or std::uint64_t.
template <class T>
CLI::Option* integer_option(CLI::App& sub, const char* name, T& target, const char* value_name, long long lo,
                            long long hi, const std::string& help) {
  return sub.add_option(name, target, help)->transform(integer_in(lo, hi))->option_text(value_name);
}

/// "HxW", or one number for a square.
InputSize parse_size(const std::string& text) {
  const std::size_t x = text.find_first_of("xX");
  const std::string sides[] = {text.substr(0, x), x == std::string::npos ? text : text.substr(x + 1)};
  long long side[2] = {0, 0};
  for (int i = 0; i < 2; ++i)
    if (std::string error = integer_error(sides[i], 1, 1 << 16, side[i]); !error.empty())
      throw CLI::ValidationError("--input", error);
  return {static_cast<int>(side[0]), static_cast<int>(side[1])};
}

// ---- options that several commands share; each adds one option (two for the head) ----

void model_argument(CLI::App& sub, Command& cmd) {
  sub.add_option("MODEL", cmd.model, "a model name (`resnet --help` lists them)")->required();
}

CLI::Option* weights_option(CLI::App& sub, Command& cmd, const std::string& help) {
  return sub.add_option("--weights", cmd.weights, help)->option_text("FILE");
}

/// An option whose value the library parses: its Error is a usage error (exit 2) that
/// names the option.
template <class Target, class T>
CLI::Option* library_parsed_option(CLI::App& sub, const std::string& name, Target& target,
                                   T (*parse)(const std::string&), const std::string& help) {
  return sub.add_option_function<std::string>(
      name,
      [&target, name, parse](const std::string& text) {
        try {
          target = parse(text);
        } catch (const resnet::Error& e) {
          throw CLI::ValidationError(name, e.what());
        }
      },
      help);
}

void preprocess_option(CLI::App& sub, Command& cmd) {
  library_parsed_option(sub, "--preprocess", cmd.preprocess, &resnet::parse_preprocess,
                        "torch, caffe, tf or cifar (default: the model's own:\n"
                        "torchvision torch, Keras V1 caffe, Keras V2 tf, CIFAR cifar)")
      ->option_text("MODE");
}

void classes_option(CLI::App& sub, Command& cmd, const std::string& help) {
  integer_option(sub, "--classes", cmd.classes, "N", 1, 1 << 20, help);
}

void input_option(CLI::App& sub, Command& cmd) {
  sub.add_option_function<std::string>(
         "--input", [&cmd](const std::string& text) { cmd.input = parse_size(text); },
         "input size, e.g. 224x224 or 224 (default 224; 32 for CIFAR)")
      ->option_text("HxW");
}

/// --precision, --lowp-layers and --ranges: what the convolutions compute in. A name that
/// is not a precision is a usage error (exit 2), and so are int8 without --ranges and
/// --ranges without int8 (checked after parsing); a precision this CPU or build cannot run
/// (bf16 without AVX512-BF16, int8 without AVX512-VNNI) is the library's Error when the
/// model is built (exit 1), as for any other run-time refusal.
void precision_options(CLI::App& sub, Command& cmd) {
  library_parsed_option(sub, "--precision", cmd.precision, &resnet::parse_precision,
                        "fp32 (default), bf16 or int8. bf16: bf16 weights and maps\n"
                        "with fp32 sums (AVX512-BF16). int8: s8 weights per channel, u8\n"
                        "conv inputs by the ranges of --ranges, int32 sums (AVX512-VNNI)")
      ->option_text("P");
  sub.add_option("--ranges", cmd.ranges,
                 "with --precision int8: the conv input ranges `resnet calibrate`\n"
                 "wrote for this model (required, but for bench on random weights)")
      ->option_text("FILE");
  sub.add_option_function<std::string>(
         "--lowp-layers",
         [&cmd](const std::string& mode) {
           if (mode == "measured") cmd.lowp_layers = resnet::LowpLayers::measured;
           else if (mode == "all") cmd.lowp_layers = resnet::LowpLayers::all;
           else throw CLI::ValidationError("--lowp-layers", "expected measured or all, got '" + mode + "'");
         },
         "with --precision bf16: the convs bf16 runs faster (default; 3x3\n"
         "convs on fp32 Winograd stay fp32) or all of them")
      ->option_text("MODE");
}

/// --no-top and --pooling: the Keras head options.
void head_options(CLI::App& sub, Command& cmd) {
  sub.add_flag("--no-top", cmd.no_top, "leave the classifier off (Keras include_top=False)");
  sub.add_option_function<std::string>(
         "--pooling",
         [&cmd](const std::string& mode) {
           if (mode == "avg") cmd.pooling = resnet::Pooling::avg;
           else if (mode == "max") cmd.pooling = resnet::Pooling::max;
           else if (mode == "none") cmd.pooling = resnet::Pooling::none;
           else throw CLI::ValidationError("--pooling", "expected avg, max or none, got '" + mode + "'");
         },
         "with --no-top: avg (default), max, or none for the feature map")
      ->option_text("MODE");
}

/// --resize and --crop: the torchvision-style centre crop of classify and eval.
void crop_options(CLI::App& sub, Command& cmd) {
  integer_option(sub, "--resize", cmd.resize, "N", 1, 4096,
                 "shorter side before the crop (default 256; 32 for CIFAR;\n"
                 "use 232 for torchvision's IMAGENET1K_V2 ResNet-50/101/152)");
  integer_option(sub, "--crop", cmd.crop, "N", 1, 4096, "side of the square centre crop (default 224; 32 for CIFAR)");
}

void batch_option(CLI::App& sub, Command& cmd, const std::string& help) {
  integer_option(sub, "--batch", cmd.batch, "B", 1, 1 << 16, help);
}

void threads_option(CLI::App& sub, Command& cmd, const std::string& help) {
  integer_option(sub, "--threads", cmd.threads, "T", 0, 1024, help);
}

void head_file_option(CLI::App& sub, Command& cmd) {
  sub.add_option("--head", cmd.head,
                 "a classifier from train-head, on the backbone of --weights;\n"
                 "its class names become the labels")
      ->option_text("FILE");
}

/// A real number; CLI11 would take "nan" and "inf" too.
CLI::Option* real_option(CLI::App& sub, const char* name, const char* value_name, const std::string& help,
                         std::function<void(double)> set) {
  return sub
      .add_option_function<std::string>(
          name,
          [name, set](const std::string& text) {
            std::size_t used = 0;
            double value = 0;
            try {
              value = std::stod(text, &used);
            } catch (const std::exception&) {
              used = 0;
            }
            if (used == 0 || used != text.size() || !std::isfinite(value))
              throw CLI::ValidationError(name, "expected a number, got '" + text + "'");
            set(value);
          },
          help)
      ->option_text(value_name);
}

// ---- the commands ----

void summary_options(CLI::App& sub, Command& cmd) {
  model_argument(sub, cmd);
  classes_option(sub, cmd, "classifier size (default: 1000; 10 for the CIFAR models)");
  input_option(sub, cmd);
  head_options(sub, cmd);
}

void classify_options(CLI::App& sub, Command& cmd) {
  model_argument(sub, cmd);
  sub.add_option("IMAGE", cmd.images, "JPEG or PNG files")->required();
  weights_option(sub, cmd, "weights: a PyTorch checkpoint or safetensors file (required)")->required();
  preprocess_option(sub, cmd);
  sub.add_option("--labels", cmd.labels,
                 "imagenet, cifar10, or a file with one label per line\n(default: the model's dataset)")
      ->option_text("NAME|FILE");
  head_file_option(sub, cmd);
  classes_option(sub, cmd, "class count of the weights (default: the head's, else the label\nfile's length, else 1000; 10 for CIFAR)");
  integer_option(sub, "--top", cmd.top, "K", 1, std::numeric_limits<int>::max(),
                 "how many classes to print (default 5)");
  crop_options(sub, cmd);
  threads_option(sub, cmd, "threads (default: one per core)");
  precision_options(sub, cmd);
}

void eval_options(CLI::App& sub, Command& cmd) {
  model_argument(sub, cmd);
  sub.add_option("DIR", cmd.folder, "the ImageFolder root: DIR/<class>/<image>")->required();
  weights_option(sub, cmd, "weights: a PyTorch checkpoint or safetensors file (required)")->required();
  head_file_option(sub, cmd);
  preprocess_option(sub, cmd);
  classes_option(sub, cmd, "class count of the weights (default: the head's, else 1000;\n10 for CIFAR)");
  crop_options(sub, cmd);
  batch_option(sub, cmd, "images per forward pass (default 32)");
  threads_option(sub, cmd, "threads for decoding and inference (default: one per core)");
  precision_options(sub, cmd);
}

void train_head_options(CLI::App& sub, Command& cmd) {
  model_argument(sub, cmd);
  sub.add_option("DIR", cmd.folder, "the training images: DIR/<class>/<image>")->required();
  weights_option(sub, cmd, "the pretrained backbone: a PyTorch checkpoint or safetensors\nfile (required; its own classifier is not used)")
      ->required();
  sub.add_option("--out", cmd.out, "the head file to write (safetensors, with the class names);\nwritten only when the fit succeeds")
      ->option_text("FILE")
      ->required();
  CLI::Option* val = sub.add_option("--val", cmd.val_folder, "an ImageFolder with the same classes, for validation accuracy")
                         ->option_text("DIR");
  real_option(sub, "--val-split", "F", "hold out this fraction of each class of DIR for validation,\nin (0, 1)",
              [&cmd](double v) { cmd.val_split = v; })
      ->excludes(val);
  real_option(sub, "--l2", "X",
              "L2 penalty on the weights (default 1): loss = sum of cross-entropies\n"
              "+ X/2 ||W||^2, bias unpenalised; scikit-learn's C = 1/X",
              [&cmd](double v) { cmd.l2 = v; });
  sub.add_flag("--flip", cmd.flip, "also fit on each image mirrored left to right");
  integer_option(sub, "--max-iter", cmd.max_iter, "N", 1, 100000, "L-BFGS iterations at most (default 100)");
  sub.add_option("--features-cache", cmd.features_cache,
                 "keep the backbone's features in FILE (and FILE.val for --val) and\n"
                 "reuse them when made from the same model, weights, folder and options")
      ->option_text("FILE");
  integer_option(sub, "--seed", cmd.seed, "S", 0, std::numeric_limits<long long>::max(),
                 "seed of the --val-split draw (default 0)");
  preprocess_option(sub, cmd);
  crop_options(sub, cmd);
  batch_option(sub, cmd, "images per forward pass (default 64)");
  threads_option(sub, cmd, "threads for decoding, the backbone and the fit (default: one per core)");
}

void bench_options(CLI::App& sub, Command& cmd) {
  model_argument(sub, cmd);
  batch_option(sub, cmd, "images per forward pass (default 1)");
  threads_option(sub, cmd, "threads (default: one per core)");
  input_option(sub, cmd);
  integer_option(sub, "--iters", cmd.iters, "N", 1, 1000000, "timed runs (default 10)");
  integer_option(sub, "--warmup", cmd.warmup, "N", 0, 1000000, "untimed runs first (default 2)");
  weights_option(sub, cmd, "weights (PyTorch checkpoint or safetensors) instead of random ones");
  integer_option(sub, "--seed", cmd.seed, "S", 0, std::numeric_limits<long long>::max(),
                 "seed of the random weights and input (default 0)");
  classes_option(sub, cmd, "classifier size (default: 1000; 10 for the CIFAR models)");
  head_options(sub, cmd);
  precision_options(sub, cmd);
}

void calibrate_options(CLI::App& sub, Command& cmd) {
  model_argument(sub, cmd);
  sub.add_option("DIR", cmd.folder, "calibration images: DIR/<class>/<image> or DIR/<image>")->required();
  weights_option(sub, cmd, "the fp32 weights the int8 model will load: a PyTorch checkpoint\nor safetensors file (required)")
      ->required();
  sub.add_option("--out", cmd.out, "the ranges file to write (safetensors)")->option_text("FILE")->required();
  integer_option(sub, "--images", cmd.calibration_images, "N", 1, 1 << 24,
                 "how many images of DIR, spread evenly over its classes (default 500)");
  sub.add_option_function<std::string>(
         "--method",
         [&cmd](const std::string& m) {
           if (m == "minmax") cmd.calibration.method = resnet::CalibrationMethod::minmax;
           else if (m == "percentile") cmd.calibration.method = resnet::CalibrationMethod::percentile;
           else throw CLI::ValidationError("--method", "expected minmax or percentile, got '" + m + "'");
         },
         "percentile (default): clip each tail at --percentile; minmax: the\nextremes seen")
      ->option_text("M");
  real_option(sub, "--percentile", "P", "with --method percentile: the share of values kept in range,\nin (50, 100] (default 99.99)",
              [&cmd](double p) {
                if (!(p > 50.0 && p <= 100.0))
                  throw CLI::ValidationError("--percentile", "expected a number in (50, 100], got " + std::to_string(p));
                cmd.calibration.percentile = p;
              });
  preprocess_option(sub, cmd);
  crop_options(sub, cmd);
  batch_option(sub, cmd, "images per forward pass (default 32)");
  threads_option(sub, cmd, "threads for decoding and inference (default: one per core)");
}

struct CommandSpec {
  Subcommand kind;
  const char* name;
  HelpFormatter::Page page;
  const char* description;
  void (*add_options)(CLI::App&, Command&);
};

const CommandSpec kCommands[] = {
    {Subcommand::summary, "summary",
     {"resnet summary MODEL [--classes N] [--input HxW] [--no-top [--pooling avg|max|none]]",
      "layers, output shapes, parameters and MACs (like Keras' model.summary())"},
     R"(Prints the model block by block: output shape (batch of one, NHWC), parameters and
multiply-accumulates, with Keras-style totals. Needs no weights.)",
     summary_options},
    {Subcommand::classify, "classify",
     {"resnet classify MODEL --weights FILE [options] IMAGE...", "top-K classes of JPEG/PNG images"},
     R"(Decodes each JPEG/PNG image, resizes its shorter side and centre-crops it as torchvision
does (ImageNet models: 256 then 224; CIFAR models: 32x32 used as is), normalises it for
the model and prints the top-K classes with their probabilities (softmax of the logits
for torchvision and CIFAR models; Keras models output probabilities already).)",
     classify_options},
    {Subcommand::eval, "eval",
     {"resnet eval MODEL --weights FILE [options] DIR",
      "top-1/top-5 accuracy on an ImageFolder directory (DIR/<class>/<image>)"},
     R"(Accuracy on an ImageFolder layout: DIR/<class>/<image>, where the class index is the
position of the folder name in sorted order (as torchvision's ImageFolder). Files that
cannot be decoded (truncated, not an image, ...) are reported by name, skipped and
counted. A progress bar is drawn when stderr is a terminal; otherwise a line is printed
every tenth of the way.)",
     eval_options},
    {Subcommand::train_head, "train-head",
     {"resnet train-head MODEL --weights BACKBONE DIR --out FILE [options]",
      "fit a classifier of your own classes (DIR/<class>/<image>) on a backbone"},
     R"(Runs the backbone of --weights over every image of DIR (an ImageFolder: one folder per
class, classes in sorted order), then fits a new classifier on the pooled features:
multinomial logistic regression with an L2 penalty, by L-BFGS, as scikit-learn's
LogisticRegression(C=1/X) does. Prints one line per iteration and writes the head, with
the class names, to --out; `classify` and `eval` use it with --head. Unreadable images
are reported, skipped and counted. A progress bar is drawn when stderr is a terminal.)",
     train_head_options},
    {Subcommand::bench, "bench",
     {"resnet bench MODEL [options]", "latency and throughput on random input"},
     R"(Times forward passes on random input: warm-up runs, then the median and 90th
percentile latency of a batch and the throughput in images/s.)",
     bench_options},
    {Subcommand::calibrate, "calibrate",
     {"resnet calibrate MODEL --weights FILE DIR --out FILE [options]",
      "measure the conv input ranges an int8 model needs (--precision int8)"},
     R"(Runs the fp32 model of --weights over --images images of DIR (spread evenly over its
class folders, preprocessed as classify and eval do) and records the range of every
conv's input: the extremes (--method minmax) or each tail clipped at --percentile. Writes
them to --out, a small safetensors file that classify, eval and bench read with
--precision int8 --ranges FILE. Calibrate on images like those the model will see; a
few hundred are enough.)",
     calibrate_options},
};

/// The tool's command line; parsing it fills `cmd`.
void declare(CLI::App& app, HelpFormatter& help, Command& cmd) {
  help.add_page(&app, {"resnet <command> MODEL [options] [IMAGE... | DIR]", ""});
  app.set_help_flag("-h,--help", "this text");
  app.set_version_flag("--version", "resnet 0.1.0", "the version");
  // At most one command, so that a later word that names another one (an image called
  // "eval") is an argument. Leftover words are reported below in the tool's own words
  // rather than as CLI11's ExtrasError; a repeated option counts once, the last time.
  app.require_subcommand(0, 1);
  app.allow_extras();
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  for (const CommandSpec& spec : kCommands) {
    CLI::App* sub = app.add_subcommand(spec.name, spec.description);
    help.add_page(sub, spec.page);
    // Not parse_complete_callback: that one checks the command's requirements before a
    // preceding `resnet --help` is seen.
    sub->final_callback([&cmd, kind = spec.kind] { cmd.subcommand = kind; });
    spec.add_options(*sub, cmd);
  }
  app.footer(tool_footer());  // after the commands: a subcommand inherits its parent's footer
}

int usage_error(const std::string& command, const std::string& message) {
  const std::string prefix = command.empty() ? "resnet" : "resnet " + command;
  std::cerr << prefix << ": " << message << "\nTry '" << prefix << " --help'.\n";
  return 2;
}

int main_impl(int argc, char** argv) {
  auto help = std::make_shared<HelpFormatter>();
  CLI::App app("Runs the residual networks of the resnet library from the command line.", "resnet");
  app.formatter(help);
  Command cmd;
  declare(app, *help, cmd);

  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << app.help();
    return 2;
  }
  if (args[0] == "help") args[0] = "--help";  // `resnet help [COMMAND]`
  std::string command;
  try {
    std::reverse(args.begin(), args.end());  // CLI11 takes the arguments last first
    try {
      app.parse(args);
    } catch (const CLI::ParseError& e) {
      if (!app.get_subcommands().empty()) command = app.get_subcommands()[0]->get_name();
      if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help, --version
      return usage_error(command, e.what());
    }
    const std::vector<std::string> extra = app.remaining(true);
    if (app.get_subcommands().empty()) {
      if (extra.empty()) {
        std::cerr << app.help();
        return 2;
      }
      return usage_error("", "unknown command '" + extra[0] + "' (expected summary, classify, eval, train-head, bench or calibrate)");
    }
    command = app.get_subcommands()[0]->get_name();
    if (!extra.empty()) {
      const std::string& word = extra[0];
      if (word.size() > 1 && word[0] == '-') throw UsageError("unknown option '" + word.substr(0, word.find('=')) + "'");
      throw UsageError("unexpected argument '" + word + "'");
    }
    if (cmd.pooling != resnet::Pooling::avg && !cmd.no_top) throw UsageError("--pooling applies only with --no-top");
    const bool int8 = cmd.precision == resnet::Precision::int8;
    if (!cmd.ranges.empty() && !int8) throw UsageError("--ranges applies only with --precision int8");
    // bench on random weights calibrates on its own random input (commands.cpp).
    const bool self_calibrating = cmd.subcommand == Subcommand::bench && cmd.weights.empty();
    if (int8 && cmd.ranges.empty() && !self_calibrating)
      throw UsageError("--precision int8 needs --ranges FILE: the conv input ranges `resnet calibrate " + cmd.model +
                       " --weights W DIR --out FILE` writes");
    const ModelInfo* info = find_model(cmd.model);
    if (info == nullptr) {
      std::string names;
      for (const ModelInfo& m : registry()) names += std::string(names.empty() ? "" : " ") + m.name;
      throw UsageError("unknown model '" + cmd.model + "'; known models: " + names);
    }
    return info->run(cmd, *info);
  } catch (const UsageError& e) {
    return usage_error(command, e.what());
  } catch (const resnet::Error& e) {
    std::cerr << "resnet " << command << ": error (" << resnet::to_string(e.kind()) << "): " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "resnet " << command << ": error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace
}  // namespace resnet_cli

int main(int argc, char** argv) { return resnet_cli::main_impl(argc, argv); }
