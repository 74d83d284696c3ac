// Strict safetensors reader and writer: every rejection case of docs/spec.md 6.4 / 6.6 with its
// ErrorKind, the acceptance cases, dtype conversions against values worked out by hand
// from bit patterns, and the writer against bytes from an independent Python encoder
// (fuzz/make_corpus.py).

#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "resnet/io/json.hpp"
#include "resnet/io/safetensors.hpp"

#include "support.hpp"

using resnet::Error;
using resnet::ErrorKind;
using resnet::io::DType;
using resnet::io::SafeTensors;
using resnet::io::TensorInfo;
using test_support::bits_of;
using test_support::read_file;
using resnet::io::TensorToWrite;
using Bytes = std::vector<std::uint8_t>;

namespace {

void append_u64(Bytes& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

/// Length prefix (the header's size unless `n` is given) + header as written + data.
Bytes file(const std::string& header, const Bytes& data = {},
           std::optional<std::uint64_t> n = std::nullopt) {
  Bytes out;
  append_u64(out, n ? *n : header.size());
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

Bytes f32_bytes(std::initializer_list<float> values) {
  Bytes out;
  for (float v : values) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, 4);
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
  }
  return out;
}

Bytes zeros(std::size_t n) { return Bytes(n, 0); }

/// "ok" when the bytes parse, else the ErrorKind's name.
std::string outcome(const Bytes& bytes) {
  try {
    SafeTensors::from_memory(bytes, "t.safetensors");
    return "ok";
  } catch (const Error& e) {
    return resnet::to_string(e.kind());
  }
}

std::string message(const Bytes& bytes) {
  try {
    SafeTensors::from_memory(bytes, "t.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

/// A single-tensor header.
std::string one(const std::string& dtype, const std::string& shape, const std::string& offsets) {
  return R"({"t":{"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":)" +
         offsets + "}}";
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Byte layout: R1, R2

TEST_CASE("files shorter than 8 bytes are format errors", "[safetensors][reject]") {
  for (std::size_t size = 0; size < 8; ++size) {
    INFO("size " << size);
    CHECK(outcome(zeros(size)) == "format");
  }
}

TEST_CASE("header length past the end of the file is a format error", "[safetensors][reject]") {
  CHECK(outcome(file("{}", {}, 3)) == "format");
  CHECK(outcome(file("{}", {}, 40)) == "format");
  CHECK(message(file("{}", {}, 40)).find("t.safetensors: header length 40") == 0);
}

TEST_CASE("header length over 100,000,000 is too_large without allocating it",
          "[safetensors][reject]") {
  // Only the 8-byte prefix exists: a reader that trusted N would try to read 100 MB.
  Bytes prefix;
  append_u64(prefix, 100000001);
  CHECK(outcome(prefix) == "too_large");
  Bytes max;
  append_u64(max, std::numeric_limits<std::uint64_t>::max());
  CHECK(outcome(max) == "too_large");
  // Exactly the cap is allowed by the cap check, so this one fails as truncated instead.
  Bytes cap;
  append_u64(cap, 100000000);
  CHECK(outcome(cap) == "format");
}

TEST_CASE("header length below 2 is a format error", "[safetensors][reject]") {
  CHECK(outcome(file("")) == "format");
  CHECK(outcome(file("{")) == "format");
}

// ---------------------------------------------------------------------------------------
// Header text: R3, R4

TEST_CASE("header must start with '{'", "[safetensors][reject]") {
  CHECK(outcome(file(" {}")) == "format");
  CHECK(outcome(file("\n{}")) == "format");
  CHECK(outcome(file("[]")) == "format");
  CHECK(outcome(file("\"{}\"")) == "format");
}

TEST_CASE("header with a byte order mark is rejected", "[safetensors][reject]") {
  CHECK(outcome(file("\xEF\xBB\xBF{}")) == "format");
}

TEST_CASE("header that is not valid UTF-8 is rejected", "[safetensors][reject]") {
  const std::string tail = R"(":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})";
  SECTION("stray byte") { CHECK(outcome(file("{\"\xFF" + tail)) == "format"); }
  SECTION("continuation without lead") { CHECK(outcome(file("{\"\x80" + tail)) == "format"); }
  SECTION("overlong encoding of '/'") { CHECK(outcome(file("{\"\xC0\xAF" + tail)) == "format"); }
  SECTION("overlong 3-byte") { CHECK(outcome(file("{\"\xE0\x80\xAF" + tail)) == "format"); }
  SECTION("UTF-16 surrogate encoded in UTF-8") {
    CHECK(outcome(file("{\"\xED\xA0\x80" + tail)) == "format");
  }
  SECTION("above U+10FFFF") { CHECK(outcome(file("{\"\xF4\x90\x80\x80" + tail)) == "format"); }
  SECTION("truncated sequence") { CHECK(outcome(file("{\"\xE2\x82" + tail)) == "format"); }
  SECTION("invalid byte in the padding") { CHECK(outcome(file("{}\xFF")) == "format"); }
}

TEST_CASE("only JSON whitespace may follow the header object", "[safetensors][reject]") {
  CHECK(outcome(file("{}x")) == "format");
  CHECK(outcome(file(std::string("{}\0", 3))) == "format");
  CHECK(outcome(file(std::string("{}  \0   ", 8))) == "format");
  CHECK(outcome(file("{}{}")) == "format");
  CHECK(outcome(file("{},")) == "format");
  CHECK(outcome(file("{}\f")) == "format");  // form feed is not JSON whitespace
}

TEST_CASE("header padding with space, tab, CR and LF is accepted", "[safetensors][accept]") {
  CHECK(outcome(file("{}      ")) == "ok");
  CHECK(outcome(file("{} \t\r\n \t\r\n")) == "ok");
  CHECK(outcome(file("{\n}")) == "ok");
  CHECK(outcome(file("{ \"t\" :\t{ \"dtype\" : \"F32\" ,\r\n \"shape\" : [ 1 ] , "
                     "\"data_offsets\" : [ 0 , 4 ] } }\n",
                     f32_bytes({1}))) == "ok");
}

TEST_CASE("malformed JSON is a format error", "[safetensors][reject]") {
  const std::string t = R"({"t":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})";
  CHECK(outcome(file(t)) == "ok");
  SECTION("trailing comma in object") { CHECK(outcome(file(R"({"a":"b",})")) == "format"); }
  SECTION("trailing comma in array") {
    CHECK(outcome(file(one("F32", "[0,]", "[0,0]"))) == "format");
  }
  SECTION("missing comma") {
    CHECK(outcome(file(R"({"t":{"dtype":"F32" "shape":[0],"data_offsets":[0,0]}})")) == "format");
  }
  SECTION("missing colon") {
    CHECK(outcome(file(R"({"t" {"dtype":"F32","shape":[0],"data_offsets":[0,0]}})")) == "format");
  }
  SECTION("unterminated string") { CHECK(outcome(file(R"({"t":{"dtype":"F32)")) == "format"); }
  SECTION("unclosed object") { CHECK(outcome(file(t.substr(0, t.size() - 1))) == "format"); }
  SECTION("single-quoted key") { CHECK(outcome(file("{'t':1}")) == "format"); }
  SECTION("raw tab in a string") {
    CHECK(outcome(file("{\"a\tb\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}")) ==
          "format");
  }
  SECTION("invalid escape") {
    CHECK(outcome(file(R"({"\x41":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})")) ==
          "format");
  }
  SECTION("lone high surrogate") {
    CHECK(outcome(file(R"({"\ud800":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})")) ==
          "format");
  }
  SECTION("lone low surrogate") {
    CHECK(outcome(file(R"({"\udc00":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})")) ==
          "format");
  }
  SECTION("bad hex digit") {
    CHECK(outcome(file(R"({"\u00g1":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})")) ==
          "format");
  }
  SECTION("non-string key") { CHECK(outcome(file("{1:2}")) == "format"); }
}

// ---------------------------------------------------------------------------------------
// Keys and members: R5, R6, R7

TEST_CASE("duplicate keys are rejected at every level", "[safetensors][reject]") {
  const std::string a = R"("a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]})";
  SECTION("top level") { CHECK(outcome(file("{" + a + "," + a + "}")) == "format"); }
  SECTION("top level, spelled with an escape") {
    CHECK(outcome(file("{" + a + R"(,"\u0061":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})")) ==
          "format");
  }
  SECTION("inside a tensor object") {
    CHECK(outcome(file(R"({"t":{"dtype":"F32","shape":[1],"shape":[1],"data_offsets":[0,4]}})",
                       f32_bytes({1}))) == "format");
  }
  SECTION("inside __metadata__") {
    CHECK(outcome(file(R"({"__metadata__":{"k":"1","k":"2"}})")) == "format");
  }
  SECTION("__metadata__ twice") {
    CHECK(outcome(file(R"({"__metadata__":{},"__metadata__":{}})")) == "format");
  }
  CHECK(message(file("{" + a + "," + a + "}")).find("duplicate key \"a\"") != std::string::npos);
}

TEST_CASE("__metadata__ must map strings to strings", "[safetensors][reject]") {
  CHECK(outcome(file(R"({"__metadata__":{"epoch":3}})")) == "format");
  CHECK(outcome(file(R"({"__metadata__":{"a":null}})")) == "format");
  CHECK(outcome(file(R"({"__metadata__":{"a":true}})")) == "format");
  CHECK(outcome(file(R"({"__metadata__":{"a":["x"]}})")) == "format");
  CHECK(outcome(file(R"({"__metadata__":{"a":{"b":"c"}}})")) == "format");
  CHECK(outcome(file(R"({"__metadata__":"pt"})")) == "format");
  CHECK(outcome(file(R"({"__metadata__":null})")) == "format");
  CHECK(message(file(R"({"__metadata__":{"epoch":3}})")).find("\"epoch\"") != std::string::npos);
}

TEST_CASE("tensor objects hold exactly dtype, shape and data_offsets", "[safetensors][reject]") {
  SECTION("extra member") {
    const Bytes b = file(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":0}})",
                         f32_bytes({1}));
    CHECK(outcome(b) == "format");
    CHECK(message(b).find("\"x\"") != std::string::npos);
  }
  SECTION("missing dtype") {
    CHECK(outcome(file(R"({"t":{"shape":[1],"data_offsets":[0,4]}})", f32_bytes({1}))) == "format");
  }
  SECTION("missing shape") {
    CHECK(outcome(file(R"({"t":{"dtype":"F32","data_offsets":[0,4]}})", f32_bytes({1}))) ==
          "format");
  }
  SECTION("missing data_offsets") {
    CHECK(outcome(file(R"({"t":{"dtype":"F32","shape":[1]}})", f32_bytes({1}))) == "format");
  }
  SECTION("tensor is not an object") {
    CHECK(outcome(file(R"({"t":[0,0]})")) == "format");
    CHECK(outcome(file(R"({"t":"F32"})")) == "format");
  }
  SECTION("dtype is not a string") {
    CHECK(outcome(file(R"({"t":{"dtype":32,"shape":[0],"data_offsets":[0,0]}})")) == "format");
  }
  SECTION("shape is not an array") { CHECK(outcome(file(one("F32", "1", "[0,4]"), f32_bytes({1}))) == "format"); }
}

// ---------------------------------------------------------------------------------------
// dtype: R8

TEST_CASE("unknown and wrongly cased dtypes are unsupported_dtype", "[safetensors][reject]") {
  CHECK(outcome(file(one("F33", "[1]", "[0,4]"), f32_bytes({1}))) == "unsupported_dtype");
  CHECK(outcome(file(one("f32", "[1]", "[0,4]"), f32_bytes({1}))) == "unsupported_dtype");
  CHECK(outcome(file(one("", "[1]", "[0,4]"), f32_bytes({1}))) == "unsupported_dtype");
  CHECK(outcome(file(one("F32 ", "[1]", "[0,4]"), f32_bytes({1}))) == "unsupported_dtype");
  CHECK(outcome(file(one("float32", "[1]", "[0,4]"), f32_bytes({1}))) == "unsupported_dtype");
  const std::string m = message(file(one("f32", "[1]", "[0,4]"), f32_bytes({1})));
  CHECK(m.find("t.safetensors") == 0);
  CHECK(m.find("\"t\"") != std::string::npos);
  CHECK(m.find("\"f32\"") != std::string::npos);
}

TEST_CASE("every dtype of docs/spec.md 6.3 is known with its bit width", "[safetensors][accept]") {
  struct Case {
    const char* name;
    unsigned bits;
  };
  const Case cases[] = {{"BOOL", 8},         {"U8", 8},          {"I8", 8},       {"F8_E5M2", 8},
                        {"F8_E4M3", 8},      {"F8_E8M0", 8},     {"F8_E4M3FNUZ", 8},
                        {"F8_E5M2FNUZ", 8},  {"I16", 16},        {"U16", 16},     {"F16", 16},
                        {"BF16", 16},        {"I32", 32},        {"U32", 32},     {"F32", 32},
                        {"F64", 64},         {"I64", 64},        {"U64", 64},     {"C64", 64},
                        {"F4", 4},           {"F6_E2M3", 6},     {"F6_E3M2", 6}};
  for (const Case& c : cases) {
    INFO(c.name);
    const auto d = resnet::io::parse_dtype(c.name);
    REQUIRE(d);
    CHECK(resnet::io::dtype_bits(*d) == c.bits);
    CHECK(std::string(resnet::io::to_string(*d)) == c.name);
    // Shape [8] of any dtype is `bits` bytes.
    CHECK(outcome(file(one(c.name, "[8]", "[0," + std::to_string(c.bits) + "]"), zeros(c.bits))) ==
          "ok");
  }
}

TEST_CASE("sub-byte dtypes must fill whole bytes", "[safetensors]") {
  CHECK(outcome(file(one("F4", "[2]", "[0,1]"), zeros(1))) == "ok");
  CHECK(outcome(file(one("F4", "[3]", "[0,2]"), zeros(2))) == "format");
  CHECK(outcome(file(one("F6_E3M2", "[4]", "[0,3]"), zeros(3))) == "ok");
  CHECK(outcome(file(one("F6_E3M2", "[2]", "[0,2]"), zeros(2))) == "format");
}

// ---------------------------------------------------------------------------------------
// Integers: R9

TEST_CASE("shape and offsets must be plain non-negative integers", "[safetensors][reject]") {
  const Bytes d4 = f32_bytes({1});
  SECTION("negative") { CHECK(outcome(file(one("F32", "[-1]", "[0,4]"), d4)) == "format"); }
  SECTION("minus zero") { CHECK(outcome(file(one("F32", "[-0]", "[0,0]"))) == "format"); }
  SECTION("fraction") { CHECK(outcome(file(one("F32", "[1.0]", "[0,4]"), d4)) == "format"); }
  SECTION("exponent") { CHECK(outcome(file(one("F32", "[1e0]", "[0,4]"), d4)) == "format"); }
  SECTION("exponent in offsets") {
    CHECK(outcome(file(one("F32", "[1]", "[0,4E0]"), d4)) == "format");
  }
  SECTION("leading plus") { CHECK(outcome(file(one("F32", "[+1]", "[0,4]"), d4)) == "format"); }
  SECTION("leading zero") { CHECK(outcome(file(one("F32", "[01]", "[0,4]"), d4)) == "format"); }
  SECTION("negative offset") { CHECK(outcome(file(one("F32", "[0]", "[-0,0]"))) == "format"); }
  SECTION("string") { CHECK(outcome(file(one("F32", "[1]", "[0,\"4\"]"), d4)) == "format"); }
  SECTION("null") { CHECK(outcome(file(one("F32", "[null]", "[0,0]"))) == "format"); }
  SECTION("bare minus") { CHECK(outcome(file(one("F32", "[-]", "[0,0]"))) == "format"); }
  SECTION("over 64 bits") {
    CHECK(outcome(file(one("F32", "[1]", "[0,18446744073709551616]"), d4)) == "too_large");
    CHECK(outcome(file(one("F32", "[99999999999999999999999999]", "[0,0]"))) == "too_large");
  }
  SECTION("shape entry over INT64_MAX") {
    CHECK(outcome(file(one("F32", "[0,9223372036854775808]", "[0,0]"))) == "too_large");
  }
  SECTION("largest u64 offset parses, then fails the size check") {
    CHECK(outcome(file(one("F32", "[1]", "[18446744073709551615,18446744073709551615]"), d4)) ==
          "format");
  }
}

TEST_CASE("element count and byte size overflow are too_large", "[safetensors][reject]") {
  SECTION("shape product") {
    CHECK(outcome(file(one("F32", "[4294967296,4294967296]", "[0,0]"))) == "too_large");
  }
  SECTION("shape product with a zero dimension last") {
    CHECK(outcome(file(one("F32", "[4294967296,4294967296,0]", "[0,0]"))) == "too_large");
  }
  SECTION("shape product with a zero dimension first") {
    CHECK(outcome(file(one("F32", "[0,4294967296,4294967296]", "[0,0]"))) == "too_large");
  }
  SECTION("elements times element size") {
    // 2^62 elements fit in 64 bits; 2^62 * 32 bits do not.
    CHECK(outcome(file(one("F32", "[4611686018427387904]", "[0,0]"))) == "too_large");
  }
  SECTION("largest count whose bit size still fits, with a size mismatch") {
    // 2^59 * 32 bits = 2^64 overflows; 2^58 * 32 = 2^63 bits fits -> plain size mismatch.
    CHECK(outcome(file(one("F32", "[288230376151711744]", "[0,0]"))) == "format");
  }
}

// ---------------------------------------------------------------------------------------
// Offsets: R10, R11

TEST_CASE("data_offsets must hold exactly two integers", "[safetensors][reject]") {
  CHECK(outcome(file(one("F32", "[1]", "[4]"), f32_bytes({1}))) == "format");
  CHECK(outcome(file(one("F32", "[1]", "[0,4,8]"), f32_bytes({1, 2}))) == "format");
  CHECK(outcome(file(one("F32", "[0]", "[]"))) == "format");
  CHECK(outcome(file(one("F32", "[0]", "{}"))) == "format");
}

TEST_CASE("END before BEGIN is rejected", "[safetensors][reject]") {
  CHECK(outcome(file(one("F32", "[0]", "[4,0]"), f32_bytes({1}))) == "format");
}

TEST_CASE("byte size must match dtype and shape", "[safetensors][reject]") {
  const Bytes b = file(R"({"fc.bias":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}})",
                       f32_bytes({1, 2, 3}));
  CHECK(outcome(b) == "format");
  CHECK(message(b) ==
        "t.safetensors: tensor \"fc.bias\": data_offsets [0, 12] hold 12 bytes but F32 [4] needs 16");
  CHECK(outcome(file(one("F16", "[2]", "[0,8]"), zeros(8))) == "format");
  CHECK(outcome(file(one("F32", "[]", "[0,0]"))) == "format");  // a scalar has one element
}

TEST_CASE("tensors must tile the data buffer exactly", "[safetensors][reject]") {
  const std::string a = R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  SECTION("gap between tensors") {
    const Bytes b = file("{" + a + R"(,"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                         f32_bytes({1, 2, 3}));
    CHECK(outcome(b) == "format");
    CHECK(message(b).find("\"b\"") != std::string::npos);
  }
  SECTION("first tensor not at 0") {
    CHECK(outcome(file(one("F32", "[1]", "[4,8]"), f32_bytes({1, 2}))) == "format");
  }
  SECTION("overlap") {
    CHECK(outcome(file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                       f32_bytes({1, 2}))) == "format");
  }
  SECTION("two tensors on the same bytes") {
    CHECK(outcome(file("{" + a + R"(,"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                       f32_bytes({1}))) == "format");
  }
  SECTION("trailing bytes after the last END") {
    Bytes data = f32_bytes({1});
    data.push_back(0);
    CHECK(outcome(file("{" + a + "}", data)) == "format");
  }
  SECTION("non-empty buffer without tensors") {
    CHECK(outcome(file("{}", zeros(1))) == "format");
    CHECK(outcome(file(R"({"__metadata__":{"a":"b"}})", zeros(4))) == "format");
  }
  SECTION("tensor past the end of the buffer") {
    CHECK(outcome(file(one("F32", "[2]", "[0,8]"), f32_bytes({1}))) == "format");
  }
}

TEST_CASE("a file truncated anywhere is rejected as format", "[safetensors][reject]") {
  const Bytes whole = resnet::io::serialize_safetensors(
      {{"a", {2}, {1.0f, 2.0f}}, {"b", {1, 3}, {3.0f, 4.0f, 5.0f}}}, {{"format", "pt"}});
  REQUIRE(outcome(whole) == "ok");
  for (std::size_t size = 0; size < whole.size(); ++size) {
    INFO("truncated to " << size << " of " << whole.size() << " bytes");
    CHECK(outcome(Bytes(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(size))) ==
          "format");
  }
}

// ---------------------------------------------------------------------------------------
// Acceptance

TEST_CASE("empty header with empty buffer", "[safetensors][accept]") {
  for (const std::string h : {"{}", "{}      ", "{\"__metadata__\":{}}"}) {
    const SafeTensors st = SafeTensors::from_memory(file(h), "e");
    CHECK(st.tensors().empty());
    CHECK(st.metadata().empty());
    CHECK(st.data_size() == 0);
  }
}

TEST_CASE("rank-0 tensor holds one element", "[safetensors][accept]") {
  const SafeTensors st = SafeTensors::from_memory(file(one("F32", "[]", "[0,4]"), f32_bytes({2.5f})));
  const TensorInfo* t = st.find("t");
  REQUIRE(t);
  CHECK(t->shape.empty());
  CHECK(t->numel() == 1);
  CHECK(st.read_f32(*t) == std::vector<float>{2.5f});
}

TEST_CASE("zero-size tensors are accepted anywhere", "[safetensors][accept]") {
  const std::string h =
      R"({"z0":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},)"
      R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
      R"("z1":{"dtype":"F16","shape":[3,0],"data_offsets":[4,4]},)"
      R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
      R"("z2":{"dtype":"I64","shape":[0,0,0],"data_offsets":[8,8]}})";
  const SafeTensors st = SafeTensors::from_memory(file(h, f32_bytes({1, 2})));
  std::vector<std::string> order;
  for (const auto& t : st.tensors()) order.push_back(t.name);
  CHECK(order == std::vector<std::string>{"z0", "a", "z1", "b", "z2"});
  CHECK(st.read_f32(*st.find("z1")).empty());
  CHECK(st.read_f32(*st.find("b")) == std::vector<float>{2.0f});
  CHECK(outcome(file(one("F32", "[0]", "[0,0]"))) == "ok");
}

TEST_CASE("tensors may be listed in any JSON order", "[safetensors][accept]") {
  const std::string h =
      R"({"third":{"shape":[1],"data_offsets":[8,12],"dtype":"F32"},)"
      R"("first":{"data_offsets":[0,4],"dtype":"F32","shape":[1]},)"
      R"("__metadata__":{"z":"1","a":"2"},)"
      R"("second":{"dtype":"F32","data_offsets":[4,8],"shape":[1]}})";
  const SafeTensors st = SafeTensors::from_memory(file(h, f32_bytes({1, 2, 3})));
  REQUIRE(st.tensors().size() == 3);
  CHECK(st.tensors()[0].name == "first");
  CHECK(st.tensors()[1].name == "second");
  CHECK(st.tensors()[2].name == "third");
  CHECK(st.read_f32(*st.find("third")) == std::vector<float>{3.0f});
  CHECK(st.metadata() == std::map<std::string, std::string>{{"a", "2"}, {"z", "1"}});
  CHECK(st.find("missing") == nullptr);
  CHECK(st.find("__metadata__") == nullptr);
}

TEST_CASE("unaligned data is read correctly", "[safetensors][accept]") {
  // A header of odd length puts the buffer at an odd file offset.
  std::string h = R"({"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},)"
                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[2,10]},)"
                  R"("c":{"dtype":"F64","shape":[1],"data_offsets":[10,18]}})";
  if (h.size() % 2 == 0) h += ' ';
  Bytes data = {0x00, 0x3C};                       // F16 1.0
  for (std::uint8_t x : f32_bytes({1.5f, -2.0f})) data.push_back(x);
  for (std::uint8_t x : {0, 0, 0, 0, 0, 0, 0xF0, 0xBF}) data.push_back(x);  // F64 -1.0
  const SafeTensors st = SafeTensors::from_memory(file(h, data));
  CHECK(st.read_f32(*st.find("a")) == std::vector<float>{1.0f});
  CHECK(st.read_f32(*st.find("b")) == std::vector<float>{1.5f, -2.0f});
  CHECK(st.read_f32(*st.find("c")) == std::vector<float>{-1.0f});
}

