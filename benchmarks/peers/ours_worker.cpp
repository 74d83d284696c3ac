// Peer-benchmark worker for this library: the line protocol of peer_bench.py.
//
//   ready resnet <version>                                      (printed at start)
//   load MODEL_NAME WEIGHTS INPUT BATCH SIDE THREADS   -> ok | error <message>
//   run K                                              -> K latencies in ms
//   dump PATH                                          -> ok  (last logits, raw float32)
//   quit
//
// Built by peer_bench.py with one direct g++ call, so it does not depend on CMake.

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "resnet/resnet.hpp"

namespace {

class Runner {
 public:
  virtual ~Runner() = default;
  virtual void load(const std::string& weights) = 0;
  virtual void forward(const resnet::Tensor& input, resnet::Tensor& output, resnet::Workspace& ws) const = 0;
};

template <class Model>
class ModelRunner final : public Runner {
 public:
  void load(const std::string& weights) override { model_.load_weights(weights); }
  void forward(const resnet::Tensor& input, resnet::Tensor& output, resnet::Workspace& ws) const override {
    model_.forward(input, output, ws);
  }

 private:
  Model model_;
};

std::unique_ptr<Runner> make_runner(const std::string& name) {
  if (name == "resnet18") return std::make_unique<ModelRunner<resnet::ResNet18>>();
  if (name == "resnet34") return std::make_unique<ModelRunner<resnet::ResNet34>>();
  if (name == "resnet50") return std::make_unique<ModelRunner<resnet::ResNet50>>();
  if (name == "resnet101") return std::make_unique<ModelRunner<resnet::ResNet101>>();
  if (name == "resnet152") return std::make_unique<ModelRunner<resnet::ResNet152>>();
  if (name == "resnext50_32x4d") return std::make_unique<ModelRunner<resnet::ResNeXt50_32x4d>>();
  if (name == "resnext101_32x8d") return std::make_unique<ModelRunner<resnet::ResNeXt101_32x8d>>();
  if (name == "resnext101_64x4d") return std::make_unique<ModelRunner<resnet::ResNeXt101_64x4d>>();
  if (name == "wide_resnet50_2") return std::make_unique<ModelRunner<resnet::WideResNet50_2>>();
  if (name == "wide_resnet101_2") return std::make_unique<ModelRunner<resnet::WideResNet101_2>>();
  throw resnet::Error(resnet::ErrorKind::invalid_argument,
                      "ours_worker: unknown model '" + name +
                          "' (resnet18/34/50/101/152, resnext50_32x4d, resnext101_32x8d, resnext101_64x4d, "
                          "wide_resnet50_2, wide_resnet101_2)");
}

void read_input(const std::string& path, resnet::Tensor& input) {
  std::ifstream in(path, std::ios::binary);
  const auto bytes = static_cast<std::streamsize>(input.size() * sizeof(float));
  if (!in.read(reinterpret_cast<char*>(input.data()), bytes))
    throw resnet::Error(resnet::ErrorKind::io, path + ": cannot read " + std::to_string(bytes) + " bytes of input");
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
        std::string name, weights, input_path;
        int batch = 0, side = 0, threads = 0;
        cmd >> name >> weights >> input_path >> batch >> side >> threads;
        s.runner = make_runner(name);
        s.runner->load(weights);
        s.ws = std::make_unique<resnet::Workspace>(threads);
        s.input = resnet::Tensor(batch, side, side, 3, resnet::Layout::nchw);
        read_input(input_path, s.input);
        std::cout << "ok" << std::endl;
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
