"""Does a training run slow the pages down? Page rerun time without and with a run training.

A real `streamlit run` server (one process) serves the Conv arithmetic page; the load tool
(`../shared/tools/loadtest.py run`, Streamlit's websocket protocol) plays a few students moving
its sliders, first with nothing training, then while a LeNet-5 run trains in a worker process
started through the same queue the Training page uses. The phases alternate (without, with,
without, with, … `--pairs` of each), a fresh run for each "with", so neither side always
meets a colder or a warmer server. Prints each phase's median interaction time, the median
of the pairs' ratios as `ratio <with ÷ without>`, and exits 1 when it is over the goal
(≤ 1.3 on a 2-core machine).

    python bench/training_isolation.py [--students 3] [--interactions 8] [--pairs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOADTEST = REPO.parent / "shared" / "tools" / "loadtest.py"


def _tool(*args: str, env: dict | None = None) -> str:
    out = subprocess.run([sys.executable, str(LOADTEST), *args], cwd=REPO, env=env,
                         capture_output=True, text=True, check=True, timeout=900)
    return out.stdout


def phase(port: int, pid: int, students: int, interactions: int) -> float:
    """Median interaction seconds of one load phase on the Conv arithmetic page."""
    report = Path(tempfile.mkdtemp(prefix="bench-isolation-")) / "phase.json"
    _tool("run", "--port", str(port), "--pid", str(pid), "--pages",
          f"conv-arithmetic:{students}", "--interactions", str(interactions),
          "--think", "0.5,1.0", "--json", str(report))
    latencies = json.loads(report.read_text())["per_page"]["conv-arithmetic"]["interact"]
    if isinstance(latencies, dict):  # a summary rather than the raw latencies
        return float(latencies["p50"])
    return statistics.median(latencies)


GOAL = 1.3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=3)
    parser.add_argument("--interactions", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    runs_dir = tempfile.mkdtemp(prefix="bench-isolation-")
    env = dict(os.environ, EXPLORER_RUNS_DIR=runs_dir)
    server = json.loads(_tool("serve", "--app", "explorer/app.py", "--cwd", str(REPO),
                              "--python", sys.executable, env=env).strip().splitlines()[-1])
    os.environ["EXPLORER_RUNS_DIR"] = runs_dir
    from explorer.training import access, run_queue, runs, scheduler
    from explorer.training.config import TrainConfig

    def with_a_run() -> float:
        run_dir = run_queue.submit(TrainConfig(device="cpu", epochs=200, batch_size=64),
                                   "bench")
        while runs.read_status(run_dir).progress.step == 0:
            time.sleep(0.2)
        try:
            return phase(server["port"], server["pid"], args.students, args.interactions)
        finally:
            run_queue.request_stop(run_dir, access.Actor.operator())
            sched.wait(run_dir.name, timeout=60)

    pairs = []
    sched = scheduler.Scheduler().start()  # the same launcher a server's page uses
    try:
        for i in range(args.pairs):
            without = phase(server["port"], server["pid"], args.students, args.interactions)
            with_run = with_a_run()
            pairs.append((without, with_run))
            print(f"pair {i + 1}: without {without * 1000:.0f} ms, with a LeNet-5 run training "
                  f"{with_run * 1000:.0f} ms, ratio {with_run / without:.2f}", flush=True)
    finally:
        sched.stop()
        _tool("stop", "--pid", str(server["pid"]))
    ratio = statistics.median(w / wo for wo, w in pairs)
    print(f"conv-arithmetic interaction median without training: "
          f"{statistics.median(p[0] for p in pairs) * 1000:.0f} ms")
    print(f"conv-arithmetic interaction median with a LeNet-5 run training: "
          f"{statistics.median(p[1] for p in pairs) * 1000:.0f} ms")
    print(f"ratio {ratio:.2f} (median of {len(pairs)} interleaved pairs; goal <= {GOAL})")
    return 0 if ratio <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
