#!/usr/bin/python3
"""Side-by-side latency and memory of this library against ONNX Runtime, PyTorch and
OpenCV DNN on the same torchvision ResNets, the same weights and the same input.

Each engine runs in its own worker process (ours_worker.cpp, ort_worker.js,
torch_worker.py, opencv_worker.py) speaking a line protocol on stdin/stdout. For every
(model, batch, threads) case the orchestrator starts fresh workers, loads the model in
each, checks that their logits agree, then times them round-robin: in every round each
engine runs a few passes in turn (the order rotates), so all engines see the same
machine load. Latency is the median of all timed passes; peak memory is the worker's
VmHWM minus its VmHWM after the runtime was imported and before the model was loaded
(Node.js + onnxruntime-node, Python + torch, Python + cv2; a few MB for ours).

  /usr/bin/python3 benchmarks/peers/peer_bench.py --quick          # about 2 minutes
  /usr/bin/python3 benchmarks/peers/peer_bench.py                  # all depths, b 1/8, t 1/2
  /usr/bin/python3 benchmarks/peers/peer_bench.py --models resnet50 --batches 1 --threads 2

Writes results.md, results.json and latency.svg to --out-dir (docs/bench, or
build-peers/quick with --quick) and, when that is docs/bench, the results section of
benchmarks/README.md. Needs Debian's python3-torch/torchvision (export and the torch
worker), node + `npm install --ignore-scripts` in benchmarks/peers (done on first use),
python3-matplotlib (the plot), python3-opencv (the OpenCV engine is skipped with a warning
when cv2 is missing) and g++;
python3-onnx for the ort_int8 engine (`--engines ours,ort,ort_int8`: ONNX Runtime on the
int8 QDQ model export_qdq.py writes). ours_int8 is this library in int8, calibrated by its
own calibration (models/calibration.hpp, its default method) on the same preprocessed photos
export_qdq.py calibrates ORT's model on; ours_bf16 is this library in bf16:

  /usr/bin/python3 benchmarks/peers/peer_bench.py --models resnet50 --batches 1 --threads 1,2 \
      --engines ours,ours_int8,ort,ort_int8 --out-dir docs/bench/int8
"""
import argparse
import datetime
import glob
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import export_onnx  # noqa: E402
import export_qdq  # noqa: E402

# ort_int8: ONNX Runtime on the statically quantized (QDQ) twin of the model (export_qdq.py),
# only when asked for (--engines): its export calibrates on photos, minutes per model.
# ours_int8 / ours_bf16: this library with Precision::int8 / bf16 (ours_worker's `load ...
# int8 RANGES`); the int8 ranges come from the library's calibration on the photos ORT's
# export calibrates on (calibrate_ours below).
ENGINES = ("ours", "ours_int8", "ours_bf16", "ort", "ort_int8", "torch", "opencv")
OURS = ("ours", "ours_int8", "ours_bf16")
DEFAULT_ENGINES = ("ours", "ort", "torch", "opencv")
LABELS = {"ours": "resnet (ours)", "ours_int8": "ours int8", "ours_bf16": "ours bf16", "ort": "ONNX Runtime", "ort_int8": "ONNX Runtime int8", "torch": "PyTorch",
          "opencv": "OpenCV DNN"}
QUANTIZED = ("ort_int8", "ours_int8", "ours_bf16")  # their logits are compared by top-1, not by the fp32 tolerance
PYTHON = "/usr/bin/python3"  # Debian's, with torch and cv2
DOCS = os.path.join(ROOT, "docs", "bench")
README = os.path.join(ROOT, "benchmarks", "README.md")
README_BEGIN = "<!-- peer-results:begin (written by benchmarks/peers/peer_bench.py) -->"
README_END = "<!-- peer-results:end -->"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- building and installing the workers ----

