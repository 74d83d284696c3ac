// Decoding and resizing exactly as PIL: every file of the shared CIFAR-10 and ImageNet
// folders and every generated kind (grey, palette, alpha, 16-bit, interlaced PNG; CMYK,
// grey, subsampled, progressive JPEG) decodes to the bytes of PIL's convert("RGB"), and
// the ImageNet photos resize and crop to torchvision's Resize(256) and CenterCrop(224)
// on PIL images; a seeded ResNet-50 then gives PyTorch's probabilities on them.
// References: tests/python/gen_pil_ref.py (CRC-32 of PIL's bytes, PyTorch's softmax).
#include <catch2/catch.hpp>

#include "skip.hpp"

#if !__has_include(<jpeglib.h>) || !__has_include(<png.h>)
TEST_CASE("exact PIL decoding needs libjpeg and libpng", "[image][pil]") {
  RESNET_SKIP("<jpeglib.h> or <png.h> not found (Debian: libjpeg62-turbo-dev libpng-dev)");
}
#else

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "resnet/io/safetensors.hpp"
#include "resnet/resnet.hpp"
#include "resnet/vision.hpp"

#include "image_support.hpp"

namespace pil_exact_tests {

std::string reference_dir() { return std::string(RESNET_TEST_DATA) + "/pil"; }

/// The lines of a reference file split into words, or empty (test skipped) when absent.
std::vector<std::vector<std::string>> reference_lines(const std::string& name) {
  const std::string path = reference_dir() + "/" + name;
  std::vector<std::vector<std::string>> lines;
  std::ifstream in(path);
  if (!in) {
    test_skip::skip(path + " absent (run the gen_pil_ref fixture)");
    return lines;
  }
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string word; words >> word;) w.push_back(word);
    if (!w.empty()) lines.push_back(w);
  }
  return lines;
}

std::uint32_t crc_of(const resnet::Image& image) { return image_support::crc32(image.rgb.data(), image.rgb.size()); }

std::uint32_t crc_field(const std::string& s) { return static_cast<std::uint32_t>(std::stoul(s)); }

struct DecodeRef {
  std::string path;
  int width, height;
  std::uint32_t crc;
};

/// decode_ref.txt as paths on this machine; files of the shared folders only when present.
std::vector<DecodeRef> decode_refs(const std::string& root) {
  std::vector<DecodeRef> refs;
  for (const auto& w : reference_lines("decode_ref.txt")) {
    if (w.size() != 5 || w[0] != root) continue;
    const std::string base = root == "generated" ? reference_dir() + "/generated" : std::string(RESNET_SHARED_DATA);
    refs.push_back({base + "/" + w[1], std::stoi(w[2]), std::stoi(w[3]), crc_field(w[4])});
  }
  return refs;
}

/// Decodes every file and checks it against PIL; returns the number of files compared.
int check_decodes(const std::vector<DecodeRef>& refs) {
  int mismatches = 0;
  for (const DecodeRef& r : refs) {
    const resnet::Image image = resnet::load_image(r.path);
    if (image.width != r.width || image.height != r.height || crc_of(image) != r.crc) {
      if (++mismatches <= 10)
        FAIL_CHECK(r.path << ": " << image.width << "x" << image.height << " crc " << crc_of(image) << ", PIL "
                          << r.width << "x" << r.height << " crc " << r.crc);
    }
  }
  CHECK(mismatches == 0);
  return static_cast<int>(refs.size());
}

}  // namespace pil_exact_tests

using namespace resnet;

TEST_CASE("every generated image kind decodes to PIL's convert(\"RGB\") bytes", "[image][pil]") {
  const auto refs = pil_exact_tests::decode_refs("generated");
  if (refs.empty()) return;
  std::map<std::string, int> kinds;
  for (const auto& r : refs) ++kinds[std::filesystem::path(r.path).extension().string()];
  CHECK(kinds[".png"] >= 25);
  CHECK(kinds[".jpg"] >= 8);
  pil_exact_tests::check_decodes(refs);
}

TEST_CASE("every CIFAR-10 and ImageNet file decodes to PIL's bytes", "[image][pil][shared]") {
  auto refs = pil_exact_tests::decode_refs("shared");
  std::vector<pil_exact_tests::DecodeRef> present;
  for (auto& r : refs)
    if (std::filesystem::exists(r.path)) present.push_back(std::move(r));
  if (present.empty()) RESNET_SKIP("no shared images under " << RESNET_SHARED_DATA);
  CHECK(present.size() == refs.size());
  const int compared = pil_exact_tests::check_decodes(present);
  WARN(compared << " shared files decoded, each identical to PIL's");
}

