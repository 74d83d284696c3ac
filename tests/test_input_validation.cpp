// Input validation (issue 5, item 3): every bad input is refused with a resnet::Error of
// the right kind before anything is allocated for it, and non-finite values flow through
// a forward pass without undefined behaviour (the ASan + UBSan build runs this file too).
#include <catch2/catch.hpp>

#include <atomic>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include <resnet/resnet.hpp>

using namespace resnet;

#include "allocation_probe.hpp"  // the largest single allocation while armed
#include "support.hpp"

using test_support::kind_of;

namespace {


/// Largest single allocation made by `f` (which must throw a resnet::Error).
std::size_t largest_allocation(const std::function<void()>& f, ErrorKind expected) {
  allocation_probe::arm();
  ErrorKind got = ErrorKind::io;
  bool threw = false;
  try {
    f();
  } catch (const Error& e) {
    got = e.kind();
    threw = true;
  }
  const allocation_probe::Stats stats = allocation_probe::disarm();
  CHECK(threw);
  CHECK(got == expected);
  return stats.largest;
}

const ResNet18& resnet18() {
  static const ResNet18 model = [] {
    ResNet18 m;
    m.init_random(7);
    return m;
  }();
  return model;
}

Tensor filled(int n, int h, int w, int c, float value = 0.25f) {
  Tensor t(n, h, w, c);
  for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = value * static_cast<float>(i % 17) - 1.0f;
  return t;
}

}  // namespace

// ---- the model ----

TEST_CASE("a model without weights refuses to run", "[validation]") {
  ResNet18 model;
  CHECK_FALSE(model.has_weights());
  Workspace ws(1);
  std::string message;
  CHECK(kind_of([&] { model.forward(filled(1, 32, 32, 3), ws); }, &message) == ErrorKind::invalid_argument);
  CHECK_THAT(message, Catch::Contains("no weights"));
}

TEST_CASE("ModelOptions are checked", "[validation]") {
  ModelOptions o;
  o.classes = -1;
  CHECK(kind_of([&] { ResNet18 m(o); }) == ErrorKind::invalid_argument);
  o.classes = INT_MIN;
  CHECK(kind_of([&] { ResNet18 m(o); }) == ErrorKind::invalid_argument);
  o.classes = 0;  // 0 selects the family's default
  CHECK(ResNet18(o).classes() == 1000);
  CHECK(CifarResNet20(o).classes() == 10);
  o.max_batch_pixels = 0;
  CHECK(kind_of([&] { ResNet18 m(o); }) == ErrorKind::invalid_argument);
  o.max_batch_pixels = -5;
  CHECK(kind_of([&] { CifarResNet20 m(o); }) == ErrorKind::invalid_argument);
}

// ---- Tensor ----

TEST_CASE("Tensor refuses negative sizes", "[validation][tensor]") {
  CHECK(kind_of([] { Tensor t(-1, 2, 2, 3); }) == ErrorKind::invalid_argument);
  CHECK(kind_of([] { Tensor t(1, -2, 2, 3); }) == ErrorKind::invalid_argument);
  CHECK(kind_of([] { Tensor t(1, 2, -2, 3); }) == ErrorKind::invalid_argument);
  CHECK(kind_of([] { Tensor t(1, 2, 2, INT_MIN); }) == ErrorKind::invalid_argument);
}

TEST_CASE("Tensor with a zero size is empty", "[validation][tensor]") {
  CHECK(Tensor(0, 224, 224, 3).empty());
  CHECK(Tensor(1, 0, 224, 3).empty());
  CHECK(Tensor(1, 224, 224, 0).empty());
}