def build_ours(work_dir, force=False):
    """Compiles ours_worker with one g++ call; again whenever a header or the source is newer."""
    exe = os.path.join(work_dir, "ours_worker")
    source = os.path.join(HERE, "ours_worker.cpp")
    inputs = [source] + glob.glob(os.path.join(ROOT, "include", "**", "*"), recursive=True)
    newest = max(os.path.getmtime(p) for p in inputs if os.path.isfile(p))
    if not force and os.path.exists(exe) and os.path.getmtime(exe) >= newest:
        return exe
    eigen = "/usr/include/eigen3"
    try:
        flags = subprocess.run(["pkg-config", "--cflags", "eigen3"], capture_output=True, text=True, check=True)
        eigen = flags.stdout.strip().replace("-I", "", 1) or eigen
    except (OSError, subprocess.CalledProcessError):
        pass
    cxx = os.environ.get("CXX", "g++")
    cmd = [cxx, "-O3", "-march=native", "-std=c++17", "-DNDEBUG", "-I" + os.path.join(ROOT, "include"),
           "-I" + eigen, source, "-o", exe + ".tmp", "-pthread"]
    log("building ours_worker: " + " ".join(cmd))
    os.makedirs(work_dir, exist_ok=True)
    subprocess.run(cmd, check=True)
    os.replace(exe + ".tmp", exe)
    return exe


def ensure_ort(install=True):
    if os.path.isdir(os.path.join(HERE, "node_modules", "onnxruntime-node")):
        return True
    if not install or shutil.which("npm") is None:
        return False
    log("installing onnxruntime-node (npm install --ignore-scripts) into benchmarks/peers/node_modules")
    subprocess.run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=HERE, check=True)
    return True


def has_cv2():
    return subprocess.run([PYTHON, "-c", "import cv2"], capture_output=True).returncode == 0


# ---- workers ----

def read_status(pid):
    """VmHWM and VmRSS of a process in kB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(value.split()[0])
    return out


class Worker:
    def __init__(self, engine, command, threads, log_dir, no_spin=False):
        env = dict(os.environ)
        # Any OpenMP pool (torch, OpenCV) gets the same budget as the explicit settings.
        env["OMP_NUM_THREADS"] = str(threads)
        if no_spin:  # idle threads sleep at once: ONNX Runtime's pools and OpenMP (torch, OpenCV)
            env["PEER_NO_SPIN"] = "1"
            env["OMP_WAIT_POLICY"] = "PASSIVE"
        env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
        self.engine = engine
        self.stderr_path = os.path.join(log_dir, f"{engine}.stderr")
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                     text=True, bufsize=1, env=env, cwd=HERE)
        ready = self._read()
        if not ready.startswith("ready"):
            raise RuntimeError(f"{engine}: worker did not start: {ready!r}")
        self.version = ready.split(maxsplit=2)[-1]

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            self.stderr.flush()
            with open(self.stderr_path) as f:
                tail = f.read()[-2000:]
            raise RuntimeError(f"{self.engine}: worker exited (status {self.proc.poll()}): {tail}")
        return line.strip()

    def request(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = self._read()
        if reply.startswith("error"):
            raise RuntimeError(f"{self.engine}: {reply}")
        return reply

    def run(self, k):
        return [float(t) for t in self.request(f"run {k}").split()]

    def memory(self):
        return read_status(self.proc.pid)

    def close(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


def worker_command(engine, ours_exe):
    return {
        "ours": [ours_exe],
        "ours_int8": [ours_exe],
        "ours_bf16": [ours_exe],
        "ort": ["node", os.path.join(HERE, "ort_worker.js")],
        "ort_int8": ["node", os.path.join(HERE, "ort_worker.js")],
        "torch": [PYTHON, os.path.join(HERE, "torch_worker.py")],
        "opencv": [PYTHON, os.path.join(HERE, "opencv_worker.py")],
    }[engine]


def weights_for(engine, files):
    return {"ours": files["safetensors"], "ours_int8": files["safetensors"], "ours_bf16": files["safetensors"],
            "ort": files["onnx"], "ort_int8": files.get("int8"), "torch": files["pt"],
            "opencv": files["onnx"]}[engine]


def load_suffix(engine, files):
    """What ours_worker's `load` takes after THREADS for our reduced-precision engines."""
    if engine == "ours_int8":
        return " int8 " + files["ranges"]
    if engine == "ours_bf16":
        return " bf16"
    return ""


