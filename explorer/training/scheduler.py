"""Start queued runs as worker processes and watch them: one small thread per server process.

Why a thread in each web server rather than a separate daemon: `make run` and `make serve`
then need nothing else started, every server process can launch any queued run (claims are
atomic renames and device slots are flocks, see `run_queue`), and a server that is down
leaves nothing stuck, because any other server, or the next start, picks the queue up. The
thread only launches and watches: training happens in the child, started in its own session
so that a server restart does not stop it, under `torchrun` when a run asks for several
processes. The thread never imports streamlit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from explorer import REPO_ROOT
from explorer.i18n import N_
from explorer.training import reasons, run_queue, runs

POLL_S = 0.25


def worker_command(run_dir: Path, nproc: int) -> list[str]:
    """`python -m explorer.train --run-dir …`, under torchrun for several processes."""
    train = ["-m", "explorer.train", "--run-dir", str(run_dir)]
    if nproc <= 1:
        return [sys.executable, *train]
    # `python -m torch.distributed.run` is the `torchrun` command, from this interpreter.
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            "--nproc-per-node", str(nproc), *train]


def exit_reason(returncode: int) -> dict:
    """Why a worker ended, from its exit status: the status fields of `reasons.fields`."""
    if returncode < 0:
        with contextlib.suppress(ValueError):
            name = signal.Signals(-returncode).name
            return reasons.fields(N_("The training process ended unexpectedly (signal "
                                     "{signal}, {name}); its last finished epoch is kept."),
                                  signal=-returncode, name=name)
        return reasons.fields(N_("The training process ended unexpectedly (signal {signal})."),
                              signal=-returncode)
    return reasons.fields(N_("The training process ended unexpectedly (exit code {code}); its "
                             "last finished epoch is kept."), code=returncode)


@dataclass
class Worker:
    """A launched run: its folder and the child process."""

    run_dir: Path
    process: subprocess.Popen


def launch(run_dir: Path, slot: run_queue.Slot) -> Worker:
    """Start the run's worker with the slot's lock passed on; the child holds it till it ends."""
    config = runs.read_config(run_dir)
    env = dict(os.environ, EXPLORER_CLAIMED="1", EXPLORER_RUNS_DIR=str(run_dir.parent),
               PYTHONUNBUFFERED="1")
    env.pop("EXPLORER_PROGRESS", None)
    with open(run_dir / "worker.log", "ab") as log:
        process = subprocess.Popen(
            worker_command(run_dir, config.settings.nproc), cwd=REPO_ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            pass_fds=(slot.fd,), start_new_session=True,
        )
    slot.release()  # the child's copy of the descriptor keeps the lock
    runs.write_status(run_dir, "running", pid=process.pid, phase="starting",
                      processes=config.settings.nproc)
    return Worker(run_dir, process)


def finish(worker: Worker, returncode: int) -> None:
    """Record a worker's end: a run it left live gets `failed` with the exit sentence."""
    status = runs.read_status(worker.run_dir, check_process=False)
    if status.get("state") in runs.ACTIVE_STATES:
        runs.write_status(worker.run_dir, "failed", **exit_reason(returncode),
                          epochs_done=int(status.get("epochs_done", 0)),
                          test_acc=status.get("test_acc"))


class Scheduler:
    """Claims queued runs when their device has a free slot, launches and reaps workers."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root
        self.workers: dict[str, Worker] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def tick(self) -> None:
        """One pass: reap finished workers, then start what the free slots allow."""
        with self._lock:
            for run_id, worker in list(self.workers.items()):
                code = worker.process.poll()
                if code is not None:
                    del self.workers[run_id]
                    finish(worker, code)
            for item in run_queue.waiting(self.root):
                slot = run_queue.try_slot(item.device, self.root)
                if slot is None:
                    continue
                if not run_queue.claim(item):
                    slot.release()
                    continue
                run_dir = (self.root or runs.runs_dir()) / item.run_id
                try:
                    self.workers[item.run_id] = launch(run_dir, slot)
                except (OSError, ValueError) as err:
                    slot.release()
                    runs.write_status(run_dir, "failed", **reasons.fields(
                        N_("The run could not start: {error}"), error=str(err)))

    def _loop(self) -> None:
        while not self._stop.wait(POLL_S):
            with contextlib.suppress(Exception):  # a bad folder must not end the thread
                self.tick()

    def start(self) -> Scheduler:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="run-scheduler",
                                             daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def wait(self, run_id: str, timeout: float = 600) -> dict:
        """Block until a run is no longer live (tests and scripts); returns its status."""
        deadline = time.monotonic() + timeout
        run_dir = (self.root or runs.runs_dir()) / run_id
        while (status := runs.read_status(run_dir))["state"] in runs.ACTIVE_STATES:
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} still {status['state']} after {timeout} s")
            time.sleep(0.05)
        return status


_DEFAULT: Scheduler | None = None
_DEFAULT_LOCK = threading.Lock()


def ensure_started() -> Scheduler:
    """This process's scheduler thread, started on first use."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = Scheduler().start()
        return _DEFAULT


def stop_default() -> None:
    """Stop this process's scheduler thread, if one runs (for code that drives the queue
    itself, such as tests); the next `ensure_started` starts a new one."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is not None:
            _DEFAULT.stop()
            _DEFAULT = None
