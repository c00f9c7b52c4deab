"""Networks shared by every session of a server, bounded by bytes rather than by count.

A count bound does not bound memory: four cached LeNet-5s take 90 MB, four VGG-16s 2.1 GB,
and a class choosing networks and seeds at random fills any count with the largest ones. This
cache holds models up to a byte budget (`EXPLORER_MODEL_CACHE_MB`, default 512 per server
process), least recently used first out, and always keeps the one just asked for even when it
alone is over budget (a student looking at VGG-19 must not rebuild it on every rerun). Builds
run one at a time: on a CPU server they are compute-bound, so running two at once finishes
neither sooner and holds both half-built networks in memory together. Models nobody has asked
for in `idle_s` seconds are dropped, so a server gives its memory back after a class leaves.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from torch import nn

DEFAULT_BUDGET_MB = 512
DEFAULT_IDLE_S = 600.0


def model_bytes(model: nn.Module) -> int:
    """Bytes of the model's parameters and buffers (what caching it costs)."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def _release_freed_memory() -> None:
    """Hand freed heap pages back to the OS (glibc keeps them otherwise, and RSS stays up)."""
    with contextlib.suppress(OSError, AttributeError, TypeError):  # not glibc: nothing to trim
        ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim(0)


@dataclass
class _Entry:
    model: nn.Module
    size: int
    used: float


class ModelCache:
    """A thread-safe LRU of models with a byte budget and an idle timeout."""

    def __init__(self, budget_bytes: int, idle_s: float = DEFAULT_IDLE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.budget_bytes = budget_bytes
        self.idle_s = idle_s
        self._clock = clock
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()
        self.builds = 0

    def get(self, key: Hashable, build: Callable[[], nn.Module]) -> nn.Module:
        """The cached model for `key`, built with `build()` (one build at a time) if absent."""
        model = self._lookup(key)
        if model is not None:
            return model
        with self._build_lock:
            model = self._lookup(key)  # built by another session while this one waited
            if model is not None:
                return model
            model = build()
            self.builds += 1
        self._insert(key, model)
        return model

    def _lookup(self, key: Hashable) -> nn.Module | None:
        with self._lock:
            self._expire()
            entry = self._entries.get(key)
            if entry is None:
                return None
            entry.used = self._clock()
            self._entries.move_to_end(key)
            return entry.model

    def _insert(self, key: Hashable, model: nn.Module) -> None:
        with self._lock:
            self._entries[key] = _Entry(model, model_bytes(model), self._clock())
            self._entries.move_to_end(key)
            evicted = False
            while len(self._entries) > 1 and self.total_bytes() > self.budget_bytes:
                self._entries.popitem(last=False)
                evicted = True
        if evicted:
            _release_freed_memory()

    def _expire(self) -> None:
        cutoff = self._clock() - self.idle_s
        stale = [k for k, e in self._entries.items() if e.used < cutoff]
        for k in stale:
            del self._entries[k]
        if stale:
            _release_freed_memory()

    def total_bytes(self) -> int:
        """Bytes held by the cached models."""
        return sum(e.size for e in self._entries.values())

    def keys(self) -> list[Hashable]:
        """Cached keys, least recently used first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Drop every model."""
        with self._lock:
            self._entries.clear()
        _release_freed_memory()


def budget_from_env() -> int:
    """`EXPLORER_MODEL_CACHE_MB` (default 512) in bytes."""
    return int(float(os.environ.get("EXPLORER_MODEL_CACHE_MB", DEFAULT_BUDGET_MB)) * 2**20)


shared = ModelCache(budget_from_env())
"""The server process's cache: every page that shows a network's weights or activations."""
