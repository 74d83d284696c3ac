#pragma once
/// resnet: header-only residual networks for C++17, on Eigen.
///
///   #include <resnet/resnet.hpp>
///   resnet::ResNet50 model;                    // torchvision layout, 1000 classes
///   model.load_weights("resnet50.safetensors");
///   resnet::Workspace ws(2);                   // one per calling thread; 2 threads
///   resnet::Tensor logits = model.forward(input_nchw, ws);
///
/// Preprocessing and labels are included; image decoding (libjpeg-turbo and libpng, CMake
/// target resnet::vision) lives in <resnet/vision.hpp>.

#include "resnet/core/error.hpp"
#include "resnet/core/fusion.hpp"
#include "resnet/core/math.hpp"
#include "resnet/core/tensor.hpp"
#include "resnet/core/thread_pool.hpp"
#include "resnet/core/workspace.hpp"
#include "resnet/io/safetensors.hpp"
#include "resnet/io/tensor_reader.hpp"
#include "resnet/models/calibration.hpp"
#include "resnet/models/naming.hpp"
#include "resnet/models/cifar.hpp"
#include "resnet/models/resnet.hpp"
#include "resnet/vision/labels.hpp"
#include "resnet/vision/preprocess.hpp"
