"""Peer-benchmark worker for OpenCV DNN (Debian's python3-opencv, default CPU backend).

Line protocol of peer_bench.py:
  load MODEL_NAME MODEL.onnx INPUT BATCH SIDE THREADS -> ok | error <message>
  run K -> K latencies in ms;  dump PATH -> ok;  quit
"""
import sys
import time

import cv2
import numpy as np

from worker_protocol import serve

state = {}


def handle(args):
    op = args[0]
    if op == "load":
        model_path, input_path = args[2], args[3]
        batch, side, threads = int(args[4]), int(args[5]), int(args[6])
        cv2.setNumThreads(threads)
        net = cv2.dnn.readNetFromONNX(model_path)
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        data = np.fromfile(input_path, dtype=np.float32).reshape(batch, 3, side, side)
        net.setInput(data)
        state["net"] = net
        return "ok"
    if op == "run":
        times = []
        net = state["net"]
        for _ in range(int(args[1])):
            t0 = time.perf_counter()
            state["output"] = net.forward()
            times.append((time.perf_counter() - t0) * 1e3)
        return " ".join(f"{t:.4f}" for t in times)
    if op == "dump":
        np.ascontiguousarray(state["output"], dtype=np.float32).tofile(args[1])
        return "ok"
    if op == "quit":
        sys.exit(0)
    return f"error unknown command {op!r}"


def main():
    serve(f"opencv {cv2.__version__}", handle)


if __name__ == "__main__":
    main()
