// Peer-benchmark worker for this library: the line protocol of peer_bench.py.
//
//   ready resnet <version>                                      (printed at start)
//   load MODEL_NAME WEIGHTS INPUT BATCH SIDE THREADS [PRECISION [RANGES]]
//                                                      -> ok | error <message>
//        PRECISION fp32 (default), bf16, or int8 with RANGES, a file `calibrate` wrote
//   calibrate MODEL_NAME WEIGHTS IMAGES COUNT SIDE THREADS OUT
//                                                      -> ok <method>, <images> images
//        the library's calibration (models/calibration.hpp, default method) of the fp32
//        model over COUNT preprocessed NCHW float32 images read from IMAGES; the
//        ranges go to OUT (save_ranges), for a later `load ... int8 OUT`
//   run K                                              -> K latencies in ms
//   dump PATH                                          -> ok  (last logits, raw float32)
//   quit
//
// Built by peer_bench.py with one direct g++ call, so it does not depend on CMake.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "resnet/resnet.hpp"

namespace {

class Runner {
 public:
  virtual ~Runner() = default;
  virtual void load(const std::string& weights) = 0;
  virtual void forward(const resnet::Tensor& input, resnet::Tensor& output, resnet::Workspace& ws) const = 0;
  virtual resnet::ActivationRanges calibrate(const std::vector<resnet::Tensor>& batches, resnet::Workspace& ws) const = 0;
};

template <class Model>
class ModelRunner final : public Runner {
 public:
  explicit ModelRunner(const resnet::ModelOptions& options) : model_(options) {}
  void load(const std::string& weights) override { model_.load_weights(weights); }
  void forward(const resnet::Tensor& input, resnet::Tensor& output, resnet::Workspace& ws) const override {
    model_.forward(input, output, ws);
  }
  resnet::ActivationRanges calibrate(const std::vector<resnet::Tensor>& batches, resnet::Workspace& ws) const override {
    return resnet::calibrate(model_, batches, ws);
  }

