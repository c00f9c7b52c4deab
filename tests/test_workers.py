"""Runs train in their own processes: launch, stop within 2 s, SIGKILL, DDP under torchrun."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from explorer import REPO_ROOT
from explorer.models import zoo
from explorer.training import access, checkpoints, cli, engine, run_queue, runs, scheduler
from explorer.training.config import TrainConfig
from tests.conftest import until

LONG = TrainConfig(device="cpu", epochs=50, batch_size=64, readouts_per_s=20)


@pytest.fixture
def root(tmp_path, monkeypatch, own_queue):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("EXPLORER_RUNS_PER_DEVICE", "1")
    return runs.runs_dir()


def _training(run_dir) -> bool:
    status = runs.read_status(run_dir)
    return status.state == "running" and status.progress.step > 0


def test_a_queued_run_trains_in_its_own_process_and_finishes(root):
    sched = scheduler.Scheduler()
    run_dir = run_queue.submit(TrainConfig(device="cpu", epochs=1, batch_size=512), "alice")
    sched.tick()
    worker = sched.workers[run_dir.name]
    assert worker.process.pid != os.getpid()
    until(lambda: (sched.tick() or True) and runs.read_status(run_dir).state == "finished",
           120, "the run to finish")
    assert runs.read_status(run_dir).pid != os.getpid()  # written by the worker
    model, config = checkpoints.model_from_checkpoint(run_dir)
    assert config.owner == "alice" and model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


def test_two_schedulers_never_start_one_run_twice_and_keep_the_device_limit(root):
    a, b = scheduler.Scheduler(), scheduler.Scheduler()
    first = run_queue.submit(LONG, "alice")
    second = run_queue.submit(LONG, "bob")
    try:
        for _ in range(5):
            a.tick()
            b.tick()
        assert len(a.workers) + len(b.workers) == 1  # one cpu slot: one run at a time
        assert runs.read_status(second).state == "queued"
        assert run_queue.position(second.name) == 1
    finally:
        for run_dir in (first, second):
            run_queue.request_stop(run_dir, access.Actor.operator())
        for sched in (a, b):
            for w in sched.workers.values():
                w.process.wait(timeout=60)


def test_stop_ends_a_running_worker_with_a_loadable_checkpoint(root):
    """That Stop stops a training worker, keeping its weights; how fast (the 2 s promise) is
    bench/stop_bench.py's bar, not a test's."""
    sched = scheduler.Scheduler()
    run_dir = run_queue.submit(LONG, "alice")
    sched.tick()
    until(lambda: _training(run_dir), 120, "the first steps")
    assert run_queue.request_stop(run_dir, access.Actor.operator()) == "requested"
    until(lambda: runs.read_status(run_dir).state == "stopped", 60, "the stop")
    assert "checkpoint holds the weights" in runs.read_status(run_dir).reason
    model, _ = checkpoints.model_from_checkpoint(run_dir)
    assert sum(p.numel() for p in model.parameters()) > 0
    sched.workers[run_dir.name].process.wait(timeout=30)


def test_sigkill_marks_the_run_failed_and_frees_the_slot(root):
    sched = scheduler.Scheduler()
    run_dir = run_queue.submit(LONG, "alice")
    sched.tick()
    until(lambda: _training(run_dir), 120, "the first steps")
    os.kill(sched.workers[run_dir.name].process.pid, signal.SIGKILL)
    # any reader sees it at once (same machine, process gone) ...
    status = until(lambda: (s := runs.read_status(run_dir)).state == "failed" and s, 5,
                    "the death to be noticed")
    assert "ended unexpectedly" in status.reason
    # ... and the scheduler that launched it records the signal
    until(lambda: (sched.tick() or True) and "signal 9" in runs.read_status(
        run_dir).reason, 5, "the exit status")
    assert runs.read_status(run_dir).reason.startswith(
        "The training process ended unexpectedly (signal 9")
    slot = run_queue.try_slot("cpu")
    assert slot is not None  # the dead worker's lock went with it
    slot.release()


def test_a_stale_heartbeat_from_another_machine_reads_as_failed(root):
    run_dir = run_queue.submit(LONG, "alice")
    runs.write_status(run_dir, "running", host="elsewhere", pid=1,
                      updated=time.time() - runs.STALE_AFTER_S - 1)
    status = runs.read_status(run_dir)
    assert status.state == "failed" and "no sign of life" in status.reason


def test_cli_stop_asks_a_run_to_stop(root):
    run_dir = run_queue.submit(LONG, "alice")
    out = io.StringIO()
    assert cli.main(["--stop", run_dir.name], out=out) == 0
    assert "left the queue" in out.getvalue()
    assert cli.main(["--stop", "20990101-000000-none"], out=out) == 2


def test_compile_failure_falls_back_to_eager_with_a_note(root, monkeypatch):
    class Broken(torch.nn.Module):
        def __init__(self, model):
            super().__init__()

        def forward(self, x):
            raise RuntimeError("inductor is not available here")

    monkeypatch.setattr(torch, "compile", lambda model, **_: Broken(model))
    run_dir = engine.prepare_run(TrainConfig(device="cpu", epochs=1, batch_size=512,
                                             compile="on"))
    status = engine.train(run_dir)
    assert status["state"] == "finished", status["reason"]
    assert "Compilation failed" in status["note"]
    assert not engine.use_compile(TrainConfig(), torch.device("cpu"))
    assert engine.use_compile(TrainConfig(), torch.device("cuda"))


def test_shards_are_disjoint_and_cover_the_training_set():
    for n, world in ((8000, 2), (1001, 3), (5, 4)):
        parts = [engine.shard_indices(n, r, world, seed=0) for r in range(world)]
        joined = torch.cat(parts)
        assert len(joined) == n and torch.equal(joined.sort().values, torch.arange(n))
        assert max(map(len, parts)) - min(map(len, parts)) <= 1


@pytest.mark.slow
def test_two_gloo_processes_train_lenet5_to_the_one_process_bar(root):
    """torchrun with 2 CPU processes (DDP over gloo): 6 epochs of LeNet-5 on mnist-mini."""
    done = subprocess.run(
        [sys.executable, "-m", "explorer.train", "--model", "lenet5", "--dataset", "mnist-mini",
         "--epochs", "6", "--batch-size", "64", "--lr", "4e-3", "--device", "cpu",
         "--nproc-per-node", "2", "--threads", "1"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    (run,) = runs.list_runs()
    status = runs.read_status(run.path)
    assert status.state == "finished" and status.progress.processes == 2
    epochs = [m for m in runs.read_metrics(run.path) if m["kind"] == "epoch"]
    assert len(epochs) == 6 and epochs[-1]["test_acc"] >= 0.975, [e["test_acc"] for e in epochs]
    ckpt = checkpoints.load(run.path)
    plain = zoo.build_model("lenet5")  # the plain model, not the DDP wrapper
    plain.load_state_dict(ckpt["state_dict"], strict=True)
