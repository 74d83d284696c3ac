// Skipping a test whose data is absent. Catch2 2.13 has no SKIP, so a test case calls
// RESNET_SKIP("why") and returns; the shared main (catch_main.cpp) then exits with
// test_skip::return_code when nothing failed, and ctest, which registers every test
// program with SKIP_RETURN_CODE 77 (tests/CMakeLists.txt), reports the test as skipped
// instead of passed.
#pragma once

#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <vector>

namespace test_skip {

inline constexpr int return_code = 77;

/// Why each skipped case was skipped, in order (one list per test program).
inline std::vector<std::string>& reasons() {
  static std::vector<std::string> list;
  return list;
}

inline void skip(const std::string& why) { reasons().push_back(why); }

}  // namespace test_skip

/// Records why the current test case cannot run and returns from it (void functions only).
#define RESNET_SKIP(message)                     \
  do {                                           \
    std::ostringstream resnet_skip_why_;         \
    resnet_skip_why_ << message;                 \
    test_skip::skip(resnet_skip_why_.str());     \
    WARN("skipped: " << resnet_skip_why_.str()); \
    return;                                      \
  } while (false)
