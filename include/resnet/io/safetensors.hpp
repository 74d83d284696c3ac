#pragma once
/// Strict safetensors reader and F32 writer (docs/docs/spec.md section 6).
///
/// The reader enforces every structural rule of docs/spec.md 6.4 (R1-R12) before it hands out
/// anything: the 8-byte length prefix against the file size and the 100,000,000-byte cap,
/// UTF-8 and a leading '{', one JSON object followed only by whitespace padding, no
/// duplicate keys, string-only __metadata__, tensor objects with exactly dtype / shape /
/// data_offsets, plain non-negative integers, overflow-checked sizes, and offsets that
/// tile the data buffer exactly. All arithmetic on sizes from the file is checked, data is
/// copied with memcpy (no alignment is assumed, R14) and decoded as little-endian.
///
/// Errors are resnet::Error whose message starts with the file name:
///   ErrorKind::io                 the file cannot be opened or read
///   ErrorKind::format             the file breaks the format (corrupt, truncated)
///   ErrorKind::too_large          header length over the cap, integers or sizes that do
///                                 not fit in 64 bits
///   ErrorKind::unsupported_dtype  a dtype string this library does not know, or a
///                                 conversion read_f32 does not offer

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include <unistd.h>

#include "resnet/core/error.hpp"
#include "resnet/core/separate.hpp"
#include "resnet/io/json.hpp"

namespace resnet::io {

/// Every dtype of docs/spec.md 6.3, spelled as in the file.
enum class DType {
  BOOL,
  U8,
  I8,
  F8_E5M2,
  F8_E4M3,
  F8_E8M0,
  F8_E4M3FNUZ,
  F8_E5M2FNUZ,
  I16,
  U16,
  F16,
  BF16,
  I32,
  U32,
  F32,
  F64,
  I64,
  U64,
  C64,
  F4,
  F6_E2M3,
  F6_E3M2,
};

namespace detail {

struct DTypeEntry {
  DType dtype;
  const char* name;
  unsigned bits;
};

inline constexpr DTypeEntry dtype_table[] = {
    {DType::BOOL, "BOOL", 8},
    {DType::U8, "U8", 8},
    {DType::I8, "I8", 8},
    {DType::F8_E5M2, "F8_E5M2", 8},
    {DType::F8_E4M3, "F8_E4M3", 8},
    {DType::F8_E8M0, "F8_E8M0", 8},
    {DType::F8_E4M3FNUZ, "F8_E4M3FNUZ", 8},
    {DType::F8_E5M2FNUZ, "F8_E5M2FNUZ", 8},
    {DType::I16, "I16", 16},
    {DType::U16, "U16", 16},
    {DType::F16, "F16", 16},
    {DType::BF16, "BF16", 16},
    {DType::I32, "I32", 32},
    {DType::U32, "U32", 32},
    {DType::F32, "F32", 32},
    {DType::F64, "F64", 64},
    {DType::I64, "I64", 64},
    {DType::U64, "U64", 64},
    {DType::C64, "C64", 64},
    {DType::F4, "F4", 4},
    {DType::F6_E2M3, "F6_E2M3", 6},
    {DType::F6_E3M2, "F6_E3M2", 6},
};

}  // namespace detail

/// The dtype named exactly (case-sensitively) `name`, or nullopt.
inline std::optional<DType> parse_dtype(std::string_view name) noexcept {
  for (const auto& e : detail::dtype_table)
    if (name == e.name) return e.dtype;
  return std::nullopt;
}

inline const char* to_string(DType dtype) noexcept {
  for (const auto& e : detail::dtype_table)
    if (e.dtype == dtype) return e.name;
  return "?";
}

/// Bits per element (4 for F4, 6 for the F6 types).
inline unsigned dtype_bits(DType dtype) noexcept {
  for (const auto& e : detail::dtype_table)
    if (e.dtype == dtype) return e.bits;
  return 0;
}

/// One tensor entry of a header, validated.
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::string dtype_name;            ///< as in the file, e.g. "F32"
  std::vector<std::int64_t> shape;   ///< empty = scalar (one element)
  std::uint64_t begin = 0, end = 0;  ///< byte offsets relative to the data buffer

