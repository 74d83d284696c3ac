// Must NOT compile: 64 channels cannot be split into 3 groups.
#include <resnet/layers/conv2d.hpp>

using Broken = resnet::Conv2d<64, 64, 3, 1, resnet::Bias::none, 3>;
int main() { return static_cast<int>(Broken::parameter_count()); }
