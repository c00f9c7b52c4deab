"""What tensors hold in memory: the bytes of their distinct storages.

Plain torch, for lessons and the server's caches alike: a capture sizes itself with it, and
the byte-bounded caches (`explorer.serving.shared_cache`) weigh what they keep.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def tensor_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes of the distinct storages behind `tensors` (views of one storage count once)."""
    storages = {}
    for t in tensors:
        storage = t.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
    return sum(storages.values())
