// libFuzzer target for the PyTorch checkpoint reader (scripts/fuzz.sh builds and runs it:
// FUZZ_TARGET=torch_checkpoint). Any input must either open or throw resnet::Error; every
// tensor of an opened checkpoint must be findable by name, and read_f32 must give numel
// values for the float dtypes and refuse the others with unsupported_dtype.
// Sanitizers (address, undefined) turn any out-of-bounds access or UB into a crash.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "resnet/io/torch_checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> bytes(data, data + size);
  try {
    const auto checkpoint = resnet::io::TorchCheckpoint::from_memory(std::move(bytes), "fuzz");
    for (const auto& t : checkpoint.tensors()) {
      if (checkpoint.find(t.name) != &t) std::abort();
      const bool floaty = resnet::io::detail::is_float_dtype(t.dtype);
      try {
        const std::vector<float> v = checkpoint.read_f32(t);
        if (!floaty || v.size() != static_cast<std::size_t>(t.numel())) std::abort();
      } catch (const resnet::Error& e) {
        if (floaty || e.kind() != resnet::ErrorKind::unsupported_dtype) std::abort();
      }
    }
  } catch (const resnet::Error&) {
  }
  return 0;
}
