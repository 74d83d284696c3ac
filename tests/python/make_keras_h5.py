#!/usr/bin/env python3
"""Writes a Keras legacy HDF5 weight file with h5py, laid out as Keras' save_weights does
(docs/spec.md 4.2): root attributes layer_names / backend / keras_version, one group per layer with
attribute weight_names, datasets at /<layer>/<weight name>. Values are random.

    make_keras_h5.py OUT.h5 VARIANT [--style tf|keras3] [--whole-model] [--seed N]

style tf:     weight names `conv1_conv/kernel:0` (tf.keras / Keras 2)
style keras3: weight names `conv1_conv/kernel`   (Keras 3 legacy h5)
--whole-model puts everything under /model_weights, as model.save('x.h5') does.
"""

import argparse
import os
import sys
from collections import OrderedDict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_arch  # noqa: E402


def make_keras_h5(path, variant, style="tf", whole_model=False, seed=0, include_top=True):
    """Writes the file; returns the expected converted tensors {`layer/weight`: array}."""
    import h5py
    if style not in ("tf", "keras3"):
        raise ValueError(f"style must be 'tf' or 'keras3', got {style!r}")
    rng = np.random.default_rng(seed)
    expected = OrderedDict()
    layers = keras_arch.keras_layers(variant, include_top)
    with h5py.File(path, "w") as f:
        root = f
        if whole_model:
            f.attrs["model_config"] = b'{"class_name": "Functional"}'
            root = f.create_group("model_weights")
        root.attrs["layer_names"] = np.array([name.encode() for name, _ in layers])
        root.attrs["backend"] = b"tensorflow"
        root.attrs["keras_version"] = b"2.11.0" if style == "tf" else b"3.3.3"
        for layer, weights in layers:
            group = root.create_group(layer)
            names = [f"{layer}/{w}" + (":0" if style == "tf" else "") for w, _ in weights]
            # h5py cannot store an empty array of fixed-length strings: Keras writes an
            # empty float array for weight-less layers, and so do we.
            group.attrs["weight_names"] = (np.array([n.encode() for n in names]) if names
                                           else np.zeros((0,), dtype=np.float32))
            for (w, shape), stored in zip(weights, names):
                value = rng.standard_normal(shape, dtype=np.float32)
                group.create_dataset(stored, data=value)
                expected[f"{layer}/{w}"] = value
    return expected


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output")
    parser.add_argument("variant", choices=keras_arch.VARIANTS)
    parser.add_argument("--style", choices=("tf", "keras3"), default="tf")
    parser.add_argument("--whole-model", action="store_true")
    parser.add_argument("--notop", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    expected = make_keras_h5(args.output, args.variant, args.style, args.whole_model, args.seed,
                             not args.notop)
    print(f"{args.output}: {len(expected)} weight arrays")


if __name__ == "__main__":
    main()
