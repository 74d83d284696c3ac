#pragma once
/// Pooled features of every image of an ImageFolder through a loaded backbone: decoding
/// on the workspace's threads, the backbone in batches, optionally a left-right flipped
/// copy of each image as augmentation. Needs the image codecs (resnet::vision).

#include <algorithm>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "resnet/core/error.hpp"
#include "resnet/core/tensor.hpp"
#include "resnet/core/workspace.hpp"
#include "resnet/models/network.hpp"
#include "resnet/transfer/feature_set.hpp"
#include "resnet/vision/image_folder.hpp"

namespace resnet {

struct FeatureOptions {
  ImagePreprocessing preprocessing;  ///< the backbone's own (CIFAR: Preprocess::cifar, 32, 32)
  int batch = 64;                    ///< images per forward pass
  bool flip = false;                 ///< also extract each image flipped left to right
  /// After each batch: images done (read or skipped) of the total.
  std::function<void(std::size_t done, std::size_t total)> on_progress;
  /// For each image that could not be read ("path: why"); it is skipped and counted.
  std::function<void(const std::string& failure)> on_skip;
};

/// The global-average-pooled last feature map of every readable image of `folder`, with
/// its class index. `backbone` is any model with forward(input, Outputs, ws) (a Network;
/// its head is not run). Throws when no image at all could be read.
template <class Backbone>
FeatureSet extract_features(const Backbone& backbone, const ImageFolder& folder, const FeatureOptions& options,
                            Workspace& ws) {
  if (options.batch < 1)
    throw Error(ErrorKind::invalid_argument, "extract_features: batch must be positive, got " +
                                                 std::to_string(options.batch));
  const ImagePreprocessing& p = options.preprocessing;
  const std::size_t floats = p.floats();
  const std::size_t batch = static_cast<std::size_t>(options.batch);
  FeatureSet set;
  set.classes = folder.classes;
  std::vector<float> staging;
  std::vector<std::string> failures;
  Tensor input, pooled;
  Outputs wanted;
  wanted.pooled = &pooled;
  wanted.pooling = GlobalPool::avg;  // what the classifier reads
  for (std::size_t first = 0; first < folder.images.size(); first += batch) {
    const std::size_t count = std::min(folder.images.size() - first, batch);
    failures.clear();
    const std::vector<std::size_t> loaded =
        decode_batch(folder.images, first, count, p, staging, failures, ws.pool());
    set.skipped += failures.size();
    if (options.on_skip)
      for (const std::string& f : failures) options.on_skip(f);
    if (!loaded.empty()) {
      const std::size_t n = loaded.size(), copies = options.flip ? 2 : 1;
      const Shape shape{static_cast<int>(n * copies), p.crop, p.crop, 3};
      if (input.shape() != shape) input = Tensor(shape);
      std::copy_n(staging.data(), n * floats, input.data());
      if (options.flip) {  // the second half of the batch: each image mirrored, NHWC rows reversed
        const std::size_t row = static_cast<std::size_t>(p.crop) * 3;
        float* mirrored = input.data() + n * floats;
        for (std::size_t r = 0; r < n * static_cast<std::size_t>(p.crop); ++r)
          for (int x = 0; x < p.crop; ++x)
            std::copy_n(staging.data() + r * row + static_cast<std::size_t>(p.crop - 1 - x) * 3, 3,
                        mirrored + r * row + static_cast<std::size_t>(x) * 3);
      }
      backbone.forward(input, wanted, ws);
      if (set.width == 0) set.width = pooled.c();
      const std::size_t w = static_cast<std::size_t>(set.width);
      set.values.insert(set.values.end(), pooled.data(), pooled.data() + n * w);
      if (options.flip) set.flipped.insert(set.flipped.end(), pooled.data() + n * w, pooled.data() + 2 * n * w);
      for (std::size_t index : loaded) set.labels.push_back(folder.images[index].label);
    }
    if (options.on_progress) options.on_progress(first + count, folder.images.size());
  }
  if (set.size() == 0)
    throw Error(ErrorKind::io, folder.root + ": none of its " + std::to_string(folder.images.size()) +
                                   " files could be read as an image");
  return set;
}

}  // namespace resnet
