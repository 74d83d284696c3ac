#!/usr/bin/env python3
"""Reference data for torchvision resnet18/34/50/101/152 with seeded random weights.

    gen_torchvision.py OUTDIR [--force] [--depths 18 50 ...]

Writes, per depth D:
  OUTDIR/tv_resnet{D}.safetensors     full state_dict, torchvision names and layouts (OIHW,
                                      fc [1000, C]), num_batches_tracked kept as I64
  OUTDIR/tv_resnet{D}_io.safetensors  for S in 224x224, 193x257 (H x W), batch 2:
      input_S  [2,3,H,W]  seeded N(0,1), NCHW float32
      logits_S [2,1000]
      pooled_S [2,C]      global average pool of layer4 (fc input)
      fmap_S   [2,C,h,w]  layer4 output, NCHW
All computed in float32, eval mode, no grad, 2 threads. Skips a depth whose outputs were
written by this script and helpers as they are now (torch_reference.up_to_date).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_reference as ref  # noqa: E402

DEPTHS = (18, 34, 50, 101, 152)
SEED_BASE = 1000


def randomize(torch, model, seed):
    """Seeded weights with non-trivial BN statistics (see ref.random_bn_stats)."""
    import torchvision
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    last_bns = set()
    for m in model.modules():
        if isinstance(m, torchvision.models.resnet.BasicBlock):
            last_bns.add(id(m.bn2))
        elif isinstance(m, torchvision.models.resnet.Bottleneck):
            last_bns.add(id(m.bn3))
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.weight.copy_(ref.kaiming_normal(torch, tuple(m.weight.shape), g))
        elif isinstance(m, torch.nn.BatchNorm2d):
            gamma, beta, mean, var = ref.random_bn_stats(torch, m.num_features, g,
                                                         id(m) in last_bns)
            m.weight.copy_(gamma)
            m.bias.copy_(beta)
            m.running_mean.copy_(mean)
            m.running_var.copy_(var)
            # Non-zero so a loader that reads it as data instead of skipping it shows up.
            m.num_batches_tracked.fill_(seed)
        elif isinstance(m, torch.nn.Linear):
            m.weight.copy_(torch.randn(m.weight.shape, generator=g) / m.in_features ** 0.5)
            m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))


def forward_parts(model, x):
    """(fmap, pooled, logits) following torchvision's ResNet._forward_impl."""
    import torch
    h = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    fmap = model.layer4(model.layer3(model.layer2(model.layer1(h))))
    pooled = torch.flatten(model.avgpool(fmap), 1)
    return fmap, pooled, model.fc(pooled)


def generate(outdir, depth, torch):
    import torchvision
    seed = SEED_BASE + depth
    model = getattr(torchvision.models, f"resnet{depth}")(weights=None).eval()
    randomize(torch, model, seed)
    state = model.state_dict()
    weights_path = os.path.join(outdir, f"tv_resnet{depth}.safetensors")
    ref.write_safetensors(weights_path, state, {"source": "torch", "format": "pt",
                                                "variant": f"resnet{depth}",
                                                "seed": str(seed)})
    io = {}
    for k, (label, h, w) in enumerate(ref.SIZES):
        x = ref.random_input(torch, seed * 10 + k, h, w)
        fmap, pooled, logits = forward_parts(model, x)
        # The split forward must be the model's own forward.
        assert torch.equal(logits, model(x)), f"resnet{depth}: split forward differs"
        assert fmap.shape[2:] == ((h + 31) // 32, (w + 31) // 32), fmap.shape
        io[f"input_{label}"] = x
        io[f"logits_{label}"] = logits
        io[f"pooled_{label}"] = pooled
        io[f"fmap_{label}"] = fmap.contiguous()
        print(f"  resnet{depth} {label}: fmap {list(fmap.shape)} std {fmap.std():.3f}, "
              f"pooled std {pooled.std():.3f}, logits std {logits.std():.3f} "
              f"max|.| {logits.abs().max():.3f}", flush=True)
    io_path = os.path.join(outdir, f"tv_resnet{depth}_io.safetensors")
    ref.write_safetensors(io_path, io, {"source": "torch", "variant": f"resnet{depth}",
                                        "layout": "NCHW"})
    return [weights_path, io_path], len(state), sum(p.numel() for p in model.parameters())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir")
    parser.add_argument("--force", action="store_true", help="regenerate even if up to date")
    parser.add_argument("--depths", type=int, nargs="+", default=list(DEPTHS))
    args = parser.parse_args()
    sources = ref.sources_of(os.path.abspath(__file__))
    # Spec 2.1 / 7.2: state_dict entries and trainable parameter counts.
    expected = {18: (122, 11_689_512), 34: (218, 21_797_672), 50: (320, 25_557_032),
                101: (626, 44_549_160), 152: (932, 60_192_808)}
    pending = []
    for depth in args.depths:
        outputs = [os.path.join(args.outdir, f"tv_resnet{depth}{s}.safetensors")
                   for s in ("", "_io")]
        if not args.force and ref.up_to_date(outputs, sources):
            print(f"resnet{depth}: up to date")
        else:
            pending.append(depth)
    if not pending:
        return
    torch = ref.setup_torch()  # imported only when there is work: keeps re-runs fast
    os.makedirs(args.outdir, exist_ok=True)
    for depth in pending:
        print(f"resnet{depth}:", flush=True)
        with ref.Timer(f"resnet{depth} total"):
            paths, entries, params = generate(args.outdir, depth, torch)
        assert (entries, params) == expected[depth], (depth, entries, params)
        ref.mark_up_to_date(paths, sources)
        print(f"  {entries} tensors, {params:,} parameters, "
              f"{ref.file_size_mb(paths):.1f} MB written", flush=True)


if __name__ == "__main__":
    main()
