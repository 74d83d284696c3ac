#pragma once
/// The CIFAR ResNets of He et al. section 4.2 as trained by akamaster (docs/spec.md 1.2-1.4):
/// depth 6n + 2, three stages of n basic blocks (16, 32, 64 channels), option-A
/// zero-padding shortcuts, no stem pool, 10 classes by default, logits out.

#include "resnet/blocks/basic.hpp"
#include "resnet/blocks/stage.hpp"
#include "resnet/models/network.hpp"

namespace resnet {

namespace detail {
template <int In, int Planes, int Stride, int Count>
using CifarStage = Stage<BasicBlock<In, Planes, Stride, TorchEps, ShortcutKind::zero_pad>,
                         BasicBlock<Planes, Planes, 1, TorchEps, ShortcutKind::zero_pad>, Count>;

template <int N>
using CifarNet = Network<CifarFamily, Stem<ConvUnit<Conv2d<3, 16, 3, 1>, BatchNorm<16, TorchEps>, Act::relu>>, NoNorm,
                         CifarStage<16, 16, 1, N>, CifarStage<16, 32, 2, N>, CifarStage<32, 64, 2, N>>;
}  // namespace detail

RESNET_NAMED_MODEL(CifarResNet20, detail::CifarNet<3>);
RESNET_NAMED_MODEL(CifarResNet32, detail::CifarNet<5>);
RESNET_NAMED_MODEL(CifarResNet44, detail::CifarNet<7>);
RESNET_NAMED_MODEL(CifarResNet56, detail::CifarNet<9>);
RESNET_NAMED_MODEL(CifarResNet110, detail::CifarNet<18>);

// Separate compilation (core/separate.hpp, network.hpp): compiled once, in src/models_cifar.cpp.
RESNET_SEPARATE_MODEL(CifarResNet20);
RESNET_SEPARATE_MODEL(CifarResNet32);
RESNET_SEPARATE_MODEL(CifarResNet44);
RESNET_SEPARATE_MODEL(CifarResNet56);
RESNET_SEPARATE_MODEL(CifarResNet110);

}  // namespace resnet
