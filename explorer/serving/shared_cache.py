"""Large things shared by every session of a server (networks, captured activations), bounded
by bytes rather than by count.

A count bound does not bound memory: four cached LeNet-5s take 90 MB, four VGG-16s 2.1 GB, and
a class choosing networks and seeds at random fills any count with the largest ones (the
Feature maps wave peaked at 9 GB that way). A `SharedCache` holds values up to a byte budget,
least recently used first out, and always keeps the one just asked for even when it alone is
over budget (a student looking at VGG-19 must not rebuild it on every rerun). Values are
computed one at a time, and the caches of one process share that turn (`heavy_work`, which
other large computations such as Grad-CAM take too): on a CPU server the work is
compute-bound, so two at once finish neither sooner and hold both half-built results in
memory together. Values nobody has asked
for in `idle_s` seconds are dropped, so a server gives its memory back after a class leaves.
A value evicted while a rerun still holds it stays reachable (weakly) until that rerun lets go,
so a busy server never computes a second copy of something that is still in memory.
Room is made before a build, not after it: a caller names the value's `kind` (say, VGG-16 at
224 px, whatever its seed), the cache remembers how large the last value of that kind was,
and evicts enough for it first. Evicting only after the build holds a full cache and the new
value together, and that sum, not the budget, was the server's peak memory.
Budgets per server process: `EXPLORER_MODEL_CACHE_MB` (networks, default 160) and
`EXPLORER_ACTIVATION_CACHE_MB` (activations, default 160). They are small on purpose: a
network of 64 MB or more comes back from the weight store in milliseconds, a small one
rebuilds in a fraction of a second, and a class's captures are what a student reruns over.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

import torch
from torch import nn

from explorer.memory import tensor_bytes

DEFAULT_IDLE_S = 120.0  # longer than a student's pause, shorter than a break between classes
V = TypeVar("V")


def model_bytes(model: nn.Module) -> int:
    """Bytes of the model's parameters and buffers (what caching it costs)."""
    return tensor_bytes([*model.parameters(), *model.buffers()])


def _release_freed_memory() -> None:
    """Hand freed heap pages back to the OS (glibc keeps them otherwise, and RSS stays up)."""
    with contextlib.suppress(OSError, AttributeError, TypeError):  # not glibc: nothing to trim
        ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim(0)


@contextlib.contextmanager
def in_turn(turn: contextlib.AbstractContextManager, lock: contextlib.AbstractContextManager
            ) -> Iterator[None]:
    """Enter `turn` (a wider lock, such as the machine's for large networks), then `lock`,
    unless the turn yields True: work it holds exclusively needs no lock of its own."""
    with turn as exclusive, contextlib.nullcontext() if exclusive else lock:
        yield


@dataclass
class _Entry(Generic[V]):
    value: V
    size: int
    used: float


