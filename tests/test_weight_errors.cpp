// Weight files that are wrong in one way each (issue 5): missing, extra, misshapen and
// mistyped tensors, converted dtypes, prefixes, truncation at every region, and the
// strong guarantee of load_weights(). The files are built here from the tensor lists of
// docs/spec.md (section 4 and appendices A-C), not from the library's own naming code,
// by a small writer that can emit any dtype.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <resnet/resnet.hpp>

#include "skip.hpp"
#include "support.hpp"

using test_support::bits_of;
using test_support::kind_of;
using test_support::temp_path;

using namespace resnet;

namespace {

// ---- tensor lists from the spec ----

struct Entry {
  std::string name;
  std::vector<std::int64_t> shape;
  std::string role;  ///< weight, var (a BN running variance: positive), count (num_batches_tracked)
};
using Entries = std::vector<Entry>;

void add_bn(Entries& e, const std::string& site, std::int64_t c, bool with_count) {
  e.push_back({site + ".weight", {c}, "weight"});
  e.push_back({site + ".bias", {c}, "weight"});
  e.push_back({site + ".running_mean", {c}, "weight"});
  e.push_back({site + ".running_var", {c}, "var"});
  if (with_count) e.push_back({site + ".num_batches_tracked", {}, "count"});
}

/// Spec 4.4 / appendix B: akamaster resnet20 after stripping `module.`.
Entries cifar20_entries() {
  Entries e;
  e.push_back({"conv1.weight", {16, 3, 3, 3}, "weight"});
  add_bn(e, "bn1", 16, false);
  const std::int64_t planes[3] = {16, 32, 64};
  std::int64_t in = 16;
  for (int l = 0; l < 3; ++l)
    for (int b = 0; b < 3; ++b) {
      const std::string p = "layer" + std::to_string(l + 1) + "." + std::to_string(b) + ".";
      const std::int64_t c = planes[l];
      e.push_back({p + "conv1.weight", {c, b == 0 ? in : c, 3, 3}, "weight"});
      add_bn(e, p + "bn1", c, false);
      e.push_back({p + "conv2.weight", {c, c, 3, 3}, "weight"});
      add_bn(e, p + "bn2", c, false);
      if (b == 0) in = c;
    }
  e.push_back({"linear.weight", {10, 64}, "weight"});
  e.push_back({"linear.bias", {10}, "weight"});
  return e;
}

/// Spec 4.1 / appendix A: torchvision resnet18 with its I64 num_batches_tracked scalars.
Entries resnet18_entries() {
  Entries e;
  e.push_back({"conv1.weight", {64, 3, 7, 7}, "weight"});
  add_bn(e, "bn1", 64, true);
  std::int64_t in = 64;
  for (int l = 0; l < 4; ++l) {
    const std::int64_t p = 64LL << l;
    for (int b = 0; b < 2; ++b) {
      const std::string s = "layer" + std::to_string(l + 1) + "." + std::to_string(b) + ".";
      e.push_back({s + "conv1.weight", {p, b == 0 ? in : p, 3, 3}, "weight"});
      add_bn(e, s + "bn1", p, true);
      e.push_back({s + "conv2.weight", {p, p, 3, 3}, "weight"});
      add_bn(e, s + "bn2", p, true);
      if (b == 0 && l > 0) {
        e.push_back({s + "downsample.0.weight", {p, in, 1, 1}, "weight"});
        add_bn(e, s + "downsample.1", p, true);
      }
    }
    in = p;
  }
  e.push_back({"fc.weight", {1000, 512}, "weight"});
  e.push_back({"fc.bias", {1000}, "weight"});
  return e;
}

void add_keras_conv_bn(Entries& e, const std::string& site, std::int64_t k, std::int64_t in, std::int64_t out) {
  e.push_back({site + "_conv/kernel", {k, k, in, out}, "weight"});
  e.push_back({site + "_conv/bias", {out}, "weight"});
  e.push_back({site + "_bn/gamma", {out}, "weight"});
  e.push_back({site + "_bn/beta", {out}, "weight"});
  e.push_back({site + "_bn/moving_mean", {out}, "weight"});
  e.push_back({site + "_bn/moving_variance", {out}, "var"});
}

/// Spec 4.2 / appendix C: Keras ResNet50 (KV1), HWIO kernels, [in, out] dense kernel.
Entries keras_resnet50_entries() {
  Entries e;
  add_keras_conv_bn(e, "conv1", 7, 3, 64);
  const int blocks[4] = {3, 4, 6, 3};
  std::int64_t in = 64;
  for (int s = 2; s <= 5; ++s) {
    const std::int64_t f = 64LL << (s - 2);
    for (int b = 1; b <= blocks[s - 2]; ++b) {
      const std::string p = "conv" + std::to_string(s) + "_block" + std::to_string(b);
      if (b == 1) add_keras_conv_bn(e, p + "_0", 1, in, 4 * f);
      add_keras_conv_bn(e, p + "_1", 1, b == 1 ? in : 4 * f, f);
      add_keras_conv_bn(e, p + "_2", 3, f, f);
      add_keras_conv_bn(e, p + "_3", 1, f, 4 * f);
    }
    in = 4 * f;
  }
  e.push_back({"predictions/kernel", {2048, 1000}, "weight"});
  e.push_back({"predictions/bias", {1000}, "weight"});
  return e;
}

Entry* find(Entries& e, const std::string& name) {
  for (auto& x : e)
    if (x.name == name) return &x;
  FAIL("the spec list has no " << name);
  return nullptr;
}

// ---- a safetensors writer for any dtype (independent of the library's F32 writer) ----

struct Raw {
  std::string name, dtype;
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> bytes;
};

void put_le(std::vector<std::uint8_t>& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::vector<std::uint8_t> encode(const std::vector<Raw>& tensors) {
  std::string header = "{";
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Raw& t = tensors[i];
    header += (i ? ",\"" : "\"") + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":[";
    for (std::size_t d = 0; d < t.shape.size(); ++d) header += (d ? "," : "") + std::to_string(t.shape[d]);
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + t.bytes.size()) + "]}";
    offset += t.bytes.size();
  }
  header += "}";
  while (header.size() % 8) header += ' ';
  std::vector<std::uint8_t> out;
  put_le(out, header.size(), 8);
  out.insert(out.end(), header.begin(), header.end());
  for (const Raw& t : tensors) out.insert(out.end(), t.bytes.begin(), t.bytes.end());
  return out;
}

