// `resnet`: summary, classify, eval and bench for every model of the library.
// Exit status: 0 success, 1 a failure at run time (a file, an image, weights), 2 a
// mistake on the command line.

#include <cstdint>
#include <exception>
#include <iostream>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "options.hpp"
#include "registry.hpp"

namespace resnet_cli {
namespace {

const char* const kToolHelp = R"(usage: resnet <command> MODEL [options] [IMAGE... | DIR]

Runs the residual networks of the resnet library from the command line.

commands:
  summary   layers, output shapes, parameters and MACs (like Keras' model.summary())
  classify  top-K classes of JPEG/PNG images
  eval      top-1/top-5 accuracy on an ImageFolder directory (DIR/<class>/<image>)
  bench     latency and throughput on random input

Run `resnet <command> --help` for the options of a command.

examples:
  resnet summary resnet50
  resnet classify cifar-resnet56 --weights resnet56.safetensors cat.jpg
  resnet eval cifar-resnet56 --weights resnet56.safetensors ../shared/data/cifar10/test
  resnet bench resnet50 --batch 8 --threads 2

weights: safetensors files made by tools/convert_torch.py (torchvision, CIFAR) or
tools/convert_keras_h5.py (Keras).
)";

const char* const kSummaryHelp = R"(usage: resnet summary MODEL [--classes N] [--input HxW] [--no-top [--pooling avg|max|none]]

Prints the model block by block: output shape (batch of one, NHWC), parameters and
multiply-accumulates, with Keras-style totals. Needs no weights.

options:
  --classes N       classifier size (default: 1000; 10 for the CIFAR models)
  --input HxW       input size, e.g. 224x224 or 224 (default 224; 32 for CIFAR)
  --no-top          leave the classifier off (Keras include_top=False)
  --pooling MODE    with --no-top: avg (default), max, or none for the feature map
  -h, --help        this text
)";

const char* const kClassifyHelp = R"(usage: resnet classify MODEL --weights FILE [options] IMAGE...

Decodes each JPEG/PNG image, resizes its shorter side and centre-crops it as torchvision
does (ImageNet models: 256 then 224; CIFAR models: 32x32 used as is), normalises it for
the model and prints the top-K classes with their probabilities (softmax of the logits
for torchvision and CIFAR models; Keras models output probabilities already).

options:
  --weights FILE        safetensors weights (required)
  --preprocess MODE     torch, caffe, tf or cifar (default: the model's own:
                        torchvision torch, Keras V1 caffe, Keras V2 tf, CIFAR cifar)
  --labels NAME|FILE    imagenet, cifar10, or a file with one label per line
                        (default: the model's dataset)
  --classes N           class count of the weights (default: the label file's length,
                        else 1000; 10 for CIFAR)
  --top K               how many classes to print (default 5)
  --resize N            shorter side before the crop (default 256; 32 for CIFAR;
                        use 232 for torchvision's IMAGENET1K_V2 ResNet-50/101/152)
  --crop N              side of the square centre crop (default 224; 32 for CIFAR)
  --threads T           threads (default: one per core)
  -h, --help            this text
)";

const char* const kEvalHelp = R"(usage: resnet eval MODEL --weights FILE [options] DIR

Accuracy on an ImageFolder layout: DIR/<class>/<image>, where the class index is the
position of the folder name in sorted order (as torchvision's ImageFolder). Files that
cannot be decoded (truncated, not an image, ...) are reported by name, skipped and
counted. A progress bar is drawn when stderr is a terminal; otherwise a line is printed
every tenth of the way.

options:
  --weights FILE        safetensors weights (required)
  --preprocess MODE     torch, caffe, tf or cifar (default: the model's own)
  --classes N           class count of the weights (default 1000; 10 for CIFAR)
  --resize N, --crop N  as for classify
  --batch B             images per forward pass (default 32)
  --threads T           threads for decoding and inference (default: one per core)
  -h, --help            this text
)";

const char* const kBenchHelp = R"(usage: resnet bench MODEL [options]

Times forward passes on random input: warm-up runs, then the median and 90th
percentile latency of a batch and the throughput in images/s.

options:
  --batch B         images per forward pass (default 1)
  --threads T       threads (default: one per core)
  --input HxW       input size (default 224x224; 32x32 for CIFAR)
  --iters N         timed runs (default 10)
  --warmup N        untimed runs first (default 2)
  --weights FILE    safetensors weights instead of random ones
  --seed S          seed of the random weights and input (default 0)
  --classes N, --no-top, --pooling MODE   head options as for summary
  -h, --help        this text
)";

const char* help_for(Subcommand s) {
  switch (s) {
    case Subcommand::summary: return kSummaryHelp;
    case Subcommand::classify: return kClassifyHelp;
    case Subcommand::eval: return kEvalHelp;
    case Subcommand::bench: return kBenchHelp;
  }
  return kToolHelp;
}

void print_tool_help(std::ostream& out) {
  out << kToolHelp << "\nmodels:\n";
  for (const ModelInfo& m : registry()) {
    std::string name = m.name;
    name.resize(18, ' ');
    out << "  " << name << m.description << " [" << resnet::to_string(m.preprocess) << "]\n";
  }
}

bool parse_subcommand(const std::string& s, Subcommand& out) {
  if (s == "summary") out = Subcommand::summary;
  else if (s == "classify") out = Subcommand::classify;
  else if (s == "eval") out = Subcommand::eval;
  else if (s == "bench") out = Subcommand::bench;
  else return false;
  return true;
}

long long parse_integer(const std::string& option, const std::string& text, long long lo, long long hi) {
  std::size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size())
    throw UsageError(option + ": expected an integer, got '" + text + "'");
  if (v < lo || v > hi)
    throw UsageError(option + ": " + text + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v;
}

InputSize parse_size(const std::string& option, const std::string& text) {
  const std::size_t x = text.find_first_of("xX");
  constexpr long long max_side = 1 << 16;
  if (x == std::string::npos) {
    const int side = static_cast<int>(parse_integer(option, text, 1, max_side));
    return {side, side};
  }
  return {static_cast<int>(parse_integer(option, text.substr(0, x), 1, max_side)),
          static_cast<int>(parse_integer(option, text.substr(x + 1), 1, max_side))};
}

/// Options each subcommand accepts; the ones not named here take a value.
const std::set<std::string>& allowed(Subcommand s) {
  static const std::set<std::string> summary{"--classes", "--input", "--no-top", "--pooling"};
  static const std::set<std::string> classify{"--weights", "--preprocess", "--labels", "--classes", "--top",
                                              "--resize",  "--crop",       "--threads"};
  static const std::set<std::string> eval{"--weights", "--preprocess", "--classes", "--resize",
                                          "--crop",    "--batch",      "--threads"};
  static const std::set<std::string> bench{"--batch",  "--threads", "--input",   "--iters",   "--warmup",
                                           "--weights", "--seed",   "--classes", "--no-top", "--pooling"};
  switch (s) {
    case Subcommand::summary: return summary;
    case Subcommand::classify: return classify;
    case Subcommand::eval: return eval;
    case Subcommand::bench: return bench;
  }
  return summary;
}

void apply(Command& cmd, const std::string& name, const std::string& value) {
  constexpr long long int_max = std::numeric_limits<int>::max();
  if (name == "--classes") cmd.classes = static_cast<int>(parse_integer(name, value, 1, 1 << 20));
  else if (name == "--input") cmd.input = parse_size(name, value);
  else if (name == "--pooling") {
    if (value == "avg") cmd.pooling = resnet::Pooling::avg;
    else if (value == "max") cmd.pooling = resnet::Pooling::max;
    else if (value == "none") cmd.pooling = resnet::Pooling::none;
    else throw UsageError("--pooling: expected avg, max or none, got '" + value + "'");
  } else if (name == "--weights") cmd.weights = value;
  else if (name == "--preprocess") {
    try {
      cmd.preprocess = resnet::parse_preprocess(value);
    } catch (const resnet::Error& e) {
      throw UsageError(std::string("--preprocess: ") + e.what());
    }
  } else if (name == "--labels") cmd.labels = value;
  else if (name == "--top") cmd.top = static_cast<int>(parse_integer(name, value, 1, int_max));
  else if (name == "--resize") cmd.resize = static_cast<int>(parse_integer(name, value, 1, 4096));
  else if (name == "--crop") cmd.crop = static_cast<int>(parse_integer(name, value, 1, 4096));
  else if (name == "--batch") cmd.batch = static_cast<int>(parse_integer(name, value, 1, 1 << 16));
  else if (name == "--threads") cmd.threads = static_cast<int>(parse_integer(name, value, 0, 1024));
  else if (name == "--iters") cmd.iters = static_cast<int>(parse_integer(name, value, 1, 1000000));
  else if (name == "--warmup") cmd.warmup = static_cast<int>(parse_integer(name, value, 0, 1000000));
  else if (name == "--seed") cmd.seed = static_cast<std::uint64_t>(parse_integer(name, value, 0, std::numeric_limits<long long>::max()));
}

/// Parses argv after the subcommand; returns false when help was asked for.
bool parse_arguments(Command& cmd, const std::vector<std::string>& args) {
  const std::set<std::string>& ok = allowed(cmd.subcommand);
  std::vector<std::string> positional;
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options_done || a.size() < 2 || a[0] != '-' || a == "-") {
      positional.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a == "-h" || a == "--help") return false;
    std::string name = a, value;
    bool has_value = false;
    if (const std::size_t eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    if (!ok.count(name)) throw UsageError("unknown option '" + name + "'");
    if (name == "--no-top") {
      if (has_value) throw UsageError("--no-top takes no value");
      cmd.no_top = true;
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) throw UsageError(name + " needs a value");
      value = args[++i];
    }
    apply(cmd, name, value);
  }
  if (positional.empty()) throw UsageError("missing MODEL (run `resnet --help` for the list)");
  cmd.model = positional[0];
  cmd.inputs.assign(positional.begin() + 1, positional.end());
  if (cmd.subcommand == Subcommand::summary && !cmd.inputs.empty())
    throw UsageError("summary takes only MODEL, got also '" + cmd.inputs[0] + "'");
  if (cmd.pooling != resnet::Pooling::avg && !cmd.no_top)
    throw UsageError("--pooling applies only with --no-top");
  return true;
}