  /// Product of the shape (1 for a scalar). Exact for every TensorInfo a SafeTensors
  /// returns (the reader proved the byte size fits in 64 bits).
  std::int64_t numel() const noexcept {
    std::uint64_t n = 1;
    for (std::int64_t d : shape) n *= static_cast<std::uint64_t>(d);  // unsigned: never UB
    return static_cast<std::int64_t>(n);
  }
  std::uint64_t nbytes() const noexcept { return end - begin; }
};

namespace detail {

inline bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) noexcept {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return false;
  out = a * b;
  return true;
}

inline std::uint64_t load_u64_le(const std::uint8_t* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

inline std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

inline constexpr bool host_is_little_endian() noexcept {
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
  return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
#else
  return false;  // unknown: take the byte-by-byte path, which is right everywhere
#endif
}

static_assert(std::numeric_limits<float>::is_iec559 && sizeof(float) == 4,
              "safetensors decoding needs IEEE-754 binary32 float");
static_assert(std::numeric_limits<double>::is_iec559 && sizeof(double) == 8,
              "safetensors decoding needs IEEE-754 binary64 double");

inline float float_from_bits(std::uint32_t bits) noexcept {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

/// IEEE half -> float, exact for every input (subnormals, infinities, NaN payloads).
inline float half_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h >> 15) << 31;
  const std::uint32_t exponent = (h >> 10) & 0x1F;
  const std::uint32_t mantissa = h & 0x3FF;
  if (exponent == 0x1F) return float_from_bits(sign | 0x7F800000u | (mantissa << 13));
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24 is exact in float.
    const float magnitude = static_cast<float>(mantissa) * (1.0f / 16777216.0f);
    return sign ? -magnitude : magnitude;
  }
  return float_from_bits(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

/// bfloat16 -> float: the upper half of a binary32.
inline float bf16_to_float(std::uint16_t b) noexcept {
  return float_from_bits(static_cast<std::uint32_t>(b) << 16);
}

template <class T>
T load_le(const std::uint8_t* p) noexcept {
  T v = 0;
  for (std::size_t i = sizeof(T); i-- > 0;) v = static_cast<T>((v << 8) | p[i]);
  return v;
}

/// The dtypes read_f32 converts: F32, F16, BF16 and F64.
inline bool is_float_dtype(DType dtype) noexcept {
  return dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16 || dtype == DType::F64;
}

/// `count` little-endian values of a float dtype at `p` as float: F16 / BF16 exactly, F64
/// rounded to nearest (out-of-range values become +-inf). Every weight format converts here.
inline void decode_f32(DType dtype, const std::uint8_t* p, std::size_t count, float* out) noexcept {
  switch (dtype) {
    case DType::F32:
      for (std::size_t i = 0; i < count; ++i) out[i] = float_from_bits(load_le<std::uint32_t>(p + 4 * i));
      break;
    case DType::F16:
      for (std::size_t i = 0; i < count; ++i) out[i] = half_to_float(load_le<std::uint16_t>(p + 2 * i));
      break;
    case DType::BF16:
      for (std::size_t i = 0; i < count; ++i) out[i] = bf16_to_float(load_le<std::uint16_t>(p + 2 * i));
      break;
    case DType::F64:
      for (std::size_t i = 0; i < count; ++i) {
        const std::uint64_t bits = load_le<std::uint64_t>(p + 8 * i);
        double d;
        std::memcpy(&d, &bits, sizeof d);
        out[i] = static_cast<float>(d);  // IEEE: rounds, overflows to +-inf
      }
      break;
    default: break;
  }
}

/// Parsed, not yet validated tensor entry.
struct RawEntry {
  std::string name;
  std::string dtype;
  std::vector<std::uint64_t> shape;
  std::vector<std::uint64_t> offsets;
};

/// An open file that tensors are read from one range at a time (SafeTensors::stream).
/// Seek and read happen under one mutex, so a SafeTensors may be read from several threads.
class RangeReader {
 public:
  explicit RangeReader(std::ifstream in) : in_(std::move(in)) {}
  void read(std::uint64_t offset, std::uint64_t size, void* dst, const std::string& name) {
    std::lock_guard<std::mutex> lock(mutex_);
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(offset));
    if (!in_ || !in_.read(static_cast<char*>(dst), static_cast<std::streamsize>(size)))
      throw Error(ErrorKind::io, name + ": read of " + std::to_string(size) + " bytes at offset " +
                                     std::to_string(offset) + " failed (file changed or unreadable)");
  }

 private:
  std::ifstream in_;
  std::mutex mutex_;
};
}  // namespace detail

