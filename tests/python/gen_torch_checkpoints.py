#!/usr/bin/env python3
"""Writes PyTorch checkpoints with torch.save (Debian's python3-torch) for the C++ reader.

    gen_torch_checkpoints.py OUTDIR [--force]

One seeded CIFAR ResNet-20 state dict (torchvision names, `linear` head, non-trivial BN
statistics, num_batches_tracked counters), saved as (in OUTDIR/torch_checkpoints/):
  c20_{f32,f16,bf16,f64}_{zip,legacy}.pth   every float tensor in that dtype, in the zip
                                            format and in the legacy stream format
                                            (_use_new_zipfile_serialization=False)
  c20_nested_module_zip.pth                 {'epoch', 'best_prec1', 'state_dict': {'module.' + name}}
  c20_nested_model_legacy.pth               {'model': state dict, 'arch': 'resnet20'}
  c20_views_{zip,legacy}.pth                every float tensor a view into one shared storage
                                            (at an offset); conv kernels non-contiguous
                                            (an NHWC buffer permuted to OIHW)
  c20_parameters_zip.pth                    nn.Parameter values (torch._utils._rebuild_parameter)
  c20_head_legacy.pth                       linear.weight and linear.bias only (Network::load_head)
  c20_{f32,f16,bf16,f64}.safetensors        the same values as float32, the reference
  c20_io.safetensors                        input [2, 3, 32, 32] (the docs/spec.md 7.7 pattern and
                                            N(0, 1)) and PyTorch's logits_{dtype} [2, 10]
Each file is checked to load back with torch.load to the values it should hold.
"""

import argparse
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_reference as ref  # noqa: E402
import gen_cifar  # noqa: E402

DTYPES = ("f32", "f16", "bf16", "f64")


def state_dict(torch):
    g = torch.Generator().manual_seed(1120)
    sd = collections.OrderedDict()

    def conv(name, o, i):
        sd[name + ".weight"] = ref.kaiming_normal(torch, (o, i, 3, 3), g)

    def bn(name, c, last=False):
        gamma, beta, mean, var = ref.random_bn_stats(torch, c, g, last)
        sd[name + ".weight"], sd[name + ".bias"] = gamma, beta
        sd[name + ".running_mean"], sd[name + ".running_var"] = mean, var
        sd[name + ".num_batches_tracked"] = torch.tensor(1000 + len(sd))

    conv("conv1", 16, 3)
    bn("bn1", 16)
    cin = 16
    for s, planes in enumerate((16, 32, 64)):
        for b in range(3):
            p = f"layer{s + 1}.{b}"
            conv(p + ".conv1", planes, cin)
            bn(p + ".bn1", planes)
            conv(p + ".conv2", planes, planes)
            bn(p + ".bn2", planes, last=True)
            cin = planes
    sd["linear.weight"] = 0.1 * torch.randn(10, 64, generator=g)
    sd["linear.bias"] = 0.1 * torch.randn(10, generator=g)
    return sd


def cast(torch, sd, dtype):
    target = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16, "f64": torch.float64}[dtype]
    return collections.OrderedDict((k, v.to(target) if v.is_floating_point() else v) for k, v in sd.items())


def as_views(torch, sd):
    """Every float tensor a view of one shared storage; conv kernels stored NHWC, viewed OIHW."""
    parts, layout = [], []
    offset = 0
    for k, v in sd.items():
        if not v.is_floating_point():
            continue
        stored = v.permute(0, 2, 3, 1).contiguous() if v.dim() == 4 else v
        parts.append(stored.flatten())
        layout.append((k, offset, stored.shape, v.dim() == 4))
        offset += v.numel()
    flat = torch.cat(parts)
    out = collections.OrderedDict(sd)
    for k, start, shape, nhwc in layout:
        view = flat[start:start + shape.numel()].view(shape)
        out[k] = view.permute(0, 3, 1, 2) if nhwc else view
        assert torch.equal(out[k], sd[k])
    assert not out["conv1.weight"].is_contiguous() and out["bn1.bias"].storage_offset() > 0
    return out


def save(torch, obj, path, legacy):
    ref.replace_atomically(path, lambda tmp: torch.save(obj, tmp, _use_new_zipfile_serialization=not legacy))


def check(torch, path, expected, unwrap=lambda o: o):
    loaded = unwrap(torch.load(path, map_location="cpu"))
    assert list(loaded.keys()) == list(expected.keys()), path
    for k, v in expected.items():
        assert loaded[k].dtype == v.dtype and torch.equal(loaded[k], v), (path, k)


def generate(torch, outdir):
    sd = state_dict(torch)
    x = gen_cifar.pattern_image()
    g = torch.Generator().manual_seed(1121)
    x = torch.stack([torch.from_numpy(x), torch.randn(3, 32, 32, generator=g)])
    io = {"input": x}
    paths = []

    def out(name):
        paths.append(os.path.join(outdir, name))
        return paths[-1]

    for dtype in DTYPES:
        typed = cast(torch, sd, dtype)
        for fmt in ("zip", "legacy"):
            path = out(f"c20_{dtype}_{fmt}.pth")
            save(torch, typed, path, fmt == "legacy")
            check(torch, path, typed)
        f32 = {k: v.float() for k, v in typed.items() if v.is_floating_point()}
        ref.write_safetensors(out(f"c20_{dtype}.safetensors"), f32)
        io["logits_" + dtype] = gen_cifar.cifar_forward(torch, f32, x)[2]

    nested = {"epoch": 9, "best_prec1": 91.5,
              "state_dict": collections.OrderedDict(("module." + k, v) for k, v in sd.items())}
    path = out("c20_nested_module_zip.pth")
    save(torch, nested, path, False)
    check(torch, path, nested["state_dict"], lambda o: o["state_dict"])
    path = out("c20_nested_model_legacy.pth")
    save(torch, {"model": sd, "arch": "resnet20"}, path, True)
    check(torch, path, sd, lambda o: o["model"])

    views = as_views(torch, sd)
    for fmt in ("zip", "legacy"):
        path = out(f"c20_views_{fmt}.pth")
        save(torch, views, path, fmt == "legacy")
        check(torch, path, sd)
    params = collections.OrderedDict(
        (k, torch.nn.Parameter(v, requires_grad=False) if v.is_floating_point() else v) for k, v in sd.items())
    path = out("c20_parameters_zip.pth")
    save(torch, params, path, False)
    check(torch, path, sd)
    head = collections.OrderedDict((k, v) for k, v in sd.items() if k.startswith("linear."))
    path = out("c20_head_legacy.pth")
    save(torch, head, path, True)
    check(torch, path, head)
    ref.write_safetensors(out("c20_io.safetensors"), io, {"source": "torch", "layout": "NCHW"})
    return paths


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir")
    parser.add_argument("--force", action="store_true", help="regenerate even if up to date")
    args = parser.parse_args()
    outdir = os.path.join(args.outdir, "torch_checkpoints")
    outputs = [os.path.join(outdir, "c20_io.safetensors")]
    sources = ref.sources_of(os.path.abspath(__file__), os.path.abspath(gen_cifar.__file__))
    if not args.force and ref.up_to_date(outputs, sources):
        print("torch checkpoints: up to date")
        return
    torch = ref.setup_torch()
    os.makedirs(outdir, exist_ok=True)
    with ref.Timer("torch checkpoints"):
        paths = generate(torch, outdir)
    ref.mark_up_to_date(outputs, sources)
    print(f"  {len(paths)} files, {ref.file_size_mb(paths):.1f} MB written")


if __name__ == "__main__":
    main()
