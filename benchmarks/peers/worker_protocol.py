"""The stdin/stdout loop every Python peer-benchmark worker runs for peer_bench.py.

peer_bench.py launches a worker as `python3 .../<engine>_worker.py`, so this file, next to
the workers, is importable from any working directory (Python puts the script's folder on
sys.path).
"""
import sys


def serve(version, handle):
    """Announces `ready <version>`, then answers each request line with handle(args).

    An exception becomes one `error <message>` line, which the orchestrator reports under
    the engine's name; handle ends the loop by raising SystemExit (the `quit` request).
    """
    print(f"ready {version}", flush=True)
    for line in sys.stdin:
        args = line.split()
        if not args:
            continue
        try:
            reply = handle(args)
        except Exception as e:  # any failure is a reply, not the worker's end
            reply = "error " + str(e).replace("\n", " ")
        print(reply, flush=True)
