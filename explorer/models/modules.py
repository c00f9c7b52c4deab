"""Walking an `nn.Module`: its leaf layers, and tensor shapes as text.

One definition of "leaf" for the layer table, the feature-map capture and the zoo's error
messages: a named module without children (conv, BatchNorm, ReLU, pooling, Linear, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


def is_leaf(module: nn.Module) -> bool:
    """True when `module` has no child modules."""
    return next(module.children(), None) is None


def leaf_modules(model: nn.Module) -> dict[str, nn.Module]:
    """Every leaf of `model` by dotted name, in registration order (the root excluded)."""
    return {name: m for name, m in model.named_modules() if name and is_leaf(m)}


def shape_text(shape: Sequence[int] | None) -> str:
    """(64, 56, 56) -> "64×56×56"; no shape -> "?"."""
    return "×".join(map(str, shape)) if shape else "?"
