#pragma once
/// Fitting a classifier head of your own classes on a pretrained backbone, in C++:
///
///   resnet::CifarResNet56 backbone;
///   backbone.load_weights("resnet56-4bfd9763.th");
///   resnet::Workspace ws(2);
///   resnet::FeatureOptions fo;
///   fo.preprocessing = {resnet::Preprocess::cifar, 32, 32};
///   resnet::FeatureSet train = resnet::extract_features(backbone, resnet::read_image_folder("train", true), fo, ws);
///   resnet::FitResult fit = resnet::fit_logistic_regression(train, nullptr, {}, ws);
///   resnet::ModelOptions o; o.classes = fit.head.classes;
///   resnet::CifarResNet56 model(o);
///   model.load_weights("resnet56-4bfd9763.th", resnet::WeightParts::backbone);
///   model.set_head(resnet::to_dense<resnet::CifarResNet56::feature_channels>(fit.head), fit.classes);
///   model.save_head("head.safetensors");      // with the class names in its metadata
///
/// Needs the image codecs (CMake target resnet::vision), as <resnet/vision.hpp>.

#include "resnet/transfer/feature_set.hpp"
#include "resnet/transfer/features.hpp"
#include "resnet/transfer/logistic_regression.hpp"
#include "resnet/vision/image_folder.hpp"
