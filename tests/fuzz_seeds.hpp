#pragma once
// The fuzz seed corpora, and what each invalid seed must raise: the lists
// fuzz/make_corpus*.py write beside their corpora (fuzz/expected_errors*.txt).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <map>
#include <string>
#include <vector>

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

/// The seed files of fuzz/<corpus>, in name order.
inline std::vector<std::filesystem::path> seed_files(const std::string& corpus) {
  const std::filesystem::path dir = std::filesystem::path(RESNET_SOURCE_DIR) / "fuzz" / corpus;
  REQUIRE(std::filesystem::is_directory(dir));
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.is_regular_file()) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace test_support
