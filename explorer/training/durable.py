"""Durable file writes for the runs folder: a file is either its old self or its new self.

Every file a run keeps (config, status, checkpoint, evaluation, predictions, timeline) is
written to a temporary file in the same folder, flushed to the disk (`fsync`), renamed over
the old one (`os.replace`, atomic) and, where the rename must survive a power cut, the folder
is synced too. A write that fails (a full disk: `ENOSPC`) removes its temporary file and
re-raises, so the old file stays whole and no `.tmp` is left behind. `metrics.jsonl` grows by
appends instead (rewriting it on every readout would cost more as the run goes on); a failed
append is cut back to the file's previous length, so no half line stays behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

#: The error numbers of a full disk (or a used-up quota).
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def disk_full(err: BaseException) -> bool:
    """Whether `err` says the disk (or the quota) is full."""
    return isinstance(err, OSError) and err.errno in DISK_FULL_ERRNOS


def temp_path(path: Path) -> Path:
    """A fresh temporary name next to `path`, hidden and ending in `.tmp`."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")


def sync_dir(folder: Path) -> None:
    """fsync a folder, so that a rename inside it is on the disk (no-op where unsupported)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _name(err: OSError, path: Path) -> None:
    if err.filename is None:  # a failed write() names no file; the reader wants to know which
        err.filename = str(path)


@contextlib.contextmanager
def replacing(path: Path | str, *, sync_folder: bool = True) -> Iterator[BinaryIO]:
    """`with replacing(path) as fh:` write `fh`; on leaving, `path` is replaced durably.

    `sync_folder=False` skips the folder's fsync (for a file rewritten every second, whose
    rename a later write supersedes anyway). On any exception the temporary file is removed
    and the exception re-raised (an OSError names `path` if it named no file).
    """
    path = Path(path)
    tmp = temp_path(path)
    try:
        with open(tmp, "xb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(err, OSError):
            _name(err, path)
        raise
    if sync_folder:
        sync_dir(path.parent)


def write_bytes(path: Path | str, data: bytes, *, sync_folder: bool = True) -> None:
    """Replace `path` with `data` durably (see `replacing`)."""
    with replacing(path, sync_folder=sync_folder) as fh:
        fh.write(data)


def write_with(path: Path | str, write: Callable[[BinaryIO], object], *,
               sync_folder: bool = True) -> None:
    """Replace `path` with what `write(fh)` writes, e.g. `lambda fh: torch.save(obj, fh)`."""
    with replacing(path, sync_folder=sync_folder) as fh:
        write(fh)


def append_bytes(path: Path | str, data: bytes) -> None:
    """Append `data` to `path` (created if missing) and fsync it; all of `data` or none.

    On failure the file is cut back to its length before the append and the error re-raised.
    """
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError as err:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            _name(err, path)
            raise
    finally:
        os.close(fd)