TEST_CASE("names and metadata decode every JSON escape", "[safetensors][accept]") {
  const std::string h =
      R"({"__metadata__":{"k\"ey":"v\\al\n\u00e9\/"},)"
      R"("\u00e9\ud83d\ude00\t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
      "\"caf\xC3\xA9\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
  const SafeTensors st = SafeTensors::from_memory(file(h, f32_bytes({1, 2})));
  // U+00E9 = C3 A9, U+1F600 = F0 9F 98 80.
  CHECK(st.find("\xC3\xA9\xF0\x9F\x98\x80\t") != nullptr);
  CHECK(st.find("caf\xC3\xA9") != nullptr);
  CHECK(st.metadata().at("k\"ey") == "v\\al\n\xC3\xA9/");
}

TEST_CASE("F16, BF16 and F64 convert to the values their bit patterns encode",
          "[safetensors][dtype]") {
  SECTION("F16") {
    // sign | 5-bit exponent (bias 15) | 10-bit mantissa, worked out by hand:
    //   3C00 = 2^0 = 1            C000 = -2^1 = -2          7BFF = (2-2^-10)*2^15 = 65504
    //   3555 = (1+341/1024)*2^-2 = 0.333251953125
    //   0001 = 2^-24 (smallest subnormal)   03FF = 1023*2^-24   8000 = -0
    //   7C00 = +inf   FC00 = -inf   7E00 = NaN
    const std::uint16_t h[] = {0x3C00, 0xC000, 0x7BFF, 0x3555, 0x0001,
                               0x03FF, 0x8000, 0x7C00, 0xFC00, 0x7E00};
    Bytes data;
    for (std::uint16_t v : h) {
      data.push_back(static_cast<std::uint8_t>(v));
      data.push_back(static_cast<std::uint8_t>(v >> 8));
    }
    const SafeTensors st = SafeTensors::from_memory(file(one("F16", "[10]", "[0,20]"), data));
    const auto v = st.read_f32(st.tensors()[0]);
    REQUIRE(v.size() == 10);
    CHECK(v[0] == 1.0f);
    CHECK(v[1] == -2.0f);
    CHECK(v[2] == 65504.0f);
    CHECK(v[3] == 0.333251953125f);
    CHECK(v[4] == std::ldexp(1.0f, -24));
    CHECK(v[5] == std::ldexp(1023.0f, -24));
    CHECK(bits_of(v[6]) == 0x80000000u);
    CHECK(v[7] == std::numeric_limits<float>::infinity());
    CHECK(v[8] == -std::numeric_limits<float>::infinity());
    CHECK(std::isnan(v[9]));
  }
  SECTION("BF16") {
    // The upper 16 bits of a binary32: 3F80 = 1, C040 = -3, 4049 = 3.140625
    // (1 + 0x49/128) * 2, 0001 = 2^-133 (a float subnormal), 7F80 = +inf.
    const Bytes data = {0x80, 0x3F, 0x40, 0xC0, 0x49, 0x40, 0x01, 0x00, 0x80, 0x7F};
    const SafeTensors st = SafeTensors::from_memory(file(one("BF16", "[5]", "[0,10]"), data));
    const auto v = st.read_f32(st.tensors()[0]);
    REQUIRE(v.size() == 5);
    CHECK(v[0] == 1.0f);
    CHECK(v[1] == -3.0f);
    CHECK(v[2] == 3.140625f);
    CHECK(v[3] == std::ldexp(1.0f, -133));
    CHECK(v[4] == std::numeric_limits<float>::infinity());
  }
  SECTION("F64") {
    // 3FF0000000000000 = 1, C004000000000000 = -2.5, 400921FB54442D18 = pi (rounds to the
    // float 0x40490FDB), 7E37E43C8800759C = 1e300 (beyond float: +inf).
    const std::uint64_t d[] = {0x3FF0000000000000ull, 0xC004000000000000ull,
                               0x400921FB54442D18ull, 0x7E37E43C8800759Cull};
    Bytes data;
    for (std::uint64_t v : d) append_u64(data, v);
    const SafeTensors st = SafeTensors::from_memory(file(one("F64", "[2,2]", "[0,32]"), data));
    const auto v = st.read_f32(st.tensors()[0]);
    REQUIRE(v.size() == 4);
    CHECK(v[0] == 1.0f);
    CHECK(v[1] == -2.5f);
    CHECK(bits_of(v[2]) == 0x40490FDBu);
    CHECK(v[3] == std::numeric_limits<float>::infinity());
  }
}