TEST_CASE("resizing matches PIL's Image.resize(BILINEAR) pixel for pixel", "[image][pil][resize]") {
  int cases = 0;
  for (const auto& w : pil_exact_tests::reference_lines("resize_ref.txt")) {
    if (w[0] != "synthetic") continue;
    const int h = std::stoi(w[1]), wd = std::stoi(w[2]), oh = std::stoi(w[3]), ow = std::stoi(w[4]);
    INFO(h << "x" << wd << " -> " << oh << "x" << ow);
    const Image out = resize_bilinear(image_support::synthetic(h, wd), oh, ow);
    REQUIRE(out.height == oh);
    REQUIRE(out.width == ow);
    CHECK(pil_exact_tests::crc_of(out) == pil_exact_tests::crc_field(w[5]));
    ++cases;
  }
  if (cases == 0) test_skip::skip("no synthetic resize references");
}

TEST_CASE("ImageNet photos resize and crop exactly as torchvision on PIL images", "[image][pil][resize][shared]") {
  int photos = 0, resized_same = 0, cropped_same = 0;
  for (const auto& w : pil_exact_tests::reference_lines("resize_ref.txt")) {
    if (w[0] != "imagenet") continue;
    const std::string path = std::string(RESNET_SHARED_DATA) + "/" + w[1];
    if (!std::filesystem::exists(path)) continue;
    INFO(path);
    const Image resized = resize_shorter_side(load_image(path), 256);
    REQUIRE(resized.height == std::stoi(w[2]));
    REQUIRE(resized.width == std::stoi(w[3]));
    const Image crop = center_crop(resized, 224, 224);
    resized_same += pil_exact_tests::crc_of(resized) == pil_exact_tests::crc_field(w[4]);
    cropped_same += pil_exact_tests::crc_of(crop) == pil_exact_tests::crc_field(w[5]);
    ++photos;
  }
  if (photos == 0) RESNET_SKIP("no ImageNet photos or references");
  CHECK(photos == 200);
  CHECK(resized_same == photos);
  CHECK(cropped_same == photos);
}

TEST_CASE("threads decode at once and get PIL's bytes", "[image][pil][threads]") {
  auto refs = pil_exact_tests::decode_refs("generated");
  for (const auto& r : pil_exact_tests::decode_refs("shared"))
    if (r.path.find("imagenet-samples") != std::string::npos && std::filesystem::exists(r.path)) refs.push_back(r);
  if (refs.empty()) return;
  std::atomic<std::size_t> next{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (std::size_t i = next++; i < refs.size(); i = next++) try {
          if (pil_exact_tests::crc_of(load_image(refs[i].path)) != refs[i].crc) ++wrong;
        } catch (const Error&) {
          ++wrong;
        }
    });
  for (auto& t : threads) t.join();
  CHECK(wrong == 0);
}

TEST_CASE("a ResNet-50 on the ImageNet photos gives PyTorch + PIL's probabilities", "[image][pil][model][shared]") {
  const std::string weights = pil_exact_tests::reference_dir() + "/resnet50.safetensors";
  const std::string probs_path = pil_exact_tests::reference_dir() + "/imagenet_probs.safetensors";
  if (!std::filesystem::exists(weights) || !std::filesystem::exists(probs_path))
    RESNET_SKIP(weights << " or " << probs_path << " absent (run the gen_pil_ref fixture)");
  const auto ref = io::SafeTensors::open(probs_path);
  const auto* info = ref.find("probs");
  REQUIRE(info != nullptr);
  const std::vector<float> expected = ref.read_f32(*info);
  std::vector<std::string> files;
  std::istringstream names(ref.metadata().at("files"));
  for (std::string f; std::getline(names, f);) files.push_back(std::string(RESNET_SHARED_DATA) + "/" + f);
  REQUIRE(expected.size() == files.size() * 1000);
  if (!std::filesystem::exists(files[0])) RESNET_SKIP("the ImageNet photos are absent");

  ResNet50 model;
  model.load_weights(weights);
  Workspace ws(2);
  Tensor logits;
  float worst = 0.0f;
  int same_top1 = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    model.forward(preprocess_imagenet(load_image(files[i]), Preprocess::torch), logits, ws);
    const Tensor probs = softmax(logits);
    const float* want = &expected[i * 1000];
    for (int c = 0; c < 1000; ++c) worst = std::max(worst, std::fabs(probs.data()[c] - want[c]));
    same_top1 += std::max_element(probs.data(), probs.data() + 1000) - probs.data() ==
                 std::max_element(want, want + 1000) - want;
  }
  CHECK(same_top1 == static_cast<int>(files.size()));
  CHECK(worst <= 1e-4f);
  WARN(files.size() << " photos: top-1 as PyTorch's in " << same_top1 << ", largest probability difference "
                    << worst);
}

#endif