/// A safetensors file, validated on construction. Tensor data is decoded on request with
/// read_f32 (or raw bytes via data()). open() holds the whole file in memory; stream()
/// holds only the header and reads each tensor from the file when asked, so loading a
/// model never holds the file and the packed weights at once (ResNet-50: ~100 MB less
/// peak memory).
class SafeTensors {
 public:
  /// Largest header accepted, as in the reference implementation.
  static constexpr std::uint64_t max_header_size = 100000000;

  /// Reads the whole file once and validates it. Errors name `path`.
  static SafeTensors open(const std::string& path) { return open_file(path, false); }

  /// Reads and validates the header only; read_f32 then reads each tensor from the file.
  /// data() is not available (ErrorKind::invalid_argument). If the file changes after
  /// this call, a read may fail (ErrorKind::io) or return the new bytes.
  static SafeTensors stream(const std::string& path) { return open_file(path, true); }

  /// Validates `bytes` as a safetensors file; `name` stands for the file in errors.
  static SafeTensors from_memory(std::vector<std::uint8_t> bytes, std::string name = "<memory>") {
    const std::uint64_t size = bytes.size();
    return SafeTensors(std::move(bytes), std::move(name), size, nullptr);
  }

  /// The path or given name; every error message starts with it.
  const std::string& name() const noexcept { return name_; }
  /// All tensors in buffer order (by begin, then end, then name).
  const std::vector<TensorInfo>& tensors() const noexcept { return tensors_; }
  /// The tensor called `tensor_name`, or nullptr.
  const TensorInfo* find(const std::string& tensor_name) const {
    const auto it = index_.find(tensor_name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
  }
  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }
  /// Size of the data buffer (file size - 8 - header length).
  std::uint64_t data_size() const noexcept { return file_size_ - data_start_; }
  /// True when opened with stream(): tensor data stays in the file until read.
  bool streamed() const noexcept { return reader_ != nullptr; }

  /// First byte of a tensor's data (not aligned; copy with memcpy). `info` must describe
  /// a range inside this file's data buffer, else ErrorKind::invalid_argument; so must
  /// the file be held in memory (not stream()).
  const std::uint8_t* data(const TensorInfo& info) const {
    check_range(info);
    if (reader_)
      fail(ErrorKind::invalid_argument, "data(): the file was opened with SafeTensors::stream, which keeps "
                                        "tensor data in the file; use read_f32, or SafeTensors::open");
    return bytes_.data() + data_start_ + info.begin;
  }

