// Convolution kernels on the real layer shapes of torchvision ResNet-50 at batch 1.
//
//   conv/<kind>/<in>x<out>@<side>/<algorithm>/threads:<t>   one layer, GFLOP/s = 2 * direct MACs
//   resnet50_all_convs/threads:<t>                            the 53 convs in network order
//   conv/grouped/<width>g<groups>s<stride>@<side>/<algorithm>/threads:<t>
//       the grouped 3x3 convs of ResNeXt-50 32x4d and ResNeXt-101 32x8d / 64x4d: the
//       direct kernel (auto) against one GEMM or Winograd per group
//   conv/1x1_s1/<in>x<out>@<side>/residual/threads:<t>   an expanding 1x1 (a bottleneck's
//       last conv) with the residual added in its epilogue, as the models run it
//   conv/<kind>/<in>x<out>@<side>/...  as above, also the layers of ResNeXt-50 32x4d and
//       Wide ResNet-50-2 that ResNet-50 lacks (their 1x1s, Wide ResNet's 3x3s)
//   <model>_all_convs/threads:<t>      resnext50_32x4d, wide_resnet50_2: their convs in
//       network order, as resnet50_all_convs
//
//   gemm/<M>x<K>x<N>/<precision>                              conv-as-GEMM at one precision, 1 thread:
//       fp32 is the 1x1 ConvKernel over N pixels of K channels (the fp32 GEMM, B read in
//       place); int8 is gemm_int8 with u8 output (bias, ReLU, requantized); bf16 is
//       gemm_bf16 (bias, ReLU, activations converted per block). GOPS = 2 MACs.
//   conv/<kind>/<in>x<out>@<side>/<int8|bf16>/threads:1           one layer at reduced precision:
//       the GEMM over the column sources of im2col_lowp.hpp (windows padded with the zero
//       point), u8 or bf16 NHWC in and out, bias and ReLU
//   resnet50_all_convs_<int8|bf16>/threads:1                  the 53 convs so, as resnet50_all_convs
//   resnet50_all_convs_bf16_fp32_maps/threads:1               bf16 with fp32 maps, converted while packing
//   block_output/<in>x<out>@<side>/int8/<warm|cold>/threads:1  an int8 block's last 1x1 as the
//       models run it between blocks: bf16 residual in, u8 and bf16 out; cold: every map
//       evicted from the caches before each pass
//   classifier/2048x1000/<fp32|int8>/batch:<n>/threads:1      ResNet-50's classifier (Dense<2048>, 1000
//       classes; int8: s8 weights, an int8 model's) with its weights evicted from the caches
//       before each pass, as a network pass finds them
//
// GFLOP/s for Winograd counts the direct convolution's MACs (an "effective" rate), so
// the paths of one shape compare directly. Quote medians:
//   bench_kernels --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "resnet/kernels/conv2d.hpp"
#include "resnet/kernels/gemm_bf16.hpp"
#include "resnet/kernels/gemm_int8.hpp"
#include "resnet/kernels/im2col_lowp.hpp"
#include "resnet/layers/dense.hpp"
#include "resnet50_conv_layers.hpp"

