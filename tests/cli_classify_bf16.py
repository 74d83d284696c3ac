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
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "python"))
from cli_classify import parse_classify  # noqa: E402
from cli_classify_imagenet import references  # noqa: E402

TOP = 5
TOLERANCE = 0.03
MIN_AGREEMENT = 0.99


def torch_bf16_probs(refdir, shared, files):
    import numpy as np
    import torch_reference as ref
    out = os.path.join(refdir, "imagenet_probs_bf16.safetensors")
    sources = [os.path.abspath(__file__), os.path.join(refdir, "imagenet_probs.safetensors")]
    sources.append(os.path.join(HERE, "cli_classify_imagenet.py"))
    if ref.up_to_date([out], sources):
        from torch_reference import safetensors_io
        return safetensors_io.read_with_metadata(out)[0]["probs"]
    torch = ref.setup_torch()
    import torchvision
    from PIL import Image
    from torchvision import transforms as T
    from torch_reference import safetensors_io
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
    x = torch.stack(batch)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = torch.cat([model(x[i:i + 4]) for i in range(0, len(files), 4)])
    probs = torch.softmax(logits.float(), dim=1).numpy().astype(np.float32)
    ref.write_safetensors(out, {"probs": probs})
    ref.mark_up_to_date([out], sources)
    return probs


def main():
    resnet, refdir, shared = sys.argv[1:4]
    layers = sys.argv[4] if len(sys.argv) > 4 else "all"
    found = references(refdir, shared)
    if found is None:
        return 77
    weights, fp32, files = found

    out = subprocess.run([resnet, "classify", "resnet50", "--weights", weights, "--top", str(TOP), "--threads", "2",
                          "--precision", "bf16", "--lowp-layers", layers, *files], capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stdout + out.stderr)
        if "unsupported_cpu" in out.stderr:
            print("skipped: no bf16 here")
            return 77
        print(f"FAIL: exit status {out.returncode}")
        return 1
    bf16 = torch_bf16_probs(refdir, shared, files)
    got = parse_classify(out.stdout)

    agree, agree_fp32, worst, torch_worst, our_worst, failures = 0, 0, 0.0, 0.0, 0.0, []
    for i, path in enumerate(files):
        rows = got.get(path) or []
        if len(rows) != TOP:
            failures.append(f"{path}: expected {TOP} predictions, got {rows}")
            continue
        agree += rows[0][0] == int(bf16[i].argmax())
        agree_fp32 += rows[0][0] == int(fp32[i].argmax())
        for index, label, p in rows:
            worst = max(worst, abs(p - float(bf16[i][index])))
            torch_worst = max(torch_worst, abs(float(bf16[i][index]) - float(fp32[i][index])))
            our_worst = max(our_worst, abs(p - float(fp32[i][index])))
            if abs(p - float(bf16[i][index])) > TOLERANCE:
                failures.append(f"{path}: P({label}) = {p:.4f}, PyTorch bf16 {bf16[i][index]:.6f}")
    n = len(files)
    torch_agree = sum(int(bf16[i].argmax()) == int(fp32[i].argmax()) for i in range(n))
    print(f"{n} photos, --lowp-layers {layers}: our bf16 top-1 is PyTorch bf16's on {agree}, PyTorch fp32's on "
          f"{agree_fp32} (PyTorch bf16 vs fp32: {torch_agree}); largest printed probability difference "
          f"{worst:.4f} from PyTorch bf16 (on the same classes PyTorch bf16 is {torch_worst:.4f} from fp32, ours "
          f"{our_worst:.4f}; tolerance {TOLERANCE})")
    if agree < MIN_AGREEMENT * n:
        failures.append(f"top-1 agrees on {agree} of {n}, fewer than {MIN_AGREEMENT:.0%}")
    for f in failures:
        print("FAIL: " + f)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
