"""Start queued runs as worker processes and watch them: one small thread per server process.

Why a thread in each web server rather than a separate daemon: `make run` and `make serve`
then need nothing else started, every server process can launch any queued run (claims are
atomic renames and device slots are flocks, see `run_queue`), and a server that is down
leaves nothing stuck, because any other server, or the next start, picks the queue up. The
thread only launches and watches: training happens in the child, started in its own session
so that a server restart does not stop it, under `torchrun` when a run asks for several
processes. The thread never imports streamlit.

Nothing is stranded: at start and every `RECONCILE_S` the thread settles claims that nobody
alive holds (`run_queue.reconcile`: a run whose server died between claim and launch goes back
to the queue) and records runs whose process is gone; every `retention.SWEEP_EVERY_S` it lets
`retention` remove old runs. A tick that fails is logged (`explorer.scheduler`, at most once a
minute with a count) and the thread goes on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from explorer import REPO_ROOT
from explorer.i18n import N_
from explorer.training import durable, reasons, retention, run_queue, runs

POLL_S = 0.25
RECONCILE_S = 15.0
LOG_EVERY_S = 60.0  # a failure repeated every tick is logged this often, with a count

log = logging.getLogger("explorer.scheduler")


def worker_command(run_dir: Path, nproc: int) -> list[str]:
    """`python -m explorer.train --run-dir …`, under torchrun for several processes."""
    train = ["-m", "explorer.train", "--run-dir", str(run_dir)]
    if nproc <= 1:
        return [sys.executable, *train]
    # `python -m torch.distributed.run` is the `torchrun` command, from this interpreter.
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            "--nproc-per-node", str(nproc), *train]


#: A training worker's end, by signal (with its name), by signal, by exit code.
TRAINING_ENDS = (
    N_("The training process ended unexpectedly (signal {signal}, {name}); its last finished "
       "epoch is kept."),
    N_("The training process ended unexpectedly (signal {signal})."),
    N_("The training process ended unexpectedly (exit code {code}); its last finished epoch is "
       "kept."),
)


def exit_reason(returncode: int, disk_full: bool = False,
                sentences: tuple[str, str, str] = TRAINING_ENDS) -> dict:
    """Why a worker ended, from its exit status: the status fields of `reasons.fields`.

    `disk_full`: writing its status failed for lack of space (or the worker said so, with
    `reasons.EXIT_DISK_FULL`). `sentences`: the job kind's words for an end by signal (with
    and without its name) and by exit code.
    """
    if disk_full or returncode == reasons.EXIT_DISK_FULL:
        return reasons.fields(reasons.DISK_FULL_EXITED)
    by_name, by_signal, by_code = sentences
    if returncode < 0:
        with contextlib.suppress(ValueError):
            name = signal.Signals(-returncode).name
            return reasons.fields(by_name, signal=-returncode, name=name)
        return reasons.fields(by_signal, signal=-returncode)
    return reasons.fields(by_code, code=returncode)


@dataclass(frozen=True)
class JobKind:
    """What the jobs of one queue are: how many processes one takes and the command that
    starts its worker. Every kind shares the queue's claim, slot, heartbeat and stop rules."""

    name: str
    processes: Callable[[Path], int]
    command: Callable[[Path, int], list[str]]
    ends: tuple[str, str, str] = TRAINING_ENDS  # `exit_reason`'s sentences for this kind


#: Training runs (`runs`): `explorer.train`, under torchrun for several processes.
TRAINING = JobKind("training", lambda run_dir: runs.read_config(run_dir).settings.nproc,
                   worker_command)


@dataclass
class Worker:
    """A launched run: its folder and the child process."""

    run_dir: Path
    process: subprocess.Popen
    disk_full: bool = False  # recording its end failed for lack of space (retried next tick)
    kind: JobKind = TRAINING


def launch(run_dir: Path, slot: run_queue.Slot, claim: run_queue.Claim | None = None,
           kind: JobKind = TRAINING) -> Worker:
    """Start the job's worker with the slot's lock (and the claim's) passed on; the child
    holds them till it ends."""
    nproc = kind.processes(run_dir)
    env = dict(os.environ, EXPLORER_CLAIMED="1", EXPLORER_RUNS_DIR=str(run_dir.parent),
               PYTHONUNBUFFERED="1")
    env.pop("EXPLORER_PROGRESS", None)
    fds = (slot.fd,) if claim is None else (slot.fd, claim.fd)
    with open(run_dir / "worker.log", "ab") as out:
        process = subprocess.Popen(
            kind.command(run_dir, nproc), cwd=REPO_ROOT, env=env,
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            pass_fds=fds, start_new_session=True,
        )
    slot.release()  # the child's copy of the descriptor keeps the lock
    try:
        runs.write_status(run_dir, "running", pid=process.pid, phase="starting",
                          processes=nproc)
    except OSError:  # it runs all the same: the worker writes its status from its first beat
        log.warning("could not record the start of run %s", run_dir.name, exc_info=True)
    return Worker(run_dir, process, kind=kind)