TEST_CASE("Tensor refuses overflowing shapes before allocating", "[validation][tensor]") {
  const std::size_t big = 1 << 20;
  CHECK(largest_allocation([] { Tensor t(INT_MAX, INT_MAX, INT_MAX, INT_MAX); }, ErrorKind::too_large) < big);
  CHECK(largest_allocation([] { Tensor t(1, INT_MAX, INT_MAX, 3); }, ErrorKind::too_large) < big);
  CHECK(largest_allocation([] { Tensor t(1, 1 << 20, 1 << 20, 3); }, ErrorKind::too_large) < big);
  CHECK(largest_allocation([] { Tensor t(Shape{INT_MAX, 1, INT_MAX, 1}, Layout::nchw); }, ErrorKind::too_large) < big);
}

// ---- forward: sizes ----

TEST_CASE("forward refuses zero and negative sizes", "[validation][forward]") {
  const ResNet18& model = resnet18();
  Workspace ws(1);
  Tensor out;
  const std::vector<float> buffer(3 * 64 * 64, 0.0f);
  const Shape bad[] = {{0, 64, 64, 3}, {1, 0, 64, 3},  {1, 64, 0, 3},  {1, 64, 64, 0},
                       {-1, 64, 64, 3}, {1, -64, 64, 3}, {1, 64, -64, 3}, {1, 64, 64, -3},
                       {INT_MIN, 64, 64, 3}};
  for (const Shape& s : bad) {
    INFO(s.str());
    CHECK(kind_of([&] { model.forward(buffer.data(), buffer.size(), s, Layout::nhwc, out, ws); }) ==
          ErrorKind::invalid_argument);
  }
  // The Tensor form reaches the same check with an empty tensor.
  CHECK(kind_of([&] { model.forward(Tensor(0, 64, 64, 3), ws); }) == ErrorKind::invalid_argument);
  CHECK(kind_of([&] { model.forward(Tensor(), ws); }) == ErrorKind::invalid_argument);
}

TEST_CASE("ImageNet models refuse sides below 32 and accept 32x32", "[validation][forward]") {
  const ResNet18& model = resnet18();
  Workspace ws(1);
  std::string message;
  CHECK(kind_of([&] { model.forward(filled(1, 31, 224, 3), ws); }, &message) == ErrorKind::invalid_argument);
  CHECK_THAT(message, Catch::Contains("31x224") && Catch::Contains("32x32"));
  CHECK(kind_of([&] { model.forward(filled(1, 224, 31, 3), ws); }) == ErrorKind::invalid_argument);
  CHECK(kind_of([&] { model.forward(filled(2, 1, 1, 3), ws); }) == ErrorKind::invalid_argument);
  const Tensor y = model.forward(filled(1, 32, 32, 3), ws);
  CHECK(y.shape() == Shape{1, 1, 1, 1000});
  for (float v : y.values()) CHECK(std::isfinite(v));
}

TEST_CASE("CIFAR models accept small inputs", "[validation][forward]") {
  CifarResNet20 model;
  model.init_random(3);
  Workspace ws(1);
  CHECK(model.forward(filled(1, 1, 1, 3), ws).shape() == Shape{1, 1, 1, 10});
  CHECK(model.forward(filled(2, 5, 7, 3), ws).shape() == Shape{2, 1, 1, 10});
}

TEST_CASE("the default pixel cap refuses 100000x100000 before touching the buffer", "[validation][forward]") {
  const ResNet18& model = resnet18();
  Workspace ws(1);
  Tensor out;
  float tiny[3] = {0, 0, 0};
  // The cap is checked before the buffer length: a lying size must not matter either.
  for (std::size_t size : {std::size_t{3}, std::numeric_limits<std::size_t>::max()}) {
    CHECK(largest_allocation(
              [&] { model.forward(tiny, size, Shape{1, 100000, 100000, 3}, Layout::nhwc, out, ws); },
              ErrorKind::too_large) < (1u << 20));
    CHECK(largest_allocation(
              [&] { model.forward(tiny, size, Shape{100000, 224, 224, 3}, Layout::nchw, out, ws); },
              ErrorKind::too_large) < (1u << 20));
  }
  std::string message;
  CHECK(kind_of([&] { model.forward(tiny, 3, Shape{1, 100000, 100000, 3}, Layout::nhwc, out, ws); }, &message) ==
        ErrorKind::too_large);
  CHECK_THAT(message, Catch::Contains("max_batch_pixels"));
  CHECK(out.empty());
  CHECK(model.options().max_batch_pixels == (1LL << 26));
}

