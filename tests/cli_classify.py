#!/usr/bin/env python3
"""`resnet classify` against PyTorch on real CIFAR-10 test images.

    cli_classify.py RESNET MODEL WEIGHTS DATA_DIR

For two images per class, PyTorch (PIL decoding, ToTensor, ImageNet normalisation, the
akamaster network of tests/python/gen_cifar.py) gives softmax probabilities; the tool's
printed top-1 must be PyTorch's with a probability within 0.02 wherever PyTorch is
confident (p >= 0.9): the JPEG decoders differ by a level or two (stb_image here, libjpeg
under PIL), which moves borderline images only.
Exit 77 (skipped) when the shared data or the converted weights are absent.
"""

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "python"))


def main():
    resnet, model, weights, data = sys.argv[1:5]
    if not os.path.isdir(data) or not os.path.isfile(weights):
        print(f"skipped: {data} or {weights} is absent")
        return 77
    import numpy as np
    from PIL import Image
    import gen_cifar  # noqa: E402  (the PyTorch reference network)
    from torch_reference import safetensors_io
    torch = gen_cifar.ref.setup_torch()

    classes = sorted(os.listdir(data))
    paths = [os.path.join(data, c, f) for c in classes for f in sorted(os.listdir(os.path.join(data, c)))[:2]]
    w = {k: torch.from_numpy(v.copy()) for k, v in safetensors_io.read(weights).items()}
    x = np.stack([np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) / 255.0 for p in paths])
    x = (x - gen_cifar.MEAN) / gen_cifar.STD
    x = torch.from_numpy(x.transpose(0, 3, 1, 2).astype(np.float32).copy())
    probs = torch.softmax(gen_cifar.cifar_forward(torch, w, x)[2], dim=1).numpy()

    out = subprocess.run([resnet, "classify", model, "--weights", weights, "--top", "3", *paths],
                         capture_output=True, text=True)
    print(out.stdout + out.stderr)
    if out.returncode != 0:
        print(f"FAIL: exit status {out.returncode}")
        return 1
    # Blocks of "PATH" then "  PP.PP%  label  (class N)" lines.
    got, current = {}, None
    for line in out.stdout.splitlines():
        m = re.match(r"^\s+(<?[\d.]+)%\s+(.*?)\s+\(class (\d+)\)$", line)
        if m:
            p = 0.0 if m.group(1).startswith("<") else float(m.group(1)) / 100
            got[current].append((int(m.group(3)), m.group(2), p))
        elif line.strip():
            current = line.strip()
            got[current] = []

    failures = checked = 0
    for i, path in enumerate(paths):
        rows = got.get(path)
        if not rows or len(rows) != 3:
            print(f"FAIL: {path}: expected 3 predictions, got {rows}")
            failures += 1
            continue
        order = np.argsort(-probs[i], kind="stable")
        for index, label, _ in rows:
            if label != classes[index]:  # folder names in sorted order = the CIFAR-10 labels
                print(f"FAIL: {path}: class {index} printed as '{label}'")
                failures += 1
        # A borderline image can flip between decoders (a +-2 level pixel difference moves
        # deer/0000 from P(deer) 0.51 to 0.29); only confident predictions are compared.
        if probs[i][order[0]] >= 0.9:
            checked += 1
            index, label, p = rows[0]
            if index != order[0]:
                print(f"FAIL: {path}: top-1 {label}, PyTorch {classes[order[0]]}")
                failures += 1
            if abs(p - probs[i][order[0]]) > 0.02:
                print(f"FAIL: {path}: P({label}) = {p:.4f}, PyTorch {probs[i][order[0]]:.4f}")
                failures += 1
        truth = os.path.basename(os.path.dirname(path))
        print(f"{path}: true {truth}, PyTorch {classes[order[0]]} {probs[i][order[0]]:.4f}, "
              f"resnet {rows[0][1]} {rows[0][2]:.4f}")
    print(f"{checked} confident predictions compared")
    if checked < 10:
        print("FAIL: too few confident predictions to compare")
        failures += 1
    print("OK" if failures == 0 else f"{failures} failures")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
