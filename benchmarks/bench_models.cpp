// Whole-model forward passes with seeded random weights, one Workspace reused.
//
//   <Model>/batch:<n>/threads:<t>    224x224 (CifarResNet56: 32x32), NCHW input
//
// Counters: img/s, and GFLOP/s = 2 * Model::macs(h, w) * batch per second (the direct
// convolution count, so Winograd layers show as an effective rate). Quote medians:
//   bench_models --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   bench_models --benchmark_filter='ResNet50/batch:1/'
// For the comparison with ONNX Runtime, PyTorch and OpenCV see benchmarks/peers/.

#include <benchmark/benchmark.h>

#include <random>

#include "resnet/resnet.hpp"

namespace {

template <class Model>
const Model& shared_model() {
  // One instance per type for the whole program: weight packing stays out of the timings.
  static Model model;
  static const bool ready = (model.init_random(42), true);
  (void)ready;
  return model;
}

resnet::Tensor random_input(int batch, int side) {
  resnet::Tensor input(batch, side, side, 3, resnet::Layout::nchw);
  std::mt19937 gen(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float& x : input.values()) x = dist(gen);
  return input;
}

template <class Model>
void BM_Model(benchmark::State& state, int side) {
  const int batch = static_cast<int>(state.range(0));
  const int threads = static_cast<int>(state.range(1));
  const Model& model = shared_model<Model>();
  const resnet::Tensor input = random_input(batch, side);
  resnet::Workspace ws(threads);
  resnet::Tensor output;
  model.forward(input, output, ws);  // sizes the workspace and the output once
  for (auto _ : state) {
    model.forward(input, output, ws);
    benchmark::DoNotOptimize(output.data());
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * static_cast<double>(Model::macs(side, side)) * batch;
  state.counters["img/s"] = benchmark::Counter(batch, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

template <class Model>
void register_model(const char* name, int side) {
  auto* b = benchmark::RegisterBenchmark(name, [side](benchmark::State& state) { BM_Model<Model>(state, side); });
  b->ArgNames({"batch", "threads"});
  for (int batch : {1, 8})
    for (int threads : {1, 2}) b->Args({batch, threads});
  b->UseRealTime()->Unit(benchmark::kMillisecond);
}

const bool registered = [] {
  register_model<resnet::ResNet18>("ResNet18", 224);
  register_model<resnet::ResNet34>("ResNet34", 224);
  register_model<resnet::ResNet50>("ResNet50", 224);
  register_model<resnet::ResNet101>("ResNet101", 224);
  register_model<resnet::ResNet152>("ResNet152", 224);
  register_model<resnet::keras::ResNet50>("KerasResNet50", 224);
  register_model<resnet::ResNet50V2>("ResNet50V2", 224);
  register_model<resnet::CifarResNet56>("CifarResNet56", 32);
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
