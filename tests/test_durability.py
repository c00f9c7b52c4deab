"""Durable writes and a full disk: old files stay whole, no temp files, the run fails cleanly."""

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
import sys

import pytest
import torch

from explorer.i18n import use_language
from explorer.training import (
    checkpoints,
    durable,
    engine,
    reasons,
    run_queue,
    runs,
    scheduler,
    timeline,
    worker,
)
from explorer.training.config import RunConfig, TrainConfig


@pytest.fixture
def root(tmp_path, monkeypatch, own_queue):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("EXPLORER_RUNS_PER_DEVICE", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the CI machine has 2 shared cores
    yield runs.runs_dir()
    torch.set_num_threads(threads)


def _enospc(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _temp_files(folder) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.name.endswith(".tmp")]


def _config(run_id: str) -> RunConfig:
    return RunConfig(run_id, TrainConfig(), variant="mnist", in_channels=1, height=28,
                     width=28, num_classes=10, class_names=tuple(str(i) for i in range(10)),
                     mean=(0.13,), std=(0.31,))


def test_a_failed_replace_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "status.json"
    durable.write_bytes(path, b"old")
    monkeypatch.setattr(os, "fsync", _enospc)
    with pytest.raises(OSError) as caught:
        durable.write_bytes(path, b"new, longer")
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(path)
    assert path.read_bytes() == b"old" and _temp_files(tmp_path) == []


def test_a_failed_append_adds_nothing(tmp_path, monkeypatch):
    path = tmp_path / "metrics.jsonl"
    durable.append_bytes(path, b'{"step": 1}\n')
    monkeypatch.setattr(os, "fsync", _enospc)  # the bytes went in, the disk refused them
    with pytest.raises(OSError, match="No space"):
        durable.append_bytes(path, b'{"step": 2}\n')
    assert path.read_bytes() == b'{"step": 1}\n'


def test_a_checkpoint_that_cannot_be_written_keeps_the_last_one(tmp_path):
    run_dir = runs.create_run(_config("20260101-000000-ckpt"), tmp_path)
    model = torch.nn.Linear(3, 2)
    checkpoints.save(run_dir, model, runs.read_config(run_dir), epoch=1)
    real_save = torch.save

    def half_then_full(obj, fh, *args, **kwargs):
        fh.write(b"PK\x03\x04 a few bytes of a zip")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    torch.save = half_then_full
    try:
        with pytest.raises(OSError):
            checkpoints.save(run_dir, torch.nn.Linear(3, 2), runs.read_config(run_dir), epoch=2)
    finally:
        torch.save = real_save
    assert _temp_files(run_dir) == []
    assert checkpoints.load(run_dir)["epoch"] == 1
    assert torch.equal(checkpoints.load(run_dir)["state_dict"]["weight"], model.weight.detach())


def test_a_status_that_cannot_be_written_keeps_the_last_one(tmp_path, monkeypatch):
    run_dir = runs.create_run(_config("20260101-000000-status"), tmp_path)
    runs.write_status(run_dir, "running", epochs_done=1)
    monkeypatch.setattr(os, "fsync", _enospc)
    with pytest.raises(OSError):
        runs.write_status(run_dir, "running", epochs_done=2)
    assert json.loads((run_dir / "status.json").read_text())["epochs_done"] == 1
    assert _temp_files(run_dir) == []


def test_a_timeline_snapshot_that_cannot_be_written_turns_the_timeline_off(tmp_path,
                                                                         monkeypatch):
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.LazyLinear(10))
    x = torch.zeros(1, 1, 28, 28)
    model(x)
    recorder = timeline.Recorder(tmp_path, model, x, torch.zeros(1, 28, 28, dtype=torch.uint8),
                                 0, 0, total_steps=10, steps_per_epoch=5, background=True)
    recorder.record(0)
    recorder.close()  # written in the background, all of it once closed
    assert timeline.read(tmp_path).steps == [0]

    def full(obj, fh, *args, **kwargs):
        fh.write(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    recorder = timeline.Recorder(tmp_path, model, x, torch.zeros(1, 28, 28, dtype=torch.uint8),
                                 0, 0, total_steps=10, steps_per_epoch=5, background=True)
    assert recorder.error == ""
    monkeypatch.setattr(torch, "save", full)
    recorder.record(1)
    recorder.close()
    assert "No space left" in recorder.error and not recorder.due(2)
    assert timeline.read(tmp_path).steps == [0] and _temp_files(tmp_path) == []


SHORT = TrainConfig(device="cpu", epochs=3, batch_size=512)


def test_a_full_disk_at_a_checkpoint_fails_the_run_with_a_sentence_and_keeps_the_last_epoch(
        root, monkeypatch):
    run_dir = engine.prepare_run(SHORT)
    real_save = torch.save

    def full_from_epoch_2(obj, fh, *args, **kwargs):
        if isinstance(obj, dict) and "state_dict" in obj and obj["epoch"] == 2:
            fh.write(b"partial")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(obj, fh, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full_from_epoch_2)
    status = engine.train(run_dir)
    assert status["state"] == "failed" and status["epochs_done"] == 1
    assert status["reason"] == ("The server's disk is full (writing checkpoint.pt failed); "
                                "the last finished epoch is kept.")
    assert runs.read_status(run_dir).state == "failed"  # written, not only returned
    with use_language("zh"):
        assert "磁盘" in runs.read_status(run_dir).shown_reason
    model, _ = checkpoints.model_from_checkpoint(run_dir)
    assert checkpoints.load(run_dir)["epoch"] == 1
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
    assert _temp_files(run_dir) == []


def test_a_full_disk_at_the_heartbeat_ends_the_run_as_failed(root, monkeypatch):
    run_dir = engine.prepare_run(TrainConfig(device="cpu", epochs=50, batch_size=64))
    real_write, beats = runs.write_status, []

    def full_after_the_first_beat(run_dir_, state, *args, **kwargs):
        if state == "running":
            beats.append(state)
            if len(beats) > 1:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC),
                              str(run_dir_ / "status.json"))
        return real_write(run_dir_, state, *args, **kwargs)

    monkeypatch.setattr(runs, "write_status", full_after_the_first_beat)
    status = engine.train(run_dir)
    assert status["state"] == "failed", status
    assert "disk is full (writing status.json failed)" in status["reason"]
    assert runs.read_status(run_dir).state == "failed"
    assert _temp_files(run_dir) == []


