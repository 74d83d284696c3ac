// Image decoding: exact PNG round trips, colour conversions, JPEG against PIL, and the
// refusal of broken or hostile files. JPEG files come from the gen_preprocess_ref fixture
// (written by PIL) and the shared CIFAR-10 test set; test_pil_exact.cpp compares every
// kind of file with PIL.
#include <catch2/catch.hpp>

#include "skip.hpp"

#if !__has_include(<jpeglib.h>) || !__has_include(<png.h>)
TEST_CASE("image decoding needs libjpeg and libpng", "[image]") {
  RESNET_SKIP("<jpeglib.h> or <png.h> not found (Debian: libjpeg62-turbo-dev libpng-dev); image decoding not tested");
}
#else

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "resnet/io/safetensors.hpp"
#include "resnet/vision.hpp"

#include "image_support.hpp"
#include "support.hpp"

namespace vision_test {
resnet::Image decode_in_second_unit(const std::uint8_t* bytes, std::size_t size);
}

namespace image_tests {

using resnet::ErrorKind;
using resnet::Image;
using Bytes = std::vector<std::uint8_t>;
using test_support::kind_of;
using test_support::read_file;
using test_support::temp_path;

/// A PNG written by libpng's simplified API (1 to 4 channels of 8 bits).
Bytes encode_png(int w, int h, int channels, const Bytes& pixels) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(w);
  image.height = static_cast<png_uint_32>(h);
  const png_uint_32 formats[] = {PNG_FORMAT_GRAY, PNG_FORMAT_GA, PNG_FORMAT_RGB, PNG_FORMAT_RGBA};
  image.format = formats[channels - 1];
  png_alloc_size_t size = 0;
  REQUIRE(png_image_write_to_memory(&image, nullptr, &size, 0, pixels.data(), 0, nullptr) != 0);
  Bytes out(size);
  REQUIRE(png_image_write_to_memory(&image, out.data(), &size, 0, pixels.data(), 0, nullptr) != 0);
  out.resize(size);
  return out;
}

Bytes pattern(int w, int h, int channels) {
  Bytes p(static_cast<std::size_t>(w) * h * channels);
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>((i * 37 + i / 7) & 0xFF);
  return p;
}

std::string write_file(const std::string& name, const Bytes& bytes) {
  const std::string path = temp_path("image_" + name);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
  return path;
}

/// A JPEG written by PIL in the fixture (gen_preprocess_ref.py), or empty (and the test
/// program reported as skipped) when absent.
Bytes generated_jpeg(const std::string& name) {
  const std::string path = std::string(RESNET_TEST_DATA) + "/generated/" + name;
  if (!std::filesystem::exists(path)) {
    test_skip::skip(path + " absent (run the gen_preprocess_ref fixture)");
    return {};
  }
  return read_file(path);
}

void put_be32(Bytes& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}

/// A PNG made of a signature and an IHDR chunk only: a header claiming any size.
Bytes png_header_only(std::uint32_t w, std::uint32_t h, std::uint8_t colour_type) {
  Bytes out = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  Bytes chunk = {'I', 'H', 'D', 'R'};
  put_be32(chunk, w);
  put_be32(chunk, h);
  chunk.insert(chunk.end(), {8, colour_type, 0, 0, 0});
  put_be32(out, 13);
  out.insert(out.end(), chunk.begin(), chunk.end());
  put_be32(out, image_support::crc32(chunk.data(), chunk.size()));
  return out;
}

TEST_CASE("an RGB PNG decodes exactly, from memory and from a file", "[image]") {
  const Bytes pixels = pattern(13, 7, 3);
  const Bytes png = encode_png(13, 7, 3, pixels);
  const Image image = resnet::decode_image(png.data(), png.size(), "memory.png");
  CHECK(image.width == 13);
  CHECK(image.height == 7);
  CHECK(image.rgb == pixels);

  const std::string path = write_file("rgb.png", png);
  CHECK(resnet::load_image(path).rgb == pixels);
  CHECK(vision_test::decode_in_second_unit(png.data(), png.size()).rgb == pixels);
  std::remove(path.c_str());
}

TEST_CASE("grey, grey+alpha and RGBA PNGs become RGB", "[image]") {
  const int w = 5, h = 3;
  SECTION("grey is replicated") {
    const Bytes grey = pattern(w, h, 1);
    const Bytes png = encode_png(w, h, 1, grey);
    const Image image = resnet::decode_image(png.data(), png.size(), "grey.png");
    REQUIRE(image.rgb.size() == grey.size() * 3);
    for (std::size_t i = 0; i < grey.size(); ++i)
      for (int c = 0; c < 3; ++c) CHECK(image.rgb[i * 3 + c] == grey[i]);
  }
  SECTION("grey+alpha drops alpha") {
    const Bytes ga = pattern(w, h, 2);
    const Bytes png = encode_png(w, h, 2, ga);
    const Image image = resnet::decode_image(png.data(), png.size(), "ga.png");
    for (std::size_t i = 0; i < static_cast<std::size_t>(w * h); ++i)
      for (int c = 0; c < 3; ++c) CHECK(image.rgb[i * 3 + c] == ga[i * 2]);
  }
  SECTION("RGBA drops alpha") {
    const Bytes rgba = pattern(w, h, 4);
    const Bytes png = encode_png(w, h, 4, rgba);
    const Image image = resnet::decode_image(png.data(), png.size(), "rgba.png");
    for (std::size_t i = 0; i < static_cast<std::size_t>(w * h); ++i)
      for (int c = 0; c < 3; ++c) CHECK(image.rgb[i * 3 + c] == rgba[i * 4 + c]);
  }
}