 private:
  static SafeTensors open_file(const std::string& path, bool streamed) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorKind::io, path + ": cannot open file for reading");
    in.seekg(0, std::ios::end);
    const std::streamoff end = in.tellg();
    if (!in || end < 0) throw Error(ErrorKind::io, path + ": cannot determine the file size");
    in.seekg(0, std::ios::beg);
    const auto file_size = static_cast<std::uint64_t>(end);
    if (file_size < 8)
      throw Error(ErrorKind::format, path + ": file has " + std::to_string(file_size) +
                                         " bytes, fewer than the 8-byte header length");
    if (file_size > std::numeric_limits<std::size_t>::max() ||
        file_size > static_cast<std::uint64_t>(std::numeric_limits<std::streamsize>::max()))
      throw Error(ErrorKind::too_large, path + ": file of " + std::to_string(file_size) +
                                            " bytes does not fit in memory");
    // Check the length prefix before allocating the whole file.
    std::uint8_t prefix[8];
    if (!in.read(reinterpret_cast<char*>(prefix), 8))
      throw Error(ErrorKind::io, path + ": cannot read the header length");
    const std::uint64_t header_length = detail::load_u64_le(prefix);
    check_header_length(header_length, file_size, path);
    // Streamed: the prefix and header only (the header length is capped above).
    const std::uint64_t held = streamed ? 8 + header_length : file_size;
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(held));
    std::memcpy(bytes.data(), prefix, 8);
    if (!in.read(reinterpret_cast<char*>(bytes.data() + 8), static_cast<std::streamsize>(held - 8)))
      throw Error(ErrorKind::io, path + ": read failed (file changed or unreadable)");
    auto reader = streamed ? std::make_shared<detail::RangeReader>(std::move(in)) : nullptr;
    return SafeTensors(std::move(bytes), path, file_size, std::move(reader));
  }

 public:

  /// Values as float: F32 as is, F16 / BF16 / F64 converted (F64 rounds to nearest,
  /// out-of-range values become +-inf). Any other dtype -> ErrorKind::unsupported_dtype.
  std::vector<float> read_f32(const TensorInfo& info) const;

 private:
  SafeTensors(std::vector<std::uint8_t> bytes, std::string name, std::uint64_t file_size,
              std::shared_ptr<detail::RangeReader> reader);

  static void check_header_length(std::uint64_t n, std::uint64_t file_size,
                                   const std::string& name) {
    if (n > max_header_size)
      throw Error(ErrorKind::too_large, name + ": header length " + std::to_string(n) +
                                            " exceeds the limit of " +
                                            std::to_string(max_header_size) + " bytes");
    if (n > file_size - 8)
      throw Error(ErrorKind::format, name + ": header length " + std::to_string(n) +
                                         " runs past the end of the file (" +
                                         std::to_string(file_size - 8) +
                                         " bytes follow the length; file truncated?)");
    if (n < 2)
      throw Error(ErrorKind::format, name + ": header length " + std::to_string(n) +
                                         " is too short for a JSON object");
  }

  [[noreturn]] void fail(ErrorKind kind, const std::string& what) const {
    throw Error(kind, name_ + ": " + what);
  }

  std::string tensor_label(const std::string& tensor) const {
    return "tensor " + detail::JsonReader::quoted(tensor);
  }

  void check_range(const TensorInfo& info) const {
    const std::uint64_t size = data_size();
    std::uint64_t nbits = 0;
    const auto bits = dtype_bits(info.dtype);
    bool ok = info.begin <= info.end && info.end <= size && bits != 0;
    std::uint64_t n = 1;
    for (std::int64_t d : info.shape) ok = ok && d >= 0 && detail::checked_mul(n, static_cast<std::uint64_t>(d), n);
    ok = ok && detail::checked_mul(n, bits, nbits) && nbits % 8 == 0 && nbits / 8 == info.end - info.begin;
    if (!ok)
      throw Error(ErrorKind::invalid_argument,
                  name_ + ": " + tensor_label(info.name) +
                      ": TensorInfo does not describe data of this file");
  }

  void parse() {
    if (file_size_ < 8)
      fail(ErrorKind::format, "file has " + std::to_string(file_size_) +
                                  " bytes, fewer than the 8-byte header length");
    const std::uint64_t n = detail::load_u64_le(bytes_.data());
    check_header_length(n, file_size_, name_);
    data_start_ = 8 + static_cast<std::size_t>(n);
    const std::uint8_t* header = bytes_.data() + 8;
    const auto header_size = static_cast<std::size_t>(n);

    if (header_size >= 3 && header[0] == 0xEF && header[1] == 0xBB && header[2] == 0xBF)
      fail(ErrorKind::format, "header starts with a UTF-8 byte order mark (not allowed)");
    const std::size_t bad = detail::find_invalid_utf8(header, header_size);
    if (bad != header_size)
      fail(ErrorKind::format, "header is not valid UTF-8 at byte " + std::to_string(8 + bad));
    if (header[0] != '{')
      fail(ErrorKind::format, "header must start with '{' (0x7B) at byte 8");

    std::vector<detail::RawEntry> entries = parse_json(
        std::string_view(reinterpret_cast<const char*>(header), header_size));
    validate(std::move(entries));
  }

  std::vector<detail::RawEntry> parse_json(std::string_view text) {
    detail::JsonReader json(text, name_ + ": header", 8);
    std::vector<detail::RawEntry> entries;
    json.begin_object();
    std::string key;
    while (json.next_member(key)) {
      if (key == "__metadata__") {
        if (json.peek() != detail::JsonType::object)
          json.fail(std::string("__metadata__ must be an object, found ") + detail::to_string(json.peek()));
        json.begin_object();
        std::string meta_key;
        while (json.next_member(meta_key)) {
          if (json.peek() != detail::JsonType::string)
            json.fail("__metadata__ value of " + detail::JsonReader::quoted(meta_key) +
                      " must be a string, found " + detail::to_string(json.peek()));
          metadata_[meta_key] = json.read_string();
        }
        continue;
      }
      entries.push_back(parse_entry(json, std::move(key)));
    }
    json.finish();
    return entries;
  }

  detail::RawEntry parse_entry(detail::JsonReader& json, std::string tensor) {
    const std::string label = tensor_label(tensor);
    if (json.peek() != detail::JsonType::object)
      json.fail(label + " must be an object, found " + detail::to_string(json.peek()));
    detail::RawEntry e;
    e.name = std::move(tensor);
    bool has_dtype = false, has_shape = false, has_offsets = false;
    json.begin_object();
    std::string member;
    while (json.next_member(member)) {
      if (member == "dtype") {
        if (json.peek() != detail::JsonType::string)
          json.fail(label + ": dtype must be a string, found " + detail::to_string(json.peek()));
        e.dtype = json.read_string();
        has_dtype = true;
      } else if (member == "shape") {
        e.shape = read_uint_array(json, label + ": shape", std::numeric_limits<std::int64_t>::max(), 0);
        has_shape = true;
      } else if (member == "data_offsets") {
        e.offsets = read_uint_array(json, label + ": data_offsets", std::numeric_limits<std::uint64_t>::max(), 2);
        if (e.offsets.size() != 2)
          json.fail(label + ": data_offsets must hold exactly 2 integers, found " +
                    std::to_string(e.offsets.size()));
        has_offsets = true;
      } else {
        json.fail(label + ": unexpected member " + detail::JsonReader::quoted(member) +
                  " (a tensor holds exactly dtype, shape and data_offsets)");
      }
    }
    const char* missing = !has_dtype ? "dtype" : !has_shape ? "shape" : !has_offsets ? "data_offsets" : nullptr;
    if (missing) json.fail(label + ": missing member \"" + missing + "\"");
    return e;
  }

  // An array of plain non-negative integers <= max_value. With max_count > 0 it stops
  // reading at max_count + 1 elements so a long array is rejected without storing it.
  std::vector<std::uint64_t> read_uint_array(detail::JsonReader& json, const std::string& what,
                                             std::uint64_t max_value, std::size_t max_count) {
    if (json.peek() != detail::JsonType::array)
      json.fail(what + " must be an array, found " + detail::to_string(json.peek()));
    std::vector<std::uint64_t> values;
    json.begin_array();
    while (json.next_element()) {
      if (max_count && values.size() == max_count)
        json.fail(what + " must hold exactly " + std::to_string(max_count) +
                  " integers, found more");
      if (json.peek() != detail::JsonType::number)
        json.fail(what + " entry must be an integer, found " + detail::to_string(json.peek()));
      const std::size_t at = json.position();
      const detail::JsonNumber num = json.read_number();
      if (!num.plain_unsigned)
        json.fail_at(at, what + " entry " + std::string(num.text) +
                             " is not a non-negative integer (no sign, fraction or exponent)");
      if (!num.fits_u64 || num.value > max_value)
        throw Error(ErrorKind::too_large, name_ + ": header: " + what + " entry " +
                                              std::string(num.text) + " does not fit in " +
                                              (max_value == std::numeric_limits<std::uint64_t>::max()
                                                   ? "64 bits" : "a signed 64-bit integer"));
      values.push_back(num.value);
    }
    return values;
  }

  void validate(std::vector<detail::RawEntry> entries) {
    const std::uint64_t buffer = data_size();
    tensors_.reserve(entries.size());
    for (detail::RawEntry& e : entries) {
      const std::string label = tensor_label(e.name);
      const std::optional<DType> dtype = parse_dtype(e.dtype);
      if (!dtype)
        fail(ErrorKind::unsupported_dtype,
             label + ": unknown dtype " + detail::JsonReader::quoted(e.dtype) +
                 " (dtype names are case-sensitive, e.g. \"F32\")");
      TensorInfo t;
      t.name = std::move(e.name);
      t.dtype = *dtype;
      t.dtype_name = std::move(e.dtype);
      t.begin = e.offsets[0];
      t.end = e.offsets[1];
      // Product of the non-zero entries times the bits must fit even when another entry
      // is 0, so the verdict does not depend on the order of the dimensions.
      for (std::uint64_t d : e.shape)
        t.shape.push_back(static_cast<std::int64_t>(d));  // <= INT64_MAX, checked when read
      std::uint64_t nonzero = 1;
      bool has_zero = false;
      for (std::uint64_t d : e.shape) {
        if (d == 0) {
          has_zero = true;
        } else if (!detail::checked_mul(nonzero, d, nonzero)) {
          fail(ErrorKind::too_large, label + ": shape " + detail::shape_string(t.shape) +
                                         " has more elements than fit in 64 bits");
        }
      }
      std::uint64_t nbits = 0;
      if (!detail::checked_mul(nonzero, dtype_bits(*dtype), nbits))
        fail(ErrorKind::too_large, label + ": " + t.dtype_name + " " +
                                       detail::shape_string(t.shape) +
                                       " has a byte size that does not fit in 64 bits");
      if (has_zero) nbits = 0;
      if (nbits % 8 != 0)
        fail(ErrorKind::format, label + ": " + t.dtype_name + " " + detail::shape_string(t.shape) +
                                    " is " + std::to_string(nbits) + " bits, not a whole number of bytes");
      const std::string offsets =
          "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]";
      if (t.end < t.begin) fail(ErrorKind::format, label + ": " + offsets + " end before begin");
      if (t.end - t.begin != nbits / 8)
        fail(ErrorKind::format, label + ": " + offsets + " hold " + std::to_string(t.end - t.begin) +
                                    " bytes but " + t.dtype_name + " " +
                                    detail::shape_string(t.shape) + " needs " +
                                    std::to_string(nbits / 8));
      if (t.end > buffer)
        fail(ErrorKind::format, label + ": " + offsets + " run past the end of the data buffer (" +
                                    std::to_string(buffer) + " bytes; file truncated?)");
      tensors_.push_back(std::move(t));
    }

    std::sort(tensors_.begin(), tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
      if (a.begin != b.begin) return a.begin < b.begin;
      if (a.end != b.end) return a.end < b.end;
      return a.name < b.name;
    });
    std::uint64_t expected = 0;
    for (const TensorInfo& t : tensors_) {
      if (t.begin > expected)
        fail(ErrorKind::format, tensor_label(t.name) + ": data_offsets begin at " +
                                    std::to_string(t.begin) + ", leaving a gap after byte " +
                                    std::to_string(expected) + " of the data buffer");
      if (t.begin < expected)
        fail(ErrorKind::format, tensor_label(t.name) + ": data_offsets begin at " +
                                    std::to_string(t.begin) + ", overlapping the previous tensor (which ends at " +
                                    std::to_string(expected) + ")");
      expected = t.end;
    }
    if (expected != buffer)
      fail(ErrorKind::format, "data buffer has " + std::to_string(buffer) + " bytes but the tensors cover " +
                                  std::to_string(expected) + " (trailing bytes)");
    index_.reserve(tensors_.size());
    for (std::size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
  }

  std::string name_;
  std::vector<std::uint8_t> bytes_;  // the whole file, or (streamed) its prefix and header
  std::size_t data_start_ = 0;
  std::uint64_t file_size_ = 0;
  std::shared_ptr<detail::RangeReader> reader_;  // streamed only; shared by copies
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// The entry points into the parser: with RESNET_SEPARATE_COMPILATION only declared above,
// and compiled once in src/separate.cpp (core/separate.hpp).
#if RESNET_SEPARATE_DEFINITIONS
RESNET_SEPARATE_INLINE SafeTensors::SafeTensors(std::vector<std::uint8_t> bytes, std::string name,
                                              std::uint64_t file_size, std::shared_ptr<detail::RangeReader> reader)
  : name_(std::move(name)), bytes_(std::move(bytes)), file_size_(file_size), reader_(std::move(reader)) {
  parse();
}

