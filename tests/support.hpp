#pragma once
// Shared helpers of the tests: whole files, float bits, and for the conformance tests
// reading reference tensors written by the PyTorch scripts in tests/python and comparing
// with the tolerance |diff| <= tol * max(1, |ref|).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <resnet/resnet.hpp>

#include "error_kind.hpp"

namespace test_support {

inline bool file_exists(const std::string& path) { return std::filesystem::exists(path); }

inline std::string data_path(const std::string& name) { return std::string(RESNET_TEST_DATA) + "/" + name; }

/// A path for a scratch file in the system's temporary folder; `name` starts with the
/// test program's own prefix, since ctest runs the programs side by side.
inline std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("resnet_test_" + name)).string();
}

/// A whole file's bytes; the file must exist.
inline std::vector<std::uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::uint32_t bits_of(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

struct Reference {
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

inline Reference reference(const resnet::io::SafeTensors& file, const std::string& name) {
  const auto* t = file.find(name);
  if (!t) FAIL("reference tensor " << name << " is missing from " << file.name());
  return {t->shape, file.read_f32(*t)};
}

/// An NCHW tensor built from a reference [n, c, h, w] array.
inline resnet::Tensor nchw_tensor(const Reference& r) {
  REQUIRE(r.shape.size() == 4);
  resnet::Tensor t(static_cast<int>(r.shape[0]), static_cast<int>(r.shape[2]), static_cast<int>(r.shape[3]),
                   static_cast<int>(r.shape[1]), resnet::Layout::nchw);
  REQUIRE(t.size() == r.values.size());
  std::copy(r.values.begin(), r.values.end(), t.data());
  return t;
}

/// Largest |got - ref| / max(1, |ref|).
inline double max_scaled_error(const float* got, const std::vector<float>& ref) {
  double worst = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double e = std::abs(static_cast<double>(got[i]) - ref[i]) / std::max(1.0, std::abs(static_cast<double>(ref[i])));
    if (!(e <= worst)) worst = e;  // NaN counts as the worst
  }
  return worst;
}

using resnet::top_k;  // the library's ranking: descending, ties to the lower index

/// Top-5 of every row must agree with the reference's.
inline void check_same_top5(const float* got, const std::vector<float>& ref, int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    const auto a = top_k(got + static_cast<std::size_t>(r) * cols, cols, 5);
    const auto b = top_k(ref.data() + static_cast<std::size_t>(r) * cols, cols, 5);
    CHECK(a == b);
  }
}

}  // namespace test_support