# ---- calibrating our int8 model ----

def calibration_input(directory, count, images_dir=export_qdq.DEFAULT_IMAGES):
    """The photos export_qdq.py calibrates ORT's model on, preprocessed by the same code
    (torchvision's Resize(256), CenterCrop(224), Normalize), as one NCHW float32 file."""
    path = os.path.join(directory, f"calibration-{count}-224.f32")
    if not os.path.exists(path):
        import torch
        batches = export_qdq.calibration_batches(images_dir, count)
        data = torch.cat(batches).numpy().astype(np.float32)
        os.makedirs(directory, exist_ok=True)
        data.tofile(path + ".tmp")
        os.replace(path + ".tmp", path)
    return path, os.path.getsize(path) // (3 * 224 * 224 * 4)


def calibrate_ours(directory, model, seed, weights, ours_exe, log_dir, count=64):
    """The library's own calibration (ours_worker `calibrate`: models/calibration.hpp's
    calibrate() with its default method) of the fp32 model on the calibration photos, in a
    process of its own so that the int8 worker's memory holds no fp32 model. Cached."""
    out = os.path.join(directory, f"{model}-s{seed}-ranges.safetensors")
    if os.path.exists(out):
        return out
    images, n = calibration_input(directory, count)
    w = Worker("ours_calibrate", [ours_exe], 2, log_dir)
    try:
        reply = w.request(f"calibrate {model} {weights} {images} {n} 224 2 {out}.tmp")
    finally:
        w.close()
    os.replace(out + ".tmp", out)
    log(f"  {model}: our int8 ranges calibrated on {n} photos ({reply[3:]})")
    return out


# ---- one case ----