TEST_CASE("read_f32 of an integer dtype is unsupported_dtype naming file, tensor and dtype",
          "[safetensors][dtype]") {
  Bytes data;
  append_u64(data, 7);
  const SafeTensors st = SafeTensors::from_memory(
      file(R"({"bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]}})", data),
      "w.safetensors");
  const TensorInfo& t = st.tensors()[0];
  CHECK(t.dtype == DType::I64);
  CHECK(t.dtype_name == "I64");
  try {
    st.read_f32(t);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::unsupported_dtype);
    const std::string m = e.what();
    CHECK(m.find("w.safetensors") == 0);
    CHECK(m.find("bn.num_batches_tracked") != std::string::npos);
    CHECK(m.find("I64") != std::string::npos);
  }
  std::int64_t raw = 0;
  std::memcpy(&raw, st.data(t), 8);
  CHECK(raw == 7);
}

TEST_CASE("read_f32 refuses a TensorInfo that does not fit the file", "[safetensors]") {
  const SafeTensors st = SafeTensors::from_memory(file(one("F32", "[1]", "[0,4]"), f32_bytes({1})));
  TensorInfo bogus = st.tensors()[0];
  bogus.end = 1000;
  bogus.shape = {250};
  CHECK_THROWS_AS(st.read_f32(bogus), Error);
  bogus.shape = {-1};
  CHECK_THROWS_AS(st.read_f32(bogus), Error);
}

