// Decode speed: reads and decodes every image given (files, or the files of folders) with
// resnet::load_image, ROUNDS times, and prints each round's time. benchmarks/decode_vs_pil.py
// runs it beside PIL's Image.open(f).convert("RGB") on the same files.
//   bench_decode [--rounds N] PATH...
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "resnet/vision.hpp"

int main(int argc, char** argv) {
  int rounds = 5;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--rounds" && i + 1 < argc) {
      rounds = std::stoi(argv[++i]);
    } else if (std::filesystem::is_directory(arg)) {
      for (const auto& entry : std::filesystem::directory_iterator(arg))
        if (entry.is_regular_file()) files.push_back(entry.path().string());
    } else {
      files.push_back(arg);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: bench_decode [--rounds N] PATH...\n");
    return 2;
  }
  std::sort(files.begin(), files.end());
  long long pixels = 0;
  for (int r = 0; r < rounds; ++r) {
    pixels = 0;
    const auto start = std::chrono::steady_clock::now();
    for (const std::string& f : files) {
      const resnet::Image image = resnet::load_image(f);
      pixels += static_cast<long long>(image.width) * image.height;
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("round %d: %zu files, %.1f megapixels, %.1f ms\n", r, files.size(), pixels / 1e6, ms);
  }
  return 0;
}
