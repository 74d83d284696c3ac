#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "resnet/core/math.hpp"
#include "resnet/vision/labels.hpp"
#include "support.hpp"

using resnet::Error;
using resnet::ErrorKind;
using resnet::Tensor;
using test_support::kind_of;

namespace {

Tensor rows(const std::vector<std::vector<float>>& values) {
  Tensor t(static_cast<int>(values.size()), 1, 1, static_cast<int>(values[0].size()));
  for (std::size_t n = 0; n < values.size(); ++n)
    for (std::size_t c = 0; c < values[n].size(); ++c)
      t.at(static_cast<int>(n), 0, 0, static_cast<int>(c)) = values[n][c];
  return t;
}

std::string temp_file(const std::string& name, const std::string& content) {
  std::filesystem::create_directories(RESNET_TEST_DATA);
  const std::string path = std::string(RESNET_TEST_DATA) + "/labels_" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

}  // namespace

TEST_CASE("imagenet labels follow torchvision's order and spelling", "[labels]") {
  const auto& labels = resnet::imagenet_labels();
  REQUIRE(labels.size() == 1000);
  // Spec 5.4 / torchvision weights.meta["categories"].
  CHECK(std::string(labels[0]) == "tench");
  CHECK(std::string(labels[1]) == "goldfish");
  CHECK(std::string(labels[2]) == "great white shark");
  CHECK(std::string(labels[999]) == "toilet tissue");
  for (const char* label : labels) CHECK(std::string(label).size() > 0);
}

TEST_CASE("cifar10 labels in torchvision's order", "[labels]") {
  const auto& labels = resnet::cifar10_labels();
  const char* expected[] = {"airplane", "automobile", "bird", "cat", "deer",
                            "dog",      "frog",       "horse", "ship", "truck"};
  for (int i = 0; i < 10; ++i) CHECK(std::string(labels[i]) == expected[i]);
}

TEST_CASE("decode_predictions sorts each row descending", "[labels]") {
  const Tensor scores = rows({{0.1f, 0.5f, 0.2f, 0.05f, 0.15f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f},
                              {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.3f, 0.0f, 0.7f}});
  const auto result = resnet::decode_predictions(scores, 3, resnet::cifar10_labels());
  REQUIRE(result.size() == 2);
  REQUIRE(result[0].size() == 3);
  CHECK(result[0][0].index == 1);
  CHECK(result[0][0].label == "automobile");
  CHECK(result[0][0].score == 0.5f);
  CHECK(result[0][1].index == 2);
  CHECK(result[0][2].index == 4);
  CHECK(result[0][2].label == "deer");
  CHECK(result[1][0].label == "truck");
  CHECK(result[1][1].label == "horse");
  CHECK(result[1][2].index == 0);  // eight tied zeros: the lowest index comes first
}

TEST_CASE("decode_predictions breaks ties towards the lower index", "[labels]") {
  const Tensor scores = rows({{0.2f, 0.4f, 0.4f, 0.4f, 0.1f}});
  const std::vector<std::string> labels = {"a", "b", "c", "d", "e"};
  const auto result = resnet::decode_predictions(scores, 4, labels);
  REQUIRE(result[0].size() == 4);
  CHECK(result[0][0].index == 1);
  CHECK(result[0][1].index == 2);
  CHECK(result[0][2].index == 3);
  CHECK(result[0][3].index == 0);
  CHECK(resnet::decode_predictions(scores, 50, labels)[0].size() == 5);  // top > classes: all
}

TEST_CASE("decode_predictions ranks NaN last", "[labels]") {
  const Tensor scores = rows({{NAN, 0.1f, 0.3f}});
  const auto result = resnet::decode_predictions(scores, 3, std::vector<std::string>{"x", "y", "z"});
  CHECK(result[0][0].index == 2);
  CHECK(result[0][1].index == 1);
  CHECK(result[0][2].index == 0);
}

TEST_CASE("decode_predictions uses the imagenet labels by default", "[labels]") {
  Tensor scores(1, 1, 1, 1000);
  scores.at(0, 0, 0, 2) = 3.0f;
  scores.at(0, 0, 0, 0) = 2.0f;
  const auto result = resnet::decode_predictions(scores);
  REQUIRE(result[0].size() == 5);
  CHECK(result[0][0].label == "great white shark");
  CHECK(result[0][1].label == "tench");
}

TEST_CASE("decode_predictions rejects bad arguments", "[labels][errors]") {
  const Tensor ten = rows({{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}});
  CHECK(kind_of([&] { resnet::decode_predictions(ten); }) == ErrorKind::shape_mismatch);
  CHECK(kind_of([&] { resnet::decode_predictions(ten, 0, resnet::cifar10_labels()); }) ==
        ErrorKind::invalid_argument);
  CHECK(kind_of([&] { resnet::decode_predictions(ten, -3, resnet::cifar10_labels()); }) ==
        ErrorKind::invalid_argument);
  CHECK(kind_of([&] { resnet::decode_predictions(Tensor(1, 2, 2, 10), 5, resnet::cifar10_labels()); }) ==
        ErrorKind::shape_mismatch);
  try {
    resnet::decode_predictions(ten);
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("10 classes") != std::string::npos);
    CHECK(std::string(e.what()).find("1000 labels") != std::string::npos);
  }
}