def bench_case(model, batch, threads, engines, args, ours_exe):
    side = args.side
    files = export_onnx.export_model(args.models_dir, model, args.seed, side)
    if "ort_int8" in engines:
        files["int8"] = export_qdq.export_int8(args.models_dir, model, args.seed)
    input_path = export_onnx.input_path(args.models_dir, batch, side, args.seed)
    export_onnx.write_input(args.models_dir, batch, side, args.seed)
    log_dir = os.path.join(args.work_dir, "logs", f"{model}-b{batch}-t{threads}")
    os.makedirs(log_dir, exist_ok=True)
    if "ours_int8" in engines:
        files["ranges"] = calibrate_ours(args.models_dir, model, args.seed, files["safetensors"], ours_exe, log_dir)

    workers, result = {}, {"model": model, "batch": batch, "threads": threads, "engines": {}}
    try:
        for e in engines:
            w = Worker(e, worker_command(e, ours_exe), threads, log_dir, args.no_spin)
            workers[e] = w
            baseline = w.memory()["VmHWM"]
            w.request(f"load {model} {weights_for(e, files)} {input_path} {batch} {side} {threads}"
                      + load_suffix(e, files))
            result["engines"][e] = {"version": w.version, "baseline_kb": baseline,
                                    "after_load_kb": w.memory()["VmHWM"]}

        # Warm-up, then the logits of every engine against PyTorch's (or the first engine's).
        outputs = {}
        for e, w in workers.items():
            w.run(args.warmup)
            dump = os.path.join(log_dir, f"{e}.logits.f32")
            w.request(f"dump {dump}")
            outputs[e] = np.fromfile(dump, dtype=np.float32)
        ref_engine = "torch" if "torch" in outputs else engines[0]
        ref = outputs[ref_engine]
        scale = float(np.max(np.abs(ref))) or 1.0
        for e, out in outputs.items():
            ok_shape = out.shape == ref.shape
            diff = float(np.max(np.abs(out - ref))) / scale if ok_shape else float("inf")
            result["engines"][e]["max_rel_diff"] = diff
            if e in QUANTIZED:  # int8 logits move by a few percent; the top-1 should not
                top1 = out.reshape(batch, -1).argmax(1) == ref.reshape(batch, -1).argmax(1) if ok_shape else [False]
                result["engines"][e]["top1_agreement"] = float(np.mean(top1))
                result["engines"][e]["agrees"] = ok_shape
                log(f"  {model} b{batch} t{threads}: {e} top-1 equal to {ref_engine}'s on "
                    f"{int(np.sum(top1))} of {batch}, max |diff| / max |ref| = {diff:.3g}")
                continue
            result["engines"][e]["agrees"] = diff < args.tolerance
            if not diff < args.tolerance:
                log(f"  WARNING {model} b{batch} t{threads}: {e} differs from {ref_engine}: "
                    f"max |diff| / max |ref| = {diff:.3g}")
        result["reference"] = ref_engine

        samples = {e: [] for e in workers}
        order = list(workers)
        for r in range(args.rounds):
            for i in range(len(order)):
                e = order[(r + i) % len(order)]  # rotate, so no engine always follows the same one
                samples[e] += workers[e].run(args.iters)
                time.sleep(args.pause)  # lets the last engine's spinning threads fall asleep
        for e, w in workers.items():
            mem = w.memory()
            s = sorted(samples[e])
            info = result["engines"][e]
            info.update({
                "median_ms": statistics.median(s),
                "p10_ms": s[len(s) // 10],
                "p90_ms": s[(len(s) * 9) // 10],
                "samples": len(s),
                "peak_kb": mem["VmHWM"],
                "peak_above_baseline_kb": mem["VmHWM"] - info["baseline_kb"],
                "rss_end_kb": mem["VmRSS"],  # steady state; the peak is often reached while loading
            })
    finally:
        for w in workers.values():
            w.close()
    return result


# ---- output ----

def fmt_ms(x):
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def ratio_cell(ours, peer):
    return f"{ours / peer:.2f}x"


def ratio_pairs(engines):
    """(ours-engine, peer) pairs the tables divide: ours (fp32) by every other runtime,
    ours int8 by ONNX Runtime int8 and by ours fp32, ours bf16 by ours fp32."""
    pairs = [("ours", p) for p in engines if p not in OURS] if "ours" in engines else []
    if "ours_int8" in engines:
        pairs += [("ours_int8", p) for p in ("ort_int8", "ours") if p in engines]
    if "ours_bf16" in engines and "ours" in engines:
        pairs.append(("ours_bf16", "ours"))
    return pairs


def ratio_label(a, b):
    names = {"ours": "ours", "ours_int8": "ours int8", "ours_bf16": "ours bf16"}
    return f"{names[a]}/" + ("ours fp32" if b == "ours" else LABELS[b])


def results_markdown(meta, results, engines):
    pairs = ratio_pairs(engines)
    lines = []
    lines.append(f"Measured {meta['date']} on {meta['cpu']} ({meta['cores']} cores visible), "
                 f"load average {meta['load_before']} before and {meta['load_after']} after the run. "
                 f"{meta['note']}")
    lines.append("")
    lines.append("Engines: " + ", ".join(f"{LABELS[e]} {meta['versions'].get(e, '?')}" for e in engines)
                 + f"; ours built with `{meta['compiler']} -O3 -march=native`. Input {meta['side']}x{meta['side']} "
                 f"fp32, torchvision models with seeded random weights; {meta['rounds']} interleaved rounds of "
                 f"{meta['iters']} passes per engine after {meta['warmup']} warm-up passes. "
                 + ("Spinning off (`--no-spin`: ONNX Runtime allow_spinning=0, OMP_WAIT_POLICY=PASSIVE, ours "
                    "Workspace(t, 0))." if meta["no_spin"]
                    else "Each engine's default thread waiting (ONNX Runtime and OpenMP spin; ours 200 us)."))
    lines.append("")
    lines.append("Median latency per forward pass in ms (lower is better); `ours/X` is our median divided by "
                 "X's (below 1.00x: we are faster); img/s is our throughput.")
    lines.append("")
    head = ["model", "batch", "threads"] + [LABELS[e] for e in engines] + [ratio_label(a, b) for a, b in pairs]
    if "ours" in engines:
        head.append("ours img/s")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 3)) + "|")
    for r in results:
        ms = {e: r["engines"][e]["median_ms"] for e in engines if e in r["engines"]}
        row = [r["model"], str(r["batch"]), str(r["threads"])]
        row += [fmt_ms(ms[e]) if e in ms else "-" for e in engines]
        for a, b in pairs:
            row.append(ratio_cell(ms[a], ms[b]) if a in ms and b in ms else "-")
        if "ours" in engines:
            row.append(f"{1000.0 * r['batch'] / ms['ours']:.1f}" if "ours" in ms else "-")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("Peak resident memory in MB above each runtime's baseline (process VmHWM after the run minus "
                 "VmHWM after importing the runtime, before loading the model; the baseline is in brackets), "
                 "and the largest logit difference to " + LABELS.get(results[0].get("reference", "torch"), "?")
                 + " relative to its largest logit.")
    lines.append("")
    head = ["model", "batch", "threads"] + [f"{LABELS[e]} MB" for e in engines] + ["max rel. diff"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 3)) + "|")
    for r in results:
        row = [r["model"], str(r["batch"]), str(r["threads"])]
        for e in engines:
            i = r["engines"].get(e)
            row.append(f"{i['peak_above_baseline_kb'] / 1024:.0f} ({i['baseline_kb'] / 1024:.0f})" if i else "-")
        diffs = [f"{e} {r['engines'][e]['max_rel_diff']:.1e}"
                 + (f" (top-1 {r['engines'][e]['top1_agreement']:.0%})" if "top1_agreement" in r["engines"][e] else "")
                 for e in engines if e in r["engines"] and e != r.get("reference")]
        row.append(", ".join(diffs))
        lines.append("| " + " | ".join(row) + " |")
    if "BLAS blas/" in meta["versions"].get("torch", ""):
        lines.append("")
        lines.append("PyTorch here links Debian's reference BLAS (`blas/libblas.so.3`, no OpenBLAS installed). "
                     "Eager PyTorch hands 1x1 convolutions at batch < 16 on one thread to BLAS instead of "
                     "oneDNN, so its 1-thread rows for the bottleneck models (ResNet-50/101/152) are far "
                     "slower than PyTorch with OpenBLAS or MKL would be.")
    return "\n".join(lines) + "\n"


