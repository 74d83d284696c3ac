#!/usr/bin/env python3
"""`resnet classify` against PyTorch on real CIFAR-10 test images.

    cli_classify.py RESNET MODEL WEIGHTS DATA_DIR

For two images per class, PyTorch (PIL decoding, ToTensor, ImageNet normalisation, the
akamaster network of tests/python/gen_cifar.py) gives softmax probabilities; the tool
decodes the same pixels as PIL, so its printed top-3 must be PyTorch's, each probability
within PRINT_TOLERANCE (the print rounding of 5e-5 plus float noise).
Exit 77 (skipped) when the shared data or the converted weights are absent.
"""

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "python"))
PRINT_TOLERANCE = 1e-4


def parse_classify(stdout):
    """`resnet classify` output, blocks of "PATH" then "  PP.PP%  label  (class N)" lines,
    as {path: [(class, label, probability)]}; "<0.01%" reads as 0."""
    got, current = {}, None
    for line in stdout.splitlines():
        m = re.match(r"^\s+(<?[\d.]+)%\s+(.*?)\s+\(class (\d+)\)$", line)
        if m:
            p = 0.0 if m.group(1).startswith("<") else float(m.group(1)) / 100
            got[current].append((int(m.group(3)), m.group(2), p))
        elif line.strip():
            current = line.strip()
            got[current] = []
    return got


def compare_rows(path, rows, probs, k):
    """Failures of one image's printed rows against PyTorch's probabilities (1-D)."""
    failures = []
    if not rows or len(rows) != k:
        return [f"{path}: expected {k} predictions, got {rows}"]
    order = probs.argsort(kind="stable")[::-1]
    if rows[0][0] != order[0]:
        failures.append(f"{path}: top-1 class {rows[0][0]}, PyTorch {order[0]}")
    for index, label, p in rows:
        if abs(p - probs[index]) > PRINT_TOLERANCE:
            failures.append(f"{path}: P({label}) = {p:.4f}, PyTorch {probs[index]:.6f}")
    return failures


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
    got = parse_classify(out.stdout)
    failures = 0
    for i, path in enumerate(paths):
        rows = got.get(path)
        problems = compare_rows(path, rows, probs[i], 3)
        for index, label, _ in rows or []:
            if label != classes[index]:  # folder names in sorted order = the CIFAR-10 labels
                problems.append(f"{path}: class {index} printed as '{label}'")
        for problem in problems:
            print("FAIL: " + problem)
        failures += len(problems)
    print(f"{len(paths)} images compared")
    print("OK" if failures == 0 else f"{failures} failures")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
