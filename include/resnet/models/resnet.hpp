#pragma once
/// The ImageNet ResNets (docs/spec.md 1.1, 1.3-1.6):
///   resnet::ResNet18 ... ResNet152        torchvision (stride on the 3x3, "V1.5"), logits
///   resnet::ResNeXt50_32x4d, ResNeXt101_32x8d, ResNeXt101_64x4d, WideResNet50_2,
///   WideResNet101_2                       torchvision's grouped / wide bottlenecks
///   resnet::keras::ResNet50/101/152       Keras V1 = paper (stride on the first 1x1), softmax
///   resnet::ResNet50V2/101V2/152V2        Keras V2, pre-activation (also as resnet::keras::)
///   resnet::ResNet18V2/34V2               pre-activation basic blocks in the Keras V2 style
/// Each is a named type, so symbols and compiler messages stay short.

#include "resnet/blocks/basic.hpp"
#include "resnet/blocks/bottleneck.hpp"
#include "resnet/blocks/stage.hpp"
#include "resnet/models/network.hpp"

namespace resnet {

namespace detail {

// ---- post-activation (V1) ----

// Groups and BaseWidth as torchvision's ResNet(groups=, width_per_group=): the 3x3 is
// Planes * BaseWidth / 64 * Groups wide. 1 and 64 give the ResNets' own types.
template <int In, int Planes, int Stride, int Count, StrideOn On, class Eps, Bias B, int Groups = 1, int BaseWidth = 64>
using BottleneckStage =
    Stage<Bottleneck<In, Planes, Stride, On, Eps, B, Planes * BaseWidth / 64 * Groups, Groups>,
          Bottleneck<4 * Planes, Planes, 1, On, Eps, B, Planes * BaseWidth / 64 * Groups, Groups>, Count>;

template <class Family, class StemT, StrideOn On, class Eps, Bias B, int N1, int N2, int N3, int N4, int G = 1,
          int BaseWidth = 64>
using BottleneckNet = Network<Family, StemT, NoNorm,
                              BottleneckStage<64, 64, 1, N1, On, Eps, B, G, BaseWidth>,
                              BottleneckStage<256, 128, 2, N2, On, Eps, B, G, BaseWidth>,
                              BottleneckStage<512, 256, 2, N3, On, Eps, B, G, BaseWidth>,
                              BottleneckStage<1024, 512, 2, N4, On, Eps, B, G, BaseWidth>>;

template <int In, int Planes, int Stride, int Count>
using BasicStage = Stage<BasicBlock<In, Planes, Stride, TorchEps>, BasicBlock<Planes, Planes, 1, TorchEps>, Count>;

using TorchStem = Stem<ConvUnit<Conv2d<3, 64, 7, 2>, BatchNorm<64, TorchEps>, Act::relu>, MaxPool<3, 2, 1>>;

template <int N1, int N2, int N3, int N4>
using TorchBasicNet = Network<TorchFamily, TorchStem, NoNorm, BasicStage<64, 64, 1, N1>, BasicStage<64, 128, 2, N2>,
                              BasicStage<128, 256, 2, N3>, BasicStage<256, 512, 2, N4>>;
// Keras pads the stem pool with zeros; after the ReLU that equals PyTorch's padding.
using KerasV1Stem = Stem<ConvUnit<Conv2d<3, 64, 7, 2, Bias::with>, BatchNorm<64, KerasEps>, Act::relu>,
                         MaxPool<3, 2, 1, PoolPadding::zeros>>;

template <int N1, int N2, int N3, int N4, int Groups = 1, int BaseWidth = 64>
using TorchBottleneckNet =
    BottleneckNet<TorchFamily, TorchStem, StrideOn::middle_3x3, TorchEps, Bias::none, N1, N2, N3, N4, Groups, BaseWidth>;
template <int N1, int N2, int N3, int N4>
using KerasV1Net = BottleneckNet<KerasFamily, KerasV1Stem, StrideOn::first_1x1, KerasEps, Bias::with, N1, N2, N3, N4>;

// ---- pre-activation (V2, Keras conventions; docs/spec.md 1.4-1.6) ----

// No BN or ReLU in the stem, and the stem pool's zero padding takes part in the max
// because it sees signed values (docs/spec.md 1.7).
using KerasV2Stem = Stem<ConvUnit<Conv2d<3, 64, 7, 2, Bias::with>>, MaxPool<3, 2, 1, PoolPadding::zeros>>;

// Keras V2 strides in the LAST block of a stage (conv2..conv4), with a subsampling
// shortcut; block 1 always projects.
template <int In, int Width, int Stride, int Count>
using PreActBottleneckStage =
    Stage<PreActBottleneck<In, Width, 1, true, KerasEps>, PreActBottleneck<4 * Width, Width, 1, false, KerasEps>,
          Count, std::conditional_t<(Stride > 1), PreActBottleneck<4 * Width, Width, Stride, false, KerasEps>, NoBlock>>;

template <int N1, int N2, int N3, int N4>
using KerasV2Net = Network<KerasFamily, KerasV2Stem, BatchNorm<2048, KerasEps>,
                           PreActBottleneckStage<64, 64, 2, N1>, PreActBottleneckStage<256, 128, 2, N2>,
                           PreActBottleneckStage<512, 256, 2, N3>, PreActBottleneckStage<1024, 512, 1, N4>>;

template <int In, int Planes, int Stride, int Count>
using PreActBasicStage =
    Stage<PreActBasicBlock<In, Planes, 1, KerasEps>, PreActBasicBlock<Planes, Planes, 1, KerasEps>, Count,
          std::conditional_t<(Stride > 1), PreActBasicBlock<Planes, Planes, Stride, KerasEps>, NoBlock>>;

template <int N1, int N2, int N3, int N4>
using PreActBasicNet = Network<KerasFamily, KerasV2Stem, BatchNorm<512, KerasEps>,
                               PreActBasicStage<64, 64, 2, N1>, PreActBasicStage<64, 128, 2, N2>,
                               PreActBasicStage<128, 256, 2, N3>, PreActBasicStage<256, 512, 1, N4>>;

}  // namespace detail

RESNET_NAMED_MODEL(ResNet18, detail::TorchBasicNet<2, 2, 2, 2>);
RESNET_NAMED_MODEL(ResNet34, detail::TorchBasicNet<3, 4, 6, 3>);
RESNET_NAMED_MODEL(ResNet50, detail::TorchBottleneckNet<3, 4, 6, 3>);
RESNET_NAMED_MODEL(ResNet101, detail::TorchBottleneckNet<3, 4, 23, 3>);
RESNET_NAMED_MODEL(ResNet152, detail::TorchBottleneckNet<3, 8, 36, 3>);

// torchvision's ResNeXt (grouped 3x3, "32x4d": 32 groups of 4 channels in the first stage)
// and Wide ResNet (one group, the 3x3 twice as wide): the ResNet bottleneck, other numbers.
RESNET_NAMED_MODEL(ResNeXt50_32x4d, detail::TorchBottleneckNet<3, 4, 6, 3, 32, 4>);
RESNET_NAMED_MODEL(ResNeXt101_32x8d, detail::TorchBottleneckNet<3, 4, 23, 3, 32, 8>);
RESNET_NAMED_MODEL(ResNeXt101_64x4d, detail::TorchBottleneckNet<3, 4, 23, 3, 64, 4>);
RESNET_NAMED_MODEL(WideResNet50_2, detail::TorchBottleneckNet<3, 4, 6, 3, 1, 128>);
RESNET_NAMED_MODEL(WideResNet101_2, detail::TorchBottleneckNet<3, 4, 23, 3, 1, 128>);

RESNET_NAMED_MODEL(ResNet50V2, detail::KerasV2Net<3, 4, 6, 3>);
RESNET_NAMED_MODEL(ResNet101V2, detail::KerasV2Net<3, 4, 23, 3>);
RESNET_NAMED_MODEL(ResNet152V2, detail::KerasV2Net<3, 8, 36, 3>);
RESNET_NAMED_MODEL(ResNet18V2, detail::PreActBasicNet<2, 2, 2, 2>);
RESNET_NAMED_MODEL(ResNet34V2, detail::PreActBasicNet<3, 4, 6, 3>);

namespace keras {
RESNET_NAMED_MODEL(ResNet50, detail::KerasV1Net<3, 4, 6, 3>);
RESNET_NAMED_MODEL(ResNet101, detail::KerasV1Net<3, 4, 23, 3>);
RESNET_NAMED_MODEL(ResNet152, detail::KerasV1Net<3, 8, 36, 3>);
using resnet::ResNet50V2;
using resnet::ResNet101V2;
using resnet::ResNet152V2;
}  // namespace keras

// Separate compilation (core/separate.hpp, network.hpp): compiled once, in
// src/models_torchvision.cpp, src/models_resnext.cpp and src/models_keras.cpp. A build of
// one model per family (RESNET_REPRESENTATIVE_MODELS_ONLY: this project's sanitizer
// build) compiles the others where they are used.
RESNET_SEPARATE_MODEL(ResNet18);
RESNET_SEPARATE_MODEL(ResNet50);
RESNET_SEPARATE_MODEL(ResNeXt50_32x4d);
RESNET_SEPARATE_MODEL(keras::ResNet50);
RESNET_SEPARATE_MODEL(ResNet50V2);
RESNET_SEPARATE_MODEL(ResNet18V2);
#ifndef RESNET_REPRESENTATIVE_MODELS_ONLY
RESNET_SEPARATE_MODEL(ResNet34);
RESNET_SEPARATE_MODEL(ResNet101);
RESNET_SEPARATE_MODEL(ResNet152);
RESNET_SEPARATE_MODEL(ResNeXt101_32x8d);
RESNET_SEPARATE_MODEL(ResNeXt101_64x4d);
RESNET_SEPARATE_MODEL(WideResNet50_2);
RESNET_SEPARATE_MODEL(WideResNet101_2);
RESNET_SEPARATE_MODEL(keras::ResNet101);
RESNET_SEPARATE_MODEL(keras::ResNet152);
RESNET_SEPARATE_MODEL(ResNet101V2);
RESNET_SEPARATE_MODEL(ResNet152V2);
RESNET_SEPARATE_MODEL(ResNet34V2);
#endif

}  // namespace resnet
