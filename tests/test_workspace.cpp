// The workspace's planned slots and counted feature maps: a custom block that keeps more
// maps alive than any built-in block runs exactly and without aliasing; a pass that
// strays from its plan, or lets a map escape, is an error rather than a stray write;
// slots are sized for what they hold.

#include <catch2/catch.hpp>

#include <array>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <resnet/layers/conv2d.hpp>
#include <resnet/models/naming.hpp>
#include <resnet/models/resnet.hpp>

#include "layer_harness.hpp"

using namespace resnet;

namespace {

/// out = relu(x + y1 + ... + y6) with y_i = conv_i(y_{i-1}), y_0 = x: x and all six
/// intermediate maps stay alive until the sums, eight or more maps at once where the
/// built-in blocks keep at most four. Composed from the public templates only.
template <int C>
class ChainSumBlock {
 public:
  using Unit = ConvUnit<Conv2d<C, C, 3, 1, Bias::with>>;
  static constexpr int in_channels = C;
  static constexpr int out_channels = C;
  static constexpr int depth = 6;
  static constexpr Extent output_extent(Extent in) noexcept { return in; }
  static constexpr long long parameter_count() noexcept { return depth * Unit::parameter_count(); }
  static constexpr long long non_trainable_count() noexcept { return 0; }
  static constexpr long long macs(Extent in) noexcept { return depth * Unit::macs(in); }

  template <class Loader>
  void load(Loader& loader, const std::string& block) {
    for (int i = 0; i < depth; ++i) units_[i].load(loader, loader.conv(block, i + 1), "");
  }
  void init_random(RandomWeights& rng) {
    for (auto& u : units_) u.init_random(rng);
  }

  FeatureMap forward(const FeatureMap& x, Workspace& ws, const Fusion& fusion = {}) const {
    std::vector<FeatureMap> live{x};
    for (const Unit& u : units_) live.push_back(u.forward(live.back(), ws));
    FeatureMap sum = live.back();
    for (int i = depth - 1; i >= 0; --i)
      sum = Identity<C>{}.forward(sum, ws, Fusion{&live[i], i == 0 ? fusion.act : Act::linear});
    if (!ws.planning()) {
      std::set<const float*> distinct;
      for (const FeatureMap& m : live) distinct.insert(m.data());
      distinct.insert(sum.data());
      peak_distinct_ = static_cast<int>(distinct.size());
    }
    return sum;
  }

  mutable int peak_distinct_ = 0;  // maps alive at the end, as seen by the computing pass

 private:
  std::array<Unit, depth> units_;
};

}  // namespace

TEST_CASE("A custom block that keeps eight maps alive matches its reference", "[workspace][custom]") {
  constexpr int C = 13;
  ref::WeightFile wf(ref::Layout::torch, 5);
  std::vector<ref::Conv> convs;
  for (int i = 1; i <= 6; ++i) convs.push_back(wf.conv("layer1.0.conv" + std::to_string(i), C, C, 3, 1, true));
  const io::SafeTensors file = wf.build();
  WeightLoader<naming::Torchvision> loader(file);
  ChainSumBlock<C> block;
  block.load(loader, "layer1.0");
  REQUIRE_NOTHROW(loader.finish());

  for (const harness::Size& sz : harness::kSizes)
    for (const int threads : {1, 2}) {
      INFO("map " << sz.n << "x" << sz.h << "x" << sz.w << " threads " << threads);
      const ref::Map x = ref::random_map(sz.n, C, sz.h, sz.w, 6);
      ref::Map y = x, want = x;
      for (const ref::Conv& cv : convs) {
        y = ref::conv2d(y, cv);
        want = ref::add(want, y);
      }
      want = ref::relu(want);
      const ref::Map got = harness::run(block, x, threads, Act::relu);
      CHECK(ref::max_scaled_error(got, want) <= 1e-4);
      CHECK(block.peak_distinct_ == 8);  // x, y1..y6 and the sum: eight different buffers
    }

  Workspace ws(1);
  run_layer(block, harness::to_tensor(ref::random_map(1, C, 5, 5, 7)), ws);
  CHECK(ws.slot_count() >= 8);  // more than the five buffers of the old fixed workspace
}

