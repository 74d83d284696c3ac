"""Peer-benchmark worker for PyTorch (eager torchvision model, inference mode).

Line protocol of peer_bench.py:
  load MODEL_NAME STATE_DICT.pt INPUT BATCH SIDE THREADS -> ok | error <message>
  run K -> K latencies in ms;  dump PATH -> ok;  quit
Run with Debian's /usr/bin/python3 (the one with torch).
"""
import os
import sys
import time

import numpy as np
import torch
import torchvision

from worker_protocol import serve

state = {}


def handle(args):
    op = args[0]
    if op == "load":
        name, weights, input_path = args[1], args[2], args[3]
        batch, side, threads = int(args[4]), int(args[5]), int(args[6])
        torch.set_num_threads(threads)
        model = getattr(torchvision.models, name)()
        model.load_state_dict(torch.load(weights))
        state["model"] = model.eval()
        data = np.fromfile(input_path, dtype=np.float32).reshape(batch, 3, side, side)
        state["input"] = torch.from_numpy(data)
        return "ok"
    if op == "run":
        times = []
        with torch.inference_mode():
            for _ in range(int(args[1])):
                t0 = time.perf_counter()
                state["output"] = state["model"](state["input"])
                times.append((time.perf_counter() - t0) * 1e3)
        return " ".join(f"{t:.4f}" for t in times)
    if op == "dump":
        state["output"].numpy().astype(np.float32).tofile(args[1])
        return "ok"
    if op == "quit":
        sys.exit(0)
    return f"error unknown command {op!r}"


def blas_library():
    """The BLAS actually mapped: Debian's torch falls back to it (e.g. 1x1 convolutions at
    batch < 16 on one thread), and the reference netlib BLAS is far slower than OpenBLAS."""
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if "libblas" in path or "openblas" in path or "libmkl" in path:
                real = os.path.realpath(path)
                return os.path.basename(os.path.dirname(real)) + "/" + os.path.basename(real)
    return "none"


def main():
    # Inter-op parallelism off before any work, as for the other engines.
    torch.set_num_interop_threads(1)
    serve(f"torch {torch.__version__} (BLAS {blas_library()})", handle)


if __name__ == "__main__":
    main()