TEST_CASE("JPEGs decode exactly like PIL", "[image][jpeg]") {
  const std::string ref_path = std::string(RESNET_TEST_DATA) + "/image_ref.safetensors";
  if (!std::filesystem::exists(ref_path))
    RESNET_SKIP(ref_path << " absent (run the gen_preprocess_ref fixture): JPEG decoding not compared with PIL");
  const auto ref = resnet::io::SafeTensors::open(ref_path);
  REQUIRE(!ref.tensors().empty());
  for (const char* group : {"generated/", "cifar10/"}) {
    const std::string root = group[0] == 'g' ? RESNET_TEST_DATA : RESNET_SHARED_DATA;
    int files = 0;
    for (const auto& t : ref.tensors()) {
      if (t.name.rfind(group, 0) != 0) continue;
      INFO("file " << t.name);
      const Image image = resnet::load_image(root + "/" + t.name);
      REQUIRE(image.height == t.shape[0]);
      REQUIRE(image.width == t.shape[1]);
      const std::vector<float> pil = ref.read_f32(t);
      long long differing = 0;
      for (std::size_t i = 0; i < pil.size(); ++i) differing += image.rgb[i] != static_cast<int>(pil[i]);
      CHECK(differing == 0);  // libjpeg with PIL's settings: the same bytes
      ++files;
    }
    if (files == 0)  // gen_preprocess_ref.py leaves the CIFAR JPEGs out when the shared data is absent.
      test_skip::skip(std::string("no ") + group + " JPEGs in " + ref_path);
  }
}

TEST_CASE("truncated JPEGs are refused", "[image][jpeg][errors]") {
  for (const char* name : {"baseline420.jpg", "progressive.jpg"}) {
    const Bytes jpeg = generated_jpeg(name);
    if (jpeg.empty()) continue;
    INFO(name);
    REQUIRE_NOTHROW(resnet::decode_image(jpeg.data(), jpeg.size(), "whole.jpg"));
    for (std::size_t keep : {jpeg.size() - 1, jpeg.size() - 2, jpeg.size() * 3 / 4, jpeg.size() / 2, std::size_t(300),
                             std::size_t(20), std::size_t(3)}) {
      INFO("kept " << keep << " of " << jpeg.size() << " bytes");
      std::string message;
      CHECK(kind_of([&] { resnet::decode_image(jpeg.data(), keep, "cut.jpg"); }, &message) == ErrorKind::image);
      CHECK(message.find("cut.jpg") == 0);
    }
    std::string message;
    kind_of([&] { resnet::decode_image(jpeg.data(), jpeg.size() / 2, "cut.jpg"); }, &message);
    CHECK(message.find("truncated") != std::string::npos);
  }

  const std::string cifar = std::string(RESNET_SHARED_DATA) + "/cifar10/test/cat/0000.jpg";
  if (std::filesystem::exists(cifar)) {
    std::string message;
    const Bytes real = read_file(cifar);
    const std::string path = write_file("cut_cifar.jpg", Bytes(real.begin(), real.begin() + real.size() * 2 / 3));
    CHECK(kind_of([&] { resnet::load_image(path); }, &message) == ErrorKind::image);
    CHECK(message.find(path) == 0);
    CHECK(message.find("truncated") != std::string::npos);
    std::remove(path.c_str());
  } else {
    test_skip::skip(cifar + " absent: no real truncated JPEG");
  }
}

TEST_CASE("a JPEG Huffman table with more than 256 codes is refused", "[image][jpeg][errors]") {
  // Such a table overran stb_image's fixed-size arrays (found by fuzzing under
  // AddressSanitizer); libjpeg must refuse it too, naming the file.
  Bytes jpeg = generated_jpeg("baseline420.jpg");
  if (jpeg.empty()) return;
  const std::uint8_t dht[2] = {0xFF, 0xC4};
  const auto at = std::search(jpeg.begin(), jpeg.end(), std::begin(dht), std::end(dht));
  REQUIRE(at != jpeg.end());
  const std::size_t counts = static_cast<std::size_t>(at - jpeg.begin()) + 5;  // marker, length, class/id
  for (std::size_t i = 0; i < 16; ++i) jpeg[counts + i] = 0x20;                  // 512 codes
  std::string message;
  CHECK(kind_of([&] { resnet::decode_image(jpeg.data(), jpeg.size(), "dht.jpg"); }, &message) ==
        ErrorKind::image);
  CHECK(message.find("dht.jpg: cannot decode the JPEG (") == 0);
}

