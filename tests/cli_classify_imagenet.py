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
MIN_AGREEMENT = 0.99  # the reduced-precision scripts: top-1 as PyTorch's in that precision on 99% of the photos


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


def command_line():
    """RESNET REFERENCE_DIR SHARED_DATA_DIR, as every ImageNet script takes them, with the
    references: (resnet, refdir, weights, fp32 probabilities, photo paths), or None when
    the references or photos are absent (skip)."""
    resnet, refdir, shared = sys.argv[1:4]
    found = references(refdir, shared)
    return None if found is None else (resnet, refdir, *found)


def cached_torch_probs(refdir, name, sources, files, logits_of):
    """PyTorch's softmax on the photos in a reduced precision, cached as refdir/name and
    recomputed when `sources` (files, by contents) change: logits_of(torch, model, x) gets
    the fixture's ResNet-50 (eval mode) and the photos as PIL + torchvision preprocess
    them (Resize(256), CenterCrop(224), ToTensor, Normalize), NCHW."""
    import numpy as np
    import torch_reference as ref
    from torch_reference import safetensors_io
    out = os.path.join(refdir, name)
    sources = sources + [os.path.join(refdir, "imagenet_probs.safetensors"), os.path.abspath(__file__)]
    if ref.up_to_date([out], sources):
        return safetensors_io.read_with_metadata(out)[0]["probs"]
    torch = ref.setup_torch()
    import torchvision
    from PIL import Image
    from torchvision import transforms as T
    state, _ = safetensors_io.read_with_metadata(os.path.join(refdir, "resnet50.safetensors"))
    model = torchvision.models.resnet50()
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()})
    model.eval()
    pipeline = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                          T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    batch = []
    for path in files:
        with Image.open(path) as im:
            batch.append(pipeline(im.convert("RGB")))
    logits = logits_of(torch, model, torch.stack(batch))
    probs = torch.softmax(logits.float(), dim=1).numpy().astype(np.float32)
    ref.write_safetensors(out, {"probs": probs})
    ref.mark_up_to_date([out], sources)
    return probs


def run_resnet(args, what):
    """Runs the resnet command: (stdout, None) when it succeeds, else (None, the exit status
    to end with): 77 (skipped) when the CPU or build lacks the precision, 1 otherwise."""
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode == 0:
        return out.stdout, None
    print(out.stdout + out.stderr)
    if "unsupported_cpu" in out.stderr:
        print(f"skipped: no {what} here")
        return None, 77
    print(f"FAIL: {what}: exit status {out.returncode}")
    return None, 1


def compare_reduced(stdout, files, reference, fp32, top, tolerance, min_agreement, name, context):
    """Checks a reduced-precision `resnet classify --top TOP` output against PyTorch's
    probabilities in that precision (`reference`, called `name`): top-1 equal on at least
    `min_agreement` of the photos, every printed probability within `tolerance`. Prints
    how far each side is from fp32 on the printed classes; returns the exit status."""
    got = parse_classify(stdout)
    agree, agree_fp32, worst, torch_worst, our_worst, failures = 0, 0, 0.0, 0.0, 0.0, []
    for i, path in enumerate(files):
        rows = got.get(path) or []
        if len(rows) != top:
            failures.append(f"{path}: expected {top} predictions, got {rows}")
            continue
        agree += rows[0][0] == int(reference[i].argmax())
        agree_fp32 += rows[0][0] == int(fp32[i].argmax())
        for index, label, p in rows:
            worst = max(worst, abs(p - float(reference[i][index])))
            torch_worst = max(torch_worst, abs(float(reference[i][index]) - float(fp32[i][index])))
            our_worst = max(our_worst, abs(p - float(fp32[i][index])))
            if abs(p - float(reference[i][index])) > tolerance:
                failures.append(f"{path}: P({label}) = {p:.4f}, {name} {reference[i][index]:.6f}")
    n = len(files)
    torch_agree = sum(int(reference[i].argmax()) == int(fp32[i].argmax()) for i in range(n))
    print(f"{n} photos, {context}: our top-1 is {name}'s on {agree}, PyTorch fp32's on {agree_fp32} ({name} vs "
          f"fp32: {torch_agree}); largest printed probability difference {worst:.4f} from {name} (on the same "
          f"classes {name} is {torch_worst:.4f} from fp32, ours {our_worst:.4f}; tolerance {tolerance})")
    if agree < min_agreement * n:
        failures.append(f"top-1 agrees on {agree} of {n}, fewer than {min_agreement:.0%}")
    for f in failures:
        print("FAIL: " + f)
    return 0 if not failures else 1


def main():
    found = command_line()
    if found is None:
        return 77
    resnet, _, weights, probs, paths = found

    stdout, status = run_resnet([resnet, "classify", "resnet50", "--weights", weights, "--top", str(TOP),
                                 "--threads", "2", *paths], "classify")
    if stdout is None:
        return status
    got = parse_classify(stdout)
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
