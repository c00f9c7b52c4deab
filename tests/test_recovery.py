"""Nothing stranded: a server that dies between claim and launch, dead workers, the log."""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
import threading

import pytest

from explorer.training import run_queue, runs, scheduler
from explorer.training.config import TrainConfig
from tests.conftest import until

QUICK = TrainConfig(device="cpu", epochs=1, batch_size=512, train_limit=1024, test_limit=256)


@pytest.fixture
def root(tmp_path, monkeypatch, own_queue):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("EXPLORER_RUNS_PER_DEVICE", "1")
    monkeypatch.delenv("EXPLORER_RUNS_PER_OWNER", raising=False)
    # what is stranded is settled at once here; the grace is for claimers of the old kind
    monkeypatch.setattr(run_queue, "CLAIM_GRACE_S", 0.0, raising=False)
    return runs.runs_dir()


def _claimed(root) -> list[str]:
    folder = root / ".claimed"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# A server process whose scheduler claims the run and is SIGKILLed where it would launch it.
DIES_AT_LAUNCH = """
import os, signal
from explorer.training import scheduler
scheduler.launch = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
scheduler.Scheduler().tick()
"""

# A server process that claims the run and stays alive (between claim and launch, say).
HOLDS_A_CLAIM = """
import sys, time
from explorer.training import run_queue
(item,) = run_queue.waiting()
print(run_queue.claim_held(item) is not None, flush=True)
time.sleep(120)
"""


def _kill_server_between_claim_and_launch() -> None:
    done = subprocess.run([sys.executable, "-c", DIES_AT_LAUNCH], timeout=120, check=False)
    assert done.returncode == -9


def test_a_run_whose_server_died_between_claim_and_launch_runs_to_the_end(root):
    run_dir = run_queue.submit(QUICK, "alice")
    _kill_server_between_claim_and_launch()
    assert runs.read_status(run_dir).state == "queued"  # stranded, as before this fix
    assert run_queue.waiting() == [] and len(_claimed(root)) == 1

    sched = scheduler.Scheduler()  # the next server starts
    status = until(lambda: (sched.tick() or True) and runs.read_status(run_dir).state
                    not in runs.ACTIVE_STATES and runs.read_status(run_dir), 180,
                    "the stranded run to end")
    assert status.state == "finished", status
    until(lambda: (sched.tick() or True) and not sched.workers, 30, "the worker's end")
    assert _claimed(root) == []  # an ended run leaves no claim behind
    run_queue.submit(QUICK, "alice")  # the student may train again


def test_a_stranded_run_whose_stop_was_asked_is_stopped(root):
    run_dir = run_queue.submit(QUICK, "alice")
    _kill_server_between_claim_and_launch()
    (run_dir / run_queue.STOP_FILE).touch()  # Stop, pressed while it was stranded
    assert run_queue.reconcile() == {run_dir.name: "stopped"}
    status = runs.read_status(run_dir)
    assert status.state == "stopped" and status.reason == "Stopped before it started."
    assert _claimed(root) == [] and run_queue.waiting() == []
    run_queue.submit(QUICK, "alice")


def test_a_run_stranded_again_and_again_fails_with_a_reason(root):
    run_dir = run_queue.submit(QUICK, "alice")
    for _ in range(run_queue.MAX_REQUEUES):
        _kill_server_between_claim_and_launch()
        assert run_queue.reconcile() == {run_dir.name: "requeued"}
        assert [w.run_id for w in run_queue.waiting()] == [run_dir.name]
    _kill_server_between_claim_and_launch()
    assert run_queue.reconcile() == {run_dir.name: "failed"}
    status = runs.read_status(run_dir)
    assert status.state == "failed"
    assert status.reason == ("The server stopped before this run could start, 3 times: "
                             "submit it again.")
    assert _claimed(root) == [] and run_queue.waiting() == []
    run_queue.submit(QUICK, "alice")


