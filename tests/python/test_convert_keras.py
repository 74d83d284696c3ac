#!/usr/bin/env python3
"""tools/convert_keras_h5.py on synthetic Keras .h5 files with the exact Keras layer names.

    test_convert_keras.py [SCRATCH_DIR]
"""

import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "..", "tools")
sys.path.insert(0, HERE)
sys.path.insert(0, TOOLS)
import keras_arch  # noqa: E402
import safetensors_io  # noqa: E402
from make_keras_h5 import make_keras_h5  # noqa: E402

CONVERTER = os.path.join(TOOLS, "convert_keras_h5.py")


def run_converter(*args):
    return subprocess.run([sys.executable, CONVERTER, *args], capture_output=True, text=True)


def check_case(scratch, variant, style, whole_model, expected_count):
    h5 = os.path.join(scratch, f"{variant}_{style}.h5")
    out = os.path.join(scratch, f"{variant}_{style}.safetensors")
    expected = make_keras_h5(h5, variant, style=style, whole_model=whole_model, seed=7)
    assert len(expected) == expected_count, (variant, len(expected))

    result = run_converter(h5, out, "--variant", variant)
    assert result.returncode == 0, result.stderr
    assert f"{expected_count} tensors" in result.stdout, result.stdout

    tensors, metadata = safetensors_io.read_with_metadata(out)
    assert metadata == {"source": "keras", "variant": variant, "kernel_layout": "HWIO"}, metadata
    assert len(tensors) == expected_count, len(tensors)
    assert set(tensors) == set(expected), sorted(set(tensors) ^ set(expected))[:10]
    shapes = keras_arch.keras_weights(variant)
    for name, value in expected.items():
        got = tensors[name]
        assert got.dtype == np.float32, (name, got.dtype)
        assert tuple(got.shape) == tuple(shapes[name]), (name, got.shape, shapes[name])
        assert np.array_equal(got, value), name

    # Spec 7.2 counts and a few names/shapes from Appendix C.
    if variant == "resnet50":
        assert tensors["conv1_bn/moving_variance"].shape == (64,)
        assert tensors["conv2_block1_0_conv/kernel"].shape == (1, 1, 64, 256)
        assert tensors["conv5_block3_3_bn/gamma"].shape == (2048,)
    else:
        assert "conv1_bn/gamma" not in tensors and "conv2_block1_0_bn/gamma" not in tensors
        assert "conv2_block1_1_conv/bias" not in tensors
        assert tensors["conv2_block1_preact_bn/beta"].shape == (64,)
        assert tensors["post_bn/moving_mean"].shape == (2048,)
    assert tensors["predictions/kernel"].shape == (2048, 1000)

    # Reference-writer layout: 8-aligned buffer, all F32 so buffer order is by name.
    header, n = safetensors_io.read_header(out)
    assert n % 8 == 0
    names = [k for k in header if k != "__metadata__"]
    assert list(header)[0] == "__metadata__"
    assert names == sorted(names, key=lambda s: s.encode())
    os.remove(h5)
    os.remove(out)


def check_errors(scratch):
    bogus = os.path.join(scratch, "not_h5.h5")
    with open(bogus, "wb") as f:
        f.write(b"this is not an HDF5 file")
    result = run_converter(bogus, os.path.join(scratch, "x.safetensors"))
    assert result.returncode == 1 and "not an HDF5 file" in result.stderr, result.stderr

    import h5py
    plain = os.path.join(scratch, "plain.h5")
    with h5py.File(plain, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    result = run_converter(plain, os.path.join(scratch, "x.safetensors"))
    assert result.returncode == 1 and "layer_names" in result.stderr, result.stderr

    result = run_converter(os.path.join(scratch, "missing.h5"), os.path.join(scratch, "x.st"))
    assert result.returncode == 1 and "no such file" in result.stderr, result.stderr


def main():
    base = sys.argv[1] if len(sys.argv) > 1 else None
    if base:
        os.makedirs(base, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=base) as scratch:
        check_errors(scratch)
        check_case(scratch, "resnet50", "tf", whole_model=False, expected_count=320)
        check_case(scratch, "resnet50v2", "keras3", whole_model=True, expected_count=272)
    # Counts without the top (docs/spec.md 2.2 / 7.2), from the same layer tables.
    assert len(keras_arch.keras_weights("resnet50", include_top=False)) == 318
    assert len(keras_arch.keras_weights("resnet50v2", include_top=False)) == 270
    print("test_convert_keras: ok")


if __name__ == "__main__":
    main()