 private:
  Model model_;
};

std::unique_ptr<Runner> make_runner(const std::string& name, const resnet::ModelOptions& o = {}) {
  if (name == "resnet18") return std::make_unique<ModelRunner<resnet::ResNet18>>(o);
  if (name == "resnet34") return std::make_unique<ModelRunner<resnet::ResNet34>>(o);
  if (name == "resnet50") return std::make_unique<ModelRunner<resnet::ResNet50>>(o);
  if (name == "resnet101") return std::make_unique<ModelRunner<resnet::ResNet101>>(o);
  if (name == "resnet152") return std::make_unique<ModelRunner<resnet::ResNet152>>(o);
  if (name == "resnext50_32x4d") return std::make_unique<ModelRunner<resnet::ResNeXt50_32x4d>>(o);
  if (name == "resnext101_32x8d") return std::make_unique<ModelRunner<resnet::ResNeXt101_32x8d>>(o);
  if (name == "resnext101_64x4d") return std::make_unique<ModelRunner<resnet::ResNeXt101_64x4d>>(o);
  if (name == "wide_resnet50_2") return std::make_unique<ModelRunner<resnet::WideResNet50_2>>(o);
  if (name == "wide_resnet101_2") return std::make_unique<ModelRunner<resnet::WideResNet101_2>>(o);
  throw resnet::Error(resnet::ErrorKind::invalid_argument,
                      "ours_worker: unknown model '" + name +
                          "' (resnet18/34/50/101/152, resnext50_32x4d, resnext101_32x8d, resnext101_64x4d, "
                          "wide_resnet50_2, wide_resnet101_2)");
}

void read_input(std::ifstream& in, const std::string& path, resnet::Tensor& input) {
  const auto bytes = static_cast<std::streamsize>(input.size() * sizeof(float));
  if (!in.read(reinterpret_cast<char*>(input.data()), bytes))
    throw resnet::Error(resnet::ErrorKind::io, path + ": cannot read " + std::to_string(bytes) + " bytes of input");
}

void read_input(const std::string& path, resnet::Tensor& input) {
  std::ifstream in(path, std::ios::binary);
  read_input(in, path, input);
}

/// `load`'s optional PRECISION and RANGES words as model options.
resnet::ModelOptions precision_options(const std::string& precision, const std::string& ranges) {
  resnet::ModelOptions o;
  if (precision.empty()) return o;
  o.precision = resnet::parse_precision(precision);
  if (o.precision == resnet::Precision::int8) {
    if (ranges.empty())
      throw resnet::Error(resnet::ErrorKind::invalid_argument, "ours_worker: int8 needs a ranges file (calibrate)");
    o.int8_ranges = resnet::load_ranges(ranges);
  }
  return o;
}

/// Calibrates the fp32 model on `count` images of `images` in batches of 8 and saves the ranges.
std::string calibrate(std::istringstream& cmd) {
  std::string name, weights, images, out;
  int count = 0, side = 0, threads = 0;
  cmd >> name >> weights >> images >> count >> side >> threads >> out;
  if (count <= 0 || side <= 0 || threads <= 0 || out.empty())
    throw resnet::Error(resnet::ErrorKind::invalid_argument,
                        "ours_worker: calibrate MODEL WEIGHTS IMAGES COUNT SIDE THREADS OUT");
  const std::unique_ptr<Runner> fp32 = make_runner(name);
  fp32->load(weights);
  std::ifstream in(images, std::ios::binary);
  std::vector<resnet::Tensor> batches;
  for (int first = 0; first < count; first += 8) {
    batches.emplace_back(std::min(8, count - first), side, side, 3, resnet::Layout::nchw);
    read_input(in, images, batches.back());
  }
  resnet::Workspace ws(threads);
  resnet::ActivationRanges r = fp32->calibrate(batches, ws);
  resnet::save_ranges(out, r);
  return r.method + ", " + std::to_string(r.images) + " images";
}

struct Session {
  std::unique_ptr<Runner> runner;
  std::unique_ptr<resnet::Workspace> ws;
  resnet::Tensor input;
  resnet::Tensor output;
};

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  std::cout << "ready resnet header-only" << std::endl;
  Session s;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream cmd(line);
    std::string op;
    cmd >> op;
    try {
      if (op == "load") {
        std::string name, weights, input_path, precision, ranges;
        int batch = 0, side = 0, threads = 0;
        cmd >> name >> weights >> input_path >> batch >> side >> threads >> precision >> ranges;
        s.runner = make_runner(name, precision_options(precision, ranges));
        s.runner->load(weights);
        // --no-spin: our pool's workers sleep at once too, as the peers' do then.
        s.ws = std::make_unique<resnet::Workspace>(threads, std::getenv("PEER_NO_SPIN") ? 0 : resnet::ThreadPool::kDefaultSpinMicroseconds);
        s.input = resnet::Tensor(batch, side, side, 3, resnet::Layout::nchw);
        read_input(input_path, s.input);
        std::cout << "ok" << std::endl;
      } else if (op == "calibrate") {
        std::cout << "ok " << calibrate(cmd) << std::endl;
      } else if (op == "run") {
        int k = 0;
        cmd >> k;
        std::ostringstream times;
        for (int i = 0; i < k; ++i) {
          const auto t0 = std::chrono::steady_clock::now();
          s.runner->forward(s.input, s.output, *s.ws);
          const auto t1 = std::chrono::steady_clock::now();
          times << (i ? " " : "") << std::chrono::duration<double, std::milli>(t1 - t0).count();
        }
        std::cout << times.str() << std::endl;
      } else if (op == "dump") {
        std::string path;
        cmd >> path;
        std::ofstream out(path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(s.output.data()),
                  static_cast<std::streamsize>(s.output.size() * sizeof(float)));
        std::cout << "ok" << std::endl;
      } else if (op == "quit") {
        return 0;
      } else {
        std::cout << "error unknown command '" << op << "'" << std::endl;
      }
    } catch (const std::exception& e) {
      std::string msg = e.what();
      for (char& c : msg)
        if (c == '\n') c = ' ';
      std::cout << "error " << msg << std::endl;
    }
  }
  return 0;
}
