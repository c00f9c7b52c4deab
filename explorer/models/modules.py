"""Walking an `nn.Module`: its leaf layers, its parameter count, and tensor shapes as text.

One definition of "leaf" for the layer table, the feature-map capture and the zoo's error
messages: a named module without children (conv, BatchNorm, ReLU, pooling, Linear, ...).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from torch import nn

_HOLDS: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_HOLDS_GUARD = threading.Lock()


def is_leaf(module: nn.Module) -> bool:
    """True when `module` has no child modules."""
    return next(module.children(), None) is None


def leaf_modules(model: nn.Module) -> dict[str, nn.Module]:
    """Every leaf of `model` by dotted name, in registration order (the root excluded)."""
    return {name: m for name, m in model.named_modules() if name and is_leaf(m)}


def parameter_count(module: nn.Module, recurse: bool = True,
                    trainable_only: bool = False) -> int:
    """`sum(p.numel() for p in module.parameters(recurse))`: a tensor shared by two layers
    counts once; with `trainable_only`, only those with `requires_grad`."""
    return sum(p.numel() for p in module.parameters(recurse=recurse)
               if p.requires_grad or not trainable_only)


def shape_text(shape: Sequence[int] | None) -> str:
    """(64, 56, 56) -> "64×56×56"; no shape -> "?"."""
    return "×".join(map(str, shape)) if shape else "?"


@contextmanager
def exclusive(model: nn.Module) -> Iterator[nn.Module]:
    """Hold `model` for one thread while hooks are on it.

    A cached model is shared by every session of a server, each running in its own thread,
    and forward hooks fire on every forward pass: without this, one student's Grad-CAM hook
    would record another student's capture (run under `no_grad`) and fail.
    """
    with _HOLDS_GUARD:
        hold = _HOLDS.setdefault(model, threading.RLock())
    with hold:
        yield model