TEST_CASE("missing, empty, non-image and corrupt files are refused", "[image][errors]") {
  std::string message;
  const std::string missing = temp_path("image_does_not_exist.png");
  CHECK(kind_of([&] { resnet::load_image(missing); }, &message) == ErrorKind::io);
  CHECK(message.find(missing) == 0);
  CHECK(kind_of([&] { resnet::load_image(RESNET_TEST_DATA); }) == ErrorKind::io);  // a directory

  const std::string empty = write_file("empty.jpg", {});
  CHECK(kind_of([&] { resnet::load_image(empty); }, &message) == ErrorKind::image);
  CHECK(message.find("empty") != std::string::npos);
  CHECK(kind_of([&] { resnet::decode_image(nullptr, 0, "nothing"); }) == ErrorKind::image);

  const std::string text = "this is not an image\n";
  const std::string text_path = write_file("text.jpg", Bytes(text.begin(), text.end()));
  CHECK(kind_of([&] { resnet::load_image(text_path); }, &message) == ErrorKind::image);
  CHECK(message.find(text_path) == 0);
  CHECK(message.find("not a JPEG or PNG") != std::string::npos);

  Bytes png = encode_png(16, 16, 3, pattern(16, 16, 3));
  Bytes corrupt = png;
  for (std::size_t i = 40; i < corrupt.size() - 12; ++i) corrupt[i] ^= 0x5A;  // scramble IDAT
  CHECK(kind_of([&] { resnet::decode_image(corrupt.data(), corrupt.size(), "corrupt.png"); }) == ErrorKind::image);
  CHECK(kind_of([&] { resnet::decode_image(png.data(), png.size() / 2, "cut.png"); }) == ErrorKind::image);

  const Bytes zero = png_header_only(0, 10, 2);
  CHECK(kind_of([&] { resnet::decode_image(zero.data(), zero.size(), "zero.png"); }, &message) ==
        ErrorKind::image);
  CHECK(message.find("zero") != std::string::npos);
  std::remove(empty.c_str());
  std::remove(text_path.c_str());
}

TEST_CASE("the pixel cap refuses huge headers before decoding", "[image][errors]") {
  std::string message;
  // 10^10 pixels: 30 GB if anything tried to allocate it.
  const Bytes huge = png_header_only(100000, 100000, 2);
  CHECK(kind_of([&] { resnet::decode_image(huge.data(), huge.size(), "huge.png"); }, &message) ==
        ErrorKind::too_large);
  CHECK(message.find("huge.png") == 0);
  CHECK(message.find("100000x100000") != std::string::npos);
  // 400 megapixels of grey: within libpng's own limits, over our default cap.
  const Bytes big = png_header_only(20000, 20000, 0);
  CHECK(kind_of([&] { resnet::decode_image(big.data(), big.size(), "big.png"); }) == ErrorKind::too_large);

  const Bytes png = encode_png(32, 32, 3, pattern(32, 32, 3));
  resnet::ImageLimits limits;
  limits.max_pixels = 1023;
  CHECK(kind_of([&] { resnet::decode_image(png.data(), png.size(), "capped.png", limits); }, &message) ==
        ErrorKind::too_large);
  CHECK(message.find("1023") != std::string::npos);
  limits.max_pixels = 1024;
  CHECK(resnet::decode_image(png.data(), png.size(), "capped.png", limits).width == 32);

  const Bytes jpeg = generated_jpeg("baseline444.jpg");  // 61x45
  if (!jpeg.empty()) {
    limits.max_pixels = 61 * 45 - 1;
    CHECK(kind_of([&] { resnet::decode_image(jpeg.data(), jpeg.size(), "capped.jpg", limits); }) ==
          ErrorKind::too_large);
    limits.max_pixels = 61 * 45;
    CHECK(resnet::decode_image(jpeg.data(), jpeg.size(), "capped.jpg", limits).width == 61);

    // The same JPEG with a frame header claiming 60000x60000 (3.6 gigapixels).
    Bytes huge_jpeg = jpeg;
    const std::uint8_t sof0[2] = {0xFF, 0xC0};
    const auto sof = std::search(huge_jpeg.begin(), huge_jpeg.end(), std::begin(sof0), std::end(sof0));
    REQUIRE(sof != huge_jpeg.end());
    const std::size_t at = static_cast<std::size_t>(sof - huge_jpeg.begin()) + 5;  // marker, length, precision
    huge_jpeg[at] = huge_jpeg[at + 2] = 0xEA;                                     // 60000 = 0xEA60
    huge_jpeg[at + 1] = huge_jpeg[at + 3] = 0x60;
    CHECK(kind_of([&] { resnet::decode_image(huge_jpeg.data(), huge_jpeg.size(), "huge.jpg"); }, &message) ==
          ErrorKind::too_large);
    CHECK(message.find("huge.jpg") == 0);
  }

  const std::string path = write_file("small.png", png);
  limits.max_file_bytes = 10;
  CHECK(kind_of([&] { resnet::load_image(path, limits); }) == ErrorKind::too_large);
  std::remove(path.c_str());
}

}  // namespace image_tests

#endif