namespace {

using resnet::ThreadPool;
using resnet::kernels::ConvAlgorithm;
using resnet::kernels::ConvKernel;
using resnet::kernels::ConvShape;

using Layer = resnet50::ConvLayer;

using resnet50::random_vector;

double direct_macs(const ConvShape& s, int side) {
  const double o = s.out_side(side);
  return o * o * s.out_c * s.kernel * s.kernel * s.group_in();
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
  void run(ThreadPool& pool, bool with_residual = false) {
    kernel.run(in.data(), 1, side, side, out.data(), with_residual ? residual.data() : nullptr, true, scratch.data(),
               pool);
  }
};

void bench_layer(benchmark::State& state, Layer layer, ConvAlgorithm algo, int threads, bool with_residual = false) {
  ThreadPool pool(threads);
  Bench b(layer, algo, threads);
  for (auto _ : state) {
    b.run(pool, with_residual);
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
void bench_all(benchmark::State& state, std::vector<Layer> layers, int threads) {
  ThreadPool pool(threads);
  std::vector<ConvKernel> kernels;
  std::vector<int> sides;
  double macs = 0;
  std::size_t scratch_size = 0, act_size = 0, weight_bytes = 0;
  for (const Layer& l : layers)
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
  for (auto _ : state)
    for (std::size_t i = 0; i < kernels.size(); ++i) {
      kernels[i].run(in.data(), 1, sides[i], sides[i], out.data(), nullptr, true, scratch.data(), pool);
      benchmark::ClobberMemory();
    }
  state.counters["GFLOP/s"] = benchmark::Counter(2 * macs * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["raw_weight_MB"] = static_cast<double>(weight_bytes) / 1e6;
}

/// One conv layer at int8 or bf16: packed weights, run over NHWC maps through the
/// reduced-precision GEMMs and their column sources: u8 in and out (int8), bf16 in and
/// out (bf16), or fp32 in and out converted while packing (bf16, fp32_maps). No threads.
struct LowpConvLayer {
  Layer l;
  resnet::Precision precision;
  bool fp32_maps;
  resnet::kernels::PackedInt8Weights w8;
  resnet::kernels::PackedBf16Weights w16;
  std::vector<float> bias;

  LowpConvLayer(const Layer& layer, resnet::Precision p, bool fp32_maps_ = false)
      : l(layer), precision(p), fp32_maps(fp32_maps_) {
    const auto w = random_vector(static_cast<std::size_t>(l.s.weight_count()), 1);
    const long long k = 1LL * l.s.kernel * l.s.kernel * l.s.in_c;
    if (p == resnet::Precision::int8)
      w8 = resnet::kernels::PackedInt8Weights::quantize(w.data(), l.s.out_c, k, k);
    else
      w16 = resnet::kernels::PackedBf16Weights(w.data(), l.s.out_c, k, k);
    bias = random_vector(static_cast<std::size_t>(l.s.out_c), 2);
  }
  long long depth() const { return 1LL * l.s.kernel * l.s.kernel * l.s.in_c; }
  std::size_t scratch_bytes() const {
    return precision == resnet::Precision::int8
               ? static_cast<std::size_t>(resnet::kernels::gemm_int8_scratch_bytes(depth()))
               : sizeof(float) * static_cast<std::size_t>(resnet::kernels::gemm_bf16_scratch_floats(depth()));
  }
  void run(const void* in, void* out, void* scratch) const {
    namespace k = resnet::kernels;
    const ConvShape& s = l.s;
    const long long side = l.side, o = s.out_side(l.side), n = o * o;
    if (precision == resnet::Precision::int8) {
      k::Int8Epilogue epi;
      epi.input = {1.0f / 64, 0};
      epi.bias = bias.data();
      epi.relu = true;
      const auto* x = static_cast<const std::uint8_t*>(in);
      auto* y = static_cast<std::uint8_t*>(out);
      auto* tmp = static_cast<std::uint8_t*>(scratch);
      if (s.kernel == 1)
        k::gemm_int8(w8, k::U8PixelColumns{x, side, side, s.in_c, o, o, s.stride}, n, epi, y, s.out_c, {0.05f, 0}, tmp);
      else
        k::gemm_int8(w8, k::U8PatchColumns{x, side, side, s.in_c, s.kernel, s.stride, s.pad, o, o, 0}, n, epi, y,
                     s.out_c, {0.05f, 0}, tmp);
    } else if (!fp32_maps) {
      k::Bf16Epilogue epi;
      epi.bias = bias.data();
      epi.relu = true;
      const auto* x = static_cast<const std::uint16_t*>(in);
      auto* y = static_cast<std::uint16_t*>(out);
      auto* tmp = static_cast<float*>(scratch);
      if (s.kernel == 1)
        k::gemm_bf16(w16, k::Bf16PixelColumns{x, side, side, s.in_c, o, o, s.stride}, n, epi, y, s.out_c, tmp);
      else
        k::gemm_bf16(w16, k::Bf16PatchColumns{x, side, side, s.in_c, s.kernel, s.stride, s.pad, o, o, 0}, n, epi, y,
                     s.out_c, tmp);
    } else {
      k::Bf16Epilogue epi;
      epi.bias = bias.data();
      epi.relu = true;
      const auto* x = static_cast<const float*>(in);
      auto* y = static_cast<float*>(out);
      auto* tmp = static_cast<float*>(scratch);
      if (s.kernel == 1)
        k::gemm_bf16(w16, k::detail::StridedColumns{x, side, side, s.in_c, o, o, s.stride}, n, epi, y, s.out_c, tmp);
      else
        k::gemm_bf16(w16, k::detail::PatchColumns{x, side, side, s.in_c, s.kernel, s.stride, s.pad, o, o}, n, epi, y,
                     s.out_c, tmp);
    }
  }
};

/// The layer's (or all 53 layers') buffers: the widest map in either element type.
struct LowpBuffers {
  std::vector<float> in, out, scratch;
  LowpBuffers(std::size_t act_floats, std::size_t scratch_bytes)
      : in(random_vector(act_floats, 3)), out(act_floats), scratch(scratch_bytes / sizeof(float) + 1) {
    // Post-ReLU values that read as fp32, as two bf16 (both in [0, 1)) and as arbitrary u8.
    const auto low = random_vector(act_floats, 5);
    for (std::size_t i = 0; i < in.size(); ++i) {
      const std::uint32_t bits = std::uint32_t(resnet::kernels::to_bf16_bits(std::abs(in[i]))) << 16 |
                                 resnet::kernels::to_bf16_bits(std::abs(low[i]));
      std::memcpy(&in[i], &bits, sizeof bits);
    }
  }
};

void bench_lowp_layer(benchmark::State& state, Layer layer, resnet::Precision precision) {
  try {
    resnet::require_precision(precision);
  } catch (const resnet::Error& e) {
    state.SkipWithError(e.what());
    return;
  }
  const LowpConvLayer conv(layer, precision);
  LowpBuffers buf(static_cast<std::size_t>(layer.side) * layer.side * std::max(layer.s.in_c, layer.s.out_c),
                  conv.scratch_bytes());
  for (auto _ : state) {
    conv.run(buf.in.data(), buf.out.data(), buf.scratch.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2 * direct_macs(layer.s, layer.side) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

void bench_lowp_all(benchmark::State& state, resnet::Precision precision, bool fp32_maps) {
  try {
    resnet::require_precision(precision);
  } catch (const resnet::Error& e) {
    state.SkipWithError(e.what());
    return;
  }
  std::vector<LowpConvLayer> convs;
  double macs = 0;
  std::size_t scratch = 0, act = 0;
  for (const Layer& l : resnet50::kConvLayers)
    for (int i = 0; i < l.count; ++i) {
      convs.emplace_back(l, precision, fp32_maps);
      macs += direct_macs(l.s, l.side);
      scratch = std::max(scratch, convs.back().scratch_bytes());
      act = std::max<std::size_t>(act, static_cast<std::size_t>(l.side) * l.side * std::max(l.s.in_c, l.s.out_c));
    }
  LowpBuffers buf(act, scratch);
  for (auto _ : state)
    for (const LowpConvLayer& c : convs) {
      c.run(buf.in.data(), buf.out.data(), buf.scratch.data());
      benchmark::ClobberMemory();
    }
  state.counters["GFLOP/s"] = benchmark::Counter(2 * macs * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// Every distinct grouped 3x3 of torchvision's ResNeXts at 224x224 (stride on the 3x3):
// {width, width, 3, stride, 1, groups}, input side. Group widths 4 to 64 channels.
constexpr Layer kGroupedLayers[] = {
    {"grouped", {128, 128, 3, 1, 1, 32}, 56, 3},    {"grouped", {256, 256, 3, 2, 1, 32}, 56, 1},
    {"grouped", {256, 256, 3, 1, 1, 32}, 28, 3},    {"grouped", {512, 512, 3, 2, 1, 32}, 28, 1},
    {"grouped", {512, 512, 3, 1, 1, 32}, 14, 5},    {"grouped", {1024, 1024, 3, 2, 1, 32}, 14, 1},
    {"grouped", {1024, 1024, 3, 1, 1, 32}, 7, 2},   // ResNeXt-50 32x4d: 4, 8, 16, 32 wide
    {"grouped", {256, 256, 3, 1, 1, 32}, 56, 3},    {"grouped", {2048, 2048, 3, 2, 1, 32}, 14, 1},
    {"grouped", {2048, 2048, 3, 1, 1, 32}, 7, 2},   // ResNeXt-101 32x8d adds 8 wide at 56, 64 wide
    {"grouped", {256, 256, 3, 1, 1, 64}, 56, 3},    {"grouped", {512, 512, 3, 2, 1, 64}, 56, 1},
    {"grouped", {512, 512, 3, 1, 1, 64}, 28, 3},    {"grouped", {2048, 2048, 3, 1, 1, 64}, 7, 2},
};  // ResNeXt-101 64x4d: 4 wide at 56, 8 at 28, ... 32 at 7

// The layers of ResNeXt-50 32x4d and Wide ResNet-50-2 (stride on the 3x3) that ResNet-50
// lacks: both have the same 1x1s (bottleneck widths 128 to 1024, twice ResNet-50's), and
// Wide ResNet's 3x3s are ungrouped at those widths. Counts are per model.
constexpr Layer kWideLayers[] = {
    {"1x1_s1", {64, 128, 1, 1, 0}, 56, 1},      {"1x1_s1", {128, 256, 1, 1, 0}, 56, 3},
    {"1x1_s1", {256, 256, 1, 1, 0}, 56, 1},     {"1x1_s1", {256, 512, 1, 1, 0}, 28, 4},
    {"1x1_s1", {512, 512, 1, 1, 0}, 28, 1},     {"1x1_s1", {512, 1024, 1, 1, 0}, 14, 6},
    {"1x1_s1", {1024, 1024, 1, 1, 0}, 14, 1},   {"1x1_s1", {1024, 2048, 1, 1, 0}, 7, 3},
    {"1x1_s1", {2048, 1024, 1, 1, 0}, 7, 2},    {"3x3_s1", {128, 128, 3, 1, 1}, 56, 3},
    {"3x3_s2", {256, 256, 3, 2, 1}, 56, 1},     {"3x3_s1", {256, 256, 3, 1, 1}, 28, 3},
    {"3x3_s2", {512, 512, 3, 2, 1}, 28, 1},     {"3x3_s1", {512, 512, 3, 1, 1}, 14, 5},
    {"3x3_s2", {1024, 1024, 3, 2, 1}, 14, 1},   {"3x3_s1", {1024, 1024, 3, 1, 1}, 7, 2},
};

// The convs of a torchvision bottleneck network with stride on the 3x3 (v1.5), blocks
// {3, 4, 6, 3}, 3x3 width `width0` doubling per stage and `groups` groups, in network order.
std::vector<Layer> bottleneck_net(int width0, int groups) {
  std::vector<Layer> v{{"7x7_stem", {3, 64, 7, 2, 3}, 224, 1}};
  const int blocks[4] = {3, 4, 6, 3};
  int in = 64, side = 56;
  for (int stage = 0; stage < 4; ++stage) {
    const int width = width0 << stage, out = 256 << stage;
    for (int b = 0; b < blocks[stage]; ++b) {
      const int stride = b == 0 && stage > 0 ? 2 : 1;
      v.push_back({"1x1_s1", {in, width, 1, 1, 0}, side, 1});
      v.push_back({stride == 1 ? "3x3_s1" : "3x3_s2", {width, width, 3, stride, 1, groups}, side, 1});
      if (b == 0) v.push_back({stride == 1 ? "1x1_s1" : "1x1_s2", {in, out, 1, stride, 0}, side, 1});
      side /= stride;
      v.push_back({"1x1_s1", {width, out, 1, 1, 0}, side, 1});
      in = out;
    }
  }
  return v;
}

/// Values in [-1, 1] as u8 around 128 (an int8 conv's input, quantized by 1/127).
std::vector<std::uint8_t> u8_of(const std::vector<float>& v) {
  std::vector<std::uint8_t> q(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) q[i] = static_cast<std::uint8_t>(128 + 127 * v[i]);
  return q;
}

/// Twice the L3 of bytes to touch between passes, so that a pass finds its data in DRAM
/// as a network pass does (weights and maps written layers ago).
class CacheEvictor {
 public:
  void operator()() {
    for (std::size_t i = 0; i < bytes_.size(); i += 64) bytes_[i] = static_cast<char>(bytes_[i] + 1);
    benchmark::DoNotOptimize(bytes_.data());
  }

 private:
  std::vector<char> bytes_ = std::vector<char>(64 << 20, 1);
};

// ResNet-50 layers as GEMMs: {M = out_c, K = in_c * k * k, N = output pixels, side}.
struct GemmShape {
  int m, k, side;
};
constexpr GemmShape kGemmShapes[] = {
    {64, 576, 56},     // 3x3, 64 channels at 56x56
    {256, 2304, 14},   // 3x3, 256 channels at 14x14
    {1024, 256, 14},   // 1x1 expansion at 14x14
    {2048, 512, 7},    // 1x1 expansion at 7x7 (weights dominate)
};

void bench_gemm(benchmark::State& state, GemmShape g, resnet::Precision precision) {
  namespace k = resnet::kernels;
  const int n = g.side * g.side;
  const auto weights = random_vector(static_cast<std::size_t>(g.m) * g.k, 1);
  const auto bias = random_vector(static_cast<std::size_t>(g.m), 2);
  const auto in = random_vector(static_cast<std::size_t>(g.k) * n, 3);
  std::vector<float> out(static_cast<std::size_t>(g.m) * n);
  ThreadPool pool(1);
  try {
    if (precision == resnet::Precision::fp32) {
      ConvKernel conv({g.k, g.m, 1, 1, 0}, weights, bias);
      std::vector<float> scratch(conv.scratch_floats(1, g.side, g.side, 1));
      for (auto _ : state) {
        conv.run(in.data(), 1, g.side, g.side, out.data(), nullptr, true, scratch.data(), pool);
        benchmark::ClobberMemory();
      }
    } else if (precision == resnet::Precision::int8) {
      const auto packed = k::PackedInt8Weights::quantize(weights.data(), g.m, g.k, g.k);
      const std::vector<std::uint8_t> in8 = u8_of(in);
      std::vector<std::uint8_t> out8(out.size());
      k::Int8Epilogue epi;
      epi.input = {1.0f / 127, 0};
      epi.bias = bias.data();
      epi.relu = true;
      for (auto _ : state) {
        k::gemm_int8(packed, in8.data(), g.k, n, epi, out8.data(), g.m, {0.05f, 0});
        benchmark::ClobberMemory();
      }
    } else {
      const k::PackedBf16Weights packed(weights.data(), g.m, g.k, g.k);
      std::vector<float> scratch(static_cast<std::size_t>(k::gemm_bf16_scratch_floats(g.k)));
      k::Bf16Epilogue epi;
      epi.bias = bias.data();
      epi.relu = true;
      for (auto _ : state) {
        k::gemm_bf16(packed, in.data(), g.k, n, epi, out.data(), g.m, scratch.data());
        benchmark::ClobberMemory();
      }
    }
  } catch (const resnet::Error& e) {
    state.SkipWithError(e.what());
    return;
  }
  state.counters["GOPS"] = benchmark::Counter(2.0 * g.m * g.k * n * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void bench_classifier(benchmark::State& state, bool int8, int batch) {
  constexpr int in = 2048, classes = 1000;
  resnet::Dense<in> dense(classes, random_vector(static_cast<std::size_t>(classes) * in, 4),
                          random_vector(static_cast<std::size_t>(classes), 5));
  dense.use_int8_weights(int8);
  const auto features = random_vector(static_cast<std::size_t>(batch) * in, 6);
  resnet::Workspace ws(1);
  CacheEvictor evict;  // the weights leave every cache
  for (auto _ : state) {
    state.PauseTiming();
    evict();
    state.ResumeTiming();
    ws.run([&] {
      resnet::FeatureMap x = ws.allocate({batch, 1, 1, in});
      if (!ws.planning()) std::memcpy(x.data(), features.data(), features.size() * sizeof(float));
      const resnet::FeatureMap y = dense.forward(x, ws);
      benchmark::DoNotOptimize(y.data());
    });
  }
}

/// An int8 block's last conv as a block followed by another runs it: a 1x1 over u8
/// pixels adding a bf16 residual, writing u8 (the next block's input) and bf16 (its
/// residual). With `cold`, every map has left the caches before each pass, as in a
/// network pass where the residual was written blocks ago (the epilogue's loads and
/// stores are what a short K leaves it; see lowp_common.hpp's load_f32x16).
void bench_block_output(benchmark::State& state, GemmShape g, bool cold) {
  namespace k = resnet::kernels;
  const int n = g.side * g.side;
  const auto weights = random_vector(static_cast<std::size_t>(g.m) * g.k, 1);
  const auto bias = random_vector(static_cast<std::size_t>(g.m), 2);
  const auto in = random_vector(static_cast<std::size_t>(g.k) * n, 3);
  const auto residual = random_vector(static_cast<std::size_t>(g.m) * n, 4);
  const std::vector<std::uint8_t> in8 = u8_of(in);
  std::vector<std::uint8_t> out8(residual.size());
  std::vector<std::uint16_t> residual16(residual.size()), out16(residual.size());
  for (std::size_t i = 0; i < residual.size(); ++i) residual16[i] = k::to_bf16_bits(residual[i]);
  std::unique_ptr<CacheEvictor> evict = cold ? std::make_unique<CacheEvictor>() : nullptr;
  try {
    const auto packed = k::PackedInt8Weights::quantize(weights.data(), g.m, g.k, g.k);
    k::Int8Epilogue epi;
    epi.input = {1.0f / 127, 0};
    epi.bias = bias.data();
    epi.residual_bf16 = residual16.data();
    epi.ldr = g.m;
    epi.relu = true;
    k::detail::Int8Output out;
    out.u8 = out8.data();
    out.q = {0.05f, 0};
    out.bf16 = out16.data();
    out.ldc = g.m;
    for (auto _ : state) {
      if (evict) {
        state.PauseTiming();
        (*evict)();
        state.ResumeTiming();
      }
      k::detail::gemm_int8_run(packed, k::DenseColumnsOf<std::uint8_t>{in8.data(), g.k}, n, epi, out, nullptr);
      benchmark::ClobberMemory();
    }
  } catch (const resnet::Error& e) {
    state.SkipWithError(e.what());
  }
}

std::string shape_name(const Layer& l) {
  if (l.s.groups > 1)
    return std::string(l.kind) + "/" + std::to_string(l.s.in_c) + "g" + std::to_string(l.s.groups) + "s" +
           std::to_string(l.s.stride) + "@" + std::to_string(l.side);
  return std::string(l.kind) + "/" + std::to_string(l.s.in_c) + "x" + std::to_string(l.s.out_c) + "@" +
         std::to_string(l.side);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  for (const GemmShape& g : kGemmShapes)
    for (resnet::Precision p : {resnet::Precision::fp32, resnet::Precision::int8, resnet::Precision::bf16}) {
      const std::string name = "gemm/" + std::to_string(g.m) + "x" + std::to_string(g.k) + "x" +
                               std::to_string(g.side * g.side) + "/" + resnet::to_string(p);
      benchmark::RegisterBenchmark(name.c_str(), bench_gemm, g, p)->UseRealTime()->Unit(benchmark::kMicrosecond);
    }
  for (const GemmShape g : {GemmShape{256, 64, 56}, GemmShape{512, 128, 28}, GemmShape{1024, 256, 14}})
    for (const bool cold : {false, true})
      benchmark::RegisterBenchmark(("block_output/" + std::to_string(g.k) + "x" + std::to_string(g.m) + "@" +
                                    std::to_string(g.side) + "/int8/" + (cold ? "cold" : "warm") + "/threads:1")
                                       .c_str(),
                                   bench_block_output, g, cold)
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
  for (const int batch : {1, 8})
    for (const bool int8 : {false, true})
      benchmark::RegisterBenchmark(("classifier/2048x1000/" + std::string(int8 ? "int8" : "fp32") + "/batch:" +
                                    std::to_string(batch) + "/threads:1").c_str(),
                                   bench_classifier, int8, batch)
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
  for (int threads : {1, 2}) {
    std::vector<Layer> plain(std::begin(resnet50::kConvLayers), std::end(resnet50::kConvLayers));
    plain.insert(plain.end(), std::begin(kWideLayers), std::end(kWideLayers));
    for (const Layer& l : plain) {
      std::vector<std::pair<const char*, ConvAlgorithm>> algos = {{"auto", ConvAlgorithm::automatic}};
      if (l.s.kernel == 3) {  // the alternatives to the automatic choice, side by side
        algos.push_back({"im2col", ConvAlgorithm::gemm});
        algos.push_back({"wino2", ConvAlgorithm::winograd_2x2});  // stride 1 or 2
        if (l.s.stride == 1) algos.push_back({"wino4", ConvAlgorithm::winograd_4x4});
      }
      for (const auto& [tag, algo] : algos) {
        const std::string name =
            "conv/" + shape_name(l) + "/" + tag + "/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(name.c_str(), bench_layer, l, algo, threads, false)
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond);
      }
      if (l.s.kernel == 1 && l.s.stride == 1 && l.s.out_c > l.s.in_c)  // a bottleneck's last conv: + residual
        benchmark::RegisterBenchmark(("conv/" + shape_name(l) + "/residual/threads:" + std::to_string(threads)).c_str(),
                                     bench_layer, l, ConvAlgorithm::automatic, threads, true)
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond);
    }
    for (const Layer& l : kGroupedLayers) {
      std::vector<std::pair<const char*, ConvAlgorithm>> algos = {
          {"auto", ConvAlgorithm::automatic}, {"gemm_per_group", ConvAlgorithm::gemm},
          {"wino2_per_group", ConvAlgorithm::winograd_2x2}};
      if (l.s.stride == 1) algos.push_back({"wino4_per_group", ConvAlgorithm::winograd_4x4});
      for (const auto& [tag, algo] : algos) {
        const std::string name = "conv/" + shape_name(l) + "/" + tag + "/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(name.c_str(), bench_layer, l, algo, threads, false)->UseRealTime()->Unit(benchmark::kMicrosecond);
      }
    }
    if (threads == 1) {  // the reduced-precision layers run on the caller's thread only
      for (const Layer& l : resnet50::kConvLayers)
        for (resnet::Precision p : {resnet::Precision::int8, resnet::Precision::bf16}) {
          const std::string name = "conv/" + shape_name(l) + "/" + resnet::to_string(p) + "/threads:1";
          benchmark::RegisterBenchmark(name.c_str(), bench_lowp_layer, l, p)->UseRealTime()->Unit(benchmark::kMicrosecond);
        }
      for (resnet::Precision p : {resnet::Precision::int8, resnet::Precision::bf16})
        benchmark::RegisterBenchmark((std::string("resnet50_all_convs_") + resnet::to_string(p) + "/threads:1").c_str(),
                                     bench_lowp_all, p, false)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark("resnet50_all_convs_bf16_fp32_maps/threads:1", bench_lowp_all,
                                   resnet::Precision::bf16, true)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
    const std::vector<Layer> resnet50(std::begin(resnet50::kConvLayers), std::end(resnet50::kConvLayers));
    for (const auto& [model, layers] : {std::pair<std::string, std::vector<Layer>>{"resnet50", resnet50},
                                        {"resnext50_32x4d", bottleneck_net(128, 32)},
                                        {"wide_resnet50_2", bottleneck_net(128, 1)}})
      benchmark::RegisterBenchmark((model + "_all_convs/threads:" + std::to_string(threads)).c_str(), bench_all, layers,
                                   threads)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
