#!/usr/bin/python3
"""Image decoding speed, ours against PIL, side by side on the same files.

    /usr/bin/python3 benchmarks/decode_vs_pil.py BENCH_DECODE [--rounds N] [DIR]

BENCH_DECODE is the bench_decode program (build/benchmarks/bench_decode); DIR defaults to
../shared/data/imagenet-samples. Each round times one pass of PIL's
Image.open(f).convert("RGB") over every file, then one pass of resnet::load_image (file
read included in both), alternating so that both see the same machine load; the medians
are printed.
"""
import argparse
import os
import re
import statistics
import subprocess
import time

from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pil_pass(files):
    start = time.perf_counter()
    for f in files:
        with Image.open(f) as im:
            im.convert("RGB")
    return (time.perf_counter() - start) * 1000


def ours_pass(program, files):
    out = subprocess.run([program, "--rounds", "1", *files], capture_output=True, text=True, check=True).stdout
    return float(re.search(r"([\d.]+) ms", out).group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("program")
    parser.add_argument("dir", nargs="?", default=os.path.join(ROOT, "..", "shared", "data", "imagenet-samples"))
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    files = sorted(os.path.join(args.dir, f) for f in os.listdir(args.dir))
    pil_pass(files)  # warm the page cache
    pil, ours = [], []
    for _ in range(args.rounds):
        pil.append(pil_pass(files))
        ours.append(ours_pass(args.program, files))
    p, o = statistics.median(pil), statistics.median(ours)
    import PIL
    print(f"{len(files)} files, {args.rounds} rounds, median per pass: PIL {PIL.__version__} {p:.1f} ms, "
          f"resnet {o:.1f} ms, ours / PIL {o / p:.2f}x")


if __name__ == "__main__":
    main()
