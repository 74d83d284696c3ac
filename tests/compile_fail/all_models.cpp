// Instantiates and runs every model type once, so one translation unit holds them all.
#include <resnet/resnet.hpp>

template <class Model>
int run_one(resnet::Workspace& ws) {
  Model model;
  model.init_random(1);
  const resnet::Tensor in(1, 32, 32, 3);
  return model.forward(in, ws).c();
}

template <class... Models>
int run_all() {
  resnet::Workspace ws(1);
  return (run_one<Models>(ws) + ...);
}

int main() {
  using namespace resnet;
  return run_all<ResNet18, ResNet34, ResNet50, ResNet101, ResNet152, keras::ResNet50, keras::ResNet101,
                 keras::ResNet152, ResNet50V2, ResNet101V2, ResNet152V2, ResNet18V2, ResNet34V2, CifarResNet20,
                 CifarResNet32, CifarResNet44, CifarResNet56, CifarResNet110, ResNeXt50_32x4d, ResNeXt101_32x8d,
                 ResNeXt101_64x4d, WideResNet50_2, WideResNet101_2>() > 0 ? 0 : 1;
}