TEST_CASE("Layout conversion by pixel ranges, and import on the pool's threads, move every value", "[workspace]") {
  // 3 channels: NCHW -> NHWC takes 16 pixels at a time where it can (35-pixel planes:
  // two vectors and a scalar tail, ranges starting and ending mid-vector).
  const int channels = GENERATE(3, 4);
  const Shape s{3, 5, 7, channels};
  const auto nhwc_at = [&](int n, int y, int x, int c) { return ((n * s.h + y) * s.w + x) * s.c + c; };
  const auto nchw_at = [&](int n, int y, int x, int c) { return ((n * s.c + c) * s.h + y) * s.w + x; };
  std::vector<float> src(static_cast<std::size_t>(s.elements()));
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i);
  const std::size_t pixels = 3 * 5 * 7;
  for (const Layout from : {Layout::nhwc, Layout::nchw})
    for (const Layout to : {Layout::nhwc, Layout::nchw})
      for (const std::size_t begin : {std::size_t(0), std::size_t(1), std::size_t(34), std::size_t(35), std::size_t(70)})
        for (const std::size_t end : {begin, begin + 1, std::size_t(36), std::size_t(69), pixels}) {
          if (end < begin) continue;
          std::vector<float> dst(src.size(), -1.0f);
          detail::convert_layout_pixels(src.data(), dst.data(), s, from, to, begin, end);
          bool same = true;
          for (int n = 0; n < s.n; ++n)
            for (int y = 0; y < s.h; ++y)
              for (int x = 0; x < s.w; ++x)
                for (int c = 0; c < s.c; ++c) {
                  const std::size_t pixel = static_cast<std::size_t>((n * s.h + y) * s.w + x);
                  const int at_src = from == Layout::nhwc ? nhwc_at(n, y, x, c) : nchw_at(n, y, x, c);
                  const int at_dst = to == Layout::nhwc ? nhwc_at(n, y, x, c) : nchw_at(n, y, x, c);
                  const float want = pixel >= begin && pixel < end ? src[static_cast<std::size_t>(at_src)] : -1.0f;
                  same = same && dst[static_cast<std::size_t>(at_dst)] == want;
                }
          INFO(channels << " channels, pixels " << begin << " .. " << end);
          CHECK(same);
        }
  // A map large enough to be copied on three threads (3 x 96 x 96 pixels).
  Tensor big(3, 96, 96, 3, Layout::nchw);
  for (std::size_t i = 0; i < big.values().size(); ++i) big.values()[i] = static_cast<float>(i % 1013);
  std::vector<float> want(big.values().size());  // NCHW (n, c, y, x) to NHWC, by the index formulas
  for (int n = 0; n < 3; ++n)
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 96 * 96; ++p) {
        const auto nhwc = static_cast<std::size_t>((n * 96 * 96 + p) * 3 + c);
        want[nhwc] = big.values()[static_cast<std::size_t>((n * 3 + c) * 96 * 96 + p)];
      }
  Workspace ws(3);
  std::vector<float> got;
  ws.run([&] {
    const FeatureMap x = ws.import(big.data(), big.shape(), Layout::nchw);
    if (!ws.planning()) got.assign(x.data(), x.data() + x.size());
  });
  CHECK(got == want);
}

TEST_CASE("allocate never hands out a slot a live map holds", "[workspace]") {
  Workspace ws(1);
  ws.run([&] {
    std::vector<FeatureMap> maps;
    for (int i = 0; i < 12; ++i) maps.push_back(ws.allocate({1, 3, 3, 4 + i}));
    if (ws.planning()) {
      for (const FeatureMap& m : maps) CHECK(m.data() == nullptr);
      return;
    }
    std::set<const float*> distinct;
    for (const FeatureMap& m : maps) {
      CHECK(m.data() != nullptr);
      distinct.insert(m.data());
    }
    CHECK(distinct.size() == maps.size());
    const float* freed = maps[4].data();
    maps.erase(maps.begin() + 4);
    CHECK(ws.allocate({1, 3, 3, 8}).data() == freed);  // the lowest free slot, sized for 8 channels
  });
  CHECK(ws.slot_count() == 12);
}