def model_label(model):
    """resnet50 -> ResNet-50, resnext50_32x4d -> ResNeXt-50 32x4d, wide_resnet50_2 -> Wide ResNet-50-2."""
    if model.startswith("wide_resnet"):
        return "Wide ResNet-" + model[len("wide_resnet"):].replace("_", "-")
    if model.startswith("resnext"):
        return "ResNeXt-" + model[len("resnext"):].replace("_", " ")
    return model.replace("resnet", "ResNet-")


def write_plot(path, results, engines):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    groups = sorted({(r["batch"], r["threads"]) for r in results})
    fig, axes = plt.subplots(1, len(groups), figsize=(max(7.5, 4.2 * len(groups) + 1), 4.4), squeeze=False)
    colors = {"ours": "#d62728", "ours_int8": "#8c1a1a", "ours_bf16": "#e377c2", "ort": "#1f77b4", "ort_int8": "#9467bd", "torch": "#ff7f0e", "opencv": "#2ca02c"}
    width = 0.8 / len(engines)
    for ax, (batch, threads) in zip(axes[0], groups):
        rows = [r for r in results if r["batch"] == batch and r["threads"] == threads]
        for j, e in enumerate(engines):
            xs = [i + (j - (len(engines) - 1) / 2) * width for i in range(len(rows))]
            ys = [r["engines"][e]["median_ms"] if e in r["engines"] else 0 for r in rows]
            bars = ax.bar(xs, ys, width, label=LABELS[e], color=colors[e])
            ax.bar_label(bars, labels=[fmt_ms(y) if y else "" for y in ys], fontsize=6, rotation=90, padding=2)
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([model_label(r["model"]) for r in rows], rotation=30)
        ax.set_title(f"batch {batch}, {threads} thread{'s' if threads > 1 else ''}")
        ax.set_yscale("log")  # a slow peer must not flatten the others
        ax.set_ylabel("median latency (ms, log scale)")
        ax.margins(y=0.25)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(engines), fontsize=9, frameon=False)
    fig.suptitle("CPU inference latency, 224x224 fp32 (lower is better)")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path)
    plt.close(fig)


