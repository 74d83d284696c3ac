// libFuzzer target for the safetensors reader (scripts/fuzz.sh builds and runs it).
// Any input must either parse or throw resnet::Error; every float-readable tensor of a
// parsed file must decode, and the other dtypes must be refused with unsupported_dtype.
// Parsed all-F32 files must survive a write/read round trip unchanged.
// Sanitizers (address, undefined) turn any out-of-bounds access or UB into a crash.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
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

    // Round trip through the writer when every tensor is F32: same names, shapes, bits.
    std::vector<resnet::io::TensorToWrite> out;
    for (const auto& t : st.tensors()) {
      if (t.dtype != DType::F32) return 0;
      out.push_back({t.name, t.shape, st.read_f32(t)});
    }
    const auto again = resnet::io::SafeTensors::from_memory(
        resnet::io::serialize_safetensors(out, st.metadata()), "fuzz-roundtrip");
    if (again.tensors().size() != out.size() || again.metadata() != st.metadata()) std::abort();
    for (const auto& t : out) {
      const auto* info = again.find(t.name);
      if (!info || info->shape != t.shape) std::abort();
      const std::vector<float> v = again.read_f32(*info);
      if (v.size() != t.values.size() ||
          (!v.empty() && std::memcmp(v.data(), t.values.data(), v.size() * sizeof(float)) != 0))
        std::abort();
    }
  } catch (const resnet::Error&) {
  }
  return 0;
}
