// Must NOT compile: a BatchNorm of 32 channels after a conv of 64 output channels.
#include <resnet/resnet.hpp>

using Broken = resnet::ConvUnit<resnet::Conv2d<3, 64, 3>, resnet::BatchNorm<32, resnet::TorchEps>>;
int main() { Broken unit; (void)unit; }
