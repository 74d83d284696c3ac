// Memory is planned once per input shape: after the first forward pass with a shape,
// a pass with the same shape, workspace and output tensor makes no heap allocation
// (a counting global allocator proves it), on every block kind and head option, and in
// bf16 and int8.
#include <catch2/catch.hpp>

#include "allocation_probe.hpp"

#include <resnet/resnet.hpp>

using namespace resnet;

namespace {

template <class Model>
long allocations_of_second_pass(ModelOptions options, Shape shape, Layout layout, int threads) {
  Model model(options);
  model.init_random(5);
  Workspace ws(threads);
  Tensor input(shape, layout);
  for (std::size_t i = 0; i < input.size(); ++i) input.data()[i] = static_cast<float>(i % 17) * 0.1f - 0.8f;
  Tensor output;
  model.forward(input, output, ws);  // plans the arena and shapes the output
  allocation_probe::arm();
  model.forward(input, output, ws);
  model.forward(input, output, ws);
  return allocation_probe::disarm().count;
}

/// Options for `Model` in precision p; int8's ranges are calibrated on its fp32 twin.
template <class Model>
ModelOptions reduced(Precision p, Shape shape) {
  ModelOptions options;
  options.precision = p;
  if (p != Precision::int8) return options;
  Model fp32;
  fp32.init_random(5);
  Workspace ws(1);
  Tensor x(shape);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(i % 13) * 0.2f - 1.1f;
  options.int8_ranges = calibrate(fp32, {x}, ws);
  return options;
}

}  // namespace

TEST_CASE("forward allocates nothing after the first call with a shape", "[allocation]") {
  ModelOptions top;
  ModelOptions map;
  map.include_top = false;
  map.pooling = Pooling::none;
  ModelOptions max;
  max.include_top = false;
  max.pooling = Pooling::max;

  CHECK(allocations_of_second_pass<ResNet50>(top, {1, 224, 224, 3}, Layout::nchw, 2) == 0);
  CHECK(allocations_of_second_pass<ResNet18>(map, {2, 97, 131, 3}, Layout::nhwc, 2) == 0);
  CHECK(allocations_of_second_pass<ResNet50V2>(top, {1, 64, 64, 3}, Layout::nchw, 3) == 0);
  CHECK(allocations_of_second_pass<keras::ResNet50>(max, {1, 65, 33, 3}, Layout::nhwc, 1) == 0);
  CHECK(allocations_of_second_pass<CifarResNet20>(top, {4, 32, 32, 3}, Layout::nchw, 2) == 0);
}

TEST_CASE("bf16 and int8 forward passes allocate nothing after the first call", "[allocation][lowp]") {
  for (Precision p : {Precision::bf16, Precision::int8}) {
    if (!precision_available(p)) continue;  // the model would refuse to be built
    INFO(to_string(p));
    CHECK(allocations_of_second_pass<CifarResNet20>(reduced<CifarResNet20>(p, {2, 32, 32, 3}), {4, 32, 32, 3},
                                                    Layout::nchw, 2) == 0);
    CHECK(allocations_of_second_pass<ResNet18>(reduced<ResNet18>(p, {1, 64, 64, 3}), {1, 96, 80, 3}, Layout::nhwc, 3) ==
          0);
  }
}

TEST_CASE("a smaller input after a larger one reuses the arena", "[allocation]") {
  ResNet18 model;
  model.init_random(5);
  Workspace ws(2);
  Tensor big(1, 160, 160, 3), small(1, 64, 64, 3), out_big, out_small;
  model.forward(big, out_big, ws);
  model.forward(small, out_small, ws);  // shapes out_small once
  allocation_probe::arm();
  model.forward(small, out_small, ws);
  model.forward(big, out_big, ws);
  CHECK(allocation_probe::disarm().count == 0);
}