TEST_CASE("A pass that strays from its plan or lets a map escape is an error", "[workspace][errors]") {
  using test_errors = std::vector<std::pair<std::string, std::function<void(Workspace&)>>>;
  FeatureMap escaped;
  const test_errors cases = {
      {"more maps than planned", [](Workspace& ws) { ws.run([&] {
         const FeatureMap a = ws.allocate({1, 2, 2, 2});
         if (!ws.planning()) ws.allocate({1, 2, 2, 2});
       }); }},
      {"a larger map than planned", [](Workspace& ws) { ws.run([&] {
         ws.allocate({1, 2, 2, ws.planning() ? 2 : 64});
       }); }},
      {"more scratch than planned", [](Workspace& ws) { ws.run([&] { ws.scratch(ws.planning() ? 16 : 1 << 20); }); }},
      {"a map that outlives its pass", [&](Workspace& ws) { ws.run([&] { escaped = ws.allocate({1, 2, 2, 2}); }); }},
      {"a pass inside a pass", [](Workspace& ws) { ws.run([&] { ws.run([] {}); }); }},
  };
  for (const auto& [what, pass] : cases) {
    INFO(what);
    Workspace ws(1);
    try {
      pass(ws);
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::invalid_argument);
    }
    escaped = FeatureMap();
    ws.run([&] { CHECK(ws.allocate({1, 2, 2, 2}).shape() == Shape{1, 2, 2, 2}); });  // still usable
  }
}

TEST_CASE("Slots are sized for the maps they hold, not all for the largest", "[workspace][memory]") {
  ResNet50 model;
  model.init_random(1);
  Workspace ws(1);
  const int side = 160;
  model.forward(Tensor(1, side, side, 3), ws);
  // The stem's output (and stage 1's 256-channel maps) are the largest: 80 x 80 x 64 floats.
  const double largest_bytes = 4.0 * (side / 2) * (side / 2) * 64;
  INFO("slots " << ws.slot_count() << ", arena " << ws.arena_bytes() << " bytes");
  // A map lives while a layer may read it: four at most here (a block's input, its
  // shortcut's output and two maps of its main path). Slots sized each for the largest map
  // would take slot_count() of them, scratch aside; ours take less, scratch included.
  CHECK(ws.slot_count() >= 4);
  CHECK(ws.arena_bytes() < ws.slot_count() * largest_bytes);
}

TEST_CASE("A batch in passes of a few images gives the values of one pass", "[workspace][memory]") {
  // ModelOptions::images_per_pass: every output of every image as the whole batch at once
  // gives it, in both output layouts; the arena then holds one pass's maps.
  Tensor x(Shape{3, 45, 37, 3});
  for (std::size_t i = 0; i < x.values().size(); ++i) x.values()[i] = static_cast<float>((i * 7919) % 1000) / 500.0f - 1.0f;
  struct Run {
    Tensor logits, probabilities, pooled, features;
    std::vector<Tensor> stages;
    std::size_t arena = 0;
  };
  const auto run = [&](int images_per_pass, Layout layout) {
    ModelOptions o;
    o.images_per_pass = images_per_pass;
    ResNet18 model(o);
    model.init_random(4);
    Workspace ws(2);
    Run r;
    Outputs out;
    out.logits = &r.logits;
    out.probabilities = &r.probabilities;
    out.pooled = &r.pooled;
    out.features = &r.features;
    out.stages = &r.stages;
    out.layout = layout;
    model.forward(x, out, ws);
    r.arena = ws.arena_bytes();
    return r;
  };
  // 0 (automatic) makes one pass of these three small images (45 x 37 x 3 < 8,192 pixels).
  for (Layout layout : {Layout::nhwc, Layout::nchw}) {
    const Run whole = run(3, layout);
    for (int per_pass : {0, 1, 2}) {
      INFO("images per pass " << per_pass << (layout == Layout::nchw ? ", NCHW" : ", NHWC"));
      const Run parts = run(per_pass, layout);
      CHECK(parts.logits.shape() == Shape{3, 1, 1, 1000});
      CHECK(parts.logits.values() == whole.logits.values());
      CHECK(parts.probabilities.values() == whole.probabilities.values());
      CHECK(parts.pooled.values() == whole.pooled.values());
      CHECK(parts.features.values() == whole.features.values());
      CHECK(parts.features.layout() == layout);
      REQUIRE(parts.stages.size() == 4);
      for (std::size_t s = 0; s < 4; ++s) {
        CHECK(parts.stages[s].shape() == whole.stages[s].shape());
        CHECK(parts.stages[s].values() == whole.stages[s].values());
      }
      if (per_pass > 0) CHECK(parts.arena < whole.arena);
    }
  }
  ModelOptions bad;
  bad.images_per_pass = -1;
  CHECK_THROWS_AS(ResNet18(bad), Error);
}

