"""The runs folder: atomic files, status, metrics, checkpoints, listing."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading

import pytest
import torch

from explorer.training import checkpoints, runs
from explorer.training.config import RunConfig, TrainConfig


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def _config(run_id: str) -> RunConfig:
    return RunConfig(run_id, TrainConfig(), variant="mnist", in_channels=1, height=28,
                     width=28, num_classes=10, class_names=tuple(str(i) for i in range(10)),
                     mean=(0.13,), std=(0.31,))


def test_runs_dir_follows_the_environment(root):
    assert runs.runs_dir() == root
    assert root.is_dir()


def test_run_id_is_sortable_and_safe():
    rid = runs.new_run_id("lenet5", "folder:/home/me/My Pets")
    assert "/" not in rid and " " not in rid
    assert rid[:8].isdigit()
    assert runs.new_run_id("a", "b") != runs.new_run_id("a", "b")


def test_create_status_metrics_and_listing(root):
    first = runs.create_run(_config("20260101-000000-a"))
    second = runs.create_run(_config("20260102-000000-b"))
    assert runs.read_status(first).state == "queued"
    assert runs.read_config(first) == _config("20260101-000000-a")
    runs.write_status(second, "running", epochs_done=1)
    runs.append_metrics(second, [{"kind": "step", "loss": 1.0}, {"kind": "step", "loss": 0.5}])
    (second / "metrics.jsonl").open("a").write('{"kind": "st')  # a line being written
    assert [m["loss"] for m in runs.read_metrics(second)] == [1.0, 0.5]
    listed = runs.list_runs()
    assert [r.run_id for r in listed] == [second.name, first.name]
    assert listed[0].state == "running" and not listed[0].has_checkpoint
    with pytest.raises(ValueError):
        runs.write_status(first, "exploded")


def test_a_run_whose_process_died_reads_as_failed_and_a_queued_one_keeps_waiting(root):
    run_dir = runs.create_run(_config("20260101-000000-dead"))
    runs.write_status(run_dir, "running")
    status = (run_dir / "status.json").read_text().replace(str(os.getpid()), "999999999")
    (run_dir / "status.json").write_text(status)
    read = runs.read_status(run_dir)
    assert read.state == "failed"
    assert "ended unexpectedly" in read.reason
    assert runs.read_status(run_dir, check_process=False).state == "running"
    runs.write_status(run_dir, "queued", pid=999999999)  # the queue needs no process
    assert runs.read_status(run_dir).state == "queued"


def test_checkpoint_is_atomic_and_loads_with_weights_only(root):
    run_dir = runs.create_run(_config("20260101-000000-ckpt"))
    model = torch.nn.Linear(3, 2)
    checkpoints.save(run_dir, model, runs.read_config(run_dir), epoch=2)
    assert [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")] == []
    ckpt = checkpoints.load(run_dir / "checkpoint.pt")
    assert ckpt["epoch"] == 2 and ckpt["config"]["model"] == "lenet5"
    assert torch.equal(ckpt["state_dict"]["weight"], model.weight.detach())
    assert checkpoints.load(run_dir)["epoch"] == 2
    assert runs.list_runs()[0].has_checkpoint


def test_curves_split_steps_and_epochs_and_smooth_the_loss():
    records = [{"kind": "step", "step": i, "loss": float(v), "lr": 0.1}
               for i, v in enumerate([4, 2, 4, 2], 1)]
    records.append({"kind": "epoch", "epoch": 1, "test_acc": 0.5})
    c = runs.curves(records)
    assert c.step == [1, 2, 3, 4] and c.loss == [4, 2, 4, 2]
    assert c.loss_smooth[0] == pytest.approx(4.0)  # bias-corrected: starts at the first value
    assert 2 < c.loss_smooth[-1] < 4
    assert [e["epoch"] for e in c.epochs] == [1] and c.last_epoch["test_acc"] == 0.5


def test_run_config_round_trips_through_json_and_reads_old_folders():
    config = _config("20260101-000000-rt")
    assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    old = {k: v for k, v in config.to_dict().items() if k not in ("owner", "class_names")}
    assert RunConfig.from_dict(old).class_names == config.class_names


def test_a_folder_with_a_broken_config_is_skipped_in_listings(root):
    runs.create_run(_config("20260101-000000-good"))
    (root / "20260101-000000-bad").mkdir()
    (root / "20260101-000000-bad" / "config.json").write_text("{not json")
    assert [r.run_id for r in runs.list_runs()] == ["20260101-000000-good"]
    with pytest.raises(ValueError, match="no readable config"):
        runs.read_config(root / "20260101-000000-bad")


def _counting(monkeypatch, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(runs, name)

    def parse(data):
        calls.append(1)
        return real(data)

    monkeypatch.setattr(runs, name, parse)
    return calls


def test_listing_parses_again_only_the_files_that_changed(root, monkeypatch):
    dirs = [runs.create_run(_config(f"20260101-00000{i}-cache")) for i in range(3)]
    configs, statuses = (_counting(monkeypatch, "_parse_config"),
                         _counting(monkeypatch, "_parse_status"))
    assert len(runs.list_runs()) == 3
    assert (len(configs), len(statuses)) == (3, 3)
    runs.list_runs()
    assert (len(configs), len(statuses)) == (3, 3)  # nothing changed, nothing parsed
    runs.write_status(dirs[1], "running", epochs_done=4)
    listed = {r.run_id: r for r in runs.list_runs()}
    assert (len(configs), len(statuses)) == (3, 4)
    assert listed[dirs[1].name].state == "running"
    assert listed[dirs[1].name].status.epochs_done == 4


def test_a_cached_status_is_not_changed_by_its_readers(root):
    run_dir = runs.create_run(_config("20260101-000000-mutable"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        runs.read_status(run_dir).state = "finished"
    runs.read_status(run_dir).to_dict()["state"] = "finished"
    runs.read_status(run_dir).reason_args["n"] = 1
    assert runs.read_status(run_dir).state == "queued"
    assert runs.read_status(run_dir).reason_args == {}


def test_whether_a_running_run_lives_is_decided_at_every_call(root):
    run_dir = runs.create_run(_config("20260101-000000-alive"))
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        runs.write_status(run_dir, "running", pid=proc.pid)
        assert runs.list_runs()[0].state == "running"
    finally:
        proc.kill()
        proc.wait()
    assert runs.list_runs()[0].state == "failed"  # the same file, a new verdict


def test_the_cache_is_bounded(root, monkeypatch):
    monkeypatch.setattr(runs, "PARSED_CACHE_SIZE", 4)
    for i in range(6):
        runs.create_run(_config(f"20260101-00000{i}-bounded"))
    assert len(runs.list_runs()) == 6 and len(runs.list_runs()) == 6
    assert len(runs._parsed_cache) <= 4


def test_listing_while_statuses_change_in_other_threads(root):
    dirs = [runs.create_run(_config(f"20260101-00000{i}-threads")) for i in range(5)]
    stop, errors, counts = threading.Event(), [], []

    def write():
        epoch = 0
        while not stop.is_set():
            epoch += 1
            runs.write_status(dirs[epoch % 5], "running", epochs_done=epoch)

    def read():
        try:
            for _ in range(50):
                counts.append(len(runs.list_runs()))
        except Exception as err:  # any error fails the test below
            errors.append(err)

    writer = threading.Thread(target=write)
    readers = [threading.Thread(target=read) for _ in range(4)]
    writer.start()
    for t in readers:
        t.start()
    for t in readers:
        t.join()
    stop.set()
    writer.join()
    assert errors == [] and set(counts) == {5}


def test_the_shared_flag_is_a_file_in_the_run_folder(root):
    run_dir = runs.create_run(_config("20260101-000000-shared"))
    assert runs.SHARED_FILE == "shared" and not runs.is_shared(run_dir)
    (run_dir / runs.SHARED_FILE).touch()
    assert runs.is_shared(run_dir)
