#!/usr/bin/env python3
"""`resnet classify --precision bf16` on the 200 ImageNet photos against PyTorch bf16.

    cli_classify_bf16.py RESNET REFERENCE_DIR SHARED_DATA_DIR [LOWP_LAYERS]

REFERENCE_DIR holds what tests/python/gen_pil_ref.py wrote (the pil_data fixture): the
seeded random ResNet-50 and, in imagenet_probs.safetensors, the photo list and PyTorch's
fp32 probabilities. This script runs that network in PyTorch 1.13 under
torch.autocast("cpu", dtype=torch.bfloat16) on the same PIL + torchvision inputs (cached
beside the references as imagenet_probs_bf16.safetensors), then `resnet classify
--precision bf16 --lowp-layers LOWP_LAYERS` (default all) on the photos.

Passes when our top-1 is PyTorch bf16's on >= 99% of the photos, and every printed top-5
probability is within TOLERANCE of PyTorch bf16's. The two bf16 computations round
different things (PyTorch: BN unfolded, every conv output and activation in bf16; ours:
BN folded into the weights before rounding, fp32 maps, each conv input rounded), so each
is a bf16-sized perturbation of fp32. Measured on these photos: PyTorch bf16 is up to
0.019 from fp32 on the printed classes and ours up to 0.004 (top-1 as fp32 on all 200;
PyTorch bf16 changes 2), so ours should be within their sum, rounded up to 0.03, of
PyTorch bf16.
Exit 77 (skipped) when the photos, the references or bf16 (CPU, build) are absent.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "python"))
from cli_classify_imagenet import (MIN_AGREEMENT, TOP, cached_torch_probs, command_line, compare_reduced,  # noqa: E402
                                   run_resnet)

TOLERANCE = 0.03


def torch_bf16_logits(torch, model, x):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return torch.cat([model(x[i:i + 4]) for i in range(0, len(x), 4)])


def main():
    layers = sys.argv[4] if len(sys.argv) > 4 else "all"
    found = command_line()
    if found is None:
        return 77
    resnet, refdir, weights, fp32, files = found

    stdout, status = run_resnet([resnet, "classify", "resnet50", "--weights", weights, "--top", str(TOP), "--threads",
                                 "2", "--precision", "bf16", "--lowp-layers", layers, *files], "bf16")
    if stdout is None:
        return status
    bf16 = cached_torch_probs(refdir, "imagenet_probs_bf16.safetensors", [os.path.abspath(__file__)], files,
                              torch_bf16_logits)
    return compare_reduced(stdout, files, bf16, fp32, TOP, TOLERANCE, MIN_AGREEMENT, "PyTorch bf16",
                           f"--lowp-layers {layers}")

if __name__ == "__main__":
    sys.exit(main())
