// The Keras V1 and V2 (pre-activation) models compiled once, for programs built with
// RESNET_SEPARATE_COMPILATION (core/separate.hpp; the list is models/resnet.hpp's).
#include "resnet/models/resnet.hpp"

RESNET_INSTANTIATE_MODEL(resnet::keras::ResNet50);
RESNET_INSTANTIATE_MODEL(resnet::ResNet50V2);
RESNET_INSTANTIATE_MODEL(resnet::ResNet18V2);
#ifndef RESNET_REPRESENTATIVE_MODELS_ONLY
RESNET_INSTANTIATE_MODEL(resnet::keras::ResNet101);
RESNET_INSTANTIATE_MODEL(resnet::keras::ResNet152);
RESNET_INSTANTIATE_MODEL(resnet::ResNet101V2);
RESNET_INSTANTIATE_MODEL(resnet::ResNet152V2);
RESNET_INSTANTIATE_MODEL(resnet::ResNet34V2);
#endif
