// Your own classifier on a pretrained backbone, fitted in C++ (transfer learning):
// the CIFAR ResNet-56 checkpoint's features of 5,000 training images, a new 10-class
// softmax head fitted on them by L-BFGS, measured on the 1,000 test images.
//
//   example_transfer [CHECKPOINT TRAIN_DIR TEST_DIR]
//
// Defaults: ../shared/data/cifar10/{checkpoints/resnet56-4bfd9763.th, train, test}; exits
// with 77 (skipped) when they are missing. Writes into the working folder:
//   transfer_head.safetensors             the head, with its class names
//   transfer_train_features.safetensors   the features it was fitted on, and
//   transfer_test_features.safetensors    those it was measured on (tests/python/
//                                         test_head_sklearn.py fits scikit-learn on them)
// Fails (exit 1) when the head reaches less than 84.5 % top-1 on the test images
// (scikit-learn on PyTorch's features of the same images: 85.0 %).

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <resnet/resnet.hpp>
#include <resnet/transfer.hpp>
#include <resnet/vision.hpp>

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

resnet::FeatureSet features_of(const resnet::CifarResNet56& backbone, const std::string& dir, resnet::Workspace& ws) {
  resnet::FeatureOptions options;
  options.preprocessing = {resnet::Preprocess::cifar, 32, 32};  // CIFAR images are used as they are
  options.batch = 100;
  options.on_skip = [](const std::string& why) { std::printf("  skipped %s\n", why.c_str()); };
  const auto start = std::chrono::steady_clock::now();
  resnet::FeatureSet set = resnet::extract_features(backbone, resnet::read_image_folder(dir, true), options, ws);
  std::printf("features of %zu images of %s in %.1f s (%zu unreadable)\n", set.size(), dir.c_str(),
              seconds_since(start), set.skipped);
  return set;
}

}  // namespace

int main(int argc, char** argv) try {
  const std::string data = "../shared/data/cifar10/";
  const std::string checkpoint = argc > 1 ? argv[1] : data + "checkpoints/resnet56-4bfd9763.th";
  const std::string train_dir = argc > 2 ? argv[2] : data + "train";
  const std::string test_dir = argc > 3 ? argv[3] : data + "test";
  for (const std::string& path : {checkpoint, train_dir, test_dir})
    if (!std::filesystem::exists(path)) {
      std::printf("skipped: %s not found\n", path.c_str());
      return 77;
    }

  resnet::Workspace ws(0);  // one thread per core, for decoding, the backbone and the fit
  resnet::ModelOptions backbone_options;
  backbone_options.include_top = false;
  resnet::CifarResNet56 backbone(backbone_options);
  backbone.load_weights(checkpoint, resnet::WeightParts::backbone);

  const resnet::FeatureSet train = features_of(backbone, train_dir, ws);
  const resnet::FeatureSet test = features_of(backbone, test_dir, ws);

  resnet::FitOptions fit_options;  // l2 = 1: scikit-learn's LogisticRegression(C=1.0)
  fit_options.on_iteration = [](const resnet::FitStep& s) {
    if (s.iteration % 10 == 0)
      std::printf("  iter %3d  loss %.5f  train %.2f%%  test %.2f%%\n", s.iteration, s.loss, 100 * s.train_accuracy,
                  100 * s.validation_accuracy);
  };
  const auto start = std::chrono::steady_clock::now();
  const resnet::FitResult fit = resnet::fit_logistic_regression(train, &test, fit_options, ws);
  const double fit_seconds = seconds_since(start);
  const double test_accuracy = resnet::accuracy(fit.head, test);
  std::printf("fit: %zu iterations in %.2f s on %d threads (%s)\n", fit.history.size(), fit_seconds, ws.threads(),
              fit.stopped_because.c_str());
  std::printf("new head: train %.2f%%, test %.2f%% top-1\n", 100 * resnet::accuracy(fit.head, train),
              100 * test_accuracy);

  // A model with the new class count takes the head directly, and saves it with its names.
  resnet::ModelOptions options;
  options.classes = fit.head.classes;
  resnet::CifarResNet56 model(options);
  model.load_weights(checkpoint, resnet::WeightParts::backbone);
  model.set_head(resnet::to_dense<resnet::CifarResNet56::feature_channels>(fit.head), fit.classes);
  model.save_head("transfer_head.safetensors");
  resnet::save_feature_set("transfer_train_features.safetensors", train, "example_transfer " + train_dir);
  resnet::save_feature_set("transfer_test_features.safetensors", test, "example_transfer " + test_dir);

  // Another program loads it back as `resnet classify --head` does, and names the classes.
  resnet::CifarResNet56 reloaded(options);
  reloaded.load_weights(checkpoint, resnet::WeightParts::backbone);
  reloaded.load_head("transfer_head.safetensors");
  const resnet::ImageFolder test_folder = resnet::read_image_folder(test_dir);
  const std::string& path = test_folder.images.front().path;
  const resnet::Tensor x = resnet::preprocess_imagenet(resnet::load_image(path), resnet::Preprocess::cifar, 32, 32);
  const auto top = resnet::decode_predictions(resnet::softmax(reloaded.forward(x, ws)), 3, reloaded.class_names());
  std::printf("%s:", path.c_str());
  for (const resnet::Prediction& p : top[0]) std::printf("  %s %.1f%%", p.label.c_str(), 100 * p.score);
  std::printf("\n");

  if (reloaded.class_names() != train.classes) {
    std::printf("FAILED: the head file's class names did not come back\n");
    return 1;
  }
  if (!(test_accuracy >= 0.845)) {
    std::printf("FAILED: test top-1 %.2f%% is below 84.5%%\n", 100 * test_accuracy);
    return 1;
  }
  return 0;
} catch (const resnet::Error& e) {
  std::fprintf(stderr, "example_transfer: error (%s): %s\n", resnet::to_string(e.kind()), e.what());
  return 1;
}
