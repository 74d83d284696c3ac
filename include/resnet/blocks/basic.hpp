#pragma once
/// Basic blocks (two 3x3 convs): torchvision 18/34 and CIFAR (V1), and the
/// pre-activation form for ResNet-18/34 V2.

#include <type_traits>

#include "resnet/blocks/residual.hpp"
#include "resnet/layers/conv2d.hpp"

namespace resnet {

/// What a V1 basic block uses when its shape changes: torchvision's 1x1 projection
/// with BN, or CIFAR's parameter-free option A.
enum class ShortcutKind { projection, zero_pad };

template <int In, int Planes, int Stride, class Eps, ShortcutKind Kind = ShortcutKind::projection>
using BasicShortcut = std::conditional_t<
    (Stride == 1 && In == Planes), Identity<In>,
    std::conditional_t<Kind == ShortcutKind::projection,
                       Projection<ConvUnit<Conv2d<In, Planes, 1, Stride>, BatchNorm<Planes, Eps>>>,
                       ZeroPadShortcut<In, Planes>>>;

/// relu(bn2(conv3x3(relu(bn1(conv3x3_s(x))))) + shortcut(x)); stride on the first conv.
template <int In, int Planes, int Stride, class Eps, ShortcutKind Kind = ShortcutKind::projection>
struct BasicBlock
    : Residual<Sequential<ConvUnit<Conv2d<In, Planes, 3, Stride>, BatchNorm<Planes, Eps>, Act::relu>,
                          ConvUnit<Conv2d<Planes, Planes, 3, 1>, BatchNorm<Planes, Eps>>>,
               BasicShortcut<In, Planes, Stride, Eps, Kind>> {};

/// Pre-activation basic block in the Keras V2 style: the conv not followed by a BN
/// has a bias; a projection (only where the channel count changes) reads the
/// pre-activated input, a stride without projection subsamples the raw input.
template <int In, int Planes, int Stride, class Eps>
using PreActBasicShortcut = std::conditional_t<
    (In != Planes), Projection<ConvUnit<Conv2d<In, Planes, 1, Stride, Bias::with>>>,
    std::conditional_t<(Stride != 1), SubsampleShortcut<In>, Identity<In>>>;

template <int In, int Planes, int Stride, class Eps>
struct PreActBasicBlock
    : PreActResidual<BatchNorm<In, Eps>,
                     Sequential<ConvUnit<Conv2d<In, Planes, 3, Stride>, BatchNorm<Planes, Eps>, Act::relu>,
                                ConvUnit<Conv2d<Planes, Planes, 3, 1, Bias::with>>>,
                     PreActBasicShortcut<In, Planes, Stride, Eps>, (In != Planes)> {};

}  // namespace resnet
