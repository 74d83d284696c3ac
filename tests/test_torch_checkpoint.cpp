// PyTorch checkpoints read natively (include/resnet/io/torch_checkpoint.hpp, issue 11):
// torch.save files written by python3-torch (tests/python/gen_torch_checkpoints.py) in the
// zip and legacy formats, nested, prefixed, in every float dtype and as views, must give
// exactly the outputs of their safetensors twins and PyTorch's logits; the real CIFAR
// checkpoints must equal their converted safetensors; every fuzz seed of fuzz/corpus-pth
// must open or fail with the ErrorKind fuzz/expected_errors_pth.txt gives; truncations and
// pickles that abuse the memo, the stack or nesting fail cleanly; and no failed load changes
// a loaded model.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <resnet/resnet.hpp>

#include "error_kind.hpp"
#include "fuzz_seeds.hpp"
#include "skip.hpp"
#include "support.hpp"

using namespace resnet;

namespace torch_checkpoint_tests {

namespace fs = std::filesystem;
using namespace std::string_literals;  // pickles hold NUL bytes

std::string generated(const std::string& name) { return test_support::data_path("torch_checkpoints/" + name); }

void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out);
}

/// The generator's input batch and PyTorch's logits for it, per dtype.
struct Io {
  Tensor input;
  std::map<std::string, std::vector<float>> logits;
};

Io generated_io() {
  const auto file = io::SafeTensors::open(generated("c20_io.safetensors"));
  Io io;
  io.input = test_support::nchw_tensor(test_support::reference(file, "input"));
  for (const char* dtype : {"f32", "f16", "bf16", "f64"})
    io.logits[dtype] = test_support::reference(file, std::string("logits_") + dtype).values;
  return io;
}

std::vector<float> logits_of(const CifarResNet20& model, const Tensor& input) {
  Workspace ws(1);
  const Tensor out = model.forward(input, ws);
  return out.values();
}

bool have_generated() { return test_support::file_exists(generated("c20_io.safetensors")); }

/// Bytes of a legacy-format checkpoint whose state-dict pickle is `pickle`: torch's magic
/// number and protocol version, then a sys_info dict holding little_endian True.
std::vector<std::uint8_t> legacy_with_pickle(const std::string& pickle) {
  static const char prefix[] =
      "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e"  // magic number
      "\x80\x02\x4d\xe9\x03\x2e"                                      // protocol 1001
      "\x80\x02}(X\x0d\x00\x00\x00little_endian\x88u.";               // sys_info
  std::vector<std::uint8_t> bytes(prefix, prefix + sizeof prefix - 1);
  bytes.insert(bytes.end(), pickle.begin(), pickle.end());
  return bytes;
}