def update_readme(table):
    if not os.path.exists(README):
        return
    with open(README) as f:
        text = f.read()
    if README_BEGIN not in text or README_END not in text:
        return
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    with open(README, "w") as f:
        f.write(head + README_BEGIN + "\n\n" + table + "\n" + README_END + tail)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def git_version():
    """The commit ours was built from, marked when the working tree differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "include"], cwd=ROOT, capture_output=True,
                               text=True)
        return f"at {head.stdout.strip()}" + (" + local changes" if dirty.stdout.strip() else "")
    except OSError:
        return "(no git)"


def compiler_version():
    cxx = os.environ.get("CXX", "g++")
    try:
        out = subprocess.run([cxx, "-dumpfullversion"], capture_output=True, text=True).stdout.strip()
    except OSError:
        out = ""
    return f"{cxx} {out}".strip()


def recorded_command(argv):
    """The command as the results record it: paths relative to the repository (or only
    their last part, outside it), so the files carry no path of the machine they came from."""
    def relative(value):
        if not os.path.isabs(value):
            return value
        path = os.path.normpath(value)
        if path == ROOT or path.startswith(ROOT + os.sep):
            return os.path.relpath(path, ROOT)
        return os.path.join("...", os.path.basename(path))
    words = []
    for arg in argv:
        if arg.startswith("--") and "=" in arg:
            option, value = arg.split("=", 1)
            words.append(option + "=" + relative(value))
        else:
            words.append(relative(arg))
    return "peer_bench.py " + " ".join(words)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    csv = lambda s: [x for x in s.split(",") if x]  # noqa: E731
    ints = lambda s: [int(x) for x in s.split(",") if x]  # noqa: E731
    p.add_argument("--models", type=csv, default=list(export_onnx.MODELS),
                   help="comma-separated, from " + ",".join(export_onnx.MODELS))
    p.add_argument("--batches", type=ints, default=[1, 8])
    p.add_argument("--threads", type=ints, default=[1, 2])
    p.add_argument("--engines", type=csv, default=list(DEFAULT_ENGINES),
                   help="from " + ",".join(ENGINES) + " (default " + ",".join(DEFAULT_ENGINES) + ")")
    p.add_argument("--rounds", type=int, default=10, help="interleaved rounds (default 10)")
    p.add_argument("--iters", type=int, default=None, help="passes per engine per round (default 3 at batch 1, 1 above)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--pause", type=float, default=0.05, help="seconds between engines in a round")
    p.add_argument("--side", type=int, default=224)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tolerance", type=float, default=1e-3, help="max |logit diff| / max |logit| accepted")
    p.add_argument("--quick", action="store_true",
                   help="ResNet-18 and ResNet-50, batch 1, 2 threads, 5 rounds: about 2 minutes")
    p.add_argument("--work-dir", default=os.path.join(ROOT, "build-peers"),
                   help="exported models, the ours_worker binary and logs (default build-peers/)")
    p.add_argument("--out-dir", default=None, help="results (default docs/bench; build-peers/quick with --quick)")
    p.add_argument("--note", default="", help="a sentence for the results, e.g. about machine load")
    p.add_argument("--no-spin", action="store_true",
                   help="ONNX Runtime allow_spinning=0, OMP_WAIT_POLICY=PASSIVE and our workers sleeping at once "
                        "(Workspace(t, 0)): fairer on an oversubscribed machine, slower on an idle one")
    p.add_argument("--rebuild", action="store_true", help="recompile ours_worker")
    p.add_argument("--no-install", action="store_true", help="do not npm-install onnxruntime-node")
    args = p.parse_args(argv)
    if args.quick:
        given = set(a.split("=")[0] for a in argv if a.startswith("--"))
        if "--models" not in given:
            args.models = ["resnet18", "resnet50"]
        if "--batches" not in given:
            args.batches = [1]
        if "--threads" not in given:
            args.threads = [2]
        if "--rounds" not in given:
            args.rounds = 5
    if args.out_dir is None:
        args.out_dir = os.path.join(args.work_dir, "quick") if args.quick else DOCS
    for m in args.models:
        if m not in export_onnx.MODELS:
            p.error(f"unknown model {m!r}; choose from {', '.join(export_onnx.MODELS)}")
    for e in args.engines:
        if e not in ENGINES:
            p.error(f"unknown engine {e!r}; choose from {', '.join(ENGINES)}")
    args.work_dir = os.path.abspath(args.work_dir)  # the workers run in benchmarks/peers
    args.models_dir = os.path.join(args.work_dir, "models")
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    engines = list(args.engines)
    if {"ort", "ort_int8"} & set(engines) and not ensure_ort(not args.no_install):
        log("WARNING: onnxruntime-node is not installed (npm install --ignore-scripts in benchmarks/peers); "
            "skipping ONNX Runtime")
        engines = [e for e in engines if e not in ("ort", "ort_int8")]
    if "opencv" in engines and not has_cv2():
        log(f"WARNING: {PYTHON} cannot import cv2 (apt-get install python3-opencv); skipping OpenCV DNN")
        engines.remove("opencv")
    ours_exe = build_ours(args.work_dir, args.rebuild) if set(OURS) & set(engines) else None

    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_name(), "cores": os.cpu_count(),
        "load_before": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "compiler": compiler_version(), "side": args.side, "rounds": args.rounds,
        "iters": args.iters if args.iters else "3 (batch 1) or 1 (batch > 1)", "warmup": args.warmup,
        "note": args.note, "no_spin": args.no_spin, "command": recorded_command(argv), "versions": {},
    }
    results = []
    for model in args.models:
        for batch in args.batches:
            for threads in args.threads:
                iters = args.iters if args.iters else (3 if batch == 1 else 1)
                case_args = argparse.Namespace(**{**vars(args), "iters": iters})
                t0 = time.time()
                r = bench_case(model, batch, threads, engines, case_args, ours_exe)
                results.append(r)
                for e, info in r["engines"].items():
                    meta["versions"][e] = info["version"]
                cells = "  ".join(f"{e} {info['median_ms']:.2f} ms" for e, info in r["engines"].items())
                log(f"{model} b{batch} t{threads}: {cells}  ({time.time() - t0:.0f} s)")
    for e in OURS:
        if e in meta["versions"]:
            meta["versions"][e] = git_version()
    meta["load_after"] = " ".join(f"{x:.1f}" for x in os.getloadavg())

    os.makedirs(args.out_dir, exist_ok=True)
    table = results_markdown(meta, results, engines)
    with open(os.path.join(args.out_dir, "results.md"), "w") as f:
        f.write("# Peer benchmark results\n\n"
                "Written by `benchmarks/peers/peer_bench.py` (command: `" + meta["command"].strip() + "`).\n\n"
                "![median latency per engine](latency.svg)\n\n" + table)
    with open(os.path.join(args.out_dir, "results.json"), "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1)
    write_plot(os.path.join(args.out_dir, "latency.svg"), results, engines)
    if os.path.abspath(args.out_dir) == os.path.abspath(DOCS):
        update_readme(table)
    print(table)
    log(f"wrote {args.out_dir}/results.md, results.json, latency.svg")


if __name__ == "__main__":
    main()