TEST_CASE("overflowing shapes are refused in forward", "[validation][forward]") {
  const ResNet18& model = resnet18();
  Workspace ws(1);
  Tensor out;
  float tiny[3] = {0, 0, 0};
  CHECK(kind_of([&] { model.forward(tiny, 3, Shape{INT_MAX, INT_MAX, INT_MAX, 3}, Layout::nhwc, out, ws); }) ==
        ErrorKind::too_large);
  CHECK(kind_of([&] { model.forward(tiny, 3, Shape{INT_MAX, 64, 64, 3}, Layout::nhwc, out, ws); }) ==
        ErrorKind::too_large);
  // A channel count of INT_MAX is a wrong channel count before it is a size.
  CHECK(kind_of([&] { model.forward(tiny, 3, Shape{1, 64, 64, INT_MAX}, Layout::nhwc, out, ws); }) ==
        ErrorKind::shape_mismatch);
}

TEST_CASE("lifting the pixel cap does not lift the overflow guard", "[validation][forward]") {
  ModelOptions o;
  o.max_batch_pixels = std::numeric_limits<long long>::max();
  CifarResNet20 model(o);
  model.init_random(1);
  Workspace ws(1);
  Tensor out;
  float tiny[3] = {0, 0, 0};
  // n*h*w fits the cap but n*h*w*c and the activation sizes behind it overflow 64 bits.
  for (const Shape& s : {Shape{1, INT_MAX, INT_MAX, 3}, Shape{INT_MAX, INT_MAX, 2, 3}, Shape{2, INT_MAX, INT_MAX, 3}}) {
    INFO(s.str());
    CHECK(largest_allocation([&] { model.forward(tiny, 3, s, Layout::nhwc, out, ws); }, ErrorKind::too_large) <
          (1u << 20));
  }
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RESNET_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RESNET_TEST_SANITIZED 1
#endif
#endif

// Hidden until Workspace::reserve() keeps its sizes when the arena allocation throws:
// today the second forward below writes through a stale, too-large arena size.
TEST_CASE("a workspace survives an allocation failure", "[validation]") {
#ifdef RESNET_TEST_SANITIZED
  WARN("skipped: sanitizer allocators abort on a 100 TB request instead of throwing");
#else
  ModelOptions o;
  o.max_batch_pixels = 1LL << 40;
  CifarResNet20 model(o);
  model.init_random(4);
  Workspace ws(1), fresh(1);
  const Tensor x = filled(1, 32, 32, 3);
  const Tensor expected = model.forward(x, fresh);
  Tensor out;
  float tiny[3] = {0, 0, 0};
  // 2^39 pixels pass the raised cap; the plan asks for about 160 TB, which no allocator
  // grants (more than a 47-bit address space), so std::bad_alloc is certain. The size
  // argument is a lie the library cannot see; the buffer is never read.
  CHECK_THROWS_AS(model.forward(tiny, std::numeric_limits<std::size_t>::max(), Shape{1, 1 << 20, 1 << 19, 3},
                                Layout::nhwc, out, ws),
                  std::bad_alloc);
  CHECK(model.forward(x, ws).values() == expected.values());
#endif
}

TEST_CASE("a configured pixel cap counts batch x height x width", "[validation][forward]") {
  ModelOptions o;
  o.max_batch_pixels = 2 * 32 * 32;
  CifarResNet20 model(o);
  model.init_random(5);
  Workspace ws(1);
  CHECK(model.forward(filled(2, 32, 32, 3), ws).shape() == Shape{2, 1, 1, 10});
  CHECK(model.forward(filled(1, 64, 32, 3), ws).shape() == Shape{1, 1, 1, 10});
  CHECK(kind_of([&] { model.forward(filled(3, 32, 32, 3), ws); }) == ErrorKind::too_large);
  CHECK(kind_of([&] { model.forward(filled(1, 33, 64, 3), ws); }) == ErrorKind::too_large);
  CHECK(kind_of([&] { model.forward(filled(1, 32, 65, 3, 1.0f).to(Layout::nchw), ws); }) == ErrorKind::too_large);
}

// ---- forward: channels and buffers ----

TEST_CASE("1- and 4-channel inputs are a shape mismatch", "[validation][forward]") {
  const ResNet18& model = resnet18();
  Workspace ws(1);
  for (int c : {1, 2, 4, 64}) {
    INFO(c << " channels");
    std::string message;
    CHECK(kind_of([&] { model.forward(filled(1, 64, 64, c), ws); }, &message) == ErrorKind::shape_mismatch);
    CHECK_THAT(message, Catch::Contains("3 channels") && Catch::Contains(std::to_string(c)));
    CHECK(kind_of([&] { model.forward(filled(1, 64, 64, c).to(Layout::nchw), ws); }) == ErrorKind::shape_mismatch);
  }
}

TEST_CASE("a buffer shorter than its shape is a shape mismatch", "[validation][forward]") {
  const ResNet18& model = resnet18();
  Workspace ws(1);
  Tensor out;
  const Shape s{2, 40, 36, 3};
  const std::vector<float> buffer(static_cast<std::size_t>(s.elements()), 0.5f);
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, buffer.size() - 1, buffer.size() / 2}) {
    INFO(size << " floats");
    std::string message;
    CHECK(kind_of([&] { model.forward(buffer.data(), size, s, Layout::nhwc, out, ws); }, &message) ==
          ErrorKind::shape_mismatch);
    CHECK_THAT(message, Catch::Contains(std::to_string(size)) && Catch::Contains(std::to_string(buffer.size())));
    CHECK(kind_of([&] { model.forward(buffer.data(), size, s, Layout::nchw, out, ws); }) == ErrorKind::shape_mismatch);
  }
  CHECK(kind_of([&] { model.forward(nullptr, buffer.size(), s, Layout::nhwc, out, ws); }) == ErrorKind::shape_mismatch);
  // The exact length, and a longer buffer, run.
  model.forward(buffer.data(), buffer.size(), s, Layout::nhwc, out, ws);
  CHECK(out.shape() == Shape{2, 1, 1, 1000});
  Tensor longer_out;
  const std::vector<float> longer(buffer.size() + 10, 0.5f);
  model.forward(longer.data(), longer.size(), s, Layout::nhwc, longer_out, ws);
  CHECK(longer_out.values() == out.values());
}