int main_impl(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    print_tool_help(std::cerr);
    return 2;
  }
  if (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    Subcommand s;
    if (args.size() > 1 && parse_subcommand(args[1], s)) {
      std::cout << help_for(s);
      return 0;
    }
    print_tool_help(std::cout);
    return 0;
  }
  if (args[0] == "--version") {
    std::cout << "resnet 0.1.0\n";
    return 0;
  }
  Command cmd;
  if (!parse_subcommand(args[0], cmd.subcommand)) {
    std::cerr << "resnet: unknown command '" << args[0] << "' (expected summary, classify, eval or bench)\n"
              << "Try 'resnet --help'.\n";
    return 2;
  }
  const std::string sub = args[0];
  try {
    if (!parse_arguments(cmd, std::vector<std::string>(args.begin() + 1, args.end()))) {
      std::cout << help_for(cmd.subcommand);
      return 0;
    }
    const ModelInfo* info = find_model(cmd.model);
    if (info == nullptr) {
      std::string names;
      for (const ModelInfo& m : registry()) names += std::string(names.empty() ? "" : " ") + m.name;
      throw UsageError("unknown model '" + cmd.model + "'; known models: " + names);
    }
    return info->run(cmd, *info);
  } catch (const UsageError& e) {
    std::cerr << "resnet " << sub << ": " << e.what() << "\nTry 'resnet " << sub << " --help'.\n";
    return 2;
  } catch (const resnet::Error& e) {
    std::cerr << "resnet " << sub << ": error (" << resnet::to_string(e.kind()) << "): " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "resnet " << sub << ": error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace
}  // namespace resnet_cli

int main(int argc, char** argv) { return resnet_cli::main_impl(argc, argv); }