def test_a_claim_held_by_a_live_process_is_not_touched(root):
    run_dir = run_queue.submit(QUICK, "alice")
    holder = subprocess.Popen([sys.executable, "-c", HOLDS_A_CLAIM], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "True"
        assert run_queue.reconcile() == {}
        assert runs.read_status(run_dir).state == "queued" and len(_claimed(root)) == 1
        with pytest.raises(runs.RunIsLive):
            runs.remove_run(run_dir)
    finally:
        holder.kill()
        holder.wait()
    assert run_queue.reconcile() == {run_dir.name: "requeued"}


def test_a_fresh_claim_of_the_old_kind_waits_out_the_grace(root, monkeypatch):
    monkeypatch.setattr(run_queue, "CLAIM_GRACE_S", 3600.0)
    run_dir = run_queue.submit(QUICK, "alice")
    (item,) = run_queue.waiting()
    assert run_queue.claim(item)  # holds no lock: only its age tells it from a stranded one
    assert run_queue.reconcile() == {}
    assert runs.read_status(run_dir).state == "queued"


def test_two_processes_reconciling_at_once_requeue_a_run_once(root):
    run_dir = run_queue.submit(QUICK, "alice")
    _kill_server_between_claim_and_launch()
    results: list[dict] = []
    barrier = threading.Barrier(8)

    def reconcile():
        barrier.wait()
        results.append(run_queue.reconcile())

    threads = [threading.Thread(target=reconcile) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r for r in results if r] == [{run_dir.name: "requeued"}]
    assert [w.run_id for w in run_queue.waiting()] == [run_dir.name]
    assert runs.read_status(run_dir).requeued == 1


def test_a_running_run_whose_process_is_gone_is_written_failed(root):
    run_dir = run_queue.submit(QUICK, "alice")
    (item,) = run_queue.waiting()
    claim = run_queue.claim_held(item)
    claim.release()  # its worker died
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    runs.write_status(run_dir, "running", pid=int(gone.stdout), epochs_done=2)
    cli_run = runs.create_run(dataclasses.replace(runs.read_config(run_dir),
                                                  run_id=run_dir.name + "-cli"))
    runs.write_status(cli_run, "running", pid=int(gone.stdout))  # no claim: a CLI run

    assert run_queue.reconcile() == {run_dir.name: "failed", cli_run.name: "failed"}
    for folder in (run_dir, cli_run):
        raw = runs.read_status(folder, check_process=False)
        assert raw.state == "failed" and "ended unexpectedly" in raw.reason
    assert runs.read_status(run_dir, check_process=False).epochs_done == 2
    assert _claimed(root) == [] and run_queue.live_runs("alice") == []


def test_a_tick_that_fails_is_logged_rate_limited_and_the_thread_survives(root, monkeypatch,
                                                                          caplog):
    clock = [0.0]
    sched = scheduler.Scheduler()
    sched.failures = scheduler.Throttled(scheduler.log, every_s=60, clock=lambda: clock[0])
    calls = []

    def broken(*_args, **_kwargs):
        calls.append(1)
        raise RuntimeError("the queue folder is unreadable")

    monkeypatch.setattr(run_queue, "waiting", broken)
    with caplog.at_level(logging.ERROR, logger="explorer.scheduler"):
        for _ in range(10):
            sched.tick()
            clock[0] += 0.25
        clock[0] += 60
        sched.tick()
    logged = [r for r in caplog.records if r.name == "explorer.scheduler"]
    assert len(calls) == 11 and len(logged) == 2
    assert "starting queued runs failed" in logged[0].getMessage()
    assert logged[0].exc_info and "unreadable" in str(logged[0].exc_info[1])
    assert "9 more time(s)" in logged[1].getMessage()

    sched.start()  # the thread: it goes on ticking through the failures
    try:
        count = len(calls)
        until(lambda: len(calls) >= count + 3, 10, "three more ticks")
        assert sched._thread.is_alive()
    finally:
        sched.stop()


def test_a_queue_marker_of_a_run_that_already_ended_is_dropped_not_launched(root):
    run_dir = run_queue.submit(QUICK, "alice")
    runs.write_status(run_dir, "stopped", "by hand")
    sched = scheduler.Scheduler()
    sched.tick()
    assert sched.workers == {} and _claimed(root) == [] and run_queue.waiting() == []
    assert runs.read_status(run_dir).state == "stopped"
