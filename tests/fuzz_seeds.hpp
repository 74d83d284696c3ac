#pragma once
// What each invalid fuzz seed must raise: the lists fuzz/make_corpus*.py write beside
// their corpora (fuzz/expected_errors*.txt), read by the corpus tests.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace test_support {

/// fuzz/<list>: `file kind` per line, '#' starts a comment line.
inline std::map<std::string, std::string> expected_error_kinds(const std::string& list) {
  std::ifstream in(std::filesystem::path(RESNET_SOURCE_DIR) / "fuzz" / list);
  REQUIRE(in);
  std::map<std::string, std::string> kinds;
  std::string file, kind;
  while (in >> file) {
    if (file[0] == '#') {
      std::getline(in, kind);
      continue;
    }
    REQUIRE(in >> kind);
    kinds[file] = kind;
  }
  return kinds;
}

}  // namespace test_support