/// `v` must be 0 or a normal float with at most 8 significant bits and |v| in
/// [2^-14, 2^15] (true of every value made by value_for), so F16 holds it exactly.
std::uint16_t to_f16(float v) {
  const std::uint32_t b = bits_of(v);
  const std::uint16_t sign = static_cast<std::uint16_t>((b >> 16) & 0x8000u);
  if ((b & 0x7fffffffu) == 0) return sign;
  const int exponent = static_cast<int>((b >> 23) & 0xff) - 127 + 15;
  return static_cast<std::uint16_t>(sign | (exponent << 10) | ((b >> 13) & 0x3ff));
}

/// Encodes `values` as `dtype` (F32, F16, BF16, F64 exactly; I32/U8 as truncated integers).
std::vector<std::uint8_t> bytes_as(const std::vector<float>& values, const std::string& dtype) {
  // The dtype is looked up once, not per value: ResNet-50's 25M values under ASan.
  using Encode = void (*)(std::vector<std::uint8_t>&, float);
  static const std::map<std::string, std::pair<int, Encode>> encoders = {
      {"F32", {4, [](std::vector<std::uint8_t>& o, float v) { put_le(o, bits_of(v), 4); }}},
      {"BF16", {2, [](std::vector<std::uint8_t>& o, float v) { put_le(o, bits_of(v) >> 16, 2); }}},
      {"F16", {2, [](std::vector<std::uint8_t>& o, float v) { put_le(o, to_f16(v), 2); }}},
      {"F64", {8, [](std::vector<std::uint8_t>& o, float v) {
                 const double d = v;
                 std::uint64_t b;
                 std::memcpy(&b, &d, 8);
                 put_le(o, b, 8);
               }}},
      {"I32", {4, [](std::vector<std::uint8_t>& o, float v) {
                 put_le(o, static_cast<std::uint32_t>(static_cast<std::int32_t>(v * 100)), 4);
               }}},
      // Through int32: a negative float converted straight to uint8 is undefined behaviour.
      {"U8", {1, [](std::vector<std::uint8_t>& o, float v) {
                put_le(o, static_cast<std::uint8_t>(static_cast<std::int32_t>(v * 100)), 1);
              }}},
  };
  const auto it = encoders.find(dtype);
  if (it == encoders.end()) FAIL("bytes_as: " << dtype);
  const auto [width, encode_one] = it->second;
  std::vector<std::uint8_t> out;
  out.reserve(values.size() * static_cast<std::size_t>(width));
  for (float v : values) encode_one(out, v);
  return out;
}

