"""What moving the training timeline's slider costs the server, against a whole Training page.

Trains a short LeNet-5 run on mnist-mini (its timeline has about 50 snapshots), opens the
Training page on it in AppTest and moves the timeline slider to a snapshot not shown before,
rerunning the timeline fragment alone as the server does (the machinery of
`bench/rerun_cost.py`: the timed run carries the fragment's id, page scripts are compiled
once). The reference, measured in the same run on the same page: a change of the Epochs
field, which reruns the whole page. Prints medians, p95 and their ratio; the timeline's
target is a median of at most 150 ms.

    .venv/bin/python bench/timeline_bench.py            # ~1 minute
    .venv/bin/python bench/timeline_bench.py --reps 30
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ["EXPLORER_RUNS_DIR"] = tempfile.mkdtemp(prefix="explorer-timeline-bench-")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import rerun_cost  # patches AppTest: fragment-scoped, compiled-once reruns
import torch
from streamlit.testing.v1 import AppTest

from explorer.training import access, engine, timeline
from explorer.training.config import TrainConfig

TARGET_MS = 150.0


def train_run() -> Path:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_dir = engine.prepare_run(TrainConfig(epochs=2, device="cpu"))
        status = engine.train(run_dir)
    finally:
        torch.set_num_threads(threads)
    if status["state"] != "finished":
        raise SystemExit(f"the benchmark's run did not finish: {status}")
    # made by nobody's browser: shared, as a teacher would, so the page's student may open it
    access.set_shared(run_dir.name, access.Actor.operator(), True)
    return run_dir


def open_training(run_id: str, timeout: float) -> AppTest:
    at = AppTest.from_file(str(rerun_cost.APP), default_timeout=timeout)
    at.query_params["run"] = run_id
    at.run()
    at.switch_page(os.path.relpath(rerun_cost.REPO_ROOT / "pages/training.py",
                                   rerun_cost.APP.parent)).run()
    if at.exception:
        raise SystemExit(f"the Training page failed: {at.exception[0].value}")
    return at


def timed(at: AppTest, item: rerun_cost.Interaction, reps: int) -> tuple[list[float], str]:
    times, scope = [], ""
    for rep in range(reps + 1):  # the first change warms the caches every change shares
        result = rerun_cost.interact(at, item, rep)
        if result is None:
            raise SystemExit(f"{item.name}: the widget is not on the page")
        if rep:
            times.append(result[0])
        scope = result[1]
    return times, scope


def summary(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return (statistics.median(times) * 1000,
            ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=20, help="timed changes of each kind")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    print("training a 2-epoch LeNet-5 on mnist-mini …", flush=True)
    run_dir = train_run()
    steps = timeline.read(run_dir).steps
    reps = min(args.reps, len(steps) - 2)
    at = open_training(run_dir.name, args.timeout)
    # every timed change shows a snapshot not drawn before (nothing of it cached yet)
    slider = rerun_cost.Interaction("timeline slider", f"training_timeline_{run_dir.name}",
                                    tuple(steps[: reps + 2]))
    page = rerun_cost.Interaction("Epochs (whole page)", "training_epochs", (3, 2))
    slider_times, slider_scope = timed(at, slider, reps)
    page_times, page_scope = timed(at, page, reps)
    s_med, s_p95 = summary(slider_times)
    p_med, p_p95 = summary(page_times)
    print(f"\n{'interaction':26} {'scope':9} {'median ms':>10} {'p95 ms':>9}")
    print(f"{slider.name:26} {slider_scope:9} {s_med:10.1f} {s_p95:9.1f}")
    print(f"{page.name:26} {page_scope:9} {p_med:10.1f} {p_p95:9.1f}")
    print(f"\ntimeline slider / whole page: {s_med / p_med:.2f}× "
          f"({len(slider_times)} changes each, same run, same page, {len(steps)} snapshots)")
    verdict = "within" if s_med <= TARGET_MS else "OVER"
    print(f"timeline slider median {s_med:.1f} ms: {verdict} the {TARGET_MS:.0f} ms target")
    return 0 if s_med <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
