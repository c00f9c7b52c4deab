"""Under DDP every rank stops together, without a blocking all-reduce per step
(engine._Agreement): two real gloo processes on the CPU."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.training import engine, runs
from explorer.training.config import TrainConfig

RANKS = Path(__file__).with_name("ddp_ranks.py")


def _two_ranks(tmp_path: Path, scenario: str, run_dir: Path | None = None) -> list[dict]:
    init = tmp_path / f"rendezvous-{scenario}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, str(RANKS), scenario, str(rank), "2", str(init),
                               *([str(run_dir)] if run_dir else [])],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for rank in range(2)]
    outs = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            pytest.fail(f"{scenario}: a rank hung (left waiting in a collective)")
        assert proc.returncode == 0, err[-3000:]
        outs.append(json.loads(out.strip().splitlines()[-1]))
    return outs


def test_a_bad_loss_one_rank_saw_ends_both_at_the_same_step(tmp_path):
    first, second = _two_ranks(tmp_path, "agreement")
    assert first["ended_at"] == second["ended_at"] == 3 + engine.AGREE_LAG
    assert "'step': 3" in second["reason"], "the rank that saw it names the step"


@pytest.fixture
def run_root(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def test_a_stop_only_one_rank_heard_stops_both_at_the_same_step(tmp_path, run_root):
    run_dir = engine.prepare_run(TrainConfig(model="lenet5", dataset="mnist-mini", epochs=40,
                                             batch_size=64, device="cpu", train_limit=1024,
                                             test_limit=128))
    first, second = _two_ranks(tmp_path, "stop", run_dir)
    assert first["state"] == second["state"] == "stopped", (first, second)
    steps = [re.search(r"after (\d+) steps", out["reason"]).group(1) for out in (first, second)]
    assert steps[0] == steps[1], "both stopped after the same steps"
    assert runs.read_status(run_dir).state == "stopped"


def test_a_diverging_run_fails_on_both_ranks_with_its_reason(tmp_path, run_root):
    run_dir = engine.prepare_run(TrainConfig(model="lenet5", dataset="mnist-mini", epochs=3,
                                             batch_size=64, device="cpu", lr=1e4,
                                             optimizer="sgd", train_limit=1024,
                                             test_limit=128))
    first, second = _two_ranks(tmp_path, "diverge", run_dir)
    assert first["state"] == second["state"] == "failed"
    assert "Diverged" in runs.read_status(run_dir).reason
