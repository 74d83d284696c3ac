// torchvision's ResNets compiled once, for programs built with RESNET_SEPARATE_COMPILATION
// (core/separate.hpp; the list is models/resnet.hpp's).
#include "resnet/models/resnet.hpp"

RESNET_INSTANTIATE_MODEL(resnet::ResNet18);
RESNET_INSTANTIATE_MODEL(resnet::ResNet50);
#ifndef RESNET_REPRESENTATIVE_MODELS_ONLY
RESNET_INSTANTIATE_MODEL(resnet::ResNet34);
RESNET_INSTANTIATE_MODEL(resnet::ResNet101);
RESNET_INSTANTIATE_MODEL(resnet::ResNet152);
#endif
