// Fitting classifier heads (resnet/transfer.hpp). Expected values come from a plain
// reference of the loss and its gradient written here with long double loops, from the
// closed form of the penalty-dominated optimum (zero weights, softmax(bias) = the class
// frequencies), and from W x + b computed by hand; scikit-learn's fit on real features is
// tests/python/test_head_sklearn.py.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <resnet/resnet.hpp>
#include <resnet/transfer.hpp>
#include <resnet/vision.hpp>

#include "error_kind.hpp"
#include "skip.hpp"
#include "support.hpp"

namespace fs = std::filesystem;  // the same alias as other test files: one unity batch may hold both

namespace {

using test_support::kind_of;

/// Gaussian clusters, one per class, with overlap (so the optimum is finite without L2).
resnet::FeatureSet clustered_features(int classes, int width, int per_class, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  resnet::FeatureSet set;
  set.width = width;
  for (int c = 0; c < classes; ++c) set.classes.push_back("class" + std::to_string(c));
  std::vector<std::vector<float>> centres(static_cast<std::size_t>(classes), std::vector<float>(width));
  for (auto& centre : centres)
    for (float& v : centre) v = 1.5f * normal(rng);
  for (int i = 0; i < per_class; ++i)
    for (int c = 0; c < classes; ++c) {
      for (int j = 0; j < width; ++j) set.values.push_back(centres[static_cast<std::size_t>(c)][j] + normal(rng));
      set.labels.push_back(c);
    }
  return set;
}

/// loss / n and its gradient, the definition written out: sum_i -log softmax(W x_i + b)[y_i]
/// + l2/2 ||W||^2, all over n; bias unpenalised.
long double reference_loss(const resnet::LinearHead& h, const resnet::FeatureSet& set, double l2,
                           std::vector<long double>* gradient = nullptr) {
  const std::size_t k = static_cast<std::size_t>(h.classes), d = static_cast<std::size_t>(h.width);
  if (gradient) gradient->assign(k * (d + 1), 0.0L);
  long double loss = 0;
  std::vector<long double> z(k);
  for (std::size_t i = 0; i < set.size(); ++i) {
    long double top = -INFINITY;
    for (std::size_t c = 0; c < k; ++c) {
      z[c] = h.bias[c];
      for (std::size_t j = 0; j < d; ++j) z[c] += static_cast<long double>(h.weight[c * d + j]) * set.row(i)[j];
      top = std::max(top, z[c]);
    }
    long double sum = 0;
    for (std::size_t c = 0; c < k; ++c) sum += std::exp(z[c] - top);
    const std::size_t y = static_cast<std::size_t>(set.labels[i]);
    loss += std::log(sum) + top - z[y];
    if (gradient)
      for (std::size_t c = 0; c < k; ++c) {
        const long double residual = std::exp(z[c] - top) / sum - (c == y ? 1 : 0);
        for (std::size_t j = 0; j < d; ++j) (*gradient)[c * d + j] += residual * set.row(i)[j];
        (*gradient)[k * d + c] += residual;
      }
  }
  long double norm = 0;
  for (float w : h.weight) norm += static_cast<long double>(w) * w;
  const long double n = static_cast<long double>(set.size());
  if (gradient) {
    for (std::size_t p = 0; p < k * d; ++p) (*gradient)[p] = ((*gradient)[p] + l2 * h.weight[p]) / n;
    for (std::size_t c = 0; c < k; ++c) (*gradient)[k * d + c] /= n;
  }
  return (loss + 0.5L * l2 * norm) / n;
}

resnet::LinearHead random_head(int classes, int width, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  resnet::LinearHead h{classes, width, std::vector<float>(static_cast<std::size_t>(classes) * width), {}};
  for (float& w : h.weight) w = normal(rng);
  for (int c = 0; c < classes; ++c) h.bias.push_back(normal(rng));
  return h;
}

/// A random CIFAR ResNet-20 with a random 3-class head called `names`.
resnet::CifarResNet20 three_class_cifar(const std::vector<std::string>& names, unsigned seed) {
  resnet::ModelOptions o;
  o.classes = 3;
  resnet::CifarResNet20 model(o);
  model.init_random(seed);
  model.set_head(resnet::to_dense<64>(random_head(3, 64, seed + 1)), names);
  return model;
}

/// Fitted far past scikit-learn's stopping rule, to compare with exact optima.
resnet::FitResult fit_tightly(const resnet::FeatureSet& train, double l2, double tolerance) {
  resnet::Workspace ws(2);
  resnet::FitOptions options;
  options.l2 = l2;
  options.tolerance = tolerance;
  options.max_iterations = 1000;
  return resnet::fit_logistic_regression(train, nullptr, options, ws);
}

std::string scratch_dir(const std::string& name) {
  const std::string dir = test_support::temp_path("head_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace

TEST_CASE("fit_logistic_regression ends at the minimum of the plain reference loss", "[head]") {
  const resnet::FeatureSet train = clustered_features(4, 6, 50, 1);
  const double l2 = 0.5;
  const resnet::FitResult fit = fit_tightly(train, l2, 1e-7);
  REQUIRE(fit.converged);
  std::vector<long double> gradient;
  const long double loss = reference_loss(fit.head, train, l2, &gradient);
  long double largest = 0;
  for (long double g : gradient) largest = std::max(largest, std::abs(g));
  CHECK(static_cast<double>(largest) < 1e-5);  // the float rounding of the head's values sets the floor
  CHECK(fit.history.back().loss == Approx(static_cast<double>(loss)).epsilon(1e-6));
  // And it is a minimum: moving any weight either way raises the reference loss.
  for (std::size_t p : {std::size_t{0}, std::size_t{7}, std::size_t{23}}) {
    for (float delta : {-0.01f, 0.01f}) {
      resnet::LinearHead moved = fit.head;
      moved.weight[p] += delta;
      CHECK(reference_loss(moved, train, l2) > loss);
    }
  }
  // The history is monotone in the loss and ends at the reported accuracy.
  for (std::size_t i = 1; i < fit.history.size(); ++i) CHECK(fit.history[i].loss <= fit.history[i - 1].loss);
  CHECK(fit.history.back().train_accuracy == Approx(resnet::accuracy(fit.head, train)));
}

TEST_CASE("fit_logistic_regression: a dominant L2 leaves softmax(bias) = the class frequencies", "[head]") {
  // Unequal classes: 3 : 2 : 1. With the weights pinned near zero the optimum of the
  // unpenalised bias is the log of the frequencies (up to a constant).
  resnet::FeatureSet train = clustered_features(3, 4, 30, 2);
  resnet::FeatureSet unequal = train;
  unequal.values.clear();
  unequal.labels.clear();
  for (std::size_t i = 0; i < train.size(); ++i) {
    const int label = train.labels[i];
    const int copies = 3 - label;
    for (int r = 0; r < copies; ++r) {
      unequal.values.insert(unequal.values.end(), train.row(i), train.row(i) + train.width);
      unequal.labels.push_back(label);
    }
  }
  const resnet::FitResult fit = fit_tightly(unequal, 1e7, 1e-9);
  double total = 0;
  for (float b : fit.head.bias) total += std::exp(b);
  const double expected[3] = {3.0 / 6, 2.0 / 6, 1.0 / 6};
  for (int c = 0; c < 3; ++c) CHECK(std::exp(fit.head.bias[c]) / total == Approx(expected[c]).margin(1e-3));
  for (float w : fit.head.weight) CHECK(std::abs(w) < 1e-3);
}

TEST_CASE("fit_logistic_regression gives the same bits on 1 and 3 threads", "[head]") {
  resnet::FeatureSet train = clustered_features(5, 9, 300, 3);  // 1,500 rows: several chunks
  train.flipped = train.values;
  for (float& v : train.flipped) v = -v;
  resnet::Workspace one(1), three(3);
  const resnet::FitResult a = resnet::fit_logistic_regression(train, nullptr, {}, one);
  const resnet::FitResult b = resnet::fit_logistic_regression(train, nullptr, {}, three);
  CHECK(a.head.weight == b.head.weight);
  CHECK(a.head.bias == b.head.bias);
  CHECK(a.history.size() == b.history.size());
}

TEST_CASE("fit_logistic_regression: flipped copies are fitted as further rows", "[head]") {
  const resnet::FeatureSet base = clustered_features(3, 5, 40, 4);
  resnet::FeatureSet with_copies = base;
  with_copies.flipped = base.values;
  std::mt19937 rng(9);
  for (float& v : with_copies.flipped) v += std::normal_distribution<float>(0.0f, 0.5f)(rng);
  resnet::FeatureSet as_rows = base;  // the same rows, listed as plain images
  as_rows.values.insert(as_rows.values.end(), with_copies.flipped.begin(), with_copies.flipped.end());
  as_rows.labels.insert(as_rows.labels.end(), base.labels.begin(), base.labels.end());
  resnet::Workspace ws(1);
  const resnet::FitResult a = resnet::fit_logistic_regression(with_copies, nullptr, {}, ws);
  const resnet::FitResult b = resnet::fit_logistic_regression(as_rows, nullptr, {}, ws);
  CHECK(a.head.weight == b.head.weight);
}

TEST_CASE("fit_logistic_regression refuses bad input by name", "[head]") {
  resnet::Workspace ws(1);
  const resnet::FeatureSet good = clustered_features(3, 4, 5, 5);
  std::string message;

  resnet::FeatureSet nan = good;
  nan.values[6] = std::nanf("");
  CHECK(kind_of([&] { resnet::fit_logistic_regression(nan, nullptr, {}, ws); }, &message) ==
        resnet::ErrorKind::invalid_argument);
  CHECK_THAT(message, Catch::Contains("feature 2 of image 1 is not finite"));

  resnet::FeatureSet inf_flipped = good;
  inf_flipped.flipped = good.values;
  inf_flipped.flipped[0] = INFINITY;
  CHECK(kind_of([&] { resnet::fit_logistic_regression(inf_flipped, nullptr, {}, ws); }, &message) ==
        resnet::ErrorKind::invalid_argument);
  CHECK_THAT(message, Catch::Contains("(flipped) is not finite"));

  resnet::FeatureSet single = good;
  single.classes = {"only"};
  std::fill(single.labels.begin(), single.labels.end(), 0);
  CHECK(kind_of([&] { resnet::fit_logistic_regression(single, nullptr, {}, ws); }, &message) ==
        resnet::ErrorKind::invalid_argument);
  CHECK_THAT(message, Catch::Contains("at least two classes, got 1"));

  resnet::FeatureSet missing_class = good;
  missing_class.classes.push_back("empty");
  CHECK(kind_of([&] { resnet::fit_logistic_regression(missing_class, nullptr, {}, ws); }, &message) ==
        resnet::ErrorKind::invalid_argument);
  CHECK_THAT(message, Catch::Contains("class 'empty' has no training images"));

  resnet::FitOptions negative;
  negative.l2 = -1;
  CHECK(kind_of([&] { resnet::fit_logistic_regression(good, nullptr, negative, ws); }) ==
        resnet::ErrorKind::invalid_argument);

  resnet::FeatureSet other_width = clustered_features(3, 5, 5, 6);
  CHECK(kind_of([&] { resnet::fit_logistic_regression(good, &other_width, {}, ws); }) ==
        resnet::ErrorKind::invalid_argument);

  resnet::FeatureSet empty;
  empty.width = 4;
  empty.classes = {"a", "b"};
  CHECK(kind_of([&] { resnet::fit_logistic_regression(empty, nullptr, {}, ws); }, &message) ==
        resnet::ErrorKind::invalid_argument);
  CHECK_THAT(message, Catch::Contains("no images"));
}

TEST_CASE("split_validation holds out each class's share; bad fractions are errors", "[head]") {
  resnet::FeatureSet set = clustered_features(3, 2, 10, 7);
  set.flipped = set.values;
  const auto [train, validation] = resnet::split_validation(set, 0.3, 42);
  for (int c = 0; c < 3; ++c) {
    CHECK(std::count(train.labels.begin(), train.labels.end(), c) == 7);
    CHECK(std::count(validation.labels.begin(), validation.labels.end(), c) == 3);
  }
  CHECK(train.flipped.size() == train.values.size());
  CHECK(validation.flipped.empty());  // measured on the images as they are
  const auto again = resnet::split_validation(set, 0.3, 42);
  CHECK(again.second.values == validation.values);
  for (double bad : {0.0, 1.0, 1.5, -0.2, std::nan("")})
    CHECK(kind_of([&] { resnet::split_validation(set, bad); }) == resnet::ErrorKind::invalid_argument);
  resnet::FeatureSet tiny = clustered_features(2, 2, 1, 8);  // one image per class: none to spare
  CHECK(kind_of([&] { resnet::split_validation(tiny, 0.5); }) == resnet::ErrorKind::invalid_argument);
}

TEST_CASE("save_feature_set and load_feature_set round-trip; other files are refused", "[head]") {
  resnet::FeatureSet set = clustered_features(3, 5, 4, 9);
  set.classes = {"cat", "dög", "with \"quotes\""};
  set.flipped = set.values;
  set.skipped = 2;
  const std::string dir = scratch_dir("features");
  const std::string path = dir + "/f.safetensors";
  resnet::save_feature_set(path, set, "the key");
  std::string key;
  const resnet::FeatureSet back = resnet::load_feature_set(path, &key);
  CHECK(key == "the key");
  CHECK(back.classes == set.classes);
  CHECK(back.values == set.values);
  CHECK(back.flipped == set.flipped);
  CHECK(back.labels == set.labels);
  CHECK(back.skipped == 2);

  resnet::io::write_safetensors(dir + "/other.safetensors", {{"features", {2, 2}, {1, 2, 3, 4}}});
  CHECK(kind_of([&] { resnet::load_feature_set(dir + "/other.safetensors"); }) == resnet::ErrorKind::format);
  resnet::io::write_safetensors(dir + "/bad_label.safetensors",
                                {{"features", {1, 2}, {1, 2}}, {"labels", {1}, {5}}}, {{"classes", "[\"a\",\"b\"]"}});
  std::string message;
  CHECK(kind_of([&] { resnet::load_feature_set(dir + "/bad_label.safetensors"); }, &message) ==
        resnet::ErrorKind::format);
  CHECK_THAT(message, Catch::Contains("is not a class index"));
  fs::remove_all(dir);
}

TEST_CASE("set_head: a model built with classes = N takes a fitted head; logits are W x + b", "[head]") {
  resnet::ModelOptions o;
  o.classes = 3;
  resnet::CifarResNet20 model(o);
  model.init_random(5);
  const resnet::LinearHead head = random_head(3, 64, 10);
  model.set_head(resnet::to_dense<64>(head), {"a", "b", "c"});
  CHECK(model.class_names() == std::vector<std::string>{"a", "b", "c"});

  resnet::Tensor input(2, 32, 32, 3);
  std::mt19937 rng(1);
  for (float& v : input.values()) v = std::normal_distribution<float>(0.0f, 1.0f)(rng);
  resnet::Tensor pooled, logits;
  resnet::Outputs out;
  out.pooled = &pooled;
  out.logits = &logits;
  resnet::Workspace ws(1);
  model.forward(input, out, ws);
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c) {
      double expected = head.bias[static_cast<std::size_t>(c)];
      for (int j = 0; j < 64; ++j) expected += head.weight[static_cast<std::size_t>(c) * 64 + j] * pooled.at(n, 0, 0, j);
      CHECK(logits.at(n, 0, 0, c) == Approx(expected).margin(1e-4));
    }

  std::string message;
  CHECK(kind_of([&] { model.set_head(resnet::to_dense<64>(random_head(4, 64, 1))); }, &message) ==
        resnet::ErrorKind::shape_mismatch);
  CHECK_THAT(message, Catch::Contains("the head has 4 classes but the model was built with classes = 3"));
  CHECK(kind_of([&] { resnet::to_dense<512>(head); }, &message) == resnet::ErrorKind::shape_mismatch);
  CHECK_THAT(message, Catch::Contains("takes 64 features but the network gives 512"));
  CHECK(kind_of([&] { model.set_head(resnet::to_dense<64>(head), {"only one name"}); }) ==
        resnet::ErrorKind::shape_mismatch);
}

TEST_CASE("save_head and load_head keep weights and class names, in each family's naming", "[head]") {
  const std::string dir = scratch_dir("save");
  resnet::Workspace ws(1);
  resnet::Tensor input(1, 32, 32, 3);
  std::mt19937 rng(2);
  for (float& v : input.values()) v = std::normal_distribution<float>(0.0f, 1.0f)(rng);

  const resnet::CifarResNet20 model = three_class_cifar({"boats", "planes", "cars"}, 3);
  model.save_head(dir + "/cifar.safetensors");
  const resnet::ModelOptions o = model.options();
  const resnet::io::SafeTensors file = resnet::io::SafeTensors::open(dir + "/cifar.safetensors");
  CHECK(file.find("linear.weight") != nullptr);
  CHECK(file.metadata().at("classes") == "[\"boats\",\"planes\",\"cars\"]");
  resnet::CifarResNet20 reloaded(o);
  reloaded.init_random(3);
  reloaded.load_head(dir + "/cifar.safetensors");
  CHECK(reloaded.class_names() == model.class_names());
  CHECK(reloaded.forward(input, ws).values() == model.forward(input, ws).values());

  // Keras' naming stores the kernel transposed; the round trip must undo that.
  resnet::ResNet18V2 keras(o);
  keras.init_random(4);
  keras.set_head(resnet::to_dense<512>(random_head(3, 512, 5)), {"x", "y", "z"});
  keras.save_head(dir + "/keras.safetensors");
  CHECK(resnet::io::SafeTensors::open(dir + "/keras.safetensors").find("predictions/kernel") != nullptr);
  resnet::ResNet18V2 keras_back(o);
  keras_back.init_random(4);
  keras_back.load_head(dir + "/keras.safetensors");
  resnet::Tensor large(1, 64, 64, 3);
  for (float& v : large.values()) v = std::normal_distribution<float>(0.0f, 1.0f)(rng);
  CHECK(keras_back.forward(large, ws).values() == keras.forward(large, ws).values());
  fs::remove_all(dir);
}

TEST_CASE("load_head names a class-count or width mismatch and malformed class names", "[head]") {
  const std::string dir = scratch_dir("mismatch");
  resnet::CifarResNet20 model = three_class_cifar({"a", "b", "c"}, 1);
  model.save_head(dir + "/head.safetensors");
  const resnet::ModelOptions three = model.options();
  std::string message;

  resnet::ModelOptions four;
  four.classes = 4;
  resnet::CifarResNet20 other_count(four);
  other_count.init_random(1);
  CHECK(kind_of([&] { other_count.load_head(dir + "/head.safetensors"); }, &message) ==
        resnet::ErrorKind::shape_mismatch);
  CHECK_THAT(message, Catch::Contains("the head has 3 classes but the model was built with classes = 4"));

  // The same head without names in the file: the tensors' shape says it.
  resnet::io::write_safetensors(dir + "/unnamed.safetensors",
                                {{"linear.weight", {3, 64}, std::vector<float>(192, 0.f)}, {"linear.bias", {3}, {0, 0, 0}}});
  CHECK(kind_of([&] { other_count.load_head(dir + "/unnamed.safetensors"); }, &message) ==
        resnet::ErrorKind::shape_mismatch);
  CHECK_THAT(message, Catch::Contains("the head has 3 classes but the model was built with classes = 4"));

  resnet::ModelOptions three_r18 = three;
  resnet::ResNet18 wider(three_r18);
  wider.init_random(1);
  resnet::io::write_safetensors(dir + "/fc64.safetensors",
                                {{"fc.weight", {3, 64}, std::vector<float>(192, 0.f)}, {"fc.bias", {3}, {0, 0, 0}}});
  CHECK(kind_of([&] { wider.load_head(dir + "/fc64.safetensors"); }, &message) == resnet::ErrorKind::shape_mismatch);
  CHECK_THAT(message, Catch::Contains("the head takes 64 features but this backbone gives 512"));

  for (const char* bad : {"not json", "[\"a\", 3, \"c\"]", "[]", "{\"a\": 1}", "[\"a\",\"\",\"c\"]"}) {
    resnet::io::write_safetensors(dir + "/bad.safetensors",
                                  {{"linear.weight", {3, 64}, std::vector<float>(192, 0.f)}, {"linear.bias", {3}, {0, 0, 0}}},
                                  {{"classes", bad}});
    CHECK(kind_of([&] { model.load_head(dir + "/bad.safetensors"); }) == resnet::ErrorKind::format);
  }
  CHECK(model.class_names() == std::vector<std::string>{"a", "b", "c"});  // failed loads changed nothing
  fs::remove_all(dir);
}

TEST_CASE("read_image_folder: no class folders, or a class without files, is an io error", "[head]") {
  const std::string dir = scratch_dir("folders");
  std::string message;
  CHECK(kind_of([&] { resnet::read_image_folder(dir); }, &message) == resnet::ErrorKind::io);
  CHECK_THAT(message, Catch::Contains("no class folders"));
  fs::create_directories(dir + "/b");
  fs::create_directories(dir + "/a");
  std::ofstream(dir + "/a/1.jpg") << "x";
  CHECK(resnet::read_image_folder(dir).classes == std::vector<std::string>{"a", "b"});
  CHECK(kind_of([&] { resnet::read_image_folder(dir, true); }, &message) == resnet::ErrorKind::io);
  CHECK_THAT(message, Catch::Contains("class folder 'b' holds no images"));
  fs::remove_all(dir);
}

TEST_CASE("extract_features: pooled features per image, mirrored copies, unreadable files skipped", "[head]") {
  const std::string cifar = std::string(RESNET_SHARED_DATA) + "/cifar10/test";
  if (!fs::exists(cifar)) RESNET_SKIP(cifar << " is absent");
  const std::string dir = scratch_dir("extract");
  fs::create_directories(dir + "/ships");
  fs::create_directories(dir + "/trucks");
  for (int i = 0; i < 3; ++i) {
    fs::copy_file(cifar + "/ship/000" + std::to_string(i) + ".jpg", dir + "/ships/" + std::to_string(i) + ".jpg");
    fs::copy_file(cifar + "/truck/000" + std::to_string(i) + ".jpg", dir + "/trucks/" + std::to_string(i) + ".jpg");
  }
  std::ofstream(dir + "/trucks/broken.jpg") << "not a jpeg";

  resnet::ModelOptions o;
  o.include_top = false;
  resnet::CifarResNet20 backbone(o);
  backbone.init_random(6);
  resnet::Workspace ws(2);
  resnet::FeatureOptions options;
  options.preprocessing = {resnet::Preprocess::cifar, 32, 32};
  options.batch = 4;  // batches that straddle the classes and the broken file
  options.flip = true;
  std::vector<std::string> skipped;
  options.on_skip = [&](const std::string& why) { skipped.push_back(why); };
  const resnet::ImageFolder folder = resnet::read_image_folder(dir, true);
  const resnet::FeatureSet set = resnet::extract_features(backbone, folder, options, ws);
  REQUIRE(set.size() == 6);
  CHECK(set.skipped == 1);
  REQUIRE(skipped.size() == 1);
  CHECK_THAT(skipped[0], Catch::Contains("broken.jpg"));
  CHECK(set.labels == std::vector<int>{0, 0, 0, 1, 1, 1});
  CHECK(set.width == 64);

  // Reference: each image alone through the backbone, as is and mirrored by hand.
  for (std::size_t i = 0; i < 6; ++i) {
    const std::string path = dir + (i < 3 ? "/ships/" : "/trucks/") + std::to_string(i % 3) + ".jpg";
    const resnet::Image image = resnet::load_image(path);
    resnet::Image mirrored = image;
    for (int y = 0; y < image.height; ++y)
      for (int x = 0; x < image.width; ++x)
        for (int c = 0; c < 3; ++c) mirrored.at(y, x, c) = image.at(y, image.width - 1 - x, c);
    const resnet::Tensor plain = backbone.forward(resnet::preprocess_imagenet(image, resnet::Preprocess::cifar, 32, 32), ws);
    const resnet::Tensor flipped =
        backbone.forward(resnet::preprocess_imagenet(mirrored, resnet::Preprocess::cifar, 32, 32), ws);
    for (int j = 0; j < 64; ++j) {
      CHECK(set.values[i * 64 + static_cast<std::size_t>(j)] == Approx(plain.at(0, 0, 0, j)).margin(1e-4));
      CHECK(set.flipped[i * 64 + static_cast<std::size_t>(j)] == Approx(flipped.at(0, 0, 0, j)).margin(1e-4));
    }
  }
  fs::remove_all(dir);
}