/// Deterministic weights that BF16 and F16 both represent exactly: 8 significant bits,
/// magnitudes in [2^-10, 2]; running variances in [0.5, 1.5].
float value_for(std::mt19937& rng, const std::string& role, std::int64_t fan_in) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  float v = role == "var" ? 1.0f + 0.5f * u(rng) : u(rng) * std::sqrt(3.0f / static_cast<float>(fan_in));
  if (std::abs(v) < 1.0f / 1024) return 0.0f;
  const std::uint32_t kept = bits_of(v) & 0xffff0000u;  // 8 significant bits
  float r;
  std::memcpy(&r, &kept, 4);
  return r;
}

struct FileOptions {
  std::string dtype = "F32";              ///< for every float tensor
  std::string prefix;                     ///< e.g. "module."
  bool counts = true;                     ///< write the I64 num_batches_tracked entries of the list
  unsigned seed = 1;
  float constant = std::nanf("");         ///< a number: every weight takes it (big models)
};

std::vector<Raw> make_raw(const Entries& entries, const FileOptions& o) {
  std::mt19937 rng(o.seed);
  std::vector<Raw> out;
  for (const Entry& e : entries) {
    Raw r{o.prefix + e.name, o.dtype, e.shape, {}};
    if (e.role == "count") {
      if (!o.counts) continue;
      r.dtype = "I64";
      put_le(r.bytes, 12345, 8);
    } else {
      std::int64_t n = 1;
      for (auto d : e.shape) n *= d;
      const std::int64_t fan_in = e.shape.size() > 1 ? n / e.shape[0] : 16;
      std::vector<float> v(static_cast<std::size_t>(n));
      for (float& x : v) x = std::isnan(o.constant) ? value_for(rng, e.role, fan_in) : (e.role == "var" ? 1.0f : o.constant);
      r.bytes = bytes_as(v, o.dtype);
    }
    out.push_back(std::move(r));
  }
  return out;
}

io::SafeTensors open_bytes(std::vector<std::uint8_t> bytes, const std::string& name = "weights.safetensors") {
  return io::SafeTensors::from_memory(std::move(bytes), name);
}

io::SafeTensors cifar_file(const FileOptions& o = {}, const std::string& name = "cifar20.safetensors") {
  return open_bytes(encode(make_raw(cifar20_entries(), o)), name);
}


Tensor cifar_input(int n = 2) {
  Tensor x(n, 32, 32, 3);
  std::mt19937 rng(99);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  for (float& v : x.values()) v = u(rng);
  return x;
}

std::vector<float> run(const CifarResNet20& model) {
  Workspace ws(1);
  return model.forward(cifar_input(), ws).values();
}

}  // namespace

// ---- the generators against the spec's own counts (section 7, item 2) ----

TEST_CASE("the spec-built tensor lists have the spec's entry counts", "[weights][spec]") {
  CHECK(cifar20_entries().size() == 97);
  const Entries tv = resnet18_entries();
  CHECK(tv.size() == 122);
  std::size_t counts = 0;
  for (const Entry& e : tv) counts += e.role == "count";
  CHECK(tv.size() - counts == 102);
  CHECK(keras_resnet50_entries().size() == 320);
}