TEST_CASE("a Tensor whose values were shrunk is a shape mismatch", "[validation][forward]") {
  const ResNet18& model = resnet18();
  Workspace ws(1);
  Tensor x = filled(1, 64, 64, 3);
  x.values().resize(x.values().size() - 3);  // values() is a plain vector the caller may resize
  CHECK(kind_of([&] { model.forward(x, ws); }) == ErrorKind::shape_mismatch);
  x.values().clear();
  CHECK(kind_of([&] { model.forward(x, ws); }) == ErrorKind::shape_mismatch);
}

TEST_CASE("a refused input leaves the workspace usable", "[validation][forward]") {
  const ResNet18& model = resnet18();
  Workspace ws(1), fresh(1);
  const Tensor x = filled(1, 48, 40, 3);
  const Tensor expected = model.forward(x, fresh);
  CHECK(kind_of([&] { model.forward(filled(1, 48, 40, 4), ws); }) == ErrorKind::shape_mismatch);
  CHECK(kind_of([&] { model.forward(filled(1, 20, 40, 3), ws); }) == ErrorKind::invalid_argument);
  CHECK(model.forward(x, ws).values() == expected.values());
}

TEST_CASE("stage outputs are validated like forward", "[validation][forward]") {
  const ResNet18& model = resnet18();
  Workspace ws(1);
  std::vector<Tensor> stages;
  CHECK(kind_of([&] { model.forward_stages(filled(1, 64, 64, 1), stages, ws); }) == ErrorKind::shape_mismatch);
  CHECK(kind_of([&] { model.forward_stages(filled(1, 16, 64, 3), stages, ws); }) == ErrorKind::invalid_argument);
  CHECK(kind_of([&] { model.forward_stages(Tensor(), stages, ws); }) == ErrorKind::invalid_argument);
}