// ---------------------------------------------------------------------------------------
// Files and the writer

TEST_CASE("open reads a file and names it in errors", "[safetensors][file]") {
  const std::string path =
      (std::filesystem::temp_directory_path() / "resnet_st_open_test.safetensors").string();
  resnet::io::write_safetensors(path, {{"w", {2, 1}, {0.25f, -4.0f}}}, {{"k", "v"}});
  const SafeTensors st = SafeTensors::open(path);
  CHECK(st.name() == path);
  CHECK(st.read_f32(*st.find("w")) == std::vector<float>{0.25f, -4.0f});
  CHECK(st.metadata().at("k") == "v");
  std::remove(path.c_str());

  try {
    SafeTensors::open(path);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::io);
    CHECK(std::string(e.what()).find(path) == 0);
  }
  // A directory opens but cannot be read.
  CHECK_THROWS_AS(SafeTensors::open(RESNET_SOURCE_DIR), Error);
}

namespace {
void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  REQUIRE(out);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out);
}

/// Kind and message of the Error that f() throws (a test failure if it throws none).
template <class F>
std::pair<ErrorKind, std::string> error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return {e.kind(), e.what()};
  }
  FAIL("no error");
  return {};
}

// Three tensors of different dtypes, unaligned after a 1-byte U8 one, with metadata.
Bytes mixed_file() {
  const std::string header =
      R"({"__metadata__":{"k":"v"},"u":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
      R"("h":{"dtype":"F16","shape":[2],"data_offsets":[1,5]},)"
      R"("w":{"dtype":"F32","shape":[3],"data_offsets":[5,17]}})";
  Bytes data = {7, 0x00, 0x3C, 0x00, 0xC0};  // u = 7; h = 1, -2
  const Bytes w = f32_bytes({0.25f, -4.0f, 3.5f});
  data.insert(data.end(), w.begin(), w.end());
  return file(header, data);
}
}  // namespace

