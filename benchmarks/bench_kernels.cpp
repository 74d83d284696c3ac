// Convolution kernels on the real layer shapes of torchvision ResNet-50 at batch 1.
//
//   conv/<kind>/<in>x<out>@<side>/<algorithm>/threads:<t>   one layer, GFLOP/s = 2 * direct MACs
//   resnet50_all_convs/threads:<t>                            the 53 convs in network order
//
// GFLOP/s for Winograd counts the direct convolution's MACs (an "effective" rate), so
// the paths of one shape compare directly. Quote medians:
//   bench_kernels --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "resnet/kernels/conv2d.hpp"

namespace {

using resnet::ThreadPool;
using resnet::kernels::ConvAlgorithm;
using resnet::kernels::ConvKernel;
using resnet::kernels::ConvShape;
using resnet::kernels::Epilogue;

struct Layer {
  const char* kind;
  ConvShape s;
  int side;   // input height = width
  int count;  // how many times ResNet-50 has this layer
};

// torchvision ResNet-50 (stride on the 3x3), every distinct conv with its multiplicity: 53 in all.
const Layer kLayers[] = {
    {"7x7_stem", {3, 64, 7, 2, 3}, 224, 1},      {"1x1_s1", {64, 64, 1, 1, 0}, 56, 1},
    {"3x3_s1", {64, 64, 3, 1, 1}, 56, 3},        {"1x1_s1", {64, 256, 1, 1, 0}, 56, 4},
    {"1x1_s1", {256, 64, 1, 1, 0}, 56, 2},       {"1x1_s1", {256, 128, 1, 1, 0}, 56, 1},
    {"3x3_s2", {128, 128, 3, 2, 1}, 56, 1},      {"1x1_s1", {128, 512, 1, 1, 0}, 28, 4},
    {"1x1_s2", {256, 512, 1, 2, 0}, 56, 1},      {"1x1_s1", {512, 128, 1, 1, 0}, 28, 3},
    {"3x3_s1", {128, 128, 3, 1, 1}, 28, 3},      {"1x1_s1", {512, 256, 1, 1, 0}, 28, 1},
    {"3x3_s2", {256, 256, 3, 2, 1}, 28, 1},      {"1x1_s1", {256, 1024, 1, 1, 0}, 14, 6},
    {"1x1_s2", {512, 1024, 1, 2, 0}, 28, 1},     {"1x1_s1", {1024, 256, 1, 1, 0}, 14, 5},
    {"3x3_s1", {256, 256, 3, 1, 1}, 14, 5},      {"1x1_s1", {1024, 512, 1, 1, 0}, 14, 1},
    {"3x3_s2", {512, 512, 3, 2, 1}, 14, 1},      {"1x1_s1", {512, 2048, 1, 1, 0}, 7, 3},
    {"1x1_s2", {1024, 2048, 1, 2, 0}, 14, 1},    {"1x1_s1", {2048, 512, 1, 1, 0}, 7, 2},
    {"3x3_s1", {512, 512, 3, 1, 1}, 7, 2},
};

std::vector<float> random_vector(std::size_t count, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (auto& x : v) x = dist(gen);
  return v;
}

double direct_macs(const ConvShape& s, int side) {
  const double o = s.out_side(side);
  return o * o * s.out_c * s.kernel * s.kernel * s.in_c;
}

/// One layer with its buffers, ready to run.
struct Bench {
  ConvKernel kernel;
  int side;
  std::vector<float> in, out, residual, scratch;
  Bench(const Layer& l, ConvAlgorithm algo, int threads)
      : kernel(l.s, random_vector(static_cast<std::size_t>(l.s.weight_count()), 1),
               random_vector(static_cast<std::size_t>(l.s.out_c), 2), algo),
        side(l.side),
        in(random_vector(static_cast<std::size_t>(l.side) * l.side * l.s.in_c, 3)),
        out(static_cast<std::size_t>(l.s.out_side(l.side)) * l.s.out_side(l.side) * l.s.out_c),
        residual(random_vector(out.size(), 4)),
        scratch(kernel.scratch_floats(1, l.side, l.side, threads)) {}
  void run(ThreadPool& pool) {
    Epilogue e;
    e.relu = true;
    kernel.run(in.data(), 1, side, side, out.data(), e, scratch.data(), pool);
  }
};

void bench_layer(benchmark::State& state, Layer layer, ConvAlgorithm algo, int threads) {
  ThreadPool pool(threads);
  Bench b(layer, algo, threads);
  for (auto _ : state) {
    b.run(pool);
    benchmark::DoNotOptimize(b.out.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2 * direct_macs(layer.s, layer.side) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(b.kernel.algorithm_name());
}

// All 53 convs in network order, each layer with its own weights (as in a real forward
// pass, where ~150 MB of packed weights cannot stay in cache) but sharing one input, one
// output and one scratch buffer, as a model's workspace does.
void bench_all(benchmark::State& state, int threads) {
  ThreadPool pool(threads);
  std::vector<ConvKernel> kernels;
  std::vector<int> sides;
  double macs = 0;
  std::size_t scratch_size = 0, act_size = 0, weight_bytes = 0;
  for (const Layer& l : kLayers)
    for (int i = 0; i < l.count; ++i) {
      kernels.emplace_back(l.s, random_vector(static_cast<std::size_t>(l.s.weight_count()), 1),
                           random_vector(static_cast<std::size_t>(l.s.out_c), 2));
      sides.push_back(l.side);
      macs += direct_macs(l.s, l.side);
      scratch_size = std::max(scratch_size, kernels.back().scratch_floats(1, l.side, l.side, threads));
      act_size = std::max<std::size_t>(act_size, static_cast<std::size_t>(l.side) * l.side * std::max(l.s.in_c, l.s.out_c));
      weight_bytes += static_cast<std::size_t>(l.s.weight_count()) * sizeof(float);
    }
  const std::vector<float> in = random_vector(act_size, 3);
  std::vector<float> out(act_size), scratch(scratch_size);
  Epilogue e;
  e.relu = true;
  for (auto _ : state)
    for (std::size_t i = 0; i < kernels.size(); ++i) {
      kernels[i].run(in.data(), 1, sides[i], sides[i], out.data(), e, scratch.data(), pool);
      benchmark::ClobberMemory();
    }
  state.counters["GFLOP/s"] = benchmark::Counter(2 * macs * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["raw_weight_MB"] = static_cast<double>(weight_bytes) / 1e6;
}

std::string shape_name(const Layer& l) {
  return std::string(l.kind) + "/" + std::to_string(l.s.in_c) + "x" + std::to_string(l.s.out_c) + "@" +
         std::to_string(l.side);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  for (int threads : {1, 2}) {
    for (const Layer& l : kLayers) {
      std::vector<std::pair<const char*, ConvAlgorithm>> algos = {{"auto", ConvAlgorithm::automatic}};
      if (l.s.kernel == 3 && l.s.stride == 1) {
        algos.push_back({"im2col", ConvAlgorithm::gemm});
        algos.push_back({"wino2", ConvAlgorithm::winograd_2x2});
        algos.push_back({"wino4", ConvAlgorithm::winograd_4x4});
      }
      for (const auto& [tag, algo] : algos) {
        const std::string name =
            "conv/" + shape_name(l) + "/" + tag + "/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(name.c_str(), bench_layer, l, algo, threads)->UseRealTime()->Unit(benchmark::kMicrosecond);
      }
    }
    benchmark::RegisterBenchmark(("resnet50_all_convs/threads:" + std::to_string(threads)).c_str(), bench_all, threads)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