// ---- a valid file and its accepted variants ----

TEST_CASE("the spec's CIFAR ResNet-20 tensor list loads", "[weights]") {
  CifarResNet20 model;
  model.load_weights(cifar_file());
  CHECK(model.has_weights());
  const auto y = run(model);
  REQUIRE(y.size() == 20);
  for (float v : y) CHECK(std::isfinite(v));
}

TEST_CASE("F16, BF16 and F64 tensors are converted on load", "[weights][dtype]") {
  CifarResNet20 reference;
  reference.load_weights(cifar_file());
  const auto expected = run(reference);
  // The weights are exact in every dtype, so the models are the same bit for bit.
  for (const char* dtype : {"F16", "BF16", "F64"}) {
    INFO(dtype);
    FileOptions o;
    o.dtype = dtype;
    CifarResNet20 model;
    model.load_weights(cifar_file(o));
    CHECK(run(model) == expected);
  }
  // One file mixing all four.
  auto raw = make_raw(cifar20_entries(), {});
  const char* cycle[] = {"F32", "F16", "BF16", "F64"};
  std::mt19937 rng(1);
  for (std::size_t i = 0; i < raw.size(); ++i) {
    std::vector<float> values(raw[i].bytes.size() / 4);
    std::memcpy(values.data(), raw[i].bytes.data(), raw[i].bytes.size());
    raw[i].dtype = cycle[i % 4];
    raw[i].bytes = bytes_as(values, raw[i].dtype);
  }
  CifarResNet20 mixed;
  mixed.load_weights(open_bytes(encode(raw)));
  CHECK(run(mixed) == expected);
}

TEST_CASE("CIFAR files with the `module.` prefix and num_batches_tracked load", "[weights][naming]") {
  CifarResNet20 reference;
  reference.load_weights(cifar_file());
  const auto expected = run(reference);

  FileOptions prefixed;
  prefixed.prefix = "module.";
  CifarResNet20 a;
  a.load_weights(cifar_file(prefixed));
  CHECK(run(a) == expected);

  // I64 num_batches_tracked scalars after every BN, with and without the prefix.
  Entries with_counts = cifar20_entries();
  Entries counted;
  for (const Entry& e : with_counts) {
    counted.push_back(e);
    if (e.name.size() > 12 && e.name.compare(e.name.size() - 12, 12, ".running_var") == 0)
      counted.push_back({e.name.substr(0, e.name.size() - 12) + ".num_batches_tracked", {}, "count"});
  }
  for (const std::string prefix : {"", "module."}) {
    INFO("prefix '" << prefix << "'");
    FileOptions o;
    o.prefix = prefix;
    CifarResNet20 b;
    b.load_weights(open_bytes(encode(make_raw(counted, o))));
    CHECK(run(b) == expected);
  }
}

TEST_CASE("a file on disk loads by path and its errors name the path", "[weights]") {
  const std::string good = temp_path("weight_errors_good.safetensors"), bad = temp_path("weight_errors_bad.safetensors");
  auto raw = make_raw(cifar20_entries(), {});
  const auto bytes = encode(raw);
  {
    std::FILE* f = std::fopen(good.c_str(), "wb");
    REQUIRE(f);
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }
  CifarResNet20 model;
  model.load_weights(good);
  CifarResNet20 from_memory;
  from_memory.load_weights(cifar_file());
  CHECK(run(model) == run(from_memory));

  raw.pop_back();  // linear.bias
  {
    const auto b = encode(raw);
    std::FILE* f = std::fopen(bad.c_str(), "wb");
    REQUIRE(f);
    std::fwrite(b.data(), 1, b.size(), f);
    std::fclose(f);
  }
  std::string message;
  CHECK(kind_of([&] { model.load_weights(bad); }, &message) == ErrorKind::missing_tensor);
  CHECK_THAT(message, Catch::Contains(bad) && Catch::Contains("linear.bias"));
  CHECK(kind_of([&] { model.load_weights(temp_path("weight_errors_does_not_exist.safetensors")); }) == ErrorKind::io);
  std::filesystem::remove(good);
  std::filesystem::remove(bad);
}