TEST_CASE("stream reads each tensor from the file when asked, as open would", "[safetensors][file]") {
  const std::string path =
      (std::filesystem::temp_directory_path() / "resnet_st_stream_test.safetensors").string();
  write_bytes(path, mixed_file());
  const SafeTensors whole = SafeTensors::open(path);
  const SafeTensors streamed = SafeTensors::stream(path);
  CHECK_FALSE(whole.streamed());
  CHECK(streamed.streamed());
  CHECK(streamed.name() == path);
  CHECK(streamed.data_size() == whole.data_size());
  CHECK(streamed.metadata() == whole.metadata());
  REQUIRE(streamed.tensors().size() == whole.tensors().size());
  for (const TensorInfo& t : whole.tensors()) {
    INFO(t.name);
    REQUIRE(streamed.find(t.name));
    if (t.dtype != DType::U8) CHECK(streamed.read_f32(*streamed.find(t.name)) == whole.read_f32(t));
  }
  CHECK(streamed.read_f32(*streamed.find("w")) == std::vector<float>{0.25f, -4.0f, 3.5f});
  CHECK(streamed.read_f32(*streamed.find("h")) == std::vector<float>{1.0f, -2.0f});

  // Raw bytes would need the file in memory: a clear error, not a dangling pointer.
  const auto [data_kind, data_message] = error_of([&] { streamed.data(*streamed.find("u")); });
  CHECK(data_kind == ErrorKind::invalid_argument);
  CHECK(data_message.find(path) == 0);
  CHECK(*whole.data(*whole.find("u")) == 7);

  // One object, several threads: each read gets its own tensor's bytes.
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      for (int r = 0; r < 200; ++r) {
        const char* name = (i + r) % 2 ? "w" : "h";
        if (streamed.read_f32(*streamed.find(name)) != whole.read_f32(*whole.find(name))) ++wrong;
      }
    });
  for (auto& t : threads) t.join();
  CHECK(wrong == 0);

  // The file shrinks after the header was read: the read fails as io, naming the file.
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 6);
  const auto [read_kind, read_message] = error_of([&] { streamed.read_f32(*streamed.find("w")); });
  CHECK(read_kind == ErrorKind::io);
  CHECK(read_message.find(path) == 0);
  CHECK(streamed.read_f32(*streamed.find("h")) == std::vector<float>{1.0f, -2.0f});  // still readable
  // Opened now, the truncated file is rejected up front by both.
  CHECK_THROWS_AS(SafeTensors::stream(path), Error);
  CHECK_THROWS_AS(SafeTensors::open(path), Error);
  std::remove(path.c_str());
  CHECK(error_of([&] { SafeTensors::stream(path); }).first == ErrorKind::io);
}

