// A pretrained backbone with a classifier of your own class count (transfer learning:
// the head was trained elsewhere, e.g. in PyTorch, and saved on its own).
//
//   ModelOptions o; o.classes = 3;
//   CifarResNet20 model(o);                                 // any model: ResNet50 alike
//   model.load_weights(backbone, WeightParts::backbone);   // skips the file's own head
//   model.load_head(head);                                  // linear.weight [3, 64], linear.bias [3]
//
//   example_custom_head [BACKBONE.safetensors]
//
// BACKBONE is a CIFAR ResNet-20 file from tools/convert_torch.py; without it this example
// writes a random one first. The 3-class head is always written here, with
// resnet::io::write_safetensors, in the naming a converted PyTorch head has (`linear.*`
// for CIFAR models, `fc.*` for torchvision, `predictions/*` for Keras).

#include <cmath>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <resnet/resnet.hpp>
#include <resnet/vision/labels.hpp>  // softmax (needs no image codec)

namespace {

using resnet::io::TensorToWrite;

std::vector<float> random_values(std::size_t count, float scale, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(count);
  for (float& x : v) x = normal(rng);
  return v;
}

/// A CIFAR ResNet-20 weight file with random values, in the checkpoint's naming.
void write_random_backbone(const std::string& path) {
  std::mt19937 rng(5);
  std::vector<TensorToWrite> tensors;
  auto conv = [&](const std::string& name, int out, int in) {
    tensors.push_back({name + ".weight", {out, in, 3, 3}, random_values(9ull * out * in, std::sqrt(2.0f / (9 * in)), rng)});
  };
  // A small gamma on the last BN of each block keeps activations O(1) through the stack.
  auto bn = [&](const std::string& name, int c, float gamma = 1.0f) {
    const std::size_t n = static_cast<std::size_t>(c);
    tensors.push_back({name + ".weight", {c}, std::vector<float>(n, gamma)});
    tensors.push_back({name + ".bias", {c}, std::vector<float>(n, 0.0f)});
    tensors.push_back({name + ".running_mean", {c}, std::vector<float>(n, 0.0f)});
    tensors.push_back({name + ".running_var", {c}, std::vector<float>(n, 1.0f)});
  };
  conv("conv1", 16, 3);
  bn("bn1", 16);
  const int widths[3] = {16, 32, 64};
  int in = 16;
  for (int stage = 0; stage < 3; ++stage)
    for (int block = 0; block < 3; ++block) {
      const std::string p = "layer" + std::to_string(stage + 1) + "." + std::to_string(block);
      conv(p + ".conv1", widths[stage], in);
      bn(p + ".bn1", widths[stage]);
      conv(p + ".conv2", widths[stage], widths[stage]);
      bn(p + ".bn2", widths[stage], 0.2f);
      in = widths[stage];  // option-A shortcuts have no weights
    }
  tensors.push_back({"linear.weight", {10, 64}, random_values(640, 0.1f, rng)});  // ignored below
  tensors.push_back({"linear.bias", {10}, std::vector<float>(10, 0.0f)});
  resnet::io::write_safetensors(path, tensors);
}

}  // namespace

int main(int argc, char** argv) try {
  constexpr int classes = 3;
  const std::vector<std::string> labels = {"cat", "dog", "other"};
  std::string backbone = argc > 1 ? argv[1] : "";
  if (backbone.empty()) {
    backbone = "custom_head_backbone.safetensors";
    write_random_backbone(backbone);
    std::cout << "wrote a random backbone to " << backbone << "\n";
  }
  const std::string head = "custom_head_head.safetensors";
  {
    std::mt19937 rng(11);
    resnet::io::write_safetensors(head, {{"linear.weight", {classes, 64}, random_values(classes * 64, 0.2f, rng)},
                                         {"linear.bias", {classes}, {0.1f, 0.0f, -0.1f}}});
  }

  resnet::ModelOptions options;
  options.classes = classes;
  resnet::CifarResNet20 model(options);

  // The whole file would not fit: its head has 10 classes. The error says so by name.
  try {
    model.load_weights(backbone);
    std::cerr << "loading a 10-class head into a 3-class model should have failed\n";
    return 1;
  } catch (const resnet::Error& e) {
    std::cout << "as expected, the full file does not fit (" << resnet::to_string(e.kind()) << "):\n  " << e.what()
              << "\n";
  }

  model.load_weights(backbone, resnet::WeightParts::backbone);
  model.load_head(head);

  resnet::Tensor input(2, 32, 32, 3);  // a batch of two 32x32 NHWC images
  std::mt19937 rng(3);
  for (float& v : input.values()) v = std::normal_distribution<float>(0.0f, 1.0f)(rng);
  resnet::Workspace ws(1);
  const resnet::Tensor probabilities = resnet::softmax(model.forward(input, ws));
  std::printf("output %s\n", probabilities.shape().str().c_str());
  if (probabilities.c() != classes) return 1;
  for (int n = 0; n < probabilities.n(); ++n) {
    std::printf("image %d:", n);
    double total = 0;
    for (int c = 0; c < classes; ++c) {
      std::printf("  %s %.3f", labels[static_cast<std::size_t>(c)].c_str(), probabilities.at(n, 0, 0, c));
      total += probabilities.at(n, 0, 0, c);
    }
    std::printf("\n");
    if (std::abs(total - 1.0) > 1e-4) return 1;
  }
  return 0;
} catch (const resnet::Error& e) {
  std::cerr << "example_custom_head: " << e.what() << "\n";
  return 1;
}