// ---- one thing wrong ----

// The tensors' values are drawn once per test (make_raw: most of these loops' time under
// the sanitizers went to the random numbers), then each file leaves out or alters one.
TEST_CASE("every missing CIFAR tensor is reported by name", "[weights][missing]") {
  const Entries all = cifar20_entries();
  const std::vector<Raw> raw = make_raw(all, {});
  REQUIRE(raw.size() == all.size());
  for (std::size_t drop = 0; drop < all.size(); ++drop) {
    INFO("without " << all[drop].name);
    std::vector<Raw> r = raw;
    r.erase(r.begin() + static_cast<std::ptrdiff_t>(drop));
    CifarResNet20 model;
    std::string message;
    CHECK(kind_of([&] { model.load_weights(open_bytes(encode(r), "cut.safetensors")); }, &message) ==
          ErrorKind::missing_tensor);
    CHECK_THAT(message, Catch::Contains("cut.safetensors") && Catch::Contains(all[drop].name));
    CHECK_FALSE(model.has_weights());
  }
}

TEST_CASE("an extra tensor is reported by name", "[weights][extra]") {
  for (const std::string extra : {"fc.weight", "layer4.0.conv1.weight", "layer1.0.shortcut.weight", "linear.extra"}) {
    INFO(extra);
    Entries e = cifar20_entries();
    e.push_back({extra, {4, 4}, "weight"});
    CifarResNet20 model;
    std::string message;
    CHECK(kind_of([&] { model.load_weights(open_bytes(encode(make_raw(e, {})), "extra.safetensors")); }, &message) ==
          ErrorKind::unexpected_tensor);
    CHECK_THAT(message, Catch::Contains("extra.safetensors") && Catch::Contains(extra));
    CHECK_FALSE(model.has_weights());
  }
}

TEST_CASE("a transposed kernel is a shape mismatch naming both shapes", "[weights][shape]") {
  Entries e = cifar20_entries();
  find(e, "layer2.0.conv1.weight")->shape = {16, 32, 3, 3};
  CifarResNet20 model;
  std::string message;
  CHECK(kind_of([&] { model.load_weights(open_bytes(encode(make_raw(e, {})), "t.safetensors")); }, &message) ==
        ErrorKind::shape_mismatch);
  CHECK_THAT(message, Catch::Contains("t.safetensors") && Catch::Contains("layer2.0.conv1.weight") &&
                          Catch::Contains("[32, 16, 3, 3]") && Catch::Contains("[16, 32, 3, 3]"));

  Entries d = cifar20_entries();
  find(d, "linear.weight")->shape = {64, 10};
  CHECK(kind_of([&] { model.load_weights(open_bytes(encode(make_raw(d, {})))); }, &message) ==
        ErrorKind::shape_mismatch);
  CHECK_THAT(message, Catch::Contains("linear.weight") && Catch::Contains("[10, 64]") && Catch::Contains("[64, 10]"));
}

TEST_CASE("every CIFAR tensor with one dimension too many is a shape mismatch", "[weights][shape]") {
  const Entries all = cifar20_entries();
  const std::vector<Raw> raw = make_raw(all, {});
  REQUIRE(raw.size() == all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    INFO(all[i].name);
    std::vector<Raw> r = raw;
    r[i].shape.push_back(1);  // the same elements, one more dimension
    CifarResNet20 model;
    std::string message;
    CHECK(kind_of([&] { model.load_weights(open_bytes(encode(r))); }, &message) ==
          ErrorKind::shape_mismatch);
    CHECK_THAT(message, Catch::Contains(all[i].name));
  }
}