def finish(worker: Worker, returncode: int) -> None:
    """Record a worker's end: a run it left live gets `failed` with the exit sentence, and
    its claim is removed. OSError if the status cannot be written (the disk is full)."""
    status = runs.read_status(worker.run_dir, check_process=False)
    if status.live:
        runs.write_status(worker.run_dir, "failed",
                          **exit_reason(returncode, worker.disk_full, worker.kind.ends),
                          epochs_done=status.epochs_done, test_acc=status.test_acc)
    run_queue.drop_claim(worker.run_dir)


class Throttled:
    """Logs failures with their traceback: the first of a kind at once, then at most one
    every `every_s` that says how many went unlogged in between."""

    def __init__(self, logger: logging.Logger, every_s: float = LOG_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger, self.every_s, self.clock = logger, every_s, clock
        self._last: dict[str, float] = {}
        self._unlogged: dict[str, int] = {}

    def failed(self, what: str, level: int = logging.ERROR) -> None:
        """Call inside `except`: log the exception being handled, unless it is too soon."""
        now = self.clock()
        last = self._last.get(what)
        if last is not None and now - last < self.every_s:
            self._unlogged[what] = self._unlogged.get(what, 0) + 1
            return
        unlogged = self._unlogged.pop(what, 0)
        since = (f" (and {unlogged} more time(s) in the last {now - last:.0f} s)"
                 if unlogged and last is not None else "")
        self._last[what] = now
        self.logger.log(level, "%s failed%s", what, since, exc_info=True)


class Scheduler:
    """Claims queued jobs (of one `kind`, in the queue under `root`) when their device has a
    free slot, launches and reaps workers."""

    def __init__(self, root: Path | None = None, kind: JobKind = TRAINING) -> None:
        self.root, self.kind = root, kind
        self.workers: dict[str, Worker] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._next_reconcile = self._next_sweep = 0.0  # monotonic: both at the first tick
        self.failures = Throttled(log)

    def tick(self) -> None:
        """One pass: reap finished workers, settle stranded runs (now and then), start what
        the free slots allow, sweep old runs (now and then). Each part's failure is logged
        and does not keep the others from their turn."""
        with self._lock:
            now = time.monotonic()
            self._guarded("reaping finished workers", self._reap)
            if now >= self._next_reconcile:
                self._next_reconcile = now + RECONCILE_S
                self._guarded("settling stranded runs", self._reconcile)
            self._guarded("starting queued runs", self._start_waiting)
            if now >= self._next_sweep:
                self._next_sweep = now + retention.SWEEP_EVERY_S
                self._guarded("removing old runs", lambda: retention.sweep(
                    self.root, every_s=retention.SWEEP_EVERY_S))

    def _guarded(self, what: str, part: Callable[[], object]) -> None:
        try:
            part()
        except Exception:  # a bad folder must not end the thread, nor hide
            self.failures.failed(what)

    def _reap(self) -> None:
        for run_id, worker in list(self.workers.items()):
            code = worker.process.poll()
            if code is None:
                continue
            try:
                finish(worker, code)
            except OSError as err:  # kept, to be recorded at the next tick
                worker.disk_full = worker.disk_full or durable.disk_full(err)
                self.failures.failed(f"recording the end of run {run_id}", logging.WARNING)
            else:
                del self.workers[run_id]

    def _reconcile(self) -> None:
        for run_id, what in run_queue.reconcile(self.root, skip=set(self.workers)).items():
            log.info("run %s had lost its process: %s", run_id, what)

    def _start_waiting(self) -> None:
        for item in run_queue.waiting(self.root):
            slot = run_queue.try_slot(item.device, self.root)
            if slot is None:
                continue
            claim = run_queue.claim_held(item)
            launched = False
            try:
                launched = claim is not None and self._start(item.run_id, slot, claim)
            finally:
                if claim is not None:
                    claim.release()
                if not launched:  # `launch` closed this process's copy already
                    slot.release()

    def _start(self, run_id: str, slot: run_queue.Slot, claim: run_queue.Claim) -> bool:
        """Launch a claimed run, or settle it; True when its worker started."""
        run_dir = (self.root or runs.runs_dir()) / run_id
        if runs.read_status(run_dir, check_process=False).state != "queued":
            claim.drop()  # removed, or settled by someone else meanwhile
            return False
        if run_queue.stop_requested(run_dir):
            runs.write_status(run_dir, "stopped", **reasons.fields(N_("Stopped before it "
                                                                      "started.")))
            claim.drop()
            return False
        try:
            self.workers[run_id] = launch(run_dir, slot, claim, self.kind)
        except (OSError, ValueError) as err:
            runs.write_status(run_dir, "failed", **reasons.fields(
                N_("The run could not start: {error}"), error=str(err)))
            claim.drop()  # only once it is failed: if that write fails, reconcile retries
            return False
        return True

    def _loop(self) -> None:
        while not self._stop.wait(POLL_S):
            self._guarded("a scheduler tick", self.tick)

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

    def wait(self, run_id: str, timeout: float = 600) -> runs.RunStatus:
        """Block until a run is no longer live (tests and scripts); returns its status."""
        deadline = time.monotonic() + timeout
        run_dir = (self.root or runs.runs_dir()) / run_id
        while (status := runs.read_status(run_dir)).live:
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} still {status.state} after {timeout} s")
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