std::string repeat(const std::string& s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

ErrorKind open_kind(const std::vector<std::uint8_t>& bytes, std::string* message = nullptr,
                    const std::string& name = "hostile.pth") {
  return test_support::kind_of([&] { io::TorchCheckpoint::from_memory(bytes, name); }, message);
}


// The test cases live in the namespace too: in the unity build, their helpers' names
// must not meet another file's.

TEST_CASE("torch.save checkpoints give exactly their safetensors twin's logits, and PyTorch's",
          "[torch_checkpoint][conformance]") {
  if (!have_generated()) RESNET_SKIP(generated("c20_io.safetensors") << " is absent (gen_torch_checkpoints needs PyTorch)");
  const Io io = generated_io();
  std::map<std::string, std::vector<float>> twin;
  for (const char* dtype : {"f32", "f16", "bf16", "f64"}) {
    CifarResNet20 model;
    model.load_weights(generated(std::string("c20_") + dtype + ".safetensors"));
    twin[dtype] = logits_of(model, io.input);
  }
  const std::pair<const char*, const char*> files[] = {
      {"c20_f32_zip.pth", "f32"},         {"c20_f32_legacy.pth", "f32"},          {"c20_f16_zip.pth", "f16"},
      {"c20_f16_legacy.pth", "f16"},      {"c20_bf16_zip.pth", "bf16"},           {"c20_bf16_legacy.pth", "bf16"},
      {"c20_f64_zip.pth", "f64"},         {"c20_f64_legacy.pth", "f64"},          {"c20_nested_module_zip.pth", "f32"},
      {"c20_nested_model_legacy.pth", "f32"}, {"c20_views_zip.pth", "f32"},       {"c20_views_legacy.pth", "f32"},
      {"c20_parameters_zip.pth", "f32"},
  };
  for (const auto& [file, dtype] : files) {
    INFO(file);
    CifarResNet20 model;
    model.load_weights(generated(file));
    const std::vector<float> got = logits_of(model, io.input);
    CHECK(got == twin[dtype]);  // bit for bit
    const std::vector<float>& expected = io.logits.at(dtype);
    REQUIRE(got.size() == expected.size());
    CHECK(test_support::max_scaled_error(got.data(), expected) <= 1e-4);
  }
}

TEST_CASE("a checkpoint's format is found from its bytes, not its name", "[torch_checkpoint]") {
  if (!have_generated()) RESNET_SKIP(generated("c20_io.safetensors") << " is absent (gen_torch_checkpoints needs PyTorch)");
  CHECK(io::detect_format(generated("c20_f32_zip.pth")) == io::WeightFormat::torch_zip);
  CHECK(io::detect_format(generated("c20_f32_legacy.pth")) == io::WeightFormat::torch_legacy);
  CHECK(io::detect_format(generated("c20_f32.safetensors")) == io::WeightFormat::safetensors);
  // A checkpoint named .safetensors and safetensors named .pth load all the same.
  const std::string dir = fs::temp_directory_path().string();
  const std::string pth_named = dir + "/resnet_pth_really.safetensors", st_named = dir + "/resnet_st_really.pth";
  fs::copy_file(generated("c20_f32_legacy.pth"), pth_named, fs::copy_options::overwrite_existing);
  fs::copy_file(generated("c20_f32.safetensors"), st_named, fs::copy_options::overwrite_existing);
  const Io io = generated_io();
  CifarResNet20 a, b;
  a.load_weights(pth_named);
  b.load_weights(st_named);
  CHECK(logits_of(a, io.input) == logits_of(b, io.input));
  fs::remove(pth_named);
  fs::remove(st_named);
}

TEST_CASE("a checkpoint holds the state dict's tensors with their names, dtypes and views", "[torch_checkpoint]") {
  if (!have_generated()) RESNET_SKIP(generated("c20_io.safetensors") << " is absent (gen_torch_checkpoints needs PyTorch)");
  const auto zip = io::TorchCheckpoint::open(generated("c20_f16_zip.pth"));
  CHECK(std::string(zip.format()) == "zip");
  // 1 + 18 convs, 19 BNs of 5 entries, linear weight and bias.
  CHECK(zip.tensors().size() == 19 + 19 * 5 + 2);
  const auto* w = zip.find("conv1.weight");
  REQUIRE(w);
  CHECK(w->dtype == io::DType::F16);
  CHECK(w->shape == std::vector<std::int64_t>{16, 3, 3, 3});
  const auto* counter = zip.find("bn1.num_batches_tracked");
  REQUIRE(counter);
  CHECK(counter->dtype == io::DType::I64);
  CHECK(counter->shape.empty());
  CHECK(test_support::kind_of([&] { zip.read_f32(*counter); }) == ErrorKind::unsupported_dtype);

  const auto views = io::TorchCheckpoint::open(generated("c20_views_legacy.pth"));
  CHECK(std::string(views.format()) == "legacy");
  const auto* bias = views.find("bn1.bias");
  REQUIRE(bias);
  CHECK(bias->offset > 0);
  const auto twin = io::SafeTensors::open(generated("c20_f32.safetensors"));
  for (const char* name : {"conv1.weight", "bn1.bias", "layer3.2.conv2.weight", "linear.weight"}) {
    INFO(name);
    CHECK(views.read_f32(*views.find(name)) == twin.read_f32(*twin.find(name)));
  }
  CHECK(views.find("conv1.weight")->strides == std::vector<std::int64_t>{27, 1, 9, 3});  // NHWC viewed as OIHW

  const auto nested = io::TorchCheckpoint::open(generated("c20_nested_module_zip.pth"));
  CHECK(nested.find("module.conv1.weight"));
  CHECK_FALSE(nested.find("epoch"));
}

TEST_CASE("load_head reads a classifier from a checkpoint", "[torch_checkpoint][head]") {
  if (!have_generated()) RESNET_SKIP(generated("c20_io.safetensors") << " is absent (gen_torch_checkpoints needs PyTorch)");
  const Io io = generated_io();
  CifarResNet20 full, split;
  full.load_weights(generated("c20_f32_zip.pth"));
  split.load_weights(generated("c20_f32_legacy.pth"), WeightParts::backbone);
  CHECK_FALSE(split.has_weights());
  split.load_head(generated("c20_head_legacy.pth"));
  CHECK(logits_of(split, io.input) == logits_of(full, io.input));
}

TEST_CASE("the real CIFAR checkpoints load directly, equal to their converted safetensors",
          "[torch_checkpoint][cifar]") {
  const std::string folder = std::string(RESNET_SHARED_DATA) + "/cifar10/checkpoints";
  if (!test_support::file_exists(folder)) RESNET_SKIP(folder << " is absent");
  const std::pair<const char*, int> files[] = {
      {"resnet20-12fca82f.th", 20}, {"resnet32-d509ac18.th", 32}, {"resnet44-014dd654.th", 44}, {"resnet56-4bfd9763.th", 56}};
  for (const auto& entry : files) {
    // Named copies, not structured bindings: C++17 lambdas cannot capture those (clang refuses).
    const char* file = entry.first;
    const int depth = entry.second;
    INFO(file);
    const std::string converted = test_support::data_path("cifar_resnet" + std::to_string(depth) + "_io.safetensors");
    if (!test_support::file_exists(converted)) RESNET_SKIP(converted << " is absent (gen_cifar needs PyTorch)");
    const auto ref = io::SafeTensors::open(converted);
    const Tensor input = test_support::nchw_tensor(test_support::reference(ref, "input_32x32"));
    const std::vector<float> expected = test_support::reference(ref, "logits_32x32").values;  // PyTorch's
    auto run = [&](auto& model) {
      model.load_weights(folder + "/" + file);
      Workspace ws(1);
      const std::vector<float> got = model.forward(input, ws).values();
      CHECK(test_support::max_scaled_error(got.data(), expected) <= 1e-4);
      model.load_weights(test_support::data_path("cifar_resnet" + std::to_string(depth) + ".safetensors"));
      CHECK(model.forward(input, ws).values() == got);  // bit for bit
    };
    if (depth == 20) { CifarResNet20 m; run(m); }
    if (depth == 32) { CifarResNet32 m; run(m); }
    if (depth == 44) { CifarResNet44 m; run(m); }
    if (depth == 56) { CifarResNet56 m; run(m); }
  }
}

TEST_CASE("every checkpoint fuzz seed opens or fails with the kind its name says", "[torch_checkpoint][corpus]") {
  const std::map<std::string, std::string> kinds = test_support::expected_error_kinds("expected_errors_pth.txt");
  const std::vector<fs::path> files = test_support::seed_files("corpus-pth");
  REQUIRE(files.size() >= 40);
  int valid = 0, invalid = 0;
  for (const fs::path& path : files) {
    const std::string name = path.filename().string();
    INFO(name);
    const std::vector<std::uint8_t> bytes = test_support::read_file(path.string());
    if (name.rfind("valid_", 0) == 0) {
      ++valid;
      const auto checkpoint = io::TorchCheckpoint::from_memory(bytes, name);
      for (const auto& t : checkpoint.tensors())
        if (io::detail::is_float_dtype(t.dtype)) CHECK(checkpoint.read_f32(t).size() == static_cast<std::size_t>(t.numel()));
    } else {
      ++invalid;
      REQUIRE(kinds.count(name));
      std::string message;
      CHECK(to_string(open_kind(bytes, &message, name)) == kinds.at(name));
      CHECK_THAT(message, Catch::StartsWith(name));
    }
  }
  CHECK(valid >= 5);
  CHECK(invalid == static_cast<int>(kinds.size()));
}

TEST_CASE("the seeds' values are what the encoder wrote: dtypes converted, views gathered", "[torch_checkpoint][corpus]") {
  const auto c = io::TorchCheckpoint::from_memory(
      test_support::read_file((fs::path(RESNET_SOURCE_DIR) / "fuzz" / "corpus-pth" / "valid_legacy.pth").string()), "valid_legacy");
  auto values = [&](const char* name) { return c.read_f32(*c.find(name)); };
  CHECK(values("conv.weight") == std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK(values("conv.bias") == std::vector<float>{0.5f, -2.0f});         // F16
  CHECK(values("bn.weight") == std::vector<float>{1.0f, -2.0f});         // BF16
  CHECK(values("bn.bias") == std::vector<float>{0.25f, INFINITY});       // F64: 1e300 overflows float
  CHECK(values("fc.bias") == std::vector<float>{7, 8, 9});               // offset 2 into its storage
  CHECK(values("fc.weight") == std::vector<float>{1, 4, 2, 5, 3, 6});    // the transpose of conv.weight's storage
}

TEST_CASE("checkpoints truncated anywhere are format errors", "[torch_checkpoint][hostile]") {
  if (!have_generated()) RESNET_SKIP(generated("c20_io.safetensors") << " is absent (gen_torch_checkpoints needs PyTorch)");
  for (const char* file : {"c20_f16_zip.pth", "c20_f16_legacy.pth"}) {
    INFO(file);
    const std::vector<std::uint8_t> whole = test_support::read_file(generated(file));
    REQUIRE(whole.size() > 20000);
    std::vector<std::size_t> cuts;
    // Every byte of the magic, sys_info and headers; then samples (a few hundred cuts
    // per file keep the sanitizer stage short) of the pickle, the storages, the central
    // directory and the end records.
    for (std::size_t n = 0; n < 200; ++n) cuts.push_back(n);
    for (std::size_t n = 200; n < whole.size() - 15000; n += 4999) cuts.push_back(n);
    for (std::size_t n = whole.size() - 15000; n < whole.size() - 300; n += 97) cuts.push_back(n);
    for (std::size_t n = whole.size() - 300; n < whole.size(); n += 2) cuts.push_back(n);
    for (std::size_t n : cuts) {
      const std::vector<std::uint8_t> part(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
      std::string message;
      const ErrorKind kind = open_kind(part, &message);
      if (kind != ErrorKind::format) FAIL_CHECK("cut at " << n << ": " << message);
    }
  }
}

TEST_CASE("pickles that abuse the stack, the memo or nesting fail without exhausting anything", "[torch_checkpoint][hostile]") {
  std::string message;
  // A hundred thousand pushes of one memoised list.
  CHECK(open_kind(legacy_with_pickle("\x80\x02]q\x00"s + repeat("h\x00"s, 110000) + "."), &message) == ErrorKind::too_large);
  CHECK_THAT(message, Catch::Contains("stack"));
  // A million memo entries.
  std::string puts;
  for (std::uint32_t k = 0; k < 1050000; ++k) puts += "r"s + std::string(reinterpret_cast<const char*>(&k), 4);  // little-endian host
  CHECK(open_kind(legacy_with_pickle("\x80\x02N" + puts + "."), &message) == ErrorKind::too_large);
  CHECK_THAT(message, Catch::Contains("memo"));
  // A million values appended to one list.
  CHECK(open_kind(legacy_with_pickle("\x80\x02]" + repeat("Na", 1050000) + "."), &message) == ErrorKind::too_large);
  CHECK_THAT(message, Catch::Contains("values"));
  // A hundred thousand open MARKs.
  CHECK(open_kind(legacy_with_pickle("\x80\x02" + repeat("(", 100000) + "."), &message) == ErrorKind::too_large);
  // Lists nested 90,000 deep are built without recursion, then refused as no state dict.
  CHECK(open_kind(legacy_with_pickle("\x80\x02" + repeat("]", 90000) + repeat("a", 89999) + ".\x80\x02]."), &message) ==
        ErrorKind::format);
  CHECK_THAT(message, Catch::Contains("not a state dict"));
  // A tuple of 2^60 leaves through the memo costs 60 values.
  // Then an empty storage key list, as no storage is used.
  const std::string dag = "\x80\x02}q\x01(X\x01\x00\x00\x00xNq\x00"s + repeat("h\x00h\x00\x86q\x00"s, 60) + "u.\x80\x02].";
  CHECK(io::TorchCheckpoint::from_memory(legacy_with_pickle(dag)).tensors().empty());
}

TEST_CASE("a failed checkpoint load leaves a loaded model unchanged", "[torch_checkpoint][guarantee]") {
  if (!have_generated()) RESNET_SKIP(generated("c20_io.safetensors") << " is absent (gen_torch_checkpoints needs PyTorch)");
  const Io io = generated_io();
  CifarResNet20 model;
  model.load_weights(generated("c20_f32_zip.pth"));
  const std::vector<float> before = logits_of(model, io.input);

  const std::string dir = fs::temp_directory_path().string();
  std::vector<std::string> bad;
  for (const auto& entry : fs::directory_iterator(fs::path(RESNET_SOURCE_DIR) / "fuzz" / "corpus-pth"))
    if (entry.path().filename().string().rfind("invalid_", 0) == 0) bad.push_back(entry.path().string());
  // Whole checkpoints of another model cut short, and one with a tensor this model has no place for.
  const std::vector<std::uint8_t> other = test_support::read_file(generated("c20_f16_legacy.pth"));
  for (std::size_t cut : {std::size_t{200}, other.size() / 2, other.size() - 1}) {
    bad.push_back(dir + "/resnet_cut_" + std::to_string(cut) + ".pth");
    write_bytes(bad.back(), std::vector<std::uint8_t>(other.begin(), other.begin() + static_cast<std::ptrdiff_t>(cut)));
  }
  bad.push_back(generated("c20_head_legacy.pth"));  // the head only: the backbone is missing
  for (const std::string& path : bad) {
    INFO(path);
    CHECK_THROWS_AS(model.load_weights(path), Error);
    CHECK(model.has_weights());
    CHECK(logits_of(model, io.input) == before);
  }
  for (std::size_t i = bad.size() - 4; i + 1 < bad.size(); ++i) fs::remove(bad[i]);
  model.load_weights(generated("c20_f16_legacy.pth"));
  CHECK(logits_of(model, io.input) != before);
}

TEST_CASE("formats that are not read are refused by name", "[torch_checkpoint][hostile]") {
  const fs::path dir = fs::path(RESNET_SOURCE_DIR) / "fuzz" / "corpus-pth";
  const std::pair<const char*, const char*> cases[] = {
      {"invalid_tar.pth", "tar format"},          {"invalid_torchscript.pth", "TorchScript"},
      {"invalid_hdf5.pth", "HDF5"},               {"invalid_big_endian_legacy.pth", "big-endian"},
      {"invalid_global_os_system.pth", "os.system"}, {"invalid_global_eval.pth", "builtins.eval"},
      {"invalid_opcode_inst.pth", "0x69 'i'"},    {"invalid_zip64_offset.pth", "central directory"},
  };
  for (const auto& [file_name, words] : cases) {
    const std::string file = file_name;  // captured below: a structured binding cannot be
    INFO(file);
    CifarResNet20 model;
    std::string message;
    CHECK(test_support::kind_of([&] { model.load_weights((dir / file).string()); }, &message) == ErrorKind::format);
    CHECK_THAT(message, Catch::Contains(words) && Catch::Contains(file));
  }
}

}  // namespace torch_checkpoint_tests