RESNET_SEPARATE_INLINE std::vector<float> SafeTensors::read_f32(const TensorInfo& info) const {
  if (!detail::is_float_dtype(info.dtype))
    throw Error(ErrorKind::unsupported_dtype,
                name_ + ": tensor " + detail::JsonReader::quoted(info.name) + ": dtype " +
                    to_string(info.dtype) + " cannot be read as float (F32, F16, BF16 and F64 can)");
  check_range(info);
  const std::size_t size = dtype_bits(info.dtype) / 8;
  const auto count = static_cast<std::size_t>(info.nbytes() / size);
  std::vector<float> out(count);
  const bool direct = info.dtype == DType::F32 && detail::host_is_little_endian();
  std::vector<std::uint8_t> staged;  // a streamed tensor's bytes, unless read straight into `out`
  const std::uint8_t* p = nullptr;
  if (!reader_) {
    p = bytes_.data() + data_start_ + info.begin;
  } else if (direct) {
    if (count) reader_->read(data_start_ + info.begin, count * 4, out.data(), name_);
  } else {
    staged.resize(static_cast<std::size_t>(info.nbytes()));
    if (!staged.empty()) reader_->read(data_start_ + info.begin, staged.size(), staged.data(), name_);
    p = staged.data();
  }
  if (!direct) detail::decode_f32(info.dtype, p, count, out.data());
  else if (count && p) std::memcpy(out.data(), p, count * 4);
  return out;
}
#endif

