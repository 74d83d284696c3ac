"""Exports a torchvision ResNet (ResNeXt, Wide ResNet) with seeded random weights in every engine's format.

  <dir>/<model>-s<seed>.pt             state dict for the PyTorch worker
  <dir>/<model>-s<seed>.onnx           ONNX (opset 13, dynamic batch) for ONNX Runtime and OpenCV
  <dir>/<model>-s<seed>.safetensors    torchvision names for this library
  <dir>/input-b<batch>-<side>-s<seed>.f32   one NCHW float32 input, raw

All three weight files hold the same numbers, so the engines' logits must agree.
Run with Debian's /usr/bin/python3; torch.onnx.export works offline without the onnx package.
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))

MODELS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
          "resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2")
OPSET = 13


def paths(directory, model, seed):
    base = os.path.join(directory, f"{model}-s{seed}")
    return {"pt": base + ".pt", "onnx": base + ".onnx", "safetensors": base + ".safetensors"}


def input_path(directory, batch, side, seed):
    return os.path.join(directory, f"input-b{batch}-{side}-s{seed}.f32")


def random_model(model, seed):
    """torchvision's own initialisation, plus random BN statistics and affine terms, so
    that BN folding is exercised (the defaults, mean 0 and var 1, would hide mistakes)."""
    import torch
    import torchvision
    torch.manual_seed(seed)
    net = getattr(torchvision.models, model)()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.0)
                m.bias.normal_(0.0, 0.1)
                m.running_mean.normal_(0.0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return net.eval()


def export_model(directory, model, seed, side=224):
    """Writes the three weight files unless they are already there."""
    out = paths(directory, model, seed)
    if all(os.path.exists(p) for p in out.values()):
        return out
    import torch
    import safetensors_io
    os.makedirs(directory, exist_ok=True)
    net = random_model(model, seed)
    state = net.state_dict()
    torch.save(state, out["pt"] + ".tmp")
    safetensors_io.write(out["safetensors"] + ".tmp",
                         {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")},
                         {"source": "torch", "format": "pt"})
    dummy = torch.zeros(1, 3, side, side)
    torch.onnx.export(net, dummy, out["onnx"] + ".tmp", opset_version=OPSET,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    for p in out.values():  # renamed last, so an interrupted export is redone
        os.replace(p + ".tmp", p)
    return out


def write_input(directory, batch, side, seed):
    path = input_path(directory, batch, side, seed)
    if not os.path.exists(path):
        os.makedirs(directory, exist_ok=True)
        rng = np.random.default_rng(seed + 1000 * batch + side)
        rng.standard_normal((batch, 3, side, side), dtype=np.float32).tofile(path + ".tmp")
        os.replace(path + ".tmp", path)
    return path


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", choices=MODELS)
    p.add_argument("--dir", default=os.path.join(HERE, "..", "..", "build-peers", "models"))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    for m in args.models:
        print(m, export_model(args.dir, m, args.seed))


if __name__ == "__main__":
    main()
