#!/usr/bin/env python3
"""Reference data for torchvision's ResNeXt and Wide ResNet with seeded random weights.

    gen_resnext.py OUTDIR [--force] [--models resnext50_32x4d ...]

Writes, per model M (torchvision's name):
  OUTDIR/tv_M.safetensors     full state_dict, torchvision names and layouts (grouped
                              convs [out, in/groups, k, k]), num_batches_tracked as I64
  OUTDIR/tv_M_io.safetensors  as gen_torchvision.py: input_S, logits_S, pooled_S, fmap_S
                              for S in 224x224, 193x257, batch 2, NCHW
Float32, eval mode, no grad, 2 threads; one forward per size. torchvision's own weight
initialisation is skipped (every tensor is overwritten by the seeded draw), which halves
the time to build the 127M-parameter wide_resnet101_2. Skips a model whose outputs are up
to date (torch_reference.up_to_date).
"""

import argparse
import contextlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_reference as ref  # noqa: E402

# name: (seed, state_dict entries, trainable parameters = torchvision's num_params)
MODELS = {
    "resnext50_32x4d": (2050, 320, 25_028_904),
    "resnext101_32x8d": (2101, 626, 88_791_336),
    "resnext101_64x4d": (2164, 626, 83_455_272),
    "wide_resnet50_2": (2250, 320, 68_883_240),
    "wide_resnet101_2": (2201, 626, 126_886_696),
}


@contextlib.contextmanager
def no_default_init(torch):
    """Module constructors leave their tensors uninitialised (randomize fills them all)."""
    init = torch.nn.init
    names = ("kaiming_normal_", "kaiming_uniform_", "uniform_", "normal_", "constant_", "ones_", "zeros_")
    saved = {n: getattr(init, n) for n in names}
    for n in names:
        setattr(init, n, lambda tensor, *args, **kwargs: tensor)
    try:
        yield
    finally:
        for n, f in saved.items():
            setattr(init, n, f)


def randomize(torch, model, seed):
    """He-normal convs (fan-in of a group), non-trivial BN statistics with a small gamma on
    each block's last BN (ref.random_bn_stats), a scaled random classifier."""
    import torchvision
    g = torch.Generator().manual_seed(seed)
    last_bns = {id(m.bn3) for m in model.modules() if isinstance(m, torchvision.models.resnet.Bottleneck)}
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            # He-normal as ref.kaiming_normal, drawn in place: a copy of 400M floats costs
            # as much as a third of drawing them on this machine.
            o, i, kh, kw = m.weight.shape
            m.weight.normal_(0.0, (2.0 / (i * kh * kw)) ** 0.5, generator=g)
        elif isinstance(m, torch.nn.BatchNorm2d):
            for t, v in zip((m.weight, m.bias, m.running_mean, m.running_var),
                            ref.random_bn_stats(torch, m.num_features, g, id(m) in last_bns)):
                t.copy_(v)
            m.num_batches_tracked.fill_(seed)  # non-zero: a loader reading it as data shows up
        elif isinstance(m, torch.nn.Linear):
            m.weight.copy_(torch.randn(m.weight.shape, generator=g) / m.in_features ** 0.5)
            m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))


def generate(outdir, name, seed, torch):
    import torchvision
    with no_default_init(torch):
        model = getattr(torchvision.models, name)(weights=None).eval()
    randomize(torch, model, seed)
    state = model.state_dict()
    weights_path = os.path.join(outdir, f"tv_{name}.safetensors")
    ref.write_safetensors(weights_path, state, {"source": "torch", "format": "pt", "variant": name,
                                                "seed": str(seed)})
    io = {}
    for k, (label, h, w) in enumerate(ref.SIZES):
        x = ref.random_input(torch, seed * 10 + k, h, w)
        # torchvision's ResNet._forward_impl, split where the library's outputs are.
        fmap = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        fmap = model.layer4(model.layer3(model.layer2(model.layer1(fmap))))
        pooled = torch.flatten(model.avgpool(fmap), 1)
        logits = model.fc(pooled)
        io.update({f"input_{label}": x, f"logits_{label}": logits, f"pooled_{label}": pooled,
                   f"fmap_{label}": fmap.contiguous()})
        print(f"  {name} {label}: fmap std {fmap.std():.3f}, logits std {logits.std():.3f}", flush=True)
    io_path = os.path.join(outdir, f"tv_{name}_io.safetensors")
    ref.write_safetensors(io_path, io, {"source": "torch", "variant": name, "layout": "NCHW"})
    return [weights_path, io_path], len(state), sum(p.numel() for p in model.parameters())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir")
    parser.add_argument("--force", action="store_true", help="regenerate even if up to date")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    sources = ref.sources_of(os.path.abspath(__file__))
    outputs = {n: [os.path.join(args.outdir, f"tv_{n}{s}.safetensors") for s in ("", "_io")]
               for n in args.models}
    pending = [n for n in args.models if args.force or not ref.up_to_date(outputs[n], sources)]
    for n in args.models:
        if n not in pending:
            print(f"{n}: up to date")
    if not pending:
        return
    torch = ref.setup_torch()  # imported only when there is work
    os.makedirs(args.outdir, exist_ok=True)
    for name in pending:
        seed, entries, params = MODELS[name]
        with ref.Timer(f"{name} total"):
            paths, got_entries, got_params = generate(args.outdir, name, seed, torch)
        assert (got_entries, got_params) == (entries, params), (name, got_entries, got_params)
        ref.mark_up_to_date(paths, sources)
        print(f"  {got_entries} tensors, {got_params:,} parameters, {ref.file_size_mb(paths):.1f} MB", flush=True)


if __name__ == "__main__":
    main()
