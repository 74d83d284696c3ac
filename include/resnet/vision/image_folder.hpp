#pragma once
/// torchvision's ImageFolder layout, DIR/<class>/<image>, and decoding batches of its
/// images on a pool's threads. Shared by `resnet eval` and feature extraction for
/// fitting heads (resnet/transfer). Needs the image codecs (CMake target resnet::vision).

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "resnet/core/error.hpp"
#include "resnet/core/tensor.hpp"
#include "resnet/core/thread_pool.hpp"
#include "resnet/vision/image.hpp"
#include "resnet/vision/preprocess.hpp"

namespace resnet {

struct LabeledImage {
  std::string path;
  int label = 0;  ///< index into ImageFolder::classes
};

struct ImageFolder {
  std::string root;
  std::vector<std::string> classes;  ///< folder names, sorted
  std::vector<LabeledImage> images;  ///< class by class, each class's files sorted
};

namespace detail {
inline bool is_hidden(const std::filesystem::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}
}  // namespace detail

/// Lists `root` as torchvision's ImageFolder does: class folders in sorted order, their
/// files (recursively, following links; hidden ones left out) in sorted order. Every file
/// is listed whatever its extension, so that a misnamed or broken file is reported when
/// decoded rather than silently left out. ErrorKind::io when `root` is no folder or has
/// no class folders; with `require_files`, also when a class folder holds no file.
inline ImageFolder read_image_folder(const std::string& root, bool require_files = false) {
  namespace fs = std::filesystem;
  ImageFolder folder;
  folder.root = root;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw Error(ErrorKind::io, root + ": not a directory");
  for (const auto& e : fs::directory_iterator(root, ec))
    if (e.is_directory() && !detail::is_hidden(e.path())) folder.classes.push_back(e.path().filename().string());
  if (ec) throw Error(ErrorKind::io, root + ": cannot list (" + ec.message() + ")");
  std::sort(folder.classes.begin(), folder.classes.end());
  if (folder.classes.empty())
    throw Error(ErrorKind::io, root + ": no class folders (expected the layout DIR/<class>/<image>)");
  for (std::size_t c = 0; c < folder.classes.size(); ++c) {
    std::vector<std::string> files;
    const fs::path dir = fs::path(root) / folder.classes[c];
    for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (detail::is_hidden(it->path())) {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file()) files.push_back(it->path().string());
    }
    if (ec) throw Error(ErrorKind::io, dir.string() + ": cannot list (" + ec.message() + ")");
    if (files.empty() && require_files)
      throw Error(ErrorKind::io, dir.string() + ": class folder '" + folder.classes[c] + "' holds no images");
    std::sort(files.begin(), files.end());
    for (auto& f : files) folder.images.push_back({std::move(f), static_cast<int>(c)});
  }
  return folder;
}

/// How an image becomes network input: the shorter side resized to `resize`, a centre
/// crop of `crop` x `crop`, normalised for `mode` (as preprocess_imagenet).
struct ImagePreprocessing {
  Preprocess mode = Preprocess::torch;
  int resize = 256;
  int crop = 224;
  std::size_t floats() const noexcept { return static_cast<std::size_t>(crop) * crop * 3; }
};

/// Decodes and preprocesses one image file into `out` (crop x crop x 3 floats, NHWC).
inline void load_preprocessed(const std::string& path, const ImagePreprocessing& p, float* out) {
  const Tensor x = preprocess_imagenet(load_image(path), p.mode, p.resize, p.crop, Layout::nhwc);
  std::copy(x.data(), x.data() + x.size(), out);
}

/// Decodes images [first, first + count) of `images` on the pool's threads into
/// `staging` (resized to hold them), packed: the images that decoded fill the first slots
/// in order. Returns their indices into `images`; each image that could not be read adds
/// its message ("path: why") to `failures` instead. Nothing throws from a worker.
inline std::vector<std::size_t> decode_batch(const std::vector<LabeledImage>& images, std::size_t first,
                                             std::size_t count, const ImagePreprocessing& p,
                                             std::vector<float>& staging, std::vector<std::string>& failures,
                                             ThreadPool& pool) {
  const std::size_t floats = p.floats();
  if (staging.size() < count * floats) staging.resize(count * floats);
  std::vector<std::string> errors(count);
  pool.parallel_for(static_cast<std::ptrdiff_t>(count), [&](std::ptrdiff_t begin, std::ptrdiff_t end) {
    for (std::ptrdiff_t i = begin; i < end; ++i) {
      const std::string& path = images[first + static_cast<std::size_t>(i)].path;
      try {
        load_preprocessed(path, p, staging.data() + static_cast<std::size_t>(i) * floats);
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(i)] = e.what();
      } catch (...) {
        errors[static_cast<std::size_t>(i)] = path + ": unknown failure";
      }
    }
  });
  std::vector<std::size_t> loaded;
  for (std::size_t i = 0; i < count; ++i) {
    if (!errors[i].empty()) {
      failures.push_back(std::move(errors[i]));
      continue;
    }
    if (loaded.size() != i)
      std::copy_n(staging.data() + i * floats, floats, staging.data() + loaded.size() * floats);
    loaded.push_back(first + i);
  }
  return loaded;
}

}  // namespace resnet