/// One F32 tensor to write: `values` in row-major order, values.size() == product(shape).
struct TensorToWrite {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

/// The bytes of a safetensors file holding `tensors` as F32, in the reference writer's
/// layout (docs/spec.md 6.5): compact JSON, __metadata__ first (omitted when empty), tensors in
/// buffer order (byte-wise by name, all being F32), header padded with spaces to a
/// multiple of 8. Throws ErrorKind::invalid_argument for an empty shape/values mismatch,
/// a negative dimension, a duplicate name, the name "__metadata__" or a string that is
/// not UTF-8, and ErrorKind::too_large when a size overflows.
std::vector<std::uint8_t> serialize_safetensors(const std::vector<TensorToWrite>& tensors,
                                                const std::map<std::string, std::string>& metadata = {});

/// Writes serialize_safetensors(tensors, metadata) to `path` (ErrorKind::io on failure).
/// `path` is either untouched or complete: the bytes go to a temporary file beside it,
/// renamed over `path` once fully written, so a failed or interrupted write never leaves
/// half a file where a reader (load_head, a feature cache) would find it.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

#if RESNET_SEPARATE_DEFINITIONS
RESNET_SEPARATE_INLINE std::vector<std::uint8_t> serialize_safetensors(
    const std::vector<TensorToWrite>& tensors, const std::map<std::string, std::string>& metadata) {
  const std::string who = "serialize_safetensors";
  std::vector<const TensorToWrite*> order;
  order.reserve(tensors.size());
  for (const TensorToWrite& t : tensors) order.push_back(&t);
  // std::string compares as unsigned char, i.e. byte-wise like the reference writer.
  std::sort(order.begin(), order.end(),
            [](const TensorToWrite* a, const TensorToWrite* b) { return a->name < b->name; });
  for (std::size_t i = 0; i < order.size(); ++i) {
    const TensorToWrite& t = *order[i];
    const std::string label = "tensor " + detail::JsonReader::quoted(t.name);
    if (i && order[i - 1]->name == t.name)
      throw Error(ErrorKind::invalid_argument, who + ": duplicate " + label);
    if (t.name == "__metadata__")
      throw Error(ErrorKind::invalid_argument, who + ": \"__metadata__\" cannot name a tensor");
    if (!detail::is_valid_utf8(t.name))
      throw Error(ErrorKind::invalid_argument, who + ": " + label + ": name is not valid UTF-8");
    std::uint64_t n = 1;
    for (std::int64_t d : t.shape) {
      if (d < 0)
        throw Error(ErrorKind::invalid_argument,
                    who + ": " + label + ": negative dimension in shape " + detail::shape_string(t.shape));
      if (!detail::checked_mul(n, static_cast<std::uint64_t>(d), n))
        throw Error(ErrorKind::too_large, who + ": " + label + ": shape " +
                                              detail::shape_string(t.shape) + " overflows");
    }
    if (n != t.values.size())
      throw Error(ErrorKind::invalid_argument,
                  who + ": " + label + ": shape " + detail::shape_string(t.shape) + " holds " +
                      std::to_string(n) + " values but " + std::to_string(t.values.size()) +
                      " were given");
  }
  for (const auto& kv : metadata)
    if (!detail::is_valid_utf8(kv.first) || !detail::is_valid_utf8(kv.second))
      throw Error(ErrorKind::invalid_argument,
                  who + ": metadata entry " + detail::JsonReader::quoted(kv.first) + " is not valid UTF-8");

  std::string header = "{";
  bool first = true;
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    for (const auto& kv : metadata) {
      if (!first) header += ',';
      first = false;
      detail::append_json_string(header, kv.first);
      header += ':';
      detail::append_json_string(header, kv.second);
    }
    header += '}';
    first = false;
  }
  std::uint64_t offset = 0;
  for (const TensorToWrite* t : order) {
    if (!first) header += ',';
    first = false;
    detail::append_json_string(header, t->name);
    header += ":{\"dtype\":\"F32\",\"shape\":[";
    for (std::size_t i = 0; i < t->shape.size(); ++i) {
      if (i) header += ',';
      header += std::to_string(t->shape[i]);
    }
    const std::uint64_t bytes = static_cast<std::uint64_t>(t->values.size()) * 4;
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');
  if (header.size() > SafeTensors::max_header_size)
    throw Error(ErrorKind::too_large, who + ": header of " + std::to_string(header.size()) +
                                          " bytes exceeds the limit of " +
                                          std::to_string(SafeTensors::max_header_size));

  std::vector<std::uint8_t> out(8 + header.size() + static_cast<std::size_t>(offset));
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
  std::memcpy(out.data() + 8, header.data(), header.size());
  std::uint8_t* p = out.data() + 8 + header.size();
  for (const TensorToWrite* t : order) {
    if (detail::host_is_little_endian()) {
      if (!t->values.empty()) std::memcpy(p, t->values.data(), t->values.size() * 4);
      p += t->values.size() * 4;
    } else {
      for (float v : t->values) {
        std::uint32_t bits;
        std::memcpy(&bits, &v, 4);
        for (int i = 0; i < 4; ++i) *p++ = static_cast<std::uint8_t>(bits >> (8 * i));
      }
    }
  }
  return out;
}

RESNET_SEPARATE_INLINE void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                                              const std::map<std::string, std::string>& metadata) {
  const std::vector<std::uint8_t> bytes = serialize_safetensors(tensors, metadata);
  const std::string temporary = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(ErrorKind::io, path + ": cannot open file for writing");
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::remove(temporary.c_str());
      throw Error(ErrorKind::io, path + ": write failed");
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    std::remove(temporary.c_str());
    throw Error(ErrorKind::io, path + ": cannot write (" + ec.message() + ")");
  }
}
#endif

}  // namespace resnet::io
