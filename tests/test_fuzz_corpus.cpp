// Replays every seed file of fuzz/corpus through the safetensors reader: each must parse
// or throw resnet::Error, valid_* files must parse (and their float tensors read) and
// invalid_* files must be rejected with the resnet::ErrorKind that fuzz/expected_errors.txt
// (written by fuzz/make_corpus.py) gives for them.

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "resnet/io/safetensors.hpp"

#include "fuzz_seeds.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using resnet::io::SafeTensors;

TEST_CASE("every fuzz seed parses or throws resnet::Error as its name says", "[safetensors][corpus]") {
  std::map<std::string, std::string> kinds = test_support::expected_error_kinds("expected_errors.txt");
  const std::vector<fs::path> files = test_support::seed_files("corpus");
  REQUIRE(files.size() >= 20);

  int valid = 0, invalid = 0;
  for (const fs::path& path : files) {
    const std::string name = path.filename().string();
    INFO(name);
    const std::vector<std::uint8_t> bytes = test_support::read_file(path.string());
    bool parsed = false;
    std::string error, kind;
    try {
      const SafeTensors st = SafeTensors::from_memory(bytes, name);
      parsed = true;
      for (const auto& t : st.tensors()) {
        if (resnet::io::detail::is_float_dtype(t.dtype))
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
