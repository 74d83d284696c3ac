// Builds and runs a small model through the public header only.
#include <resnet/resnet.hpp>

#include <cstdio>

int main() {
  resnet::ModelOptions options;
  options.classes = 7;
  resnet::CifarResNet20 model(options);
  model.init_random(3);
  resnet::Workspace ws(1);
  const resnet::Tensor out = model.forward(resnet::Tensor(1, 32, 32, 3), ws);
  std::printf("consumer: %d outputs\n", out.c());
  return out.c() == 7 ? 0 : 1;
}
