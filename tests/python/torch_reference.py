"""Helpers shared by the PyTorch reference-data generators (gen_torchvision.py,
gen_keras_reference.py, gen_cifar.py)."""

import hashlib
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.normpath(os.path.join(HERE, "..", "..", "tools"))
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)
import safetensors_io  # noqa: E402

# (label, H, W): one square ImageNet size and one odd, non-square size (ceil(H/32) rule).
SIZES = (("224x224", 224, 224), ("193x257", 193, 257))
BATCH = 2
THREADS = 2


def setup_torch():
    import torch
    torch.set_num_threads(THREADS)
    torch.set_grad_enabled(False)
    return torch


def sources_of(*paths):
    """The generator scripts plus the helpers every generator depends on."""
    return list(paths) + [os.path.abspath(__file__),
                          os.path.join(TOOLS, "safetensors_io.py")]


def library_versions():
    """torch, torchvision, numpy and Pillow versions, without importing them (slow)."""
    from importlib import metadata
    versions = []
    for name in ("torch", "torchvision", "numpy", "Pillow"):
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} absent")
    return ", ".join(versions)


def sources_hash(sources):
    """SHA-256 of the library versions and the sources' names and contents (not their
    times: a fresh clone of the same generators must find the data it left in a cache
    folder)."""
    h = hashlib.sha256(library_versions().encode() + b"\0")
    for path in sources:
        with open(path, "rb") as f:
            h.update(os.path.basename(path).encode() + b"\0" + f.read() + b"\0")
    return h.hexdigest()


def _stamp(outputs):
    return outputs[0] + ".sources-sha256"


def up_to_date(outputs, sources):
    """True when every output exists and mark_up_to_date() recorded the same sources for
    them."""
    try:
        with open(_stamp(outputs)) as f:
            recorded = f.read().strip()
    except OSError:
        return False
    return recorded == sources_hash(sources) and all(os.path.exists(p) for p in outputs)


def mark_up_to_date(outputs, sources):
    """Records, once every output is written, the hash of the sources they came from."""
    replace_atomically(_stamp(outputs), lambda tmp: open(tmp, "w").write(sources_hash(sources) + "\n"))


def temporary_name(path):
    """A name beside path unique to this process: two runs sharing a data folder (two
    clones with the same cache) never write the same temporary file."""
    return f"{path}.{os.getpid()}.part"


def replace_atomically(path, write):
    """write(tmp) then rename tmp to path, so no reader (nor up_to_date) ever sees half a file."""
    tmp = temporary_name(path)
    write(tmp)
    os.replace(tmp, path)


def write_safetensors(path, tensors, metadata=None):
    replace_atomically(path, lambda tmp: safetensors_io.write(tmp, tensors, metadata))


def random_input(torch, seed, h, w, batch=BATCH):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, h, w, generator=g, dtype=torch.float32)


def random_bn_stats(torch, c, generator, last_in_block=False):
    """Non-trivial BN parameters (gamma, beta, mean, var).

    gamma of the last BN of a residual branch is small, so each block adds a modest
    amount to the identity path and activations stay O(1) through 152 layers."""
    def uniform(lo, hi):
        return lo + (hi - lo) * torch.rand(c, generator=generator)
    gamma = uniform(0.1, 0.3) if last_in_block else uniform(0.5, 1.5)
    beta = 0.1 * torch.randn(c, generator=generator)
    mean = 0.1 * torch.randn(c, generator=generator)
    var = uniform(0.5, 2.0)
    return gamma, beta, mean, var


def kaiming_normal(torch, shape_oihw, generator):
    """He-normal conv weights, fan-in mode (keeps the variance of ReLU inputs constant)."""
    o, i, kh, kw = shape_oihw
    std = (2.0 / (i * kh * kw)) ** 0.5
    return std * torch.randn(shape_oihw, generator=generator)


class Timer:
    def __init__(self, label):
        self.label = label

    def __enter__(self):
        self.start = time.time()
        return self

    def __exit__(self, *exc):
        self.seconds = time.time() - self.start
        print(f"  {self.label}: {self.seconds:.1f} s", flush=True)


def file_size_mb(paths):
    return sum(os.path.getsize(p) for p in paths) / 1e6
