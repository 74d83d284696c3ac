// Classifies one image: decode, resize and crop as torchvision does, normalise, run,
// softmax, print the five best classes.
//
//   example_classify resnet50 resnet50.safetensors photo.jpg       (torchvision weights)
//   example_classify cifar-resnet20 cifar_resnet20.safetensors cat.jpg
//   example_classify                                               (no files: random weights
//                                                                    and a synthetic image)
//
// Weight files come from tools/convert_torch.py. The `resnet classify` command does the
// same for every model of the library.

#include <cstdio>
#include <iostream>
#include <string>

#include <resnet/resnet.hpp>
#include <resnet/vision.hpp>

namespace {

/// The steps every classifier takes; only the model type and its conventions vary.
template <class Model, class Labels>
void classify(const Model& model, const resnet::Image& image, resnet::Preprocess mode, int resize, int crop,
              const Labels& labels) {
  // (1, 3, crop, crop) in NCHW, the layout PyTorch uses; NHWC works as well.
  const resnet::Tensor input = resnet::preprocess_imagenet(image, mode, resize, crop);
  resnet::Workspace ws(2);  // two threads; keep the workspace to reuse its memory across calls
  const resnet::Tensor logits = model.forward(input, ws);  // (1, 1, 1, classes)
  const resnet::Tensor probabilities = resnet::softmax(logits);  // torchvision and CIFAR output logits
  // One list per image of the batch; keep the result alive while iterating over it.
  const auto predictions = resnet::decode_predictions(probabilities, 5, labels);
  for (const resnet::Prediction& p : predictions[0])
    std::printf("  %6.2f%%  %s\n", 100.0 * p.score, p.label.c_str());
}

/// A smooth colour gradient, for running without an image file.
resnet::Image synthetic_image(int width, int height) {
  resnet::Image image(width, height);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      image.at(y, x, 0) = static_cast<std::uint8_t>(255 * x / width);
      image.at(y, x, 1) = static_cast<std::uint8_t>(255 * y / height);
      image.at(y, x, 2) = 128;
    }
  return image;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc == 1) {
    // A 48x40 image is resized to a shorter side of 32 and centre-cropped to 32x32.
    resnet::CifarResNet20 model;
    model.init_random(7);
    std::cout << "random-weight CIFAR ResNet-20 on a synthetic 48x40 image:\n";
    classify(model, synthetic_image(48, 40), resnet::Preprocess::cifar, 32, 32, resnet::cifar10_labels());
    return 0;
  }
  if (argc != 4) {
    std::cerr << "usage: example_classify [resnet50|cifar-resnet20 WEIGHTS IMAGE]\n";
    return 2;
  }
  const std::string kind = argv[1], weights = argv[2], path = argv[3];
  const resnet::Image image = resnet::load_image(path);  // JPEG or PNG, as RGB
  std::cout << path << " (" << image.width << "x" << image.height << "):\n";
  if (kind == "resnet50") {
    resnet::ResNet50 model;  // torchvision layout, 1000 ImageNet classes
    model.load_weights(weights);
    classify(model, image, resnet::Preprocess::torch, 256, 224, resnet::imagenet_labels());
  } else if (kind == "cifar-resnet20") {
    resnet::CifarResNet20 model;  // 10 classes, 32x32 input
    model.load_weights(weights);
    classify(model, image, resnet::Preprocess::cifar, 32, 32, resnet::cifar10_labels());
  } else {
    std::cerr << "example_classify: unknown model '" << kind << "' (resnet50 or cifar-resnet20)\n";
    return 2;
  }
  return 0;
} catch (const resnet::Error& e) {
  // Every failure the library can report (file, image, weights, shape) is a resnet::Error.
  std::cerr << "example_classify: " << e.what() << "\n";
  return 1;
}
