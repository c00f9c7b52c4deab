"""How long Stop takes: from `run_queue.request_stop` to the run's status `stopped`.

The Training page promises a stopped run (with the weights of that moment in its checkpoint)
within 2 s of the click. A real scheduler launches a LeNet-5 run on mnist-mini as a worker
process, the run trains for a few steps, and Stop is asked; `--runs` times over. The reference
measured in the same run is the worker's own readout interval (the heartbeat a live status
is rewritten at), the floor under any stop latency. Prints the median and the worst, the
ratio to the promise, and exits 1 when the median is over 2 s.

    .venv/bin/python bench/stop_bench.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ["EXPLORER_RUNS_DIR"] = tempfile.mkdtemp(prefix="explorer-stop-bench-")

from explorer.training import access, engine, run_queue, runs, scheduler
from explorer.training.config import TrainConfig

PROMISE_S = 2.0


def one_stop(sched: scheduler.Scheduler) -> tuple[float, float]:
    """(seconds from request to `stopped`, seconds between two heartbeats seen meanwhile)."""
    run_dir = run_queue.submit(TrainConfig(device="cpu", epochs=50), "bench")
    sched.tick()
    beats: list[float] = []
    while (status := runs.read_status(run_dir)).progress.step == 0:
        sched.tick()
        time.sleep(0.05)
    last = status.updated
    deadline = time.monotonic() + 10
    while len(beats) < 2 and time.monotonic() < deadline:
        status = runs.read_status(run_dir)
        if status.updated != last:
            beats.append(status.updated - last)
            last = status.updated
        time.sleep(0.02)
    asked = time.monotonic()
    run_queue.request_stop(run_dir, access.Actor.operator())
    while runs.read_status(run_dir).state != "stopped":
        time.sleep(0.01)
    took = time.monotonic() - asked
    sched.wait(run_dir.name, timeout=60)
    for worker in sched.workers.values():
        worker.process.wait(timeout=60)
    sched.tick()
    return took, statistics.median(beats) if beats else engine.HEARTBEAT_S


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sched = scheduler.Scheduler()
    results = [one_stop(sched) for _ in range(args.runs)]
    stops = [r[0] for r in results]
    beat = statistics.median(r[1] for r in results)
    median = statistics.median(stops)
    print(f"stop latency over {len(stops)} runs: median {median:.2f} s, worst {max(stops):.2f} s")
    print(f"reference: the worker's readout interval, median {beat:.2f} s; "
          f"ratio stop / readout {median / beat:.2f}")
    verdict = "within" if median <= PROMISE_S else "OVER"
    print(f"ratio to the {PROMISE_S:g} s promise {median / PROMISE_S:.2f}: {verdict}")
    return 0 if median <= PROMISE_S else 1


if __name__ == "__main__":
    sys.exit(main())
