#!/usr/bin/env python3
"""`resnet classify` on the 200 ImageNet photos against PyTorch + PIL + torchvision.

    cli_classify_imagenet.py RESNET REFERENCE_DIR SHARED_DATA_DIR

REFERENCE_DIR holds what tests/python/gen_pil_ref.py wrote: resnet50.safetensors (a seeded
random ResNet-50 whose logits have standard deviation 3, so probabilities are far from
uniform) and imagenet_probs.safetensors (PyTorch's softmax after Resize(256),
CenterCrop(224), ToTensor, Normalize on PIL images). Every photo's printed top-1 must be
PyTorch's and every printed probability within 1e-4 of PyTorch's.
Exit 77 (skipped) when the photos or the references are absent.
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "python"))
from cli_classify import compare_rows, parse_classify  # noqa: E402

TOP = 5


def references(refdir, shared):
    """(weights path, PyTorch's fp32 probabilities, photo paths) from the pil_data fixture,
    or None, saying why, when they or the photos are absent."""
    weights = os.path.join(refdir, "resnet50.safetensors")
    probs_path = os.path.join(refdir, "imagenet_probs.safetensors")
    if not os.path.isfile(weights) or not os.path.isfile(probs_path):
        print(f"skipped: {weights} or {probs_path} is absent (the gen_pil_ref fixture writes them)")
        return None
    from torch_reference import safetensors_io
    tensors, metadata = safetensors_io.read_with_metadata(probs_path)
    paths = [os.path.join(shared, f) for f in metadata["files"].split("\n")]
    if not paths or not all(os.path.isfile(p) for p in paths):
        print(f"skipped: the ImageNet photos under {shared} are absent")
        return None
    return weights, tensors["probs"], paths


def main():
    resnet, refdir, shared = sys.argv[1:4]
    found = references(refdir, shared)
    if found is None:
        return 77
    weights, probs, paths = found

    out = subprocess.run([resnet, "classify", "resnet50", "--weights", weights, "--top", str(TOP),
                          "--threads", "2", *paths], capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stdout + out.stderr)
        print(f"FAIL: exit status {out.returncode}")
        return 1
    got = parse_classify(out.stdout)
    failures, worst = [], 0.0
    for i, path in enumerate(paths):
        rows = got.get(path)
        failures += compare_rows(path, rows, probs[i], TOP)
        for index, _, p in rows or []:
            worst = max(worst, abs(p - probs[i][index]))
    for f in failures:
        print("FAIL: " + f)
    print(f"{len(paths)} photos: top-1 as PyTorch's in {len(paths) - sum('top-1' in f for f in failures)}, "
          f"largest printed probability difference {worst:.2e} (print resolution 1e-4)")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
