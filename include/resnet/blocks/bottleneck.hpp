#pragma once
/// Bottleneck blocks (1x1 reduce, 3x3, 1x1 expand to 4 x planes): post-activation with the
/// stride on the 3x3 (torchvision "V1.5") or on the first 1x1 (paper, Keras V1), and
/// Keras V2's pre-activation form.

#include <type_traits>

#include "resnet/blocks/residual.hpp"
#include "resnet/layers/conv2d.hpp"

namespace resnet {

enum class StrideOn { first_1x1, middle_3x3 };

/// 1x1 In -> Width, 3x3 Width -> Width in Groups groups, 1x1 Width -> 4 * Planes. ResNet:
/// Width = Planes, one group; torchvision's ResNeXt and Wide ResNet change only the numbers
/// (width = planes * base_width / 64 * groups: resnext50_32x4d's first stage 128 wide in
/// 32 groups, wide_resnet50_2's 128 in one).
template <int In, int Planes, int Stride, StrideOn On, class Eps, Bias B, int Width = Planes, int Groups = 1>
using BottleneckPath = Sequential<
    ConvUnit<Conv2d<In, Width, 1, (On == StrideOn::first_1x1 ? Stride : 1), B>, BatchNorm<Width, Eps>, Act::relu>,
    ConvUnit<Conv2d<Width, Width, 3, (On == StrideOn::middle_3x3 ? Stride : 1), B, Groups>, BatchNorm<Width, Eps>,
             Act::relu>,
    ConvUnit<Conv2d<Width, 4 * Planes, 1, 1, B>, BatchNorm<4 * Planes, Eps>>>;

template <int In, int Planes, int Stride, class Eps, Bias B>
using BottleneckShortcut =
    std::conditional_t<(Stride == 1 && In == 4 * Planes), Identity<In>,
                       Projection<ConvUnit<Conv2d<In, 4 * Planes, 1, Stride, B>, BatchNorm<4 * Planes, Eps>>>>;

template <int In, int Planes, int Stride, StrideOn On, class Eps, Bias B = Bias::none, int Width = Planes,
          int Groups = 1>
struct Bottleneck : Residual<BottleneckPath<In, Planes, Stride, On, Eps, B, Width, Groups>,
                             BottleneckShortcut<In, Planes, Stride, Eps, B>> {};

/// Keras V2 (docs/spec.md 1.4): BN only after _1 and _2, biases on _0 and _3, no ReLU after
/// the sum. Project marks block 1 of a stage; a later block with a stride subsamples.
template <int In, int Width, int Stride, bool Project, class Eps>
using PreActBottleneckShortcut = std::conditional_t<
    Project, Projection<ConvUnit<Conv2d<In, 4 * Width, 1, Stride, Bias::with>>>,
    std::conditional_t<(Stride != 1), SubsampleShortcut<In>, Identity<In>>>;

template <int In, int Width, int Stride, bool Project, class Eps>
struct PreActBottleneck
    : PreActResidual<BatchNorm<In, Eps>,
                     Sequential<ConvUnit<Conv2d<In, Width, 1, 1>, BatchNorm<Width, Eps>, Act::relu>,
                                ConvUnit<Conv2d<Width, Width, 3, Stride>, BatchNorm<Width, Eps>, Act::relu>,
                                ConvUnit<Conv2d<Width, 4 * Width, 1, 1, Bias::with>>>,
                     PreActBottleneckShortcut<In, Width, Stride, Project, Eps>, Project> {};

}  // namespace resnet
