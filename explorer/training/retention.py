"""Retention: runs older than an age, or beyond a disk budget, are removed, oldest first.

Never a live run (queued or running, or held by its claimer or worker: see `runs.is_live`),
never one the teacher shared with the class (`<run>/shared`), never one younger than
`KEEP_RECENT_S` (its student is still looking at it). The budget counts run folders only: the
weight store in `.cache/` is not a run. Any server process may sweep; an flock'd stamp file
makes one sweep at a time, at most every `SWEEP_EVERY_S` across all of them.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from pathlib import Path

from explorer.training import runs

log = logging.getLogger("explorer.retention")

LOCK_FILE = ".retention.lock"  # also holds the time of the last sweep
SWEEP_EVERY_S = 300.0
KEEP_RECENT_S = 3600.0


def max_age_days() -> float:
    """`$EXPLORER_RUNS_MAX_AGE_DAYS`: runs created longer ago are removed (default 30; 0 = no
    age limit)."""
    return max(0.0, float(os.environ.get("EXPLORER_RUNS_MAX_AGE_DAYS") or 30))


def max_bytes() -> int:
    """`$EXPLORER_RUNS_MAX_GB` in bytes: the oldest runs go while all runs together take more
    of the disk (default 20 GB; 0 = no size limit)."""
    return int(max(0.0, float(os.environ.get("EXPLORER_RUNS_MAX_GB") or 20)) * 1e9)


def folder_bytes(folder: Path) -> int:
    """Disk space the files under `folder` take (allocated blocks; links not followed)."""
    total = 0
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                if entry.is_dir(follow_symlinks=False):
                    total += folder_bytes(Path(entry.path))
                else:
                    st = entry.stat(follow_symlinks=False)
                    total += getattr(st, "st_blocks", 0) * 512 or st.st_size
    return total


def _created(info: runs.RunInfo) -> float:
    if info.config.created:
        return info.config.created
    with contextlib.suppress(OSError):  # a folder from before runs kept their creation time
        return info.path.stat().st_mtime
    return time.time()


def _may_go(info: runs.RunInfo, now: float) -> bool:
    raw = runs.read_status(info.path, check_process=False).state
    return (raw not in runs.ACTIVE_STATES and not runs.is_shared(info.path)
            and now - _created(info) >= KEEP_RECENT_S)


def _remove(info: runs.RunInfo, why: str, size: int) -> bool:
    try:
        removed = runs.remove_run(info.path)
    except runs.RunIsLive:
        return False
    if removed:
        log.info("removed run %s (%s, %.1f MB)", info.run_id, why, size / 1e6)
    return removed


def _sweep(root: Path, now: float) -> list[str]:
    runs.empty_trash(root)
    oldest_first = runs.list_runs(root)[::-1]
    age_limit = max_age_days() * 86400
    budget = max_bytes()
    sizes = {i.run_id: folder_bytes(i.path) for i in oldest_first} if budget else {}
    removed: list[str] = []
    if age_limit:
        for info in oldest_first:
            if now - _created(info) > age_limit and _may_go(info, now) and _remove(
                    info, f"older than {max_age_days():g} days", sizes.get(info.run_id, 0)):
                removed.append(info.run_id)
    total = sum(size for run_id, size in sizes.items() if run_id not in removed)
    for info in oldest_first:
        if not budget or total <= budget:
            break
        size = sizes[info.run_id]
        if info.run_id not in removed and _may_go(info, now) and _remove(
                info, f"runs over {budget / 1e9:g} GB", size):
            removed.append(info.run_id)
            total -= size
    if removed:
        log.info("retention removed %d run(s); the runs now take %.2f GB", len(removed),
                 total / 1e9)
    return removed


def sweep(root: Path | None = None, *, every_s: float = 0.0, now: float | None = None
          ) -> list[str]:
    """Remove what the policy says, unless another process is sweeping or swept less than
    `every_s` ago; returns the run ids removed."""
    root = root or runs.runs_dir()
    now = time.time() if now is None else now
    fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return []  # another process sweeps right now
        try:
            last = float(os.pread(fd, 64, 0) or 0)
        except ValueError:
            last = 0.0
        if every_s and now - last < every_s:
            return []
        removed = _sweep(root, now)
        os.ftruncate(fd, 0)
        os.pwrite(fd, repr(now).encode(), 0)
        return removed
    finally:
        os.close(fd)
