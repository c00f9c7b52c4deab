"""The training queue, kept in the runs folder so every process on every machine shares it.

Nothing here lives in a process's memory: any web server process, the CLI or a teacher's
terminal can queue, claim, stop and list runs, and they never start one run twice.

- Queued: `<runs>/.queue/<created>-<run_id>` holds the device type the run waits for.
- Claimed: the marker is renamed into `<runs>/.claimed/`. `rename` is atomic, so of several
  processes claiming one run exactly one succeeds; the others get FileNotFoundError.
- Device slots: `<runs>/.slots/<device>-<i>.lock`, i < `$EXPLORER_RUNS_PER_DEVICE`, held with
  `flock` by the worker for its whole life. The kernel releases a lock when its process
  dies, even by SIGKILL, so a crashed run never keeps its slot.
- Stop: `<run>/stop` asks a worker to stop; a queued run is dropped from the queue instead.
  Only the run's owner or the teacher may (`access`), checked here, not by a button.
- Owners: a run records who started it (a browser's owner id, or "cli"); a student may have
  at most `$EXPLORER_RUNS_PER_OWNER` (default 1) submissions queued or running at once. The
  runs of one experiment (`submit_group`) are one submission: they queue together and run
  one after another.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from explorer import devices
from explorer.i18n import N_, _
from explorer.training import access, engine, reasons, runs
from explorer.training.config import RunConfig, TrainConfig

STOP_FILE = "stop"


def runs_per_device() -> int:
    """How many runs may train at once on each device (`$EXPLORER_RUNS_PER_DEVICE`, 1)."""
    return max(1, int(os.environ.get("EXPLORER_RUNS_PER_DEVICE") or 1))


def runs_per_owner() -> int:
    """How many live runs one student may have (`$EXPLORER_RUNS_PER_OWNER`, default 1)."""
    return max(1, int(os.environ.get("EXPLORER_RUNS_PER_OWNER") or 1))


def _dir(root: Path, name: str) -> Path:
    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Waiting:
    """A queued run as its marker names it."""

    run_id: str
    device: str
    marker: Path


def _marker_name(config: RunConfig) -> str:
    return f"{config.created:017.6f}-{config.run_id}"


def enqueue(run_dir: Path, config: RunConfig, device: str) -> None:
    """Put a freshly created run folder (state `queued`) into the queue for `device`."""
    root = Path(run_dir).parent
    marker = _dir(root, ".queue") / _marker_name(config)
    marker.write_text(device)


def waiting(root: Path | None = None) -> list[Waiting]:
    """Queued runs, first come first served."""
    root = root or runs.runs_dir()
    out = []
    for marker in sorted(_dir(root, ".queue").iterdir()):
        with contextlib.suppress(OSError):
            run_id = marker.name.split("-", 1)[1]
            out.append(Waiting(run_id, marker.read_text().strip() or "cpu", marker))
    return out


def position(run_id: str, root: Path | None = None) -> int | None:
    """1 for the next run to start on its device; None when the run is not waiting."""
    queue = waiting(root)
    mine = next((w for w in queue if w.run_id == run_id), None)
    if mine is None:
        return None
    same = [w.run_id for w in queue if w.device == mine.device]
    return same.index(run_id) + 1


def claim(item: Waiting) -> bool:
    """Take a waiting run off the queue; True for exactly one caller."""
    target = _dir(item.marker.parent.parent, ".claimed") / item.marker.name
    try:
        os.rename(item.marker, target)
    except FileNotFoundError:
        return False
    return True


class Slot:
    """One of a device's `runs_per_device()` places, held through an flock'd file."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd, self.path = fd, path

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def try_slot(device: str, root: Path | None = None) -> Slot | None:
    """A free slot of `device` (locked by this process), or None when all are taken."""
    slots = _dir(root or runs.runs_dir(), ".slots")
    for i in range(runs_per_device()):
        path = slots / f"{device}-{i}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return Slot(fd, path)
    return None


def wait_for_slot(device: str, root: Path | None = None, poll_s: float = 0.2,
                  on_wait: Callable[[], None] | None = None) -> Slot:
    """Block until a slot of `device` is free (used by the CLI, which trains in-process)."""
    while (slot := try_slot(device, root)) is None:
        if on_wait is not None:
            on_wait()
            on_wait = None
        time.sleep(poll_s)
    return slot