TEST_CASE("a bias of the wrong length and a scalar kernel are shape mismatches", "[weights][shape]") {
  Entries e = cifar20_entries();
  find(e, "linear.bias")->shape = {11};
  CifarResNet20 model;
  CHECK(kind_of([&] { model.load_weights(open_bytes(encode(make_raw(e, {})))); }) == ErrorKind::shape_mismatch);
  Entries s = cifar20_entries();
  find(s, "conv1.weight")->shape = {};
  CHECK(kind_of([&] { model.load_weights(open_bytes(encode(make_raw(s, {})))); }) == ErrorKind::shape_mismatch);
}

TEST_CASE("integer tensors where floats belong are an unsupported dtype", "[weights][dtype]") {
  for (const char* dtype : {"I32", "U8"}) {
    for (const char* name : {"conv1.weight", "layer3.2.bn2.running_var", "linear.bias"}) {
      INFO(dtype << " " << name);
      auto raw = make_raw(cifar20_entries(), {});
      for (Raw& r : raw)
        if (r.name == name) {
          std::vector<float> v(r.bytes.size() / 4);
          std::memcpy(v.data(), r.bytes.data(), r.bytes.size());
          r.dtype = dtype;
          r.bytes = bytes_as(v, dtype);
        }
      CifarResNet20 model;
      std::string message;
      CHECK(kind_of([&] { model.load_weights(open_bytes(encode(raw), "int.safetensors")); }, &message) ==
            ErrorKind::unsupported_dtype);
      CHECK_THAT(message, Catch::Contains("int.safetensors") && Catch::Contains(name) && Catch::Contains(dtype));
      CHECK_FALSE(model.has_weights());
    }
  }
}

// ---- truncation: every region of the file ----

TEST_CASE("a file cut short in any region is a format error", "[weights][truncated]") {
  const auto bytes = encode(make_raw(cifar20_entries(), {}));
  std::uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = (header << 8) | bytes[static_cast<std::size_t>(i)];
  const std::size_t data = 8 + static_cast<std::size_t>(header);
  REQUIRE(data < bytes.size());
  const std::size_t cuts[] = {0, 1, 4, 7,                                   // length prefix
                              8, 9, 8 + header / 3, 8 + header / 2, data - 1,  // header
                              data, data + 1, data + 1000, (data + bytes.size()) / 2,
                              bytes.size() - 4, bytes.size() - 1};  // data
  for (std::size_t cut : cuts) {
    INFO("cut at " << cut << " of " << bytes.size() << " (data from " << data << ")");
    std::vector<std::uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
    std::string message;
    CHECK(kind_of([&] {
      CifarResNet20 model;
      model.load_weights(open_bytes(prefix, "short.safetensors"));
    }, &message) == ErrorKind::format);
    CHECK_THAT(message, Catch::StartsWith("short.safetensors"));
  }
  // The same through a file on disk.
  const std::string path = temp_path("weight_errors_short.safetensors");
  for (std::size_t cut : {std::size_t{3}, data - 5, bytes.size() - 2}) {
    INFO("file cut at " << cut);
    std::FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f);
    std::fwrite(bytes.data(), 1, cut, f);
    std::fclose(f);
    CifarResNet20 model;
    std::string message;
    CHECK(kind_of([&] { model.load_weights(path); }, &message) == ErrorKind::format);
    CHECK_THAT(message, Catch::Contains(path));
  }
  std::filesystem::remove(path);
}

// ---- the strong guarantee ----

