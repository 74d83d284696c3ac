#pragma once
// The kind of a resnet::Error a call throws, for tests of the error paths.
#include <catch2/catch.hpp>

#include <exception>
#include <functional>
#include <string>

#include <resnet/core/error.hpp>

namespace test_support {

/// The kind of the resnet::Error that `f` throws; fails the test if it throws nothing
/// or something else.
inline resnet::ErrorKind kind_of(const std::function<void()>& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const resnet::Error& e) {
    if (message) *message = e.what();
    return e.kind();
  } catch (const std::exception& e) {
    FAIL("threw a non-resnet exception: " << e.what());
  }
  FAIL("threw nothing");
  return resnet::ErrorKind::io;
}

}  // namespace test_support
