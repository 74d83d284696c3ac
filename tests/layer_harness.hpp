#pragma once
// What test_layers and test_blocks share: the odd map sizes every layer and block is run
// on, and a run in a NaN-poisoned workspace, so a read of memory nobody wrote shows up.

#include <catch2/catch.hpp>

#include <limits>

#include <resnet/core/tensor.hpp>
#include <resnet/core/workspace.hpp>

#include "error_kind.hpp"
#include "reference_net.hpp"

namespace harness {

struct Size {
  int n, h, w;
};
// 7x9 reaches register-tile and Winograd-tile tails; 1x1 and 2x3 are all border.
inline const Size kSizes[] = {{2, 7, 9}, {1, 1, 1}, {2, 2, 3}};

/// An NHWC tensor holding the reference map `x`.
inline resnet::Tensor to_tensor(const ref::Map& x) {
  resnet::Tensor t(ref::nhwc_shape(x));
  const std::vector<float> nhwc = ref::to_nhwc(x);
  std::copy(nhwc.begin(), nhwc.end(), t.data());
  return t;
}

/// act(layer.forward(x) + residual) through resnet::run_layer: once to size the
/// workspace, then again after every slot and the scratch were filled with NaN.
template <class Layer>
ref::Map run(const Layer& layer, const ref::Map& x, int threads = 1, resnet::Act act = resnet::Act::linear,
             const ref::Map* residual = nullptr) {
  resnet::Workspace ws(threads);
  const resnet::Tensor in = to_tensor(x);
  const resnet::Tensor r = residual ? to_tensor(*residual) : resnet::Tensor();
  resnet::run_layer(layer, in, ws, residual ? &r : nullptr, act);
  ws.fill(std::numeric_limits<float>::quiet_NaN());
  const resnet::Tensor y = resnet::run_layer(layer, in, ws, residual ? &r : nullptr, act);
  return ref::from_nhwc(y.data(), y.shape());
}

}  // namespace harness