TEST_CASE("writer output equals the independent Python encoder byte for byte",
          "[safetensors][writer]") {
  // fuzz/make_corpus.py writes valid_python_writer.safetensors from the same tensors with
  // struct + json.dumps in the reference writer's layout.
  const Bytes expected =
      read_file(std::string(RESNET_SOURCE_DIR) + "/fuzz/corpus/valid_python_writer.safetensors");
  const Bytes got = resnet::io::serialize_safetensors(
      {{"scalar", {}, {-7.5f}},
       {"b.weight", {2, 2}, {1.0f, 2.0f, -0.0f, 1024.0f}},
       {"empty", {0, 4}, {}},
       {"a.bias", {3}, {0.5f, -1.25f, 3.0f}}},
      {{"format", "pt"}});
  CHECK(got == expected);
  CHECK((8 + (got[0] | got[1] << 8)) % 8 == 0);
}

TEST_CASE("write then read round trip", "[safetensors][writer]") {
  std::vector<TensorToWrite> in = {{"conv1.weight", {2, 1, 3, 3}, {}},
                                   {"bn1.running_var", {2}, {1.0f, 0.5f}},
                                   {"scalar", {}, {std::numeric_limits<float>::quiet_NaN()}},
                                   {"zero", {3, 0}, {}},
                                   {"\xC3\xA9\"\\\n", {1}, {-0.0f}}};
  for (int i = 0; i < 18; ++i) in[0].values.push_back(static_cast<float>(i) * 0.1f - 0.7f);
  const Bytes bytes = resnet::io::serialize_safetensors(in, {{"format", "pt"}, {"note", "a\tb"}});
  const SafeTensors st = SafeTensors::from_memory(bytes);
  REQUIRE(st.tensors().size() == in.size());
  for (const TensorToWrite& t : in) {
    INFO(t.name);
    const TensorInfo* info = st.find(t.name);
    REQUIRE(info);
    CHECK(info->dtype == DType::F32);
    CHECK(info->shape == t.shape);
    const auto v = st.read_f32(*info);
    REQUIRE(v.size() == t.values.size());
    for (std::size_t i = 0; i < v.size(); ++i) CHECK(bits_of(v[i]) == bits_of(t.values[i]));
  }
  CHECK(st.metadata().at("note") == "a\tb");
  // Buffer order is byte-wise by name (all F32).
  CHECK(st.tensors()[0].name == "bn1.running_var");
}