class _Exited:
    """A worker process that has already ended with `code`."""

    def __init__(self, code: int) -> None:
        self.returncode, self.pid = code, 999999999

    def poll(self) -> int:
        return self.returncode


def test_when_not_even_the_failure_can_be_written_the_scheduler_records_it(root, monkeypatch,
                                                                           caplog):
    run_dir = run_queue.submit(SHORT, "alice")
    monkeypatch.setenv("EXPLORER_CLAIMED", "0")  # a worker started by hand, in this process
    real_write = runs.write_status

    def full_disk(run_dir_, state, *args, **kwargs):
        if state != "queued":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(run_dir_, state, *args, **kwargs)

    monkeypatch.setattr(runs, "write_status", full_disk)
    code = worker.main(run_dir, lambda: SHORT, None)
    assert code == reasons.EXIT_DISK_FULL
    assert runs.read_status(run_dir, check_process=False).state == "queued"

    sched = scheduler.Scheduler()
    sched.workers[run_dir.name] = scheduler.Worker(run_dir, _Exited(code))
    with caplog.at_level(logging.WARNING, logger="explorer.scheduler"):
        sched.tick()  # the disk is still full: kept, to be recorded later, and logged
    assert run_dir.name in sched.workers
    assert any("recording the end of run" in r.getMessage() for r in caplog.records)
    monkeypatch.setattr(runs, "write_status", real_write)  # space again
    sched.tick()
    assert run_dir.name not in sched.workers
    status = runs.read_status(run_dir)
    assert status.state == "failed"
    assert status.reason == ("The server's disk is full, so the training process ended; "
                             "its last finished epoch is kept.")


def test_the_exit_code_sentence_when_the_disk_is_not_known_to_be_full(root):
    run_dir = run_queue.submit(SHORT, "alice")
    scheduler.finish(scheduler.Worker(run_dir, _Exited(1)), 1)
    assert "exit code 1" in runs.read_status(run_dir).reason


def test_a_disk_full_exit_status_reads_as_disk_full():
    assert "disk is full" in scheduler.exit_reason(reasons.EXIT_DISK_FULL)["reason"]
    assert "disk is full" in scheduler.exit_reason(1, disk_full=True)["reason"]
    assert "exit code 1" in scheduler.exit_reason(1)["reason"]


def test_the_worker_exit_status_reaches_the_scheduler_from_a_real_process(root):
    """`python -m explorer.train` turns a disk-full OSError into its exit status."""
    script = ("import errno, os, sys\n"
              "from explorer.training import worker\n"
              "def full(*a, **k):\n"
              "    raise OSError(errno.ENOSPC, 'No space left on device')\n"
              "worker.train_here = full\n"
              "sys.exit(worker.main(sys.argv[1], None, None))\n")
    run_dir = run_queue.submit(SHORT, "alice")
    done = subprocess.run([sys.executable, "-c", script, str(run_dir)], check=False,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == reasons.EXIT_DISK_FULL, done.stderr[-2000:]
    assert run_queue.waiting() == []
