// The control case: the same composition with matching channels compiles, so the
// failures above come from the channel checks and not from a broken harness.
#include <resnet/resnet.hpp>

using Main = resnet::Sequential<resnet::ConvUnit<resnet::Conv2d<64, 64, 3>, resnet::BatchNorm<64, resnet::TorchEps>, resnet::Act::relu>,
                                resnet::ConvUnit<resnet::Conv2d<64, 64, 3>, resnet::BatchNorm<64, resnet::TorchEps>>>;
using Block = resnet::Residual<Main, resnet::Identity<64>>;
int main() { Block block; (void)block; }
