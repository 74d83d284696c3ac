// The CIFAR ResNets compiled once, for programs built with RESNET_SEPARATE_COMPILATION
// (core/separate.hpp; the list is models/cifar.hpp's).
#include "resnet/models/cifar.hpp"

RESNET_INSTANTIATE_MODEL(resnet::CifarResNet20);
RESNET_INSTANTIATE_MODEL(resnet::CifarResNet32);
RESNET_INSTANTIATE_MODEL(resnet::CifarResNet44);
RESNET_INSTANTIATE_MODEL(resnet::CifarResNet56);
RESNET_INSTANTIATE_MODEL(resnet::CifarResNet110);
