#!/usr/bin/env python3
"""tools/convert_torch.py on checkpoints saved here with torch.save: zip and legacy
containers, bare state dicts, {'state_dict': ...} and {'model': ...} wrappers, `module.`
prefixes, --drop-num-batches-tracked, and clear errors on files that are not checkpoints.

    test_convert_torch.py [SCRATCH_DIR]
"""

import argparse
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from collections import OrderedDict

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "..", "tools")
sys.path.insert(0, TOOLS)
import convert_torch  # noqa: E402
import safetensors_io  # noqa: E402

CONVERTER = os.path.join(TOOLS, "convert_torch.py")


def run_command(*args):
    """The converter as users run it: a process of its own."""
    return subprocess.run([sys.executable, CONVERTER, *args], capture_output=True, text=True)


def run(*args):
    """The converter's main() in this process: each new process would import torch again
    (about 4 s of CPU each, most of this test's time)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = convert_torch.main(list(args))
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def check_converted(out, state, variant=None, drop=False):
    tensors, metadata = safetensors_io.read_with_metadata(out)
    expected_meta = {"source": "torch", "format": "pt"}
    if variant:
        expected_meta["variant"] = variant
    assert metadata == expected_meta, metadata
    names = [k for k in state if not (drop and k.endswith("num_batches_tracked"))]
    assert sorted(tensors) == sorted(names), sorted(set(tensors) ^ set(names))[:5]
    for name in names:
        value = state[name].numpy()
        assert tensors[name].dtype == value.dtype, (name, tensors[name].dtype)
        assert tensors[name].shape == value.shape, name
        assert np.array_equal(tensors[name], value), name


def main():
    import torch
    import torchvision
    parser = argparse.ArgumentParser()
    parser.add_argument("scratch", nargs="?")
    base = parser.parse_args().scratch
    if base:
        os.makedirs(base, exist_ok=True)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_()
            m.num_batches_tracked.fill_(3)
    state = model.state_dict()
    with tempfile.TemporaryDirectory(dir=base) as d:
        out = os.path.join(d, "out.safetensors")

        def path(name):
            return os.path.join(d, name)

        # Zip container, bare state dict; the summary names docs/spec.md 2.1's counts.
        torch.save(state, path("zip.pth"))
        r = run_command(path("zip.pth"), out, "--variant", "resnet18")
        assert r.returncode == 0, r.stderr
        assert "122 tensors" in r.stdout and "11,689,512 parameters" in r.stdout, r.stdout
        check_converted(out, state, "resnet18")
        header, _ = safetensors_io.read_header(out)
        # Reference-writer order: the 20 I64 counters first.
        assert all(k.endswith("num_batches_tracked") for k in list(header)[1:21])
        assert header["bn1.num_batches_tracked"]["shape"] == []

        # Legacy (pre-1.6) container with DataParallel prefixes inside {'state_dict': ...}.
        prefixed = OrderedDict(("module." + k, v) for k, v in state.items())
        torch.save({"state_dict": prefixed, "best_prec1": 91.5}, path("legacy.th"),
                   _use_new_zipfile_serialization=False)
        r = run(path("legacy.th"), out, "--drop-num-batches-tracked", "--allow-pickle")
        assert r.returncode == 0, r.stderr
        assert "102 tensors" in r.stdout, r.stdout
        check_converted(out, state, drop=True)

        # {'model': state_dict} wrapper (timm/DeiT style) with only tensors and numbers.
        torch.save({"model": state, "epoch": 7}, path("wrapped.pth"))
        r = run(path("wrapped.pth"), out)
        assert r.returncode == 0, r.stderr
        check_converted(out, state)

        # Arbitrary objects need --allow-pickle; the error says so.
        torch.save({"state_dict": state, "args": argparse.Namespace(lr=0.1)}, path("ns.pth"))
        r = run(path("ns.pth"), out)
        assert r.returncode == 1 and "--allow-pickle" in r.stderr, r.stderr
        r = run(path("ns.pth"), out, "--allow-pickle")
        assert r.returncode == 0, r.stderr
        check_converted(out, state)

        # Files that are not checkpoints, and checkpoints without a state dict.
        with open(path("text.pth"), "w") as f:
            f.write("hello\n")
        open(path("empty.pth"), "w").close()
        with zipfile.ZipFile(path("other.zip"), "w") as z:
            z.writestr("readme.txt", "hi")
        for bad in ("text.pth", "empty.pth", "other.zip"):
            r = run(path(bad), out)
            assert r.returncode == 1 and "not a PyTorch checkpoint" in r.stderr, (bad, r.stderr)
        torch.save({"epoch": 1}, path("nostate.pth"))
        r = run(path("nostate.pth"), out)
        assert r.returncode == 1 and "no state dict found" in r.stderr, r.stderr
        torch.save([torch.ones(2)], path("list.pth"))
        r = run(path("list.pth"), out)
        assert r.returncode == 1 and "not a state dict" in r.stderr, r.stderr
        r = run(path("missing.pth"), out)
        assert r.returncode == 1 and "no such file" in r.stderr, r.stderr
    print("test_convert_torch: ok")


if __name__ == "__main__":
    main()
