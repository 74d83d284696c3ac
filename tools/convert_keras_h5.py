#!/usr/bin/env python3
"""Converts Keras legacy HDF5 weights (.h5) to safetensors under Keras names (docs/spec.md 4.2, 4.7).

Key = `<layer_name>/<weight_name>` where weight_name is the last component of the stored
weight name without `:0` (`conv1_conv/kernel:0` -> `conv1_conv/kernel`). Layouts are kept:
HWIO conv kernels, [in, out] dense kernels. Reads both files written by save_weights
(root attribute layer_names) and whole-model files (the same under group model_weights).

    convert_keras_h5.py IN.h5 OUT.safetensors [--variant NAME]
"""

import argparse
import os
import sys
from collections import OrderedDict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402


class ConversionError(Exception):
    pass


def _text(value):
    return value.decode("utf-8") if isinstance(value, (bytes, np.bytes_)) else str(value)


def _names(attrs, key, where):
    if key not in attrs:
        raise ConversionError(f"{where}: attribute {key!r} missing")
    return [_text(v) for v in np.asarray(attrs[key]).ravel()]


def weight_key(layer, weight_name):
    """`conv1_conv` + `conv1_conv/kernel:0` -> `conv1_conv/kernel`."""
    last = weight_name.rsplit("/", 1)[-1]
    if last.endswith(":0"):
        last = last[:-2]
    if not last:
        raise ConversionError(f"{layer}: empty weight name in {weight_name!r}")
    return f"{layer}/{last}"


def read_keras_h5(path):
    """Returns an ordered {key: numpy array} in layer order, weights in stored order."""
    import h5py
    if not os.path.isfile(path):
        raise ConversionError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ConversionError(f"{path}: not an HDF5 file ({e})") from None
    with f:
        root = f
        if "layer_names" not in f.attrs and "model_weights" in f:
            root = f["model_weights"]
        if "layer_names" not in root.attrs:
            raise ConversionError(
                f"{path}: no 'layer_names' attribute at / or /model_weights; not a Keras legacy "
                f"HDF5 weight file (Keras 3 .weights.h5 files are not supported)")
        out = OrderedDict()
        for layer in _names(root.attrs, "layer_names", path):
            if layer not in root:
                raise ConversionError(f"{path}: layer group {layer!r} listed but missing")
            group = root[layer]
            for weight_name in _names(group.attrs, "weight_names", f"{path}: {layer}"):
                if weight_name not in group:
                    raise ConversionError(f"{path}: {layer}: dataset {weight_name!r} missing")
                key = weight_key(layer, weight_name)
                if key in out:
                    raise ConversionError(f"{path}: tensor name {key!r} appears twice")
                out[key] = np.asarray(group[weight_name][()])
        if not out:
            raise ConversionError(f"{path}: the file lists no weights")
        return out


def convert(src, dst, variant=None):
    tensors = read_keras_h5(src)
    metadata = OrderedDict([("source", "keras")])
    if variant:
        metadata["variant"] = variant
    metadata["kernel_layout"] = "HWIO"
    safetensors_io.write(dst, tensors, metadata)
    return tensors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input", help="Keras .h5 weights or whole-model file")
    parser.add_argument("output", help="output .safetensors file")
    parser.add_argument("--variant", help="stored as __metadata__['variant'], e.g. resnet50v2")
    args = parser.parse_args(argv)
    try:
        tensors = convert(args.input, args.output, args.variant)
    except (ConversionError, safetensors_io.SafetensorsError, OSError) as e:
        print(f"convert_keras_h5: error: {e}", file=sys.stderr)
        return 1
    elements = sum(int(t.size) for t in tensors.values())
    print(f"{args.output}: {len(tensors)} tensors, {elements:,} elements "
          f"(Keras count_params incl. moving statistics)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
