// Must NOT compile: the main path gives 128 channels, the identity shortcut 64.
#include <resnet/resnet.hpp>

using Main = resnet::Sequential<resnet::ConvUnit<resnet::Conv2d<64, 128, 3>>>;
using Broken = resnet::Residual<Main, resnet::Identity<64>>;
int main() { Broken block; (void)block; }