TEST_CASE("a failed load leaves a loaded model unchanged and usable", "[weights][guarantee]") {
  CifarResNet20 model;
  model.load_weights(cifar_file());
  const auto before = run(model);

  FileOptions other;
  other.seed = 2;
  const auto good_other = encode(make_raw(cifar20_entries(), other));

  // Each failure is found after part of the model has been read from the other file.
  std::vector<std::pair<std::string, std::vector<std::uint8_t>>> bad;
  {
    auto raw = make_raw(cifar20_entries(), other);
    raw.pop_back();
    bad.push_back({"missing linear.bias", encode(raw)});
  }
  {
    Entries e = cifar20_entries();
    find(e, "linear.weight")->shape = {64, 10};
    bad.push_back({"wrong shape", encode(make_raw(e, other))});
  }
  {
    Entries e = cifar20_entries();
    e.push_back({"zzz.extra", {3}, "weight"});
    bad.push_back({"extra tensor", encode(make_raw(e, other))});
  }
  {
    auto raw = make_raw(cifar20_entries(), other);
    for (Raw& r : raw)
      if (r.name == "layer3.2.bn2.running_var") {
        r.dtype = "I32";
        r.bytes = std::vector<std::uint8_t>(r.bytes.size(), 1);
      }
    bad.push_back({"integer tensor", encode(raw)});
  }
  bad.push_back({"truncated", std::vector<std::uint8_t>(good_other.begin(), good_other.end() - 1)});

  for (auto& [what, bytes] : bad) {
    INFO(what);
    CHECK_THROWS_AS(model.load_weights(open_bytes(bytes)), Error);
    CHECK(model.has_weights());
    CHECK(run(model) == before);
  }
  // And a good file still replaces the weights afterwards.
  model.load_weights(open_bytes(good_other));
  CHECK(run(model) != before);
}

TEST_CASE("backbone-only loading needs a head before forward", "[weights][head]") {
  CifarResNet20 full;
  full.load_weights(cifar_file());
  const auto expected = run(full);

  CifarResNet20 model;
  model.load_weights(cifar_file(), WeightParts::backbone);  // the file's linear.* is ignored
  CHECK_FALSE(model.has_weights());
  Workspace ws(1);
  CHECK(kind_of([&] { model.forward(cifar_input(), ws); }) == ErrorKind::invalid_argument);

  // A head file holding linear.* only.
  auto raw = make_raw(cifar20_entries(), {});
  std::vector<Raw> head;
  for (Raw& r : raw)
    if (r.name.rfind("linear.", 0) == 0) head.push_back(r);
  REQUIRE(head.size() == 2);
  auto with_extra = head;
  with_extra.push_back(raw.front());  // conv1.weight has no place in a head file
  std::string message;
  CHECK(kind_of([&] { model.load_head(open_bytes(encode(with_extra), "head.safetensors")); }, &message) ==
        ErrorKind::unexpected_tensor);
  CHECK_THAT(message, Catch::Contains("conv1.weight"));
  CHECK_FALSE(model.has_weights());
  model.load_head(open_bytes(encode(head)));
  CHECK(model.has_weights());
  CHECK(run(model) == expected);

  // A head of another class count does not fit.
  ModelOptions five;
  five.classes = 5;
  CifarResNet20 small(five);
  small.load_weights(cifar_file(), WeightParts::backbone);
  CHECK(kind_of([&] { small.load_head(open_bytes(encode(head))); }) == ErrorKind::shape_mismatch);
  // And a model without its top takes no head.
  ModelOptions features;
  features.include_top = false;
  CifarResNet20 headless(features);
  CHECK(kind_of([&] { headless.load_head(open_bytes(encode(head))); }) == ErrorKind::invalid_argument);
  headless.load_weights(cifar_file());  // the file's head is ignored without a top
  CHECK(headless.has_weights());
}

// ---- real ImageNet tensor lists ----

TEST_CASE("torchvision ResNet18 without layer4.1.bn2.running_var is missing exactly that", "[weights][torchvision]") {
  FileOptions o;
  o.constant = 0.01f;  // values do not matter here; the file is 47 MB either way
  Entries e = resnet18_entries();
  {
    ResNet18 model;
    model.load_weights(open_bytes(encode(make_raw(e, o)), "resnet18.safetensors"));  // the full list loads
    CHECK(model.has_weights());
  }
  for (auto it = e.begin(); it != e.end(); ++it)
    if (it->name == "layer4.1.bn2.running_var") {
      e.erase(it);
      break;
    }
  ResNet18 model;
  std::string message;
  CHECK(kind_of([&] { model.load_weights(open_bytes(encode(make_raw(e, o)), "resnet18.safetensors")); }, &message) ==
        ErrorKind::missing_tensor);
  CHECK_THAT(message, Catch::Contains("resnet18.safetensors") && Catch::Contains("layer4.1.bn2.running_var") &&
                          Catch::Contains("[512]"));
  CHECK_FALSE(model.has_weights());
}

