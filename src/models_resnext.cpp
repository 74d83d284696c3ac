// torchvision's ResNeXt and Wide ResNet compiled once, for programs built with
// RESNET_SEPARATE_COMPILATION (core/separate.hpp; the list is models/resnet.hpp's).
#include "resnet/models/resnet.hpp"

RESNET_INSTANTIATE_MODEL(resnet::ResNeXt50_32x4d);
#ifndef RESNET_REPRESENTATIVE_MODELS_ONLY
RESNET_INSTANTIATE_MODEL(resnet::ResNeXt101_32x8d);
RESNET_INSTANTIATE_MODEL(resnet::ResNeXt101_64x4d);
RESNET_INSTANTIATE_MODEL(resnet::WideResNet50_2);
RESNET_INSTANTIATE_MODEL(resnet::WideResNet101_2);
#endif