TEST_CASE("The late stages run on the images of several early groups at once, with the values of one pass",
          "[workspace][memory]") {
  // ResNet-18 at 224x160: one image at a time through the stem and stages 1-2 (56x40 maps),
  // then stages 3-4 on all five, gathered; at 96x96 from stage 1 on. Every output as the
  // whole batch in one group gives it.
  ModelOptions automatic, whole;
  whole.images_per_pass = 5;
  const ResNet18 split_model(automatic), whole_model(whole);
  const auto plan_of = [](const auto& m, Shape s) {
    const auto p = m.pass_plan(s);
    std::vector<int> images_and_groups{p.images};
    images_and_groups.insert(images_and_groups.end(), p.group.begin(), p.group.end());
    return images_and_groups;
  };
  using V = std::vector<int>;  // images a pass; the stem's group, then each stage's
  CHECK(plan_of(split_model, {5, 224, 160, 3}) == V{5, 1, 1, 1, 5, 5});
  CHECK(plan_of(split_model, {5, 96, 96, 3}) == V{5, 1, 5, 5, 5, 5});
  CHECK(plan_of(split_model, {3, 224, 224, 3}) == V{1, 1, 1, 1, 1, 1});     // too few to gather
  CHECK(plan_of(split_model, {32, 224, 224, 3}) == V{8, 1, 1, 1, 8, 8});    // 10 fit: 4 passes of 8
  CHECK(plan_of(split_model, {32, 32, 32, 3}) == V{32, 8, 32, 32, 32, 32});  // 8 images a group
  CHECK(plan_of(whole_model, {32, 224, 224, 3}) == V{5, 5, 5, 5, 5, 5});
  // ResNet-50's stage 3 output (14x14x1024) is 2^19 values for 2.6 images, its stage 4's
  // (7x7x2048) for 5.2: 2 and 4 of a batch of 8 (5 images: 2, 2, 1, then all 5)
  const ResNet50 deep;
  CHECK(plan_of(deep, {8, 224, 224, 3}) == V{4, 1, 1, 1, 2, 4});
  CHECK(plan_of(deep, {5, 224, 224, 3}) == V{5, 1, 1, 1, 2, 5});
  CHECK(plan_of(deep, {8, 448, 448, 3}) == V{1, 1, 1, 1, 1, 1});  // stage 4's output alone is 2^19 values
  // Every output of a gathered pass, against the whole batch as one group.
  const auto check_same_as_one_group = [](auto model_tag, const Shape& shape, const ModelOptions& automatic) {
    using Model = decltype(model_tag);
    INFO(Model::name << ", input " << shape.str());
    Tensor x(shape);
    for (std::size_t i = 0; i < x.values().size(); ++i) x.values()[i] = static_cast<float>((i * 7919) % 1000) / 500.0f - 1.0f;
    const auto run = [&](const ModelOptions& o) {
      Model model(o);
      model.init_random(6);
      Workspace ws(2);
      std::vector<Tensor> r(4);
      std::vector<Tensor> stages;
      Outputs out;
      out.logits = &r[0];
      out.probabilities = &r[1];
      out.pooled = &r[2];
      out.features = &r[3];
      out.stages = &stages;
      model.forward(x, out, ws);
      r.insert(r.end(), stages.begin(), stages.end());
      return r;
    };
    ModelOptions whole = automatic;
    whole.images_per_pass = shape.n;
    const std::vector<Tensor> split = run(automatic), one_group = run(whole);
    REQUIRE(split.size() == 8);
    for (std::size_t i = 0; i < split.size(); ++i) {
      INFO("output " << i);
      CHECK(split[i].shape() == one_group[i].shape());
      CHECK(split[i].values() == one_group[i].values());
    }
  };
  check_same_as_one_group(ResNet18{}, {5, 224, 160, 3}, automatic);
  check_same_as_one_group(ResNet18{}, {5, 96, 96, 3}, automatic);
  // Three group sizes, 1, 2 and 4 images, in passes of 4 and 3 (the last gathers 2 + 1
  // from stage 2 and 1 + 1 + 1 from stage 1).
  CHECK(plan_of(deep, {7, 160, 160, 3}) == V{4, 1, 1, 2, 4, 4});
  check_same_as_one_group(ResNet50{}, {7, 160, 160, 3}, automatic);
}
