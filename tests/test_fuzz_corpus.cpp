// Replays every seed file of fuzz/corpus through the safetensors reader: each must parse
// or throw resnet::Error, valid_* files must parse (and their float tensors read) and
// invalid_* files must be rejected with the resnet::ErrorKind that fuzz/expected_errors.txt
// (written by fuzz/make_corpus.py) gives for them.

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "resnet/io/safetensors.hpp"

#include "fuzz_seeds.hpp"

namespace fs = std::filesystem;
using resnet::io::DType;
using resnet::io::SafeTensors;

TEST_CASE("every fuzz seed parses or throws resnet::Error as its name says", "[safetensors][corpus]") {
  const fs::path dir = fs::path(RESNET_SOURCE_DIR) / "fuzz" / "corpus";
  std::map<std::string, std::string> kinds = test_support::expected_error_kinds("expected_errors.txt");
  REQUIRE(fs::is_directory(dir));
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file()) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 20);

  int valid = 0, invalid = 0;
  for (const fs::path& path : files) {
    const std::string name = path.filename().string();
    INFO(name);
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    bool parsed = false;
    std::string error, kind;
    try {
      const SafeTensors st = SafeTensors::from_memory(bytes, name);
      parsed = true;
      for (const auto& t : st.tensors()) {
        if (t.dtype == DType::F32 || t.dtype == DType::F16 || t.dtype == DType::BF16 ||
            t.dtype == DType::F64)
          CHECK(st.read_f32(t).size() == static_cast<std::size_t>(t.numel()));
      }
      // Opening the file must agree with parsing its bytes.
      CHECK(SafeTensors::open(path.string()).tensors().size() == st.tensors().size());
    } catch (const resnet::Error& e) {
      error = e.what();
      kind = resnet::to_string(e.kind());
      CHECK(error.find(name) == 0);  // every message names the file
    }
    if (name.rfind("valid_", 0) == 0) {
      ++valid;
      CHECK(parsed);
      CHECK(error.empty());
    } else if (name.rfind("invalid_", 0) == 0) {
      ++invalid;
      CHECK(!parsed);
      INFO(error);
      const auto expected = kinds.find(name);
      REQUIRE(expected != kinds.end());  // make_corpus.py writes a kind for every invalid file
      CHECK(kind == expected->second);
      kinds.erase(expected);
    }
  }
  CHECK(valid > 0);
  CHECK(invalid > 0);
  for (const auto& [file, kind] : kinds) FAIL_CHECK("expected_errors.txt names " << file << ", not in the corpus");
}
