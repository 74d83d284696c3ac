#!/usr/bin/env python3
"""PyTorch 1.13's own bf16 (torch.autocast on the CPU) on the 1,000 CIFAR-10 test images:
the reference that tests/lowp.cmake's `--lowp-layers all` bf16 evaluations compare with.

    test_cifar_autocast.py CONVERTED_DIR SHARED_DATA_DIR DEPTH:FP32_TOP1:BF16_TOP1 ...

For each depth, the converted checkpoint (gen_cifar.py's cifar_resnet{D}.safetensors) runs
over the images decoded with PIL, in fp32 and under autocast (every conv in bf16, the
activations bf16 from there on); the two top-1 counts must equal the ones given, which
lowp.cmake passes to its accuracy tests too. Exit 77 when the data is absent.
"""

import glob
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_reference as ref  # noqa: E402
from gen_cifar import MEAN, STD, cifar_forward  # noqa: E402
from torch_reference import safetensors_io  # noqa: E402


def load_images(folder):
    from PIL import Image
    classes = sorted(os.listdir(folder))
    images, labels = [], []
    for label, name in enumerate(classes):
        for path in sorted(glob.glob(os.path.join(folder, name, "*"))):
            rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / np.float32(255.0)
            images.append(((rgb - MEAN) / STD).transpose(2, 0, 1))
            labels.append(label)
    return np.stack(images).astype(np.float32), np.array(labels)


def main():
    converted, shared, cases = sys.argv[1], sys.argv[2], sys.argv[3:]
    test_dir = os.path.join(shared, "cifar10", "test")
    if not os.path.isdir(test_dir):
        print(f"skipped: {test_dir} is absent")
        return 77
    torch = ref.setup_torch()
    x, labels = load_images(test_dir)
    x, labels = torch.from_numpy(x), torch.from_numpy(labels)
    failed = False
    for case in cases:
        depth, want_fp32, want_bf16 = case.split(":")
        path = os.path.join(converted, f"cifar_resnet{depth}.safetensors")
        if not os.path.isfile(path):
            print(f"skipped: {path} is absent (gen_cifar)")
            return 77
        w = {k: torch.from_numpy(v.copy()) for k, v in safetensors_io.read_with_metadata(path)[0].items()}
        fp32 = cifar_forward(torch, w, x)[2]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = cifar_forward(torch, w, x)[2].float()
        got_fp32 = int((fp32.argmax(1) == labels).sum())
        got_bf16 = int((bf16.argmax(1) == labels).sum())
        agree = int((fp32.argmax(1) == bf16.argmax(1)).sum())
        print(f"cifar_resnet{depth}: fp32 {got_fp32 / 10:.1f}%, autocast bf16 {got_bf16 / 10:.1f}% "
              f"({got_bf16 - got_fp32:+d} images; top-1 equal to fp32's on {agree} of {len(labels)})")
        if (got_fp32, got_bf16) != (round(float(want_fp32) * 10), round(float(want_bf16) * 10)):
            print(f"FAIL: expected fp32 {want_fp32}%, bf16 {want_bf16}%")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
