"""Retention: old runs and runs over the budget go, oldest first; live and shared ones stay."""

from __future__ import annotations

import fcntl
import logging
import os
import time

import pytest

from explorer.training import retention, run_queue, runs, scheduler
from explorer.training.config import RunConfig, TrainConfig

DAY = 86400.0


@pytest.fixture
def root(tmp_path, monkeypatch, own_queue):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("EXPLORER_RUNS_MAX_AGE_DAYS", raising=False)
    monkeypatch.delenv("EXPLORER_RUNS_MAX_GB", raising=False)
    return runs.runs_dir()


def _run(name: str, age_days: float, state: str = "finished", size: int = 0):
    """A run folder created `age_days` ago, in `state`, with `size` bytes of checkpoint."""
    created = time.time() - age_days * DAY
    config = RunConfig(f"2026-{name}", TrainConfig(), variant="mnist", in_channels=1, height=28,
                       width=28, num_classes=10, class_names=tuple(str(i) for i in range(10)),
                       mean=(0.13,), std=(0.31,), created=created, owner="alice")
    run_dir = runs.create_run(config)
    if state != "queued":
        runs.write_status(run_dir, state)
    if size:
        (run_dir / "checkpoint.pt").write_bytes(os.urandom(size))
    return run_dir


def _names(root) -> list[str]:
    return sorted(r.run_id.removeprefix("2026-") for r in runs.list_runs(root))


def test_the_defaults_and_the_environment(monkeypatch):
    assert retention.max_age_days() == 30 and retention.max_bytes() == 20 * 10**9
    monkeypatch.setenv("EXPLORER_RUNS_MAX_AGE_DAYS", "7")
    monkeypatch.setenv("EXPLORER_RUNS_MAX_GB", "0")
    assert retention.max_age_days() == 7 and retention.max_bytes() == 0


def test_old_runs_go_but_never_live_shared_or_recent_ones(root, caplog):
    _run("old", 40)
    _run("old-failed", 35, "failed")
    (_run("old-shared", 50) / runs.SHARED_FILE).touch()
    _run("old-queued", 45, "queued")
    _run("old-running", 45, "running")  # alive as far as its status says
    _run("young", 2)
    with caplog.at_level(logging.INFO, logger="explorer.retention"):
        removed = retention.sweep(root)
    assert sorted(removed) == ["2026-old", "2026-old-failed"]
    assert _names(root) == ["old-queued", "old-running", "old-shared", "young"]
    assert any("removed run 2026-old " in r.getMessage() for r in caplog.records)
    assert not (root / ".trash").exists() or not any((root / ".trash").iterdir())


def test_over_the_budget_the_oldest_go_first_until_it_fits(root, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS_MAX_GB", str(350_000 / 1e9))  # 350 kB
    for i, age in enumerate((5, 4, 3, 2)):  # a, b, c, d: oldest first, 100 kB each
        _run("abcd"[i], age, size=100_000)
    (runs.runs_dir() / "2026-a" / runs.SHARED_FILE).touch()
    assert retention.sweep(root) == ["2026-b"]  # a is shared: b is the oldest that may go
    assert _names(root) == ["a", "c", "d"]
    _run("e", 1, "running", size=100_000)
    assert retention.sweep(root) == ["2026-c"]
    assert _names(root) == ["a", "d", "e"]


def test_no_size_limit_with_zero(root, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS_MAX_GB", "0")
    monkeypatch.setenv("EXPLORER_RUNS_MAX_AGE_DAYS", "0")
    _run("ancient", 4000, size=10_000)
    assert retention.sweep(root) == [] and _names(root) == ["ancient"]


def test_one_sweep_at_a_time_and_not_too_often(root):
    _run("old", 40)
    fd = os.open(root / retention.LOCK_FILE, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another server process is sweeping
        assert retention.sweep(root) == []
    finally:
        os.close(fd)
    assert retention.sweep(root, every_s=300) == ["2026-old"]
    _run("old-too", 40)
    assert retention.sweep(root, every_s=300) == []  # swept a moment ago
    assert retention.sweep(root, every_s=300, now=time.time() + 301) == ["2026-old-too"]


def test_remove_run_takes_the_folder_and_its_markers_but_refuses_a_live_run(root):
    run_dir = run_queue.submit(TrainConfig(device="cpu"), "alice")
    with pytest.raises(runs.RunIsLive, match="still queued or running"):
        runs.remove_run(run_dir)
    (item,) = run_queue.waiting()
    assert run_queue.claim(item)
    runs.write_status(run_dir, "stopped", "by hand")  # ended, its claim left behind
    assert runs.remove_run(run_dir) is True
    assert not run_dir.exists() and runs.list_runs() == []
    assert runs.markers(root, run_dir.name) == []
    assert runs.remove_run(run_dir) is False


def test_the_scheduler_sweeps_when_it_starts(root):
    _run("old", 40)
    scheduler.Scheduler().tick()
    assert _names(root) == []
