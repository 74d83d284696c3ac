// Must NOT compile: the first conv produces 64 channels, the second expects 32.
#include <resnet/resnet.hpp>

using Broken = resnet::Sequential<resnet::ConvUnit<resnet::Conv2d<3, 64, 3>>,
                                  resnet::ConvUnit<resnet::Conv2d<32, 64, 3>>>;
int main() { Broken path; (void)path; }
