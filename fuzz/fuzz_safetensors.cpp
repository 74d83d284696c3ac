// libFuzzer target for the safetensors reader (scripts/fuzz.sh builds and runs it).
// Any input must either parse or throw resnet::Error; every float-readable tensor of a
// parsed file must decode, and the other dtypes must be refused with unsupported_dtype.
// Sanitizers (address, undefined) turn any out-of-bounds access or UB into a crash.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "resnet/io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using resnet::io::DType;
  std::vector<std::uint8_t> bytes(data, data + size);
  try {
    const auto st = resnet::io::SafeTensors::from_memory(std::move(bytes), "fuzz");
    std::uint64_t covered = 0;
    for (const auto& t : st.tensors()) {
      covered += t.nbytes();
      if (st.find(t.name) == nullptr) std::abort();
      const bool floaty = t.dtype == DType::F32 || t.dtype == DType::F16 ||
                          t.dtype == DType::BF16 || t.dtype == DType::F64;
      try {
        const std::vector<float> v = st.read_f32(t);
        if (!floaty || v.size() != static_cast<std::size_t>(t.numel())) std::abort();
      } catch (const resnet::Error& e) {
        if (floaty || e.kind() != resnet::ErrorKind::unsupported_dtype) std::abort();
      }
    }
    // The tensors tile the buffer exactly.
    if (covered != st.data_size()) std::abort();
  } catch (const resnet::Error&) {
  }
  return 0;
}