TEST_CASE("writer rejects what it cannot write", "[safetensors][writer]") {
  using resnet::io::serialize_safetensors;
  auto kind = [](const std::vector<TensorToWrite>& t, const std::map<std::string, std::string>& m = {}) {
    try {
      serialize_safetensors(t, m);
      return std::string("ok");
    } catch (const Error& e) {
      return std::string(resnet::to_string(e.kind()));
    }
  };
  CHECK(kind({{"a", {2}, {1.0f}}}) == "invalid_argument");
  CHECK(kind({{"a", {-1}, {}}}) == "invalid_argument");
  CHECK(kind({{"a", {1}, {1.0f}}, {"a", {1}, {1.0f}}}) == "invalid_argument");
  CHECK(kind({{"__metadata__", {1}, {1.0f}}}) == "invalid_argument");
  CHECK(kind({{"\xFF", {1}, {1.0f}}}) == "invalid_argument");
  CHECK(kind({}, {{"k", "\xC0\xAF"}}) == "invalid_argument");
  CHECK(kind({{"a", {1LL << 40, 1LL << 40}, {}}}) == "too_large");
  CHECK(kind({}) == "ok");
  CHECK_THROWS_AS(resnet::io::write_safetensors("/nonexistent-dir/x.safetensors", {}), Error);
}

TEST_CASE("JSON reader limits nesting depth", "[json]") {
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  resnet::io::detail::JsonReader shallow(deep, "x", 0, 64);
  CHECK_THROWS_AS(shallow.skip_value(), Error);
  resnet::io::detail::JsonReader ok(deep, "x", 0, 128);
  ok.skip_value();
  CHECK_NOTHROW(ok.finish());
  CHECK(outcome(file(R"({"__metadata__":{"a":)" + deep + "}}")) == "format");
}
