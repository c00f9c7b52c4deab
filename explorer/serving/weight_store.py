"""Networks' weights kept on disk and memory-mapped, shared by every server process.

A random VGG-16 at 224 px is 528 MB and takes about 1.4 s to initialise on one core. Built in
a process's heap, it is that process's alone, and a class choosing networks and seeds makes
each replica build and hold its own. Here the process that first needs a network builds it
once and saves its weights under the runs folder (which every replica already shares), and
every process that needs it maps that file (`torch.load(mmap=True, weights_only=True)`):

- the weights are pages of the kernel's page cache: replicas showing the same network hold
  one copy between them;
- a process that drops the network unmaps them, and its memory falls at once (nothing is
  left in malloc's heap); the next use maps them again in milliseconds instead of rebuilding;
- clean file pages are the first thing the kernel reclaims when memory runs short.

Networks under `MIN_BYTES` are not stored: ResNet-18 builds in 0.1 s, about what writing it
costs, and holds little memory. The folder is bounded by bytes (`EXPLORER_WEIGHT_STORE_MB`,
default 4096), least recently used file first. Files are written under a temporary name and
renamed, so a reader never sees half a file; one that cannot be read is deleted and rebuilt.
The file name digests the network's name with torch's and torchvision's versions, since the
same seed draws other weights under another version.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from torch import nn
from torch.utils.serialization import config as serialization_config

from explorer.serving.shared_cache import budget_from_env
from explorer.training.runs import runs_dir

log = logging.getLogger(__name__)
SUFFIX = ".pt"
MIN_BYTES = 64 * 2**20  # AlexNet, VGG and ResNet-50 at 224 px; not the small networks


class WeightStore:
    """Networks by name: read from `folder()` when saved there before, else built and saved."""

    def __init__(self, folder: Callable[[], Path], budget_bytes: int,
                 min_bytes: int = MIN_BYTES) -> None:
        self.folder = folder
        self.budget_bytes = budget_bytes
        self.min_bytes = min_bytes
        self._threads: list[threading.Thread] = []
        self._threads_lock = threading.Lock()
        self.builds = 0

    def path(self, name: str) -> Path:
        """Where the weights of network `name` are kept."""
        versions = f"{name}|torch {torch.__version__}|torchvision {torchvision.__version__}"
        return self.folder() / (hashlib.sha256(versions.encode()).hexdigest()[:24] + SUFFIX)

    def get(self, name: str, build: Callable[[], nn.Module],
            skeleton: Callable[[], nn.Module], size: int | None = None) -> nn.Module:
        """Network `name` with its weights memory-mapped from the store.

        `build()` makes it when the store has no readable copy (that one is returned as built
        and written in the background); `skeleton()` makes the same architecture on the meta
        device for the saved weights to be assigned into.
        A network whose `size` (bytes, when known) is under `min_bytes` is only built.
        """
        if size is not None and size < self.min_bytes:
            self.builds += 1
            return build()
        path = self.path(name)
        model = self._read(path, skeleton)
        if model is not None:
            return model
        lock = self._lock_builds()
        try:
            model = self._read(path, skeleton)  # built by another process while this waited
            if model is None:
                built = build()
                self.builds += 1
        except BaseException:
            _unlock(lock)
            raise
        if model is not None:
            _unlock(lock)
            return model
        # The student who asked gets the network now; it is written meanwhile (about a
        # second for 0.5 GB on this machine's disk), still under the build lock, so no other
        # large network is built beside it, in any process, until it is on disk.
        thread = threading.Thread(target=self._save_and_unlock, args=(name, path, built, lock),
                                  name="weight-store-save", daemon=True)
        with self._threads_lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return built

    def _lock_builds(self) -> int | None:
        """Wait for an exclusive `flock` on the store's lock file, across the server's
        processes: a class opening VGG-16 together builds it once, in one replica, and the
        others map it; and two large networks are never being built or written at once.
        Returns the descriptor to close (None without a writable store: nothing to share)."""
        try:
            self.folder().mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder() / "build.lock", os.O_CREAT | os.O_RDWR, 0o644)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _save_and_unlock(self, name: str, path: Path, model: nn.Module,
                         lock: int | None) -> None:
        try:
            self._write(path, model)
        except OSError as err:  # a full or read-only disk: it is rebuilt when next needed
            log.warning("weight store: could not save %s to %s (%s)", name, path, err)
        finally:
            _unlock(lock)

    def wait(self) -> None:
        """Return once the saves started so far are on disk (tests, benchmarks)."""
        with self._threads_lock:
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join()

    def _read(self, path: Path, skeleton: Callable[[], nn.Module]) -> nn.Module | None:
        try:
            state = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
            model = skeleton()
            model.load_state_dict(state, strict=True, assign=True)
        except OSError:  # not stored yet, or no store to read (a file where its folder is)
            return None
        except Exception as err:  # torn by a crash, foreign or stale: rebuild it
            log.warning("weight store: %s unreadable (%s); rebuilding it", path, err)
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            return None
        if any(t.is_meta for t in (*model.parameters(), *model.buffers())):
            return None  # a tensor the file does not hold (none of the zoo's networks has one)
        os.utime(path)  # recently used: the last to be pruned
        return model.eval()

    def _write(self, path: Path, model: nn.Module) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")
        try:
            # Without zip CRCs: twice as fast, and torch.load does not check them. The
            # setting is process-wide for these milliseconds; nothing else this server saves
            # is read by anything but torch.load either.
            with serialization_config.patch({"save.compute_crc32": False}):
                torch.save(model.state_dict(), partial)
            os.replace(partial, path)  # two processes saving one network: either copy is it
        finally:
            partial.unlink(missing_ok=True)
        self.prune(keep=path)

    def prune(self, keep: Path | None = None) -> int:
        """Delete the least recently used files until the store fits its budget; returns how
        many went. A process that still maps a deleted file keeps reading it (Linux frees the
        pages when the last mapping goes)."""
        files = []
        for file in self.folder().glob(f"*{SUFFIX}"):
            try:
                stat = file.stat()
            except FileNotFoundError:  # pruned by another process meanwhile
                continue
            files.append((stat.st_mtime, stat.st_size, file))
        files.sort()
        total, removed = sum(size for _, size, _ in files), 0
        for _, size, file in files:
            if total <= self.budget_bytes:
                break
            if file == keep:
                continue
            file.unlink(missing_ok=True)
            total -= size
            removed += 1
        return removed


def _unlock(lock: int | None) -> None:
    if lock is not None:
        os.close(lock)  # closing the descriptor releases its flock


def _store_folder() -> Path:
    return runs_dir() / ".cache" / "weights"  # the folder every replica already shares


networks = WeightStore(_store_folder, budget_from_env("EXPLORER_WEIGHT_STORE_MB", 4096))
"""Random networks' initial weights, shared by the server processes of this runs folder."""
