"""Networks served to every session of a server: random networks' weights from the store.

Random networks of `weight_store.MIN_BYTES` or more are built once and memory-mapped from
the weight store (`random_network`), which `explorer.serving.prepare` fills before a class.
Here, not in the lesson `explorer.feature_maps`: a lesson (and the training worker that uses
one) loads no serving layer.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from torch import nn

from explorer import feature_maps as fm
from explorer.models import zoo
from explorer.serving import weight_store


def random_network(key: str, variant: str, batchnorm: bool, seed: int,
                   store: weight_store.WeightStore | None = None) -> nn.Module:
    """`zoo.build_seeded`'s network, ready for inference; when it is large, its weights come
    from the weight store the server's processes share (built and saved by the first one that
    needs them, memory-mapped by every other)."""
    def build() -> nn.Module:
        return fm.for_inference(zoo.build_seeded(key, seed=seed, variant=variant,
                                                 batchnorm=batchnorm))

    return (store or weight_store.networks).get(
        f"random:{key}:{variant}:{batchnorm}:{seed}", build,
        functools.partial(zoo.skeleton, key, variant=variant, batchnorm=batchnorm),
        zoo.weight_bytes(key, variant=variant, batchnorm=batchnorm))


def stored_defaults(store: weight_store.WeightStore | None = None, seed: int = 0,
                    keys: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """The (network, input size) pairs whose random weights at `seed` (the page's default) are
    large enough for the store, largest first: what a server prepares before a class."""
    store = store or weight_store.networks
    pairs = [(zoo.weight_bytes(k, variant=v), k, v) for k in (keys or zoo.list_models())
             for v in zoo.VARIANTS]
    return [(k, v) for size, k, v in sorted(pairs, reverse=True) if size >= store.min_bytes]
