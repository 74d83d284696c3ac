#pragma once
/// The vision part of the library: image decoding (libjpeg-turbo and libpng, as PIL;
/// CMake target resnet::vision), torchvision/Keras preprocessing, class labels and
/// decode_predictions.
/// <resnet/resnet.hpp> includes only the codec-free parts (preprocess.hpp, labels.hpp);
/// include this header where images are read from files.

#include "resnet/vision/image.hpp"
#include "resnet/vision/labels.hpp"
#include "resnet/vision/preprocess.hpp"