// ---- non-finite values ----
// PyTorch propagates NaN through conv, batch norm, ReLU (torch.relu(nan) = nan) and max
// pooling (a NaN in the window wins), and every stem channel at the NaN pixel mixes it in;
// so one NaN pixel makes every logit NaN. An Inf pixel gives +-Inf after the stem, and the
// next convolution adds +Inf and -Inf terms, which is NaN in IEEE arithmetic. Checked
// against torchvision's resnet18 (random weights, 2x3x64x64 input): all 1000 logits NaN
// for a NaN, +Inf or -Inf pixel, and the other image of the batch stays finite.

TEST_CASE("one NaN pixel makes every ResNet18 logit NaN", "[validation][nonfinite]") {
  const ResNet18& model = resnet18();
  for (int threads : {1, 2}) {
    Workspace ws(threads);
    Tensor x = filled(2, 64, 64, 3);
    x.at(0, 30, 21, 1) = std::numeric_limits<float>::quiet_NaN();
    const Tensor y = model.forward(x, ws);
    for (int k = 0; k < 1000; ++k) CHECK(std::isnan(y.at(0, 0, 0, k)));
    // The other image of the batch is untouched by it.
    for (int k = 0; k < 1000; ++k) CHECK(std::isfinite(y.at(1, 0, 0, k)));
  }
}

TEST_CASE("an Inf pixel makes every ResNet18 logit NaN", "[validation][nonfinite]") {
  const ResNet18& model = resnet18();
  Workspace ws(1);
  for (float inf : {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()}) {
    Tensor x = filled(1, 64, 64, 3);
    x.at(0, 5, 60, 0) = inf;
    const Tensor y = model.forward(x.to(Layout::nchw), ws);
    int nan = 0;
    for (float v : y.values()) nan += std::isnan(v);
    CHECK(nan == 1000);  // PyTorch 1.13, torchvision resnet18 with a +-Inf pixel: 1000 NaN logits
  }
}

TEST_CASE("an all-NaN image and huge finite values run through softmax and pooling heads", "[validation][nonfinite]") {
  Workspace ws(1);
  Tensor x = filled(1, 32, 32, 3);
  for (float& v : x.values()) v = std::numeric_limits<float>::quiet_NaN();
  ModelOptions softmax;
  softmax.classifier = Classifier::softmax;
  CifarResNet20 probabilities(softmax);
  probabilities.init_random(2);
  const Tensor p = probabilities.forward(x, ws);
  for (float v : p.values()) CHECK(std::isnan(v));

  ModelOptions pooled;
  pooled.include_top = false;
  pooled.pooling = Pooling::max;
  CifarResNet20 features(pooled);
  features.init_random(2);
  const Tensor f = features.forward(x, ws);
  CHECK(f.shape() == Shape{1, 1, 1, 64});
  for (float v : f.values()) CHECK(std::isnan(v));

  Tensor big = filled(1, 32, 32, 3);
  for (float& v : big.values()) v = std::numeric_limits<float>::max();
  const Tensor q = probabilities.forward(big, ws);
  for (float v : q.values()) CHECK_FALSE(v < 0.0f);  // NaN or a probability
}
