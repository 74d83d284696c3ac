#!/usr/bin/env python3
"""Converts the akamaster CIFAR-10 checkpoints with tools/convert_torch.py and writes
reference outputs for them.

    gen_cifar.py OUTDIR [SHARED_DATA_DIR] [--force]

SHARED_DATA_DIR defaults to <repo>/../shared/data; when its cifar10/checkpoints folder is
missing the script says so and exits 0 (nothing to convert).

Writes, per depth D in 20, 32, 44, 56:
  OUTDIR/cifar_resnet{D}.safetensors     the converted checkpoint (`module.` stripped)
  OUTDIR/cifar_resnet{D}_io.safetensors  batch 2, 32x32 (sample 0 = the docs/spec.md 7.7 pattern
                                         image, sample 1 = N(0,1)):
      input_32x32 [2,3,32,32], logits_32x32 [2,10], pooled_32x32 [2,64],
      fmap_32x32 [2,64,8,8] (layer3 output, NCHW)
The converted files are checked against docs/spec.md 2.3 / 7.7 (tensor and parameter counts,
conv1.weight sums) and the PyTorch re-implementation of the option-A network must
reproduce the golden logits of docs/spec.md 7.7 to 1e-4.
"""

import argparse
import glob
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_reference as ref  # noqa: E402
from torch_reference import safetensors_io  # noqa: E402

REPO = os.path.normpath(os.path.join(ref.HERE, "..", ".."))
CONVERTER = os.path.join(ref.TOOLS, "convert_torch.py")
DEPTHS = (20, 32, 44, 56)

# Spec 2.3 and 7.7: (state_dict entries, parameters, sum of conv1.weight, golden logits).
SPEC = {
    20: (97, 269_722, 1.3100982, [7.238957, 4.334517, -4.137290, 0.413599, -19.762194,
                                  8.409420, 1.511909, -4.687288, 1.021632, 5.611602]),
    32: (157, 464_154, 1.9611480, [11.786994, 4.451186, 2.057333, -6.534715, -12.392191,
                                   -2.678949, 2.239415, -7.222591, 1.950963, 6.343472]),
    44: (217, 658_586, 1.5442718, [7.744858, 4.537485, -5.792151, -1.059172, -7.783817,
                                   3.342970, -3.315772, -9.356305, 15.146027, -3.530226]),
    56: (277, 853_018, -2.5577812, [13.764550, 2.124181, -5.463790, -2.563520, -11.030157,
                                    -3.558962, -1.761678, -5.369875, 9.673777, 4.138619]),
}
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def pattern_image():
    """Spec 7.7: u8[c][h][w] = (37c + 11h + 7w) mod 256, ImageNet-normalised, float32."""
    c, h, w = np.meshgrid(np.arange(3), np.arange(32), np.arange(32), indexing="ij")
    u8 = ((37 * c + 11 * h + 7 * w) % 256).astype(np.float32)
    return ((u8 / np.float32(255.0) - MEAN[:, None, None]) / STD[:, None, None]).astype(
        np.float32)


