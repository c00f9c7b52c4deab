"""A VGG-16 channel picture at 224 px made by a worker while a class works on other pages.

Starts one Streamlit process as `make run` does (through `../shared/tools/loadtest.py serve`,
with a new, empty runs folder), and a channel scheduler thread here, beside it, as the page's
server process runs one (`channel_jobs.ensure_scheduler`): the job runs in its own worker
process either way, never in a web process. Two waves of the same simulated class
(`loadtest.py run`: STUDENTS students on Convolution and Conv arithmetic, think 10-30 s, the
`calm` wave of bench/classroom.py) are timed in the same run:

  reference   one wave of the class alone
  with a job  waves of the class, one after another for as long as a worker optimises one
              VGG-16 channel at 224 px (random seeded weights, or ImageNet's when they are on
              the machine), STEPS steps

It prints the job's time from the request to `finished` (and its seconds per step), each wave's
interaction p50 / p95, and the ratio of the two p95s. Bar: with the job running, interaction
p95 < 1 s, no failed session and no exception drawn, and the job finished. Exit 1 otherwise.

    .venv/bin/python bench/feature_visualization_bench.py
    .venv/bin/python bench/feature_visualization_bench.py --layer features.28 --steps 64
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.classroom import LOADTEST, pct  # noqa: E402  (the same load generator, percentiles)
from explorer.models import zoo  # noqa: E402
from explorer.training import access, channel_jobs, runs  # noqa: E402

P95_BAR_S = 1.0
PAGES = "convolution:{a},conv-arithmetic:{b}"


def wave(port: int, students: int, interactions: int, label: str, seed: int) -> dict:
    """One wave of the class; its interaction times, failures and exceptions."""
    return summary([_wave(port, students, interactions, label, seed)])


def summary(phases: list[dict]) -> dict:
    """Waves' interaction p50 / p95 over all their interactions, failures and exceptions."""
    interact = [v for phase in phases for d in phase["per_page"].values() for v in d["interact"]]
    return {"p50": pct(interact, 50), "p95": pct(interact, 95), "n": len(interact),
            "waves": len(phases),
            "failed": sum(len(d["failed"]) for p in phases for d in p["per_page"].values()),
            "exceptions": sum(len(d["exceptions"]) for p in phases
                              for d in p["per_page"].values())}


def _wave(port: int, students: int, interactions: int, label: str, seed: int) -> dict:
    out = Path(tempfile.mkstemp(prefix="channel-bench-", suffix=".json")[1])
    half = students // 2
    cmd = [sys.executable, str(LOADTEST), "run", "--port", str(port), "--pages",
           PAGES.format(a=half, b=students - half), "--think", "10,30", "--interactions",
           str(interactions), "--label", label, "--json", str(out), "--max-seconds", "600",
           "--seed", str(seed), "--no-media"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"loadtest failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    phase = json.loads(out.read_text())
    out.unlink()
    return phase


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--interactions", type=int, default=5)
    parser.add_argument("--layer", default="features.10", help="a conv layer of VGG-16")
    parser.add_argument("--channel", type=int, default=0)
    parser.add_argument("--steps", type=int, default=256)
    args = parser.parse_args()

    runs_root = Path(tempfile.mkdtemp(prefix="channel-bench-runs-"))
    os.environ.update(EXPLORER_RUNS_DIR=str(runs_root), EXPLORER_CHANNEL_STEPS=str(args.steps))
    served = json.loads(subprocess.run(
        [sys.executable, str(LOADTEST), "serve", "--cwd", str(REPO_ROOT)], capture_output=True,
        text=True, check=True, cwd=REPO_ROOT, env=dict(os.environ)).stdout.strip().splitlines()[-1])
    file = zoo.pretrained_file("vgg16")
    imagenet = file is not None and file.is_cached()
    request = channel_jobs.ChannelRequest(
        "vgg16", channel_jobs.IMAGENET if imagenet else channel_jobs.RANDOM, "imagenet",
        args.layer, args.channel)
    try:
        reference = wave(served["port"], args.students, args.interactions, "reference", 1)
        channel_jobs.ensure_scheduler()
        t0 = time.monotonic()
        info = channel_jobs.request(request, access.Actor("bench"))
        ended: dict[str, float] = {}

        def watch() -> None:
            while runs.read_status(info.path).live:
                time.sleep(0.5)
            ended["s"] = time.monotonic() - t0

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        phases = []  # waves one after another until the job has ended: the class never stops
        while not phases or "s" not in ended:
            phases.append(_wave(served["port"], args.students, args.interactions,
                                "with a job", 2 + len(phases)))
        loaded = summary(phases)
        watcher.join()
        status = runs.read_status(info.path)
    finally:
        subprocess.run([sys.executable, str(LOADTEST), "stop", "--pid", str(served["pid"])],
                       capture_output=True, check=False)
    frames = channel_jobs.read_frames(info.path)
    shutil.rmtree(runs_root, ignore_errors=True)

    weights = "ImageNet" if imagenet else "random (seed 0)"
    print(f"\n## VGG-16 channel job at 224 px: {args.layer} channel {args.channel}, {weights} "
          f"weights, {args.steps} steps, {os.cpu_count()} cores\n")
    print(f"job: {status.state} in {ended['s']:.0f} s from the request "
          f"({ended['s'] / args.steps:.2f} s a step, {len(frames)} frames), while "
          f"{loaded['waves']} wave(s) of the class ran one after another")
    print("\n| wave | interaction p50 / p95 (s) | n | failed | exceptions |")
    print("|---|---|---|---|---|")
    for name, row in (("reference (no job)", reference), ("with the job", loaded)):
        print(f"| {name} | {row['p50']:.2f} / {row['p95']:.2f} | {row['n']} | {row['failed']} "
              f"| {row['exceptions']} |")
    ratio = loaded["p95"] / reference["p95"] if reference["p95"] else float("nan")
    print(f"\np95 with the job / without: {ratio:.2f}")
    ok = (status.state == "finished" and loaded["p95"] is not None and loaded["p95"] < P95_BAR_S
          and loaded["failed"] == 0 and loaded["exceptions"] == 0)
    print(f"bar (job finished, p95 with it < {P95_BAR_S} s, no failure): "
          f"{'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
