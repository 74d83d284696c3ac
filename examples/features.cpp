// Feature extraction with a ResNet-50 backbone, one loaded model and one pass:
//   - an embedding per image: global average pooling (Keras' `include_top=False,
//     pooling='avg'`), shape (n, 1, 1, 2048), with a max-pooled one from a second pass;
//   - the stage outputs C2..C5 (strides 4, 8, 16, 32), the inputs of an FPN or a
//     segmentation head;
//   - the classifier's logits, when the weights file has them.
//
//   example_features [WEIGHTS.safetensors [IMAGE]]
//
// Without weights the backbone is random (the shapes are what this example shows); a
// torchvision resnet50 file from tools/convert_torch.py gives real features and logits.

#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <resnet/resnet.hpp>
#include <resnet/vision.hpp>

namespace {

resnet::ResNet50 load(const std::string& weights) {
  resnet::ResNet50 model;
  if (weights.empty())
    model.init_random(1);
  else
    model.load_weights(weights);
  return model;
}

double norm(const resnet::Tensor& t) {
  double sum = 0;
  for (float v : t.values()) sum += static_cast<double>(v) * v;
  return std::sqrt(sum);
}

}  // namespace

int main(int argc, char** argv) try {
  const std::string weights = argc > 1 ? argv[1] : "";
  // A real image gets torchvision's eval transform; otherwise a small random input keeps
  // this quick (any size from 32x32 up works; C5 is 1/32 of the input).
  resnet::Tensor input;
  if (argc > 2) {
    input = resnet::preprocess_imagenet(resnet::load_image(argv[2]), resnet::Preprocess::torch);
  } else {
    input = resnet::Tensor(1, 96, 128, 3, resnet::Layout::nchw);
    for (std::size_t i = 0; i < input.size(); ++i) input.data()[i] = static_cast<float>(std::sin(0.37 * i));
  }
  std::printf("input %dx%d\n", input.h(), input.w());

  resnet::Workspace ws(2);
  int failures = 0;
  auto expect = [&](const char* what, const resnet::Shape& got, const resnet::Shape& want) {
    std::printf("  %-10s %s\n", what, got.str().c_str());
    if (got != want) {
      std::printf("    expected %s\n", want.str().c_str());
      ++failures;
    }
  };

  // One pass: stage outputs C2..C5 (here NCHW, as a PyTorch detection head takes
  // them), the average-pooled embedding and the logits.
  const resnet::ResNet50 model = load(weights);
  std::vector<resnet::Tensor> stages;
  resnet::Tensor e_avg, logits, e_max;
  resnet::Outputs outputs;
  outputs.stages = &stages;
  outputs.layout = resnet::Layout::nchw;
  outputs.pooled = &e_avg;
  outputs.logits = &logits;
  model.forward(input, outputs, ws);
  // A second pass of the same model for the max-pooled embedding.
  resnet::Outputs max_pooled;
  max_pooled.pooled = &e_max;
  max_pooled.pooling = resnet::GlobalPool::max;
  model.forward(input, max_pooled, ws);

  std::printf("embeddings:\n");
  expect("avg", e_avg.shape(), {1, 1, 1, 2048});
  expect("max", e_max.shape(), {1, 1, 1, 2048});
  std::printf("  |avg| = %.4f, |max| = %.4f\n", norm(e_avg), norm(e_max));
  expect("logits", logits.shape(), {1, 1, 1, 1000});
  std::printf("stage outputs:\n");
  const int channels[4] = {256, 512, 1024, 2048};
  const int h = input.h(), w = input.w();
  for (int i = 0; i < 4; ++i) {
    // Each stride-2 step of the network rounds up: out = ceil(in / 2).
    int sh = h, sw = w;
    for (int s = 0; s < i + 2; ++s) sh = (sh + 1) / 2, sw = (sw + 1) / 2;
    const std::string name = "C" + std::to_string(i + 2);
    expect(name.c_str(), stages[static_cast<std::size_t>(i)].shape(), {1, sh, sw, channels[i]});
  }

  // The average embedding is the mean of C5 over its positions.
  const resnet::Tensor& c5 = stages[3];
  double worst = 0;
  for (int c = 0; c < 2048; ++c) {
    double mean = 0;
    for (int y = 0; y < c5.h(); ++y)
      for (int x = 0; x < c5.w(); ++x) mean += c5.at(0, y, x, c);
    mean /= c5.h() * c5.w();
    worst = std::max(worst, std::abs(mean - e_avg.at(0, 0, 0, c)));
  }
  std::printf("  max |mean(C5) - avg embedding| = %.2e\n", worst);
  if (!(worst <= 1e-3 * std::max(1.0, norm(e_avg) / std::sqrt(2048.0)))) ++failures;
  return failures == 0 ? 0 : 1;
} catch (const resnet::Error& e) {
  std::cerr << "example_features: " << e.what() << "\n";
  return 1;
}