TEST_CASE("a Keras ResNet50 file with one kernel in OIHW order is a shape mismatch", "[weights][keras]") {
  FileOptions o;
  o.constant = 0.01f;
  Entries e = keras_resnet50_entries();
  const auto full = encode(make_raw(e, o));
  {
    keras::ResNet50 model;
    model.load_weights(open_bytes(full, "keras50.safetensors"));  // the full list loads
    CHECK(model.has_weights());
  }
  find(e, "conv3_block1_1_conv/kernel")->shape = {128, 256, 1, 1};  // HWIO [1, 1, 256, 128] as OIHW
  keras::ResNet50 model;
  std::string message;
  CHECK(kind_of([&] { model.load_weights(open_bytes(encode(make_raw(e, o)), "keras50.safetensors")); }, &message) ==
        ErrorKind::shape_mismatch);
  CHECK_THAT(message, Catch::Contains("keras50.safetensors") && Catch::Contains("conv3_block1_1_conv/kernel") &&
                          Catch::Contains("[1, 1, 256, 128]") && Catch::Contains("[128, 256, 1, 1]"));
  CHECK_FALSE(model.has_weights());
  // Keras names in a torchvision model are missing tensors, not silently mapped.
  ResNet18 tv;
  CHECK(kind_of([&] { tv.load_weights(open_bytes(full)); }) ==
        ErrorKind::missing_tensor);
}

// ---- a real checkpoint (akamaster resnet20, converted by tools/convert_torch.py) ----

TEST_CASE("the real CIFAR ResNet-20 checkpoint with one tensor missing or misshapen", "[weights][real]") {
  const std::string path = std::string(RESNET_TEST_DATA) + "/cifar_resnet20.safetensors";
  if (!std::filesystem::exists(path)) RESNET_SKIP(path << " is absent (the gen_cifar fixture writes it)");
  const io::SafeTensors real = io::SafeTensors::open(path);
  std::vector<Raw> raw;
  for (const io::TensorInfo& t : real.tensors()) {
    const std::uint8_t* p = real.data(t);
    raw.push_back({t.name, io::to_string(t.dtype), t.shape, std::vector<std::uint8_t>(p, p + t.nbytes())});
  }
  CifarResNet20 original;
  original.load_weights(real);
  const auto expected = run(original);
  {
    CifarResNet20 copy;  // the re-encoded file is the same model
    copy.load_weights(open_bytes(encode(raw)));
    CHECK(run(copy) == expected);
  }
  for (const char* name : {"conv1.weight", "layer2.0.bn1.running_mean", "layer3.2.conv2.weight", "linear.weight"}) {
    INFO(name);
    std::vector<Raw> cut;
    std::vector<Raw> reshaped = raw;
    for (const Raw& r : raw)
      if (r.name != name && r.name != std::string("module.") + name) cut.push_back(r);
    REQUIRE(cut.size() + 1 == raw.size());
    for (Raw& r : reshaped)
      if (r.name == name || r.name == std::string("module.") + name) std::swap(r.shape.front(), r.shape.back());
    CifarResNet20 model;
    model.load_weights(real);
    std::string message;
    CHECK(kind_of([&] { model.load_weights(open_bytes(encode(cut), "real.safetensors")); }, &message) ==
          ErrorKind::missing_tensor);
    CHECK_THAT(message, Catch::Contains(name));
    if (std::string(name) != "layer2.0.bn1.running_mean") {  // a vector has no two ends to swap
      CHECK(kind_of([&] { model.load_weights(open_bytes(encode(reshaped), "real.safetensors")); }, &message) ==
            ErrorKind::shape_mismatch);
      CHECK_THAT(message, Catch::Contains(name));
    }
    CHECK(run(model) == expected);  // and the failures left the real weights in place
  }
}
