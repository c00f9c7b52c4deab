"""The on-disk training queue: atomic claims, device slots across processes, owners, stops."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from explorer.training import access, run_queue, runs
from explorer.training.config import TrainConfig


@pytest.fixture
def root(tmp_path, monkeypatch, own_queue):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("EXPLORER_RUNS_PER_DEVICE", raising=False)
    monkeypatch.delenv("EXPLORER_RUNS_PER_OWNER", raising=False)
    return runs.runs_dir()


CPU = TrainConfig(device="cpu", epochs=1, batch_size=512)


def test_submit_queues_the_run_first_come_first_served(root):
    first = run_queue.submit(CPU, "alice")
    second = run_queue.submit(CPU, "bob")
    assert [w.run_id for w in run_queue.waiting()] == [first.name, second.name]
    assert runs.read_status(first).state == "queued"
    assert runs.read_config(first).owner == "alice"
    assert run_queue.position(second.name) == 2 and run_queue.position("nope") is None


def test_exactly_one_of_many_concurrent_claimers_gets_the_run(root):
    run_queue.submit(CPU, "alice")
    (item,) = run_queue.waiting()
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def claim():
        barrier.wait()
        wins.append(run_queue.claim(item))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1 and run_queue.waiting() == []


def test_device_slots_hold_across_processes_and_free_when_the_holder_dies(root, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS_PER_DEVICE", "1")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from explorer.training import run_queue; "
         "s = run_queue.try_slot('cpu'); print(s is not None, flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "True"
        assert run_queue.try_slot("cpu") is None  # another process holds the only slot
        assert run_queue.busy_slots("cpu") == 1
        holder.kill()  # SIGKILL: the kernel drops its lock
        holder.wait()
        slot = run_queue.try_slot("cpu")
        assert slot is not None
        assert run_queue.try_slot("cpu") is None
        slot.release()
    finally:
        holder.kill()


def test_one_live_run_per_owner_and_others_are_not_blocked(root):
    run_queue.submit(CPU, "alice")
    with pytest.raises(ValueError, match="You already have run"):
        run_queue.submit(CPU, "alice")
    run_queue.submit(CPU, "bob")
    assert [r.config.owner for r in run_queue.live_runs()] == ["alice", "bob"]
    assert len(run_queue.live_runs("alice")) == 1


def test_rapid_submissions_from_one_owner_start_one_run(root):
    errors: list[str] = []

    def click():
        try:
            run_queue.submit(CPU, "carol")
        except ValueError as err:
            errors.append(str(err))

    threads = [threading.Thread(target=click) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(run_queue.live_runs("carol")) == 1 and len(errors) == 2


def test_stopping_a_queued_run_drops_it_from_the_queue(root):
    run_dir = run_queue.submit(CPU, "alice")
    assert run_queue.request_stop(run_dir, access.Actor.operator()) == "dropped"
    assert runs.read_status(run_dir).state == "stopped"
    assert run_queue.waiting() == [] and run_queue.live_runs("alice") == []
    assert run_queue.request_stop(run_dir, access.Actor.operator()) == "not live"


def test_a_missing_device_is_refused_before_anything_is_written(root, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)  # as on a CPU-only machine
    with pytest.raises(ValueError, match="CUDA"):
        run_queue.submit(TrainConfig(device="cuda"), "alice")
    assert runs.list_runs() == []
