#!/usr/bin/env python3
"""`resnet calibrate` and `resnet classify --precision int8` on the ImageNet photos against
PyTorch 1.13's fake-quantized model built with the same ranges.

    cli_classify_int8.py RESNET REFERENCE_DIR SHARED_DATA_DIR

REFERENCE_DIR holds what tests/python/gen_pil_ref.py wrote (the pil_data fixture): the
seeded random ResNet-50 and the photo list. This script calibrates that network with
`resnet calibrate` on CALIBRATION_IMAGES of the photos (spread over the list), classifies
all 200 with `--precision int8 --ranges`, and builds PyTorch's twin from the same ranges
file: BN folded into each conv (torch.nn.utils.fusion.fuse_conv_bn_eval), each conv's
input through a torch.ao.quantization FakeQuantize (MinMaxObserver, quint8, per tensor)
whose observer saw only the range's two ends and was then disabled, so PyTorch computes
the scale and zero point itself; each conv's weight fake-quantized per output channel by
FakeQuantize(PerChannelMinMaxObserver, qint8, per_channel_symmetric), and so is the
classifier's weight (its input, the pooled features, stays fp32 in both). Its
probabilities are cached beside the references, keyed by the ranges file's contents.

Passes when our top-1 is PyTorch's on >= 99% of the photos and every printed top-5
probability is within TOLERANCE of PyTorch's. Both compute the same quantized
arithmetic; they differ where an fp32 rounding differs (the BN fold, the order of
PyTorch's fp32 sums against our exact int32 ones, the image resize), which can move a
value across a u8 rounding boundary of a later conv's input. Measured on these photos
(64 calibration images, the classifier's weights in s8 in both): top-1 equal on 200 of
200; on the printed classes PyTorch's fake-quant is up to 0.044 from fp32, ours 0.045,
and the two 0.0063 from each other (with an fp32 classifier in both: 199 of 200, 0.034,
0.032 and 0.008). The tolerance, 0.015, is about twice that, and under half of either
one's distance to fp32:
an int8 path that quantized differently (another range, rounding or scale) would land
about as far from PyTorch's as from fp32.
Exit 77 (skipped) when the photos, the references or int8 (CPU, build) are absent.
"""

import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "python"))
from cli_classify_imagenet import (MIN_AGREEMENT, TOP, cached_torch_probs, command_line, compare_reduced,  # noqa: E402
                                   run_resnet)

TOLERANCE = 0.015
CALIBRATION_IMAGES = 64


def torch_fake_quant_logits(ranges_path):
    """logits_of for cached_torch_probs: the model with BN folded, each conv's input and
    weight fake-quantized as the module docstring says."""
    def logits_of(torch, model, x):
        from torch.ao.quantization import FakeQuantize, MinMaxObserver, PerChannelMinMaxObserver
        from torch.nn.utils.fusion import fuse_conv_bn_eval
        from torch_reference import safetensors_io

        # Fold every BN into the conv before it: the stem, each block's convs and downsample.
        def fold(parent, conv_name, bn_name):
            conv, bn = getattr(parent, conv_name), getattr(parent, bn_name)
            setattr(parent, conv_name, fuse_conv_bn_eval(conv, bn))
            setattr(parent, bn_name, torch.nn.Identity())
        fold(model, "conv1", "bn1")
        for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
            for block in layer:
                for i in (1, 2, 3):
                    fold(block, f"conv{i}", f"bn{i}")
                if block.downsample is not None:
                    fold(block.downsample, "0", "1")

        ranges, _ = safetensors_io.read_with_metadata(ranges_path)
        # named_modules visits the convs as the library builds them: the stem, then each
        # block's conv1..conv3 and its downsample.
        convs = [m for _, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
        if len(convs) != len(ranges["input_min"]):
            raise SystemExit(f"FAIL: {len(convs)} convs but {len(ranges['input_min'])} ranges")
        for conv, lo, hi in zip(convs, ranges["input_min"], ranges["input_max"]):
            act = FakeQuantize(observer=MinMaxObserver, quant_min=0, quant_max=255, dtype=torch.quint8,
                               qscheme=torch.per_tensor_affine, reduce_range=False)
            act(torch.tensor([float(lo), float(hi)]))  # the observer sees the range, PyTorch computes the qparams
            act.disable_observer()
            weight = FakeQuantize(observer=PerChannelMinMaxObserver, quant_min=-128, quant_max=127,
                                  dtype=torch.qint8, qscheme=torch.per_channel_symmetric, ch_axis=0)
            conv.weight.data = weight(conv.weight.data)
            conv.register_forward_pre_hook(lambda module, inputs, act=act: (act(inputs[0]),))
        # The classifier: its weights per class as the convs', its features fp32.
        fc_weight = FakeQuantize(observer=PerChannelMinMaxObserver, quant_min=-128, quant_max=127,
                                 dtype=torch.qint8, qscheme=torch.per_channel_symmetric, ch_axis=0)
        model.fc.weight.data = fc_weight(model.fc.weight.data)
        return torch.cat([model(x[i:i + 8]) for i in range(0, len(x), 8)])
    return logits_of


def main():
    found = command_line()
    if found is None:
        return 77
    resnet, refdir, weights, fp32, files = found

    with tempfile.TemporaryDirectory() as tmp:
        # The photos' own folder, spread as `resnet calibrate --images` spreads a flat folder.
        ranges = os.path.join(tmp, "int8_ranges.safetensors")
        photos = os.path.dirname(files[0])
        stdout, status = run_resnet([resnet, "calibrate", "resnet50", "--weights", weights, "--images",
                                     str(CALIBRATION_IMAGES), "--threads", "2", "--out", ranges, photos], "calibrate")
        if stdout is None:
            return 1 if status == 77 else status  # calibration runs in fp32: nothing to skip
        print(stdout.strip())
        stdout, status = run_resnet([resnet, "classify", "resnet50", "--weights", weights, "--top", str(TOP),
                                     "--threads", "2", "--precision", "int8", "--ranges", ranges, *files], "int8")
        if stdout is None:
            return status
        fake = cached_torch_probs(refdir, "imagenet_probs_int8.safetensors", [os.path.abspath(__file__), ranges],
                                  files, torch_fake_quant_logits(ranges))
    return compare_reduced(stdout, files, fake, fp32, TOP, TOLERANCE, MIN_AGREEMENT, "PyTorch fake-quant",
                           f"calibrated on {CALIBRATION_IMAGES}")

if __name__ == "__main__":
    sys.exit(main())
