"""A small process-wide job queue: training runs in background threads, N at a time per device.

The Streamlit server is one process serving every student, so the queue lives at module level
(`default_queue()`): a page that reloads, or another browser tab, finds a live run again by its
run id. Runs beyond the per-device limit wait, first come first served, in state `queued`.
A job's thread never raises: the engine turns every failure into a run status.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from explorer import devices
from explorer.training import engine, runs
from explorer.training.config import TrainConfig

Runner = Callable[..., dict]


def cpu_threads(concurrent_runs: int = 1, cores: int | None = None) -> int:
    """Torch threads per CPU run: leave one core to the web server, share the rest."""
    cores = cores or os.cpu_count() or 1
    return max(1, (cores - 1) // max(1, concurrent_runs))


@dataclass
class Job:
    """One submitted run: its folder, live progress and stop switch."""

    run_id: str
    run_dir: Path
    config: TrainConfig
    device: str  # "cpu", "cuda", "mps": the slot it queues for
    progress: engine.Progress
    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    @property
    def state(self) -> str:
        return self.progress.state

    @property
    def active(self) -> bool:
        return self.state in runs.ACTIVE_STATES


class JobQueue:
    """Runs training jobs in daemon threads, at most `per_device` at once on each device."""

    def __init__(self, per_device: int = 1, runner: Runner = engine.train) -> None:
        self.per_device = max(1, per_device)
        self.runner = runner
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._pending: list[Job] = []
        self._running: dict[str, int] = {}

    def submit(self, config: TrainConfig, root: Path | None = None) -> Job:
        """Queue a run. Raises ValueError (one sentence) if it cannot start at all."""
        device = devices.pick_device(config.device).type  # a missing forced device raises here
        run_dir = engine.prepare_run(config, root)
        run_id = run_dir.name
        job = Job(run_id, run_dir, config, device,
                  engine.Progress(run_id, epochs=config.epochs))
        with self._lock:
            self._jobs[run_id] = job
            self._pending.append(job)
            self._dispatch()
        return job

    def _dispatch(self) -> None:
        with self._lock:
            for job in list(self._pending):
                if self._running.get(job.device, 0) < self.per_device:
                    self._pending.remove(job)
                    self._running[job.device] = self._running.get(job.device, 0) + 1
                    job.progress.state = "running"
                    job.thread = threading.Thread(target=self._work, args=(job,),
                                                  name=f"train-{job.run_id}", daemon=True)
                    job.thread.start()

    def _work(self, job: Job) -> None:
        if job.device == "cpu":  # per thread: the server's own threads keep their setting
            torch.set_num_threads(cpu_threads(self.per_device))
        try:
            self._run(job)
        finally:
            with self._lock:
                self._running[job.device] -= 1
                self._dispatch()

    def _run(self, job: Job) -> None:
        def update(progress: engine.Progress) -> None:
            job.progress = progress

        try:
            status = self.runner(job.run_dir, stop=job.stop_event, on_progress=update)
            job.progress.state = status.get("state", "failed")
            job.progress.reason = status.get("reason", "")
        except Exception as err:  # the runner should not raise; if it does, record it
            reason = f"{type(err).__name__}: {err}"
            runs.write_status(job.run_dir, "failed", reason)  # disk first, then the live state
            job.progress.reason, job.progress.state = reason, "failed"

    def stop(self, run_id: str) -> None:
        """Ask a running job to stop (it saves a checkpoint), or drop a queued one."""
        with self._lock:
            job = self._jobs.get(run_id)
            if job is None:
                return
            job.stop_event.set()
            if job in self._pending:
                self._pending.remove(job)
                runs.write_status(job.run_dir, "stopped", "Stopped before it started.")
                job.progress.reason = "Stopped before it started."
                job.progress.state = "stopped"

    def get(self, run_id: str) -> Job | None:
        return self._jobs.get(run_id)

    def active(self) -> list[Job]:
        """Running and queued jobs, oldest first."""
        with self._lock:
            return [j for j in self._jobs.values() if j.active]

    def queue_position(self, run_id: str) -> int | None:
        """1 for the next job to start; None when the job is not waiting."""
        with self._lock:
            ids = [j.run_id for j in self._pending]
        return ids.index(run_id) + 1 if run_id in ids else None

    def wait(self, run_id: str, timeout: float | None = None) -> bool:
        """Block until the job has ended; False on timeout."""
        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        while (job := self._jobs.get(run_id)) is not None and job.active:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True


_DEFAULT: JobQueue | None = None
_DEFAULT_LOCK = threading.Lock()


def default_queue() -> JobQueue:
    """The server-wide queue (runs per device from `$EXPLORER_RUNS_PER_DEVICE`, default 1)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = JobQueue(int(os.environ.get("EXPLORER_RUNS_PER_DEVICE", "1") or 1))
        return _DEFAULT