def busy_slots(device: str, root: Path | None = None) -> int:
    """How many of `device`'s slots are held right now."""
    held = 0
    slots = _dir(root or runs.runs_dir(), ".slots")
    for i in range(runs_per_device()):
        fd = os.open(slots / f"{device}-{i}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            held += 1
        finally:
            os.close(fd)
    return held


@contextlib.contextmanager
def owner_lock(owner: str, root: Path | None = None) -> Iterator[None]:
    """Serialise one owner's submissions across processes (check, then create)."""
    safe = "".join(c for c in owner if c.isalnum() or c in "-_")[:64] or "anonymous"
    fd = os.open(_dir(root or runs.runs_dir(), ".owners") / f"{safe}.lock",
                 os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def live_runs(owner: str | None = None, root: Path | None = None) -> list[runs.RunInfo]:
    """Queued and running runs (of `owner` when given), oldest first."""
    live = [r for r in runs.list_runs(root) if r.state in runs.ACTIVE_STATES]
    if owner is not None:
        live = [r for r in live if r.config.owner == owner]
    return live[::-1]


def submissions(live: Sequence[runs.RunInfo]) -> list[list[runs.RunInfo]]:
    """Live runs grouped by submission: an experiment's runs together, any other run alone."""
    groups: dict[str, list[runs.RunInfo]] = {}
    for info in live:
        groups.setdefault(info.config.experiment or info.run_id, []).append(info)
    return list(groups.values())


def submit(config: TrainConfig, owner: str, root: Path | None = None) -> Path:
    """Queue a run for `owner`; ValueError (one sentence) if it cannot, nothing written then."""
    return submit_group([config], owner, root)[0]


def submit_group(configs: Sequence[TrainConfig], owner: str, root: Path | None = None, *,
                 run_fields: Sequence[dict] | None = None,
                 before_queue: Callable[[list[Path]], None] | None = None) -> list[Path]:
    """Queue runs that belong together (an experiment's arms) as one submission of `owner`.

    Every folder is created first, then `before_queue(run_dirs)` may write into them (the
    arms' shared initial weights), and only then do they enter the queue, in order, so no
    worker starts a run whose folder is not complete. `run_fields[i]` are further
    `RunConfig` fields of run i. ValueError (one sentence) if they cannot be queued; nothing
    is left behind then.
    """
    device_types = [devices.pick_device(c.device).type for c in configs]  # a missing one raises
    fields = list(run_fields or [{}] * len(configs))
    with owner_lock(owner, root):
        live = submissions(live_runs(owner, root))
        if len(live) >= runs_per_owner():
            last = live[-1][-1]
            what = (_("experiment {name}").format(name=last.config.experiment)
                    if last.config.experiment else _("run {run}").format(run=last.run_id))
            raise ValueError(
                _("You already have {what} {state}: stop it or let it finish first ({n} live "
                  "run(s) or experiment(s) per student).").format(
                    what=what, state=last.state, n=runs_per_owner())
            )
        run_dirs: list[Path] = []
        try:
            for config, extra in zip(configs, fields, strict=True):
                run_dirs.append(engine.prepare_run(config, root, owner=owner, **extra))
            if before_queue is not None:
                before_queue(run_dirs)
        except BaseException:
            for run_dir in run_dirs:
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
        for run_dir, device in zip(run_dirs, device_types, strict=True):
            enqueue(run_dir, runs.read_config(run_dir), device)
    return run_dirs


def request_stop(run_dir: Path, actor: access.Actor, info: access.Owned | None = None) -> str:
    """Ask a job to stop, if `actor` owns it or is the teacher (else `access.AccessDenied`).

    A queued job leaves the queue at once; returns what happened. `info` names another kind
    of job and its owner (default: the training run in `run_dir`).
    """
    run_dir = Path(run_dir)
    access.authorise_manage(info or runs.run_info(run_dir), actor, _("stop"))
    if not runs.read_status(run_dir).live:
        return "not live"
    (run_dir / STOP_FILE).touch()
    for item in waiting(run_dir.parent):
        if item.run_id == run_dir.name and (held := claim_held(item)) is not None:
            try:
                runs.write_status(run_dir, "stopped",
                                  **reasons.fields(N_("Stopped before it started.")))
                drop_claim(run_dir)  # the run has ended: its claim goes with it
            finally:
                held.release()
            return "dropped"
    return "requested"


def stop_requested(run_dir: Path) -> bool:
    return (Path(run_dir) / STOP_FILE).exists()


# --- claims held by their claimer, and runs that lost theirs -----------------------------------

#: A claim not held by a live process is left alone this long (a claimer from before held
#: claims, such as `request_stop`, settles its run right after claiming).
CLAIM_GRACE_S = 10.0
#: How often a run stranded between claim and launch goes back to the queue before it fails.
MAX_REQUEUES = 2


class Claim:
    """A claimed run's marker in `.claimed/`, flock'd by its claimer.

    The lock is taken before the marker leaves the queue and is passed on to the worker with
    the slot's, so a claim whose lock is free belongs to nobody alive: the claimer died
    between claim and launch, or the worker ended (see `reconcile`).
    """

    def __init__(self, fd: int, marker: Path) -> None:
        self.fd, self.marker = fd, marker

    def release(self) -> None:
        """Close this process's copy of the lock (a worker started with it keeps its own)."""
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            with contextlib.suppress(OSError):
                os.close(fd)

    def drop(self) -> None:
        """Remove the marker: the run ended, or will never start."""
        with contextlib.suppress(OSError):
            self.marker.unlink()


def claim_held(item: Waiting) -> Claim | None:
    """Take a waiting run off the queue holding its claim's lock; None for all but one caller."""
    try:
        fd = os.open(item.marker, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        target = _dir(item.marker.parent.parent, runs.CLAIMED_DIR) / item.marker.name
        os.rename(item.marker, target)
    except OSError:  # another claimer holds it, or took it first
        os.close(fd)
        return None
    return Claim(fd, target)


def claim_by_id(run_dir: Path) -> Claim | None:
    """Claim one particular waiting run (a worker started by hand); None if it is not waiting."""
    run_dir = Path(run_dir)
    item = next((w for w in waiting(run_dir.parent) if w.run_id == run_dir.name), None)
    return claim_held(item) if item is not None else None


def drop_claim(run_dir: Path) -> None:
    """Remove the run's claimed marker, if it has one (its run has ended)."""
    run_dir = Path(run_dir)
    for marker in runs.markers(run_dir.parent, run_dir.name):
        if marker.parent.name == runs.CLAIMED_DIR:
            with contextlib.suppress(OSError):
                marker.unlink()


def _lock_marker(marker: Path) -> int | None:
    """A descriptor holding the marker's lock, if nobody else holds it and it is still there."""
    try:
        fd = os.open(marker, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.stat(marker).st_ino == os.fstat(fd).st_ino:  # not moved while we waited
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def _settle(root: Path, marker: Path, run_id: str) -> str | None:
    """What becomes of a claim nobody holds (its lock is ours); None to leave it."""
    run_dir = root / run_id
    if not (run_dir / "config.json").exists():  # the run was removed
        marker.unlink()
        return "forgotten"
    status = runs.read_status(run_dir, check_process=False)
    state = status.state
    if state == "running":
        if runs.record_if_dead(run_dir, CLAIM_GRACE_S) is None:
            return None  # alive (on another machine, say), or too fresh to judge
        marker.unlink()
        return "failed"
    if state != "queued":  # it ended: the claim is a leftover
        marker.unlink()
        return "cleaned"
    if stop_requested(run_dir):
        runs.write_status(run_dir, "stopped", **reasons.fields(N_("Stopped before it started.")))
        marker.unlink()
        return "stopped"
    tries = status.requeued
    if tries >= MAX_REQUEUES:
        runs.write_status(run_dir, "failed", **reasons.fields(
            N_("The server stopped before this run could start, {n} times: submit it again."),
            n=tries + 1))
        marker.unlink()
        return "failed"
    runs.write_status(run_dir, "queued", requeued=tries + 1)
    os.rename(marker, _dir(root, runs.QUEUE_DIR) / marker.name)
    return "requeued"


def reconcile(root: Path | None = None, skip: Collection[str] = ()) -> dict[str, str]:
    """Settle claims that nobody alive holds, and runs whose process is gone; never stuck.

    A run claimed but never launched (its claimer died) goes back to the queue, at most
    `MAX_REQUEUES` times, then fails with a reason; one whose stop was asked is stopped. A
    `running` run whose process is gone is written `failed` (no longer live), and the claim
    of a run that ended is removed. Runs in `skip` (this process's own workers) and claims
    held or younger than `CLAIM_GRACE_S` are left alone; the claim's lock makes two processes
    reconciling at once settle each run once. Returns {run_id: what happened}.
    """
    root = root or runs.runs_dir()
    done: dict[str, str] = {}
    for marker in sorted(_dir(root, runs.CLAIMED_DIR).iterdir()):
        run_id = marker.name.split("-", 1)[-1]
        if run_id in skip:
            continue
        try:
            st = marker.stat()
        except OSError:
            continue
        if time.time() - max(st.st_mtime, st.st_ctime) < CLAIM_GRACE_S:
            continue
        fd = _lock_marker(marker)
        if fd is None:
            continue
        try:
            what = _settle(root, marker, run_id)
        finally:
            os.close(fd)
        if what:
            done[run_id] = what
    for info in runs.list_runs(root):  # running runs without a claim (the CLI's, older ones)
        if (info.run_id not in skip and info.run_id not in done and info.state == "failed"
                and runs.record_if_dead(info.path, CLAIM_GRACE_S) is not None):
            done[info.run_id] = "failed"
    return done
