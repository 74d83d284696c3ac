// Catch2's main, compiled once and shared by every test program. A program in which a
// test case called RESNET_SKIP (skip.hpp) and nothing failed exits with
// test_skip::return_code, which ctest reports as skipped.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <iostream>

#include "skip.hpp"

int main(int argc, char* argv[]) {
  const int failures = Catch::Session().run(argc, argv);
  if (failures != 0 || test_skip::reasons().empty()) return failures;
  for (const std::string& why : test_skip::reasons()) std::cout << "SKIPPED: " << why << "\n";
  return test_skip::return_code;
}
