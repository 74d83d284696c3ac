"""Exports the statically quantized (QDQ, int8) twin of a peer model for ONNX Runtime.

  <dir>/<model>-s<seed>-int8.onnx   QuantizeLinear/DequantizeLinear around every conv, add
                                    and the classifier; ORT 1.30 fuses them into QLinearConv,
                                    QLinearAdd and QGemm

The same seeded random weights as export_onnx.py's fp32 files. The recipe needs no Python
onnxruntime (../../../shared/docs/research/lowp_inference.md, section d):
  1. fold each BatchNorm into the conv before it (quantization-aware modules would
     otherwise export Conv -> Div -> BatchNormalization, which ORT does not fuse);
  2. prepare_qat_fx with FakeQuantize modules: activations per tensor, quint8 0..255,
     MovingAverageMinMaxObserver; weights per output channel, symmetric qint8;
  3. calibrate on photos (the ImageNet samples, torchvision's preprocessing), then
     disable the observers;
  4. export with opset 13 (per-axis DequantizeLinear);
  5. rewrite the shape-[1] scales and zero points as scalars: ORT refuses a QLinearAdd
     whose scale is not one ("Scale and Zero-point must be a scalar").
Needs Debian's python3-torch, python3-torchvision, python3-pil and python3-onnx.

    /usr/bin/python3 export_qdq.py resnet50 [--dir DIR] [--images DIR] [--calibration N]
"""
import argparse
import glob
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import export_onnx  # noqa: E402

DEFAULT_IMAGES = os.path.join(HERE, "..", "..", "..", "shared", "data", "imagenet-samples")


def int8_path(directory, model, seed):
    return os.path.join(directory, f"{model}-s{seed}-int8.onnx")


def fold_batch_norms(module):
    """Each BatchNorm2d that follows a Conv2d in its parent becomes Identity, its affine
    transform folded into the conv (torchvision's ResNets: conv<i>/bn<i>, downsample.0/.1)."""
    import torch
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    children = list(module.named_children())
    for (name, child), (next_name, next_child) in zip(children, children[1:]):
        if isinstance(child, torch.nn.Conv2d) and isinstance(next_child, torch.nn.BatchNorm2d):
            setattr(module, name, fuse_conv_bn_eval(child, next_child))
            setattr(module, next_name, torch.nn.Identity())
    for _, child in module.named_children():
        fold_batch_norms(child)


def calibration_batches(images_dir, count, batch=8):
    """torchvision's evaluation preprocessing of the first `count` photos, in batches."""
    import torch
    from PIL import Image
    import torchvision.transforms as T
    files = sorted(glob.glob(os.path.join(images_dir, "**", "*.*"), recursive=True))[:count]
    if not files:
        raise SystemExit(f"no calibration images under {images_dir}")
    prep = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                      T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    tensors = [prep(Image.open(f).convert("RGB")) for f in files]
    return [torch.stack(tensors[i:i + batch]) for i in range(0, len(tensors), batch)]


def scalar_quant_params(path):
    """Rewrites every one-element scale / zero-point initializer as a 0-d tensor."""
    import onnx
    from onnx import numpy_helper
    graph = onnx.load(path)
    quant_inputs = set()
    for node in graph.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            quant_inputs.update(node.input[1:])
    for i, init in enumerate(graph.graph.initializer):
        if init.name in quant_inputs and list(init.dims) == [1]:
            value = numpy_helper.to_array(init).reshape(())
            graph.graph.initializer[i].CopyFrom(numpy_helper.from_array(value, init.name))
    onnx.save(graph, path)


def export_int8(directory, model, seed, images_dir=DEFAULT_IMAGES, calibration=64):
    out = int8_path(directory, model, seed)
    if os.path.exists(out):
        return out
    import torch
    from torch.ao.quantization import FakeQuantize, QConfig, QConfigMapping, disable_observer
    from torch.ao.quantization.observer import MovingAverageMinMaxObserver, MovingAveragePerChannelMinMaxObserver
    from torch.ao.quantization.quantize_fx import prepare_qat_fx

    net = export_onnx.random_model(model, seed)
    fold_batch_norms(net)
    if any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules()):
        raise SystemExit(f"{model}: a BatchNorm does not follow its conv; cannot fold it")
    qconfig = QConfig(
        activation=FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
                                          dtype=torch.quint8, qscheme=torch.per_tensor_affine),
        weight=FakeQuantize.with_args(observer=MovingAveragePerChannelMinMaxObserver, quant_min=-128,
                                      quant_max=127, dtype=torch.qint8, qscheme=torch.per_channel_symmetric,
                                      ch_axis=0))
    example = torch.zeros(1, 3, 224, 224)
    prepared = prepare_qat_fx(net.train(), QConfigMapping().set_global(qconfig), example_inputs=(example,))
    prepared.eval()
    with torch.no_grad():
        for x in calibration_batches(images_dir, calibration):
            prepared(x)
    prepared.apply(disable_observer)
    os.makedirs(directory, exist_ok=True)
    torch.onnx.export(prepared, example, out + ".tmp", opset_version=export_onnx.OPSET,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    scalar_quant_params(out + ".tmp")
    os.replace(out + ".tmp", out)  # last, so an interrupted export is redone
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", choices=export_onnx.MODELS)
    p.add_argument("--dir", default=os.path.join(HERE, "..", "..", "build-peers", "models"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--images", default=DEFAULT_IMAGES, help="calibration photos (ImageFolder or flat)")
    p.add_argument("--calibration", type=int, default=64, help="how many photos calibrate the ranges")
    args = p.parse_args()
    for m in args.models:
        print(m, export_int8(args.dir, m, args.seed, args.images, args.calibration))


if __name__ == "__main__":
    main()
