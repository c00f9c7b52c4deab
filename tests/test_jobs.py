"""The job queue: N runs per device, FIFO waiting, stop, re-attach by run id, no raising."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from explorer.training import engine, jobs, runs
from explorer.training.config import TrainConfig


@pytest.fixture(autouse=True)
def runs_root(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    threads = torch.get_num_threads()
    yield tmp_path / "runs"
    torch.set_num_threads(threads)


class FakeRunner:
    """Stands in for engine.train: records the order of events, ends when released."""

    def __init__(self):
        self.events: list[str] = []
        self.release: dict[str, threading.Event] = {}
        self.lock = threading.Lock()

    def __call__(self, run_dir, *, stop, on_progress):
        rid = run_dir.name
        with self.lock:
            self.events.append(f"start {rid}")
            gate = self.release.setdefault(rid, threading.Event())
        runs.write_status(run_dir, "running")
        while not gate.wait(0.01):
            if stop.is_set():
                with self.lock:
                    self.events.append(f"end {rid}")
                return runs.write_status(run_dir, "stopped", "Stopped.")
        with self.lock:
            self.events.append(f"end {rid}")
        return runs.write_status(run_dir, "finished", epochs_done=1)

    def finish(self, rid):
        with self.lock:
            self.release.setdefault(rid, threading.Event()).set()


def _wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_two_runs_at_once_with_one_slot_run_one_after_the_other():
    runner = FakeRunner()
    queue = jobs.JobQueue(per_device=1, runner=runner)
    cfg = TrainConfig(device="cpu")
    first, second = queue.submit(cfg), queue.submit(cfg)
    _wait_for(lambda: runner.events == [f"start {first.run_id}"])
    assert second.state == "queued" and queue.queue_position(second.run_id) == 1
    assert runs.read_status(second.run_dir)["state"] == "queued"  # visible on disk too
    assert [j.run_id for j in queue.active()] == [first.run_id, second.run_id]
    runner.finish(first.run_id)
    _wait_for(lambda: len(runner.events) == 3)
    runner.finish(second.run_id)
    assert queue.wait(second.run_id, timeout=10)
    assert runner.events == [f"start {first.run_id}", f"end {first.run_id}",
                             f"start {second.run_id}", f"end {second.run_id}"]
    assert first.state == second.state == "finished"


def test_two_slots_run_side_by_side():
    runner = FakeRunner()
    queue = jobs.JobQueue(per_device=2, runner=runner)
    a, b = queue.submit(TrainConfig(device="cpu")), queue.submit(TrainConfig(device="cpu"))
    _wait_for(lambda: len(runner.events) == 2)
    assert queue.queue_position(b.run_id) is None
    for job in (a, b):
        runner.finish(job.run_id)
        assert queue.wait(job.run_id, timeout=10)


def test_stop_a_queued_run_and_a_running_one():
    runner = FakeRunner()
    queue = jobs.JobQueue(per_device=1, runner=runner)
    first, second = queue.submit(TrainConfig(device="cpu")), queue.submit(TrainConfig(
        device="cpu"))
    queue.stop(second.run_id)
    assert second.state == "stopped"
    assert runs.read_status(second.run_dir)["reason"] == "Stopped before it started."
    _wait_for(lambda: first.state == "running" and runner.events)
    queue.stop(first.run_id)
    assert queue.wait(first.run_id, timeout=10) and first.state == "stopped"
    assert f"start {second.run_id}" not in runner.events
    assert queue.get(first.run_id) is first  # re-attach by run id
    assert queue.get("no-such-run") is None
    queue.stop("no-such-run")  # harmless


def test_a_runner_that_raises_never_escapes_the_thread():
    def broken(run_dir, *, stop, on_progress):
        raise RuntimeError("boom")

    queue = jobs.JobQueue(runner=broken)
    job = queue.submit(TrainConfig(device="cpu"))
    assert queue.wait(job.run_id, timeout=10)
    assert job.state == "failed" and "boom" in job.progress.reason
    assert runs.read_status(job.run_dir)["state"] == "failed"
    queue.submit(TrainConfig(device="cpu"))  # the slot was given back
    assert not queue.active() or queue.wait(queue.active()[0].run_id, timeout=10)


def test_submit_refuses_bad_settings_with_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path / "nodata"))
    queue = jobs.JobQueue(runner=FakeRunner())
    with pytest.raises(ValueError, match="expected in"):
        queue.submit(TrainConfig(dataset="cifar10"))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            queue.submit(TrainConfig(device="cuda"))
    assert queue.active() == []


def test_real_runs_queue_report_progress_and_leave_cpu_threads_alone():
    before = torch.get_num_threads()
    queue = jobs.JobQueue(per_device=1)
    cfg = TrainConfig(epochs=1, batch_size=512, device="cpu")
    first, second = queue.submit(cfg), queue.submit(cfg)
    assert queue.wait(second.run_id, timeout=120)
    assert first.state == second.state == "finished"
    assert second.progress.step == second.progress.total_steps > 0
    assert second.progress.images_per_s and second.progress.images_per_s > 0
    end_first = runs.read_status(first.run_dir)["updated"]
    start_second = runs.read_metrics(second.run_dir)[0]
    assert start_second["kind"] == "step"
    assert runs.read_status(second.run_dir)["updated"] > end_first
    second.thread.join(10)
    assert torch.get_num_threads() == before


def test_cpu_threads_leave_a_core_for_the_server():
    assert jobs.cpu_threads(1, cores=2) == 1
    assert jobs.cpu_threads(1, cores=16) == 15
    assert jobs.cpu_threads(2, cores=16) == 7
    assert jobs.cpu_threads(4, cores=1) == 1


def test_default_queue_is_one_per_process():
    assert jobs.default_queue() is jobs.default_queue()
    assert jobs.default_queue().per_device == 1
    assert engine.Progress("x", total_steps=4, step=1).fraction == 0.25
