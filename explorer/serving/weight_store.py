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
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import torchvision
from torch import nn
from torch.utils.serialization import config as serialization_config

from explorer import REPO_ROOT
from explorer.serving.shared_cache import budget_from_env

log = logging.getLogger(__name__)
SUFFIX = ".pt"
MIN_BYTES = 64 * 2**20  # AlexNet, VGG and ResNet-50 at 224 px; not the small networks
LARGE_BYTES = 256 * 2**20  # VGG at 224 px: one of these at work at a time on the machine


class WeightStore:
    """Networks by name: read from `folder()` when saved there before, else built and saved."""

    def __init__(self, folder: Callable[[], Path], budget_bytes: int,
                 min_bytes: int = MIN_BYTES, large_bytes: int = LARGE_BYTES) -> None:
        self.folder = folder
        self.budget_bytes = budget_bytes
        self.min_bytes = min_bytes
        self.large_bytes = large_bytes
        self._held = threading.local()  # whether this thread holds the turn
        self.builds = 0

    def path(self, name: str) -> Path:
        """Where the weights of network `name` are kept."""
        versions = f"{name}|torch {torch.__version__}|torchvision {torchvision.__version__}"
        return self.folder() / (hashlib.sha256(versions.encode()).hexdigest()[:24] + SUFFIX)

    def get(self, name: str, build: Callable[[], nn.Module],
            skeleton: Callable[[], nn.Module], size: int | None = None) -> nn.Module:
        """Network `name` with its weights memory-mapped from the store.

        `build()` makes it when the store has no readable copy (in this machine's `turn` when
        it is large; it is written, then mapped like any other); `skeleton()` makes the same
        architecture on the meta device for the saved weights to be assigned into.
        A network whose `size` (bytes, when known) is under `min_bytes` is only built.
        Callers that hold a lock of their own take `turn(size)` first: the turn is the outer
        lock, so a thread waiting for it never holds what the turn's holder needs next.
        """
        if size is not None and size < self.min_bytes:
            self.builds += 1
            return build()
        path = self.path(name)
        model = self._read(path, skeleton)
        if model is not None:
            return model
        with self.turn(size):
            model = self._read(path, skeleton)  # built by another process while this waited
            if model is not None:
                return model
            built = build()
            self.builds += 1
            try:
                self._write(path, built)
            except OSError as err:  # a full or read-only disk: serve this one from the heap
                log.warning("weight store: could not save %s to %s (%s)", name, path, err)
                return built
        return self._read(path, skeleton) or built

    @contextlib.contextmanager
    def turn(self, size: int | None = None) -> Iterator[bool]:
        """This machine's one turn for large networks: an exclusive `flock` on the store's
        lock file, held by whichever server process builds and writes a stored network, or
        runs a network of `size` bytes when that is `large_bytes` or more (VGG at 224 px;
        None: always). So a class opening VGG-16 together builds it once, in one replica, and
        the others map it; and however the class spreads over the replicas, one large network
        is at work at a time (its weights and activations were what pushed the server past
        its memory). A thread that holds the turn may take it again. Without a writable store
        nothing is shared and nothing is locked. Yields whether this thread holds the turn
        (work under it needs no lock of its own process: it is one at a time already)."""
        if getattr(self._held, "yes", False):
            yield True  # this thread's turn already
            return
        if size is not None and size < self.large_bytes:
            yield False  # a small network
            return
        try:
            self.folder().mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder() / "build.lock", os.O_CREAT | os.O_RDWR, 0o644)
        except OSError:
            yield False
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._held.yes = True
            yield True
        finally:
            self._held.yes = False
            os.close(fd)  # closing the descriptor releases the lock

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


def _store_folder() -> Path:
    """`.cache/weights` in the runs folder, which every replica already shares. The folder is
    read as `explorer.training.runs.runs_dir` reads it (`$EXPLORER_RUNS_DIR`, else
    `<repo>/runs`) but here, so that serving imports nothing of training."""
    return Path(os.environ.get("EXPLORER_RUNS_DIR") or REPO_ROOT / "runs") / ".cache" / "weights"


networks = WeightStore(_store_folder, budget_from_env("EXPLORER_WEIGHT_STORE_MB", 4096))
"""Random networks' initial weights, shared by the server processes of this runs folder."""