class SharedCache(Generic[V]):
    """A thread-safe LRU with a byte budget (sizes from `sizeof`) and an idle timeout."""

    def __init__(self, budget_bytes: int, sizeof: Callable[[V], int],
                 idle_s: float = DEFAULT_IDLE_S,
                 clock: Callable[[], float] = time.monotonic,
                 build_lock: threading.RLock | None = None) -> None:
        self.budget_bytes = budget_bytes
        self.sizeof = sizeof
        self.idle_s = idle_s
        self._clock = clock
        self._entries: OrderedDict[Hashable, _Entry[V]] = OrderedDict()
        self._alive: weakref.WeakValueDictionary[Hashable, V] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()
        self._build_lock = build_lock or threading.RLock()  # re-entered by nested builds
        self._janitor: threading.Thread | None = None
        self._kind_sizes: dict[Hashable, int] = {}
        self._passing: weakref.WeakSet = weakref.WeakSet()  # values not kept over budget
        self.builds = 0

    def get(self, key: Hashable, build: Callable[[], V], kind: Hashable | None = None,
            estimate: Callable[[], int] | None = None, keep_oversize: bool = True,
            turn: Callable[[], contextlib.AbstractContextManager] | None = None) -> V:
        """The cached value for `key`, made by `build()` (one build at a time) if absent.

        Before building, the cache evicts enough to fit the value's expected size: that of the
        last value of the same `kind` (keys whose values are about as large) built here, else
        `estimate()`. A value over the whole budget is kept anyway (rebuilding it on every
        rerun would cost more) unless `keep_oversize` is False, for values that come back
        cheaply (a memory-mapped network): then it lives only as long as someone holds it.
        On a miss, `turn()` is entered before queueing for this cache's build turn: a wider
        turn, such as the machine's for large networks, so that waiting for it does not hold
        up this process's other builds. A turn that yields True serialises this build by
        itself, and the cache's own turn is not taken: a VGG being built under the machine's
        turn does not make this process's small builds wait seconds behind it."""
        value = self._lookup(key)
        if value is not None:
            return value
        with in_turn(turn() if turn is not None else contextlib.nullcontext(),
                     self._build_lock):
            value = self._lookup(key)  # built by another session while this one waited
            if value is not None:
                return value
            expected = self._kind_sizes.get(kind) if kind is not None else None
            if expected is None and estimate is not None:
                expected = estimate()
            if expected:
                self._make_room(expected)
            value = build()
            self.builds += 1
            if not keep_oversize:
                with self._lock, contextlib.suppress(TypeError):
                    self._passing.add(value)
        size = self._insert(key, value)
        if kind is not None:
            self._kind_sizes[kind] = size
        return value

    def _make_room(self, size: int) -> None:
        """Evict least recently used values until `size` more bytes fit in the budget."""
        with self._lock:
            dropped = 0
            while self._entries and self.total_bytes() + size > self.budget_bytes:
                self._entries.popitem(last=False)
                dropped += 1
        if dropped:
            _release_freed_memory()

    def _lookup(self, key: Hashable) -> V | None:
        with self._lock:
            self._expire()
            entry = self._entries.get(key)
            if entry is None:
                value = self._alive.get(key)
                if value is not None:  # evicted, but a rerun still uses it: take it back
                    self._keep(key, value, self.sizeof(value))
                return value
            entry.used = self._clock()
            self._entries.move_to_end(key)
            return entry.value

    def _keep(self, key: Hashable, value: V, size: int) -> int:
        """Put `value` in the cache (under `self._lock`) unless it passes through; returns
        how many values were evicted to fit it."""
        if size > self.budget_bytes and value in self._passing:
            return 0
        self._entries[key] = _Entry(value, size, self._clock())
        return self._evict()

    def _insert(self, key: Hashable, value: V) -> int:
        size = self.sizeof(value)
        with self._lock:
            with contextlib.suppress(TypeError):  # a value without weakref support: no rescue
                self._alive[key] = value
            evicted = self._keep(key, value, size)
            if self._janitor is None and self._clock is time.monotonic:
                self._janitor = threading.Thread(target=self._sweep_forever, daemon=True,
                                                 name="shared-cache-janitor")
                self._janitor.start()
        if evicted:
            _release_freed_memory()
        return size

    def _sweep_forever(self) -> None:
        """Expire idle values even when no session asks for anything (the class has left)."""
        while True:
            time.sleep(max(1.0, self.idle_s / 4))
            self.sweep()

    def sweep(self) -> int:
        """Drop the values idle for longer than `idle_s`; returns how many went."""
        with self._lock:
            dropped = self._expire()
        if dropped:
            _release_freed_memory()
        return dropped

    def _evict(self) -> int:
        """Drop least recently used values until within budget (the newest always stays)."""
        dropped = 0
        while len(self._entries) > 1 and self.total_bytes() > self.budget_bytes:
            self._entries.popitem(last=False)
            dropped += 1
        return dropped

    def _expire(self) -> int:
        cutoff = self._clock() - self.idle_s
        stale = [k for k, e in self._entries.items() if e.used < cutoff]
        for k in stale:
            del self._entries[k]
        return len(stale)

    def total_bytes(self) -> int:
        """Bytes held by the cached values."""
        return sum(e.size for e in self._entries.values())

    def keys(self) -> list[Hashable]:
        """Cached keys, least recently used first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Drop every value."""
        with self._lock:
            self._entries.clear()


def nbytes(value: object) -> int:
    """`value.nbytes` (tensors count their storage)."""
    if isinstance(value, torch.Tensor):
        return tensor_bytes([value])
    return int(value.nbytes)


def budget_from_env(name: str, default_mb: float) -> int:
    """The budget `$name` (in MB, `default_mb` when unset) in bytes."""
    return int(float(os.environ.get(name, default_mb)) * 2**20)


heavy_work = threading.RLock()
"""One large computation at a time in this process: the caches' builds (a capture's build
re-enters it to build its network) and anything else that holds a network's worth of
memory while it runs, such as Grad-CAM's backward pass. Work under the machine's turn for
large networks (`weight_store.WeightStore.turn`) is serialised by that turn instead."""

models: SharedCache[nn.Module] = SharedCache(
    budget_from_env("EXPLORER_MODEL_CACHE_MB", 160), model_bytes, build_lock=heavy_work)
"""This server process's networks: every page that runs a zoo network on a student's image."""

activations: SharedCache[object] = SharedCache(
    budget_from_env("EXPLORER_ACTIVATION_CACHE_MB", 160), nbytes, build_lock=heavy_work)
"""This server process's captured activations (values with an `nbytes`)."""
