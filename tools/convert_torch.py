#!/usr/bin/env python3
"""Converts a PyTorch checkpoint to safetensors, keeping the state_dict names (docs/spec.md 4.1, 4.4, 4.7).

Accepts torchvision/timm state dicts (.pth, zip or legacy container), dicts that hold the
state dict under 'state_dict' or 'model', and the akamaster CIFAR checkpoints whose keys
carry the DataParallel prefix `module.` (stripped). Layouts are kept (OIHW convs,
[out, in] linear). num_batches_tracked stays as an I64 scalar unless
--drop-num-batches-tracked is given.

    convert_torch.py IN OUT.safetensors [--variant NAME] [--drop-num-batches-tracked]
                     [--allow-pickle]
"""

import argparse
import os
import sys
from collections import OrderedDict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402


class ConversionError(Exception):
    pass


def load_checkpoint(path, allow_pickle=False):
    """torch.load on CPU; only the tensor-safe unpickler unless allow_pickle is set."""
    import torch
    if not os.path.isfile(path):
        raise ConversionError(f"{path}: no such file")
    try:
        if allow_pickle:
            return torch.load(path, map_location="cpu")
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for foreign files
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        if not allow_pickle and "weights_only" in str(e):
            raise ConversionError(
                f"{path}: the checkpoint holds objects other than tensors and plain containers "
                f"({text}); rerun with --allow-pickle if you trust the file") from None
        raise ConversionError(f"{path}: not a PyTorch checkpoint ({type(e).__name__}: {text})") \
            from None


def _is_tensor_dict(obj):
    import torch
    return isinstance(obj, dict) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def extract_state_dict(obj, path="checkpoint"):
    """Finds the state dict inside a loaded checkpoint object."""
    import torch
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if _is_tensor_dict(obj):
        return obj
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state_dict", "module"):
            if key in obj:
                inner = obj[key]
                if isinstance(inner, torch.nn.Module):
                    return inner.state_dict()
                if _is_tensor_dict(inner):
                    return inner
        keys = ", ".join(repr(k) for k in list(obj)[:8])
        raise ConversionError(
            f"{path}: no state dict found (top-level keys: {keys}); expected tensors, or a "
            f"dict with 'state_dict' or 'model'")
    raise ConversionError(f"{path}: checkpoint holds a {type(obj).__name__}, not a state dict")


def convert_state_dict(state_dict, drop_num_batches_tracked=False):
    """Strips `module.`, makes tensors contiguous CPU copies, keeps the original order."""
    out = OrderedDict()
    for name, tensor in state_dict.items():
        key = name[len("module."):] if name.startswith("module.") else name
        if drop_num_batches_tracked and key.endswith("num_batches_tracked"):
            continue
        if key in out:
            raise ConversionError(f"tensor name {key!r} appears twice after stripping 'module.'")
        out[key] = tensor.detach().cpu().contiguous()
    return out


def summary(tensors):
    """One line: tensor count per dtype, total elements and parameters (BN running stats and
    num_batches_tracked excluded, so the count matches torchvision's num_params)."""
    counts = OrderedDict()
    elements = parameters = 0
    for name, t in tensors.items():
        dtype = str(t.dtype).replace("torch.", "")
        counts[dtype] = counts.get(dtype, 0) + 1
        elements += t.numel()
        if t.is_floating_point() and not name.endswith(("running_mean", "running_var")):
            parameters += t.numel()
    by_dtype = ", ".join(f"{n} {d}" for d, n in counts.items())
    return (f"{len(tensors)} tensors ({by_dtype}), {elements:,} elements, "
            f"{parameters:,} parameters excluding BN running statistics")


def convert(src, dst, variant=None, drop_num_batches_tracked=False, allow_pickle=False):
    obj = load_checkpoint(src, allow_pickle)
    tensors = convert_state_dict(extract_state_dict(obj, src), drop_num_batches_tracked)
    metadata = OrderedDict([("source", "torch"), ("format", "pt")])
    if variant:
        metadata["variant"] = variant
    safetensors_io.write(dst, tensors, metadata)
    return tensors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input", help="PyTorch checkpoint (.pth, .pt, .th)")
    parser.add_argument("output", help="output .safetensors file")
    parser.add_argument("--variant", help="stored as __metadata__['variant'], e.g. resnet50")
    parser.add_argument("--drop-num-batches-tracked", action="store_true",
                        help="omit the BN num_batches_tracked counters")
    parser.add_argument("--allow-pickle", action="store_true",
                        help="use the full unpickler (runs code from the file; trusted files only)")
    args = parser.parse_args(argv)
    try:
        tensors = convert(args.input, args.output, args.variant, args.drop_num_batches_tracked,
                          args.allow_pickle)
    except (ConversionError, safetensors_io.SafetensorsError, OSError) as e:
        print(f"convert_torch: error: {e}", file=sys.stderr)
        return 1
    print(f"{args.output}: {summary(tensors)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