def cifar_forward(torch, w, x):
    """akamaster ResNet with option-A shortcuts (docs/spec.md 1.4), from the converted tensors."""
    F = torch.nn.functional

    def bn(h, name):
        return F.batch_norm(h, w[f"{name}.running_mean"], w[f"{name}.running_var"],
                            w[f"{name}.weight"], w[f"{name}.bias"], training=False, eps=1e-5)

    h = F.relu(bn(F.conv2d(x, w["conv1.weight"], padding=1), "bn1"))
    for stage in (1, 2, 3):
        b = 0
        while f"layer{stage}.{b}.conv1.weight" in w:
            p = f"layer{stage}.{b}"
            conv1 = w[f"{p}.conv1.weight"]
            planes, cin = conv1.shape[0], conv1.shape[1]
            stride = 2 if (stage > 1 and b == 0) else 1
            y = F.relu(bn(F.conv2d(h, conv1, stride=stride, padding=1), f"{p}.bn1"))
            y = bn(F.conv2d(y, w[f"{p}.conv2.weight"], padding=1), f"{p}.bn2")
            if stride != 1 or cin != planes:
                # Option A: even rows/columns, zero channels split on both sides.
                sc = h[:, :, ::2, ::2]
                sc = F.pad(sc, (0, 0, 0, 0, planes // 4, planes // 4))
            else:
                sc = h
            h = F.relu(y + sc)
            b += 1
    pooled = F.avg_pool2d(h, h.shape[3]).flatten(1)
    return h, pooled, F.linear(pooled, w["linear.weight"], w["linear.bias"])


def generate(torch, outdir, depth, checkpoint):
    weights_path = os.path.join(outdir, f"cifar_resnet{depth}.safetensors")
    io_path = os.path.join(outdir, f"cifar_resnet{depth}_io.safetensors")
    tmp = ref.temporary_name(weights_path)
    # These legacy pickles need the full unpickler (torch 1.13's weights_only loader rejects
    # them); the files are the project's own test data.
    result = subprocess.run([sys.executable, CONVERTER, checkpoint, tmp, "--allow-pickle",
                             "--variant", f"cifar_resnet{depth}"], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"gen_cifar: converting {checkpoint} failed:\n{result.stderr}")
    print("  " + result.stdout.strip())
    tensors, metadata = safetensors_io.read_with_metadata(tmp)
    entries, params, conv1_sum, golden = SPEC[depth]
    assert metadata == {"source": "torch", "format": "pt", "variant": f"cifar_resnet{depth}"}
    assert len(tensors) == entries, (depth, len(tensors))
    assert not any(k.startswith("module.") for k in tensors)
    n_params = sum(v.size for k, v in tensors.items() if not k.endswith(("running_mean",
                                                                         "running_var")))
    assert n_params == params, (depth, n_params)
    assert abs(float(tensors["conv1.weight"].astype(np.float64).sum()) - conv1_sum) < 1e-5

    w = {k: torch.from_numpy(v.copy()) for k, v in tensors.items()}
    g = torch.Generator().manual_seed(3000 + depth)
    x = torch.stack([torch.from_numpy(pattern_image()),
                     torch.randn(3, 32, 32, generator=g)])
    fmap, pooled, logits = cifar_forward(torch, w, x)
    err = float((logits[0] - torch.tensor(golden)).abs().max())
    assert err <= 1e-4, (depth, err, logits[0].tolist())
    print(f"  cifar_resnet{depth}: golden logits reproduced (max |diff| {err:.2e})")
    os.replace(tmp, weights_path)
    ref.write_safetensors(io_path, {"input_32x32": x, "logits_32x32": logits,
                                    "pooled_32x32": pooled, "fmap_32x32": fmap.contiguous()},
                          {"source": "torch", "variant": f"cifar_resnet{depth}",
                           "layout": "NCHW"})
    return [weights_path, io_path]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir")
    parser.add_argument("shared_data", nargs="?",
                        default=os.path.join(REPO, "..", "shared", "data"))
    parser.add_argument("--force", action="store_true", help="regenerate even if up to date")
    args = parser.parse_args()
    folder = os.path.join(args.shared_data, "cifar10", "checkpoints")
    if not os.path.isdir(folder):
        print(f"gen_cifar: {folder} not found; skipping the CIFAR checkpoints")
        return
    pending = []
    for depth in DEPTHS:
        found = sorted(glob.glob(os.path.join(folder, f"resnet{depth}-*.th")))
        if not found:
            print(f"resnet{depth}: no checkpoint in {folder}; skipped")
            continue
        outputs = [os.path.join(args.outdir, f"cifar_resnet{depth}{s}.safetensors")
                   for s in ("", "_io")]
        sources = ref.sources_of(os.path.abspath(__file__), CONVERTER, found[0])
        if not args.force and ref.up_to_date(outputs, sources):
            print(f"cifar_resnet{depth}: up to date")
        else:
            pending.append((depth, found[0], sources))
    if not pending:
        return
    torch = ref.setup_torch()  # imported only when there is work: keeps re-runs fast
    os.makedirs(args.outdir, exist_ok=True)
    for depth, checkpoint, sources in pending:
        print(f"cifar_resnet{depth}:", flush=True)
        with ref.Timer(f"cifar_resnet{depth} total"):
            paths = generate(torch, args.outdir, depth, checkpoint)
        ref.mark_up_to_date(paths, sources)
        print(f"  {ref.file_size_mb(paths):.2f} MB written", flush=True)


if __name__ == "__main__":
    main()
