"""Durable writes: a failed write keeps the old file whole and leaves no temp file."""

from __future__ import annotations

import errno
import json
import os

import pytest
import torch

from explorer.training import checkpoints, durable, runs
from explorer.training.config import RunConfig, TrainConfig


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