TEST_CASE("softmax matches a hand-computed case and sums to one", "[labels][softmax]") {
  // exp(1), exp(2), exp(3) over their sum: 0.0900306, 0.2447285, 0.6652410.
  const Tensor p = resnet::softmax(rows({{1.0f, 2.0f, 3.0f}, {0.0f, 0.0f, 0.0f}}));
  CHECK(p.at(0, 0, 0, 0) == Approx(0.09003057).epsilon(1e-6));
  CHECK(p.at(0, 0, 0, 1) == Approx(0.24472847).epsilon(1e-6));
  CHECK(p.at(0, 0, 0, 2) == Approx(0.66524096).epsilon(1e-6));
  for (int c = 0; c < 3; ++c) CHECK(p.at(1, 0, 0, c) == Approx(1.0 / 3.0).epsilon(1e-6));

  Tensor big(1, 1, 1, 1000);
  for (int c = 0; c < 1000; ++c) big.at(0, 0, 0, c) = static_cast<float>((c * 37) % 101) * 0.25f;
  const Tensor q = resnet::softmax(big);
  double sum = 0.0;
  for (int c = 0; c < 1000; ++c) sum += q.at(0, 0, 0, c);
  CHECK(sum == Approx(1.0).epsilon(1e-5));
}

TEST_CASE("softmax is stable for large logits", "[labels][softmax]") {
  const Tensor p = resnet::softmax(rows({{1000.0f, 1001.0f, 1002.0f}, {-1000.0f, -1000.0f, -2000.0f}}));
  CHECK(p.at(0, 0, 0, 2) == Approx(0.66524096).epsilon(1e-6));
  CHECK(p.at(1, 0, 0, 0) == Approx(0.5).epsilon(1e-6));
  CHECK(p.at(1, 0, 0, 2) == 0.0f);
  for (int c = 0; c < 3; ++c) CHECK(std::isfinite(p.at(0, 0, 0, c)));
}

TEST_CASE("top_k ranks descending, ties to the lower index, NaN after every number", "[labels][top_k]") {
  const float scores[] = {0.5f, NAN, 0.7f, 0.5f, 0.7f, -INFINITY, 0.5f};
  CHECK(resnet::top_k(scores, 7, 7) == std::vector<int>{2, 4, 0, 3, 6, 5, 1});
  CHECK(resnet::top_k(scores, 7, 3) == std::vector<int>{2, 4, 0});
  CHECK(resnet::top_k(scores, 7, 50) == std::vector<int>{2, 4, 0, 3, 6, 5, 1});  // k > count: all
  CHECK(resnet::top_k(scores, 7, 0).empty());
  const float nans[] = {NAN, NAN, NAN};
  CHECK(resnet::top_k(nans, 3, 2) == std::vector<int>{0, 1});
}

TEST_CASE("softmax_rows equals exp(x) / sum exp(x) computed in double", "[labels][softmax]") {
  const int rows = 3, cols = 11;
  std::vector<float> x(rows * cols);
  for (int i = 0; i < rows * cols; ++i) x[i] = static_cast<float>((i * 7919) % 23) * 0.37f - 4.0f;
  std::vector<float> got = x;
  resnet::softmax_rows(got.data(), rows, cols);
  for (int r = 0; r < rows; ++r) {
    double sum = 0.0;
    for (int c = 0; c < cols; ++c) sum += std::exp(static_cast<double>(x[r * cols + c]));
    for (int c = 0; c < cols; ++c)
      CHECK(got[r * cols + c] == Approx(std::exp(static_cast<double>(x[r * cols + c])) / sum).epsilon(1e-6));
  }
}

TEST_CASE("softmax of an NCHW feature map normalises the channels at each pixel", "[labels][softmax]") {
  Tensor logits(2, 3, 2, 5, resnet::Layout::nchw);
  for (int n = 0; n < 2; ++n)
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 2; ++x)
        for (int c = 0; c < 5; ++c) logits.at(n, y, x, c) = static_cast<float>(n - y + 2 * x * c) * 0.5f;
  const Tensor p = resnet::softmax(logits);
  REQUIRE(p.layout() == resnet::Layout::nchw);
  REQUIRE(p.shape() == logits.shape());
  for (int n = 0; n < 2; ++n)
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 2; ++x) {
        double sum = 0.0;
        for (int c = 0; c < 5; ++c) sum += std::exp(static_cast<double>(logits.at(n, y, x, c)));
        for (int c = 0; c < 5; ++c)
          CHECK(p.at(n, y, x, c) == Approx(std::exp(static_cast<double>(logits.at(n, y, x, c))) / sum).epsilon(1e-6));
      }
}

TEST_CASE("load_labels reads one label per line", "[labels][io]") {
  const std::string path = temp_file("ok.txt", "cat\r\ndog\nhot dog\n\n");
  const auto labels = resnet::load_labels(path);
  REQUIRE(labels.size() == 3);
  CHECK(labels[0] == "cat");
  CHECK(labels[1] == "dog");
  CHECK(labels[2] == "hot dog");
  std::remove(path.c_str());
}

TEST_CASE("load_labels reports empty, blank-line and missing files", "[labels][io][errors]") {
  const std::string empty = temp_file("empty.txt", "");
  const std::string blank = temp_file("blank.txt", "cat\n\ndog\n");
  CHECK(kind_of([&] { resnet::load_labels(empty); }) == ErrorKind::format);
  CHECK(kind_of([&] { resnet::load_labels(blank); }) == ErrorKind::format);
  CHECK(kind_of([&] { resnet::load_labels(std::string(RESNET_TEST_DATA) + "/no_such_labels.txt"); }) ==
        ErrorKind::io);
  try {
    resnet::load_labels(empty);
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find(empty) != std::string::npos);
  }
  std::remove(empty.c_str());
  std::remove(blank.c_str());
}
