"""Networks, what they make of a photo, and Grad-CAM, shared by every session of a server.

The Feature maps page and the handwriting canvas run random (seeded), ImageNet and
training-run networks on a student's image. The networks live in the process's byte-bounded
model cache (`shared_cache.models`), their captures and first-layer filters in its activation
cache; a session keeps ids and loaders (`Network`, `Analysed`), never a model or a tensor.
Two calls say how, following the rules measured under a class (bench/RESULTS.md, "Feature
maps under a class"):

- `get` fetches a shared value, building it on a miss. Room is made before the build for a
  value as large as the last of its `kind` (else `expected_bytes`), since a full cache plus
  the new value was the server's peak; a memory-mapped network (`mapped`) over the budget is
  not kept once no rerun holds it.
- `heavy_work` is the turn for work that holds a network's worth of memory. A network of
  `weight_store.LARGE_BYTES` or more (VGG at 224 px) is built and run in the machine's turn,
  an flock shared by the server processes, and work under it does not also take its
  process's lock; anything else takes the process's (`shared_cache.heavy_work`). A build in
  `get` takes the same turn, from the size its network has.

Random networks of `weight_store.MIN_BYTES` or more are built once and memory-mapped from
the weight store (`random_network`), which `explorer.serving.prepare` fills before a class.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import weakref
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch
from PIL import Image
from torch import nn

from explorer import feature_maps as fm
from explorer import gradcam
from explorer.models import zoo
from explorer.serving import shared_cache, weight_store
from explorer.training import checkpoints, runs
from explorer.training.config import RunConfig

V = TypeVar("V")
Architecture = tuple[str, str]  # (zoo key, input variant)


# --- the vocabulary: a shared value, and the turn for heavy work --------------------------------


def get(cache: shared_cache.SharedCache[V], key: Hashable, build: Callable[[], V], *,
        network_bytes: Callable[[], int] | None = None, kind: Hashable | None = None,
        expected_bytes: Callable[[], int] | None = None, mapped: bool = False) -> V:
    """The value `key` of `cache`, made by `build()` on a miss, one build at a time.

    `network_bytes()` (asked on a miss only) is the size of the network the build makes or
    runs: from `weight_store.LARGE_BYTES` on, the build waits for the machine's turn (see
    `heavy_work`). Room is made first for the size of the last value of the same `kind` built
    here, else for `expected_bytes()`. A `mapped` value (a network memory-mapped from the
    weight store) comes back in milliseconds, so one over the cache's budget is not kept.
    """
    turn = None if network_bytes is None else (
        lambda: weight_store.networks.turn(network_bytes()))
    return cache.get(key, build, kind=kind, estimate=expected_bytes, keep_oversize=not mapped,
                     turn=turn)


def heavy_work(network_bytes: int) -> contextlib.AbstractContextManager[None]:
    """The turn for work that holds a network of `network_bytes` and its activations in memory
    (a backward pass, a capture outside the caches): the machine's for a large network, else
    this process's one large computation at a time."""
    return shared_cache.in_turn(weight_store.networks.turn(network_bytes),
                                shared_cache.heavy_work)


def weight_bytes(architecture: Architecture) -> int:
    """Bytes of a zoo network's weights at this input size; 0 for a run's own layer stack,
    which is never one of the large networks."""
    try:
        return zoo.weight_bytes(architecture[0], variant=architecture[1])
    except (ValueError, KeyError):
        return 0


# --- networks ---------------------------------------------------------------------------------


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


def random_model(key: str, variant: str, batchnorm: bool, seed: int) -> nn.Module:
    """A random network in the model cache (a count bound lets four VGGs fill 2 GB), its
    weights mapped from the store. One larger than the whole budget (VGG at 224 px) is not
    kept at all: mapping it again takes milliseconds, and only captures and Grad-CAM need it."""
    size = functools.partial(zoo.weight_bytes, key, variant=variant, batchnorm=batchnorm)
    return get(shared_cache.models, ("random", key, variant, batchnorm, seed),
               functools.partial(random_network, key, variant, batchnorm, seed),
               network_bytes=size, kind=(key, variant, batchnorm), expected_bytes=size,
               mapped=True)


def pretrained_model(key: str) -> nn.Module:
    """torchvision's ImageNet `key` network, in the model cache."""
    return get(shared_cache.models, ("pretrained", key),
               lambda: fm.for_inference(zoo.build_pretrained(key)),
               kind=(key, "imagenet", False))


_run_configs: weakref.WeakKeyDictionary[nn.Module, RunConfig] = weakref.WeakKeyDictionary()


def run_model(run_dir: str, mtime: float) -> tuple[nn.Module, RunConfig]:
    """A training run's network as its checkpoint (of this `mtime`) holds it, in the model
    cache, and the run's config; the checkpoint's own error when it cannot be loaded."""
    def build() -> nn.Module:
        model, config = checkpoints.model_from_checkpoint(run_dir)
        model = fm.for_inference(model)
        _run_configs[model] = config  # as long as the network lives, whoever holds it
        return model

    model = get(shared_cache.models, ("run", run_dir, mtime), build,
                network_bytes=functools.partial(_run_weight_bytes, run_dir))
    return model, _run_configs[model]


def run_network(run_dir: str, mtime: float) -> nn.Module:
    """`run_model`'s network alone (a `Network`'s loader)."""
    return run_model(run_dir, mtime)[0]


def _run_weight_bytes(run_dir: str) -> int:
    """The size of a run's network, from its config.json; 0 when that is unreadable (the
    checkpoint's own error is then the one to tell)."""
    try:
        config = runs.read_config(Path(run_dir))
    except ValueError:
        return 0
    return weight_bytes((config.model, config.variant))


@dataclass(frozen=True)
class Network:
    """The chosen network, by id and loader (see `Analysed`: no model is kept per session)."""

    key: str
    variant: str
    weights: str
    load: Callable[[], nn.Module]
    model_id: str
    config: RunConfig | None = None
    init_filters: tuple[str, torch.Tensor] | None = None
    checkpoint: tuple[str, float] | None = None  # (run folder, checkpoint mtime) of a run

    @property
    def model(self) -> nn.Module:
        return self.load()

    @property
    def architecture(self) -> Architecture:
        return self.key, self.variant


# --- what a network makes of a photo ----------------------------------------------------------


_image_ids: dict[int, tuple[weakref.ref, str]] = {}


def image_id(image: Image.Image) -> str:
    """A digest of the photo, computed once per loaded image object (not on every rerun)."""
    known, ident = _image_ids, id(image)
    entry = known.get(ident)
    if entry is None or entry[0]() is not image:
        digest = hashlib.sha1(image.tobytes() + repr((image.size, image.mode)).encode())
        entry = (weakref.ref(image, lambda _ref: known.pop(ident, None)),
                 digest.hexdigest()[:16])
        known[ident] = entry
    return entry[1]


def analysis(model_id: str, image_id: str, pre_id: str, model: Callable[[], nn.Module],
             image: Image.Image, pre: fm.Preprocessing, architecture: Architecture
             ) -> fm.Analysis:
    """Preprocess and capture every layer once per (model, image, preprocessing); held in the
    byte-bounded activation cache (DenseNet-121's layers at 224 px are 150 MB). `model` is
    called only when the capture is not cached; a capture is about as large as the last one
    of the same architecture and preprocessing, whatever the weights."""
    return get(shared_cache.activations, (model_id, image_id, pre_id),
               lambda: fm.analyse(model(), image, pre),
               network_bytes=functools.partial(weight_bytes, architecture),
               kind=(architecture, pre_id))


@dataclass(frozen=True)
class Analysed:
    """What the views share: ids for cache keys, and loaders of the model, its input and every
    layer. Fragments keep their arguments in the session between reruns, so this holds no
    model or tensor: each property fetches from the server's byte-bounded caches (redoing the
    work if it was evicted), and thirty sessions do not pin thirty networks in memory."""

    model_id: str
    image_id: str
    pre_id: str
    pre: fm.Preprocessing
    load: Callable[[], fm.Analysis]
    load_model: Callable[[], nn.Module]
    architecture: Architecture

    @property
    def key(self) -> tuple[str, str, str]:
        return self.model_id, self.image_id, self.pre_id

    @property
    def model(self) -> nn.Module:
        return self.load_model()

    @property
    def prepared(self) -> fm.Prepared:
        return self.load().prepared

    @property
    def capture(self) -> fm.Capture:
        return self.load().capture


def first_layer(net: Network, in_shape: tuple[int, int, int]
                ) -> tuple[str, torch.Tensor] | None:
    """The first layer's filters, copied out of the network into the byte-bounded activation
    cache: the filters view needs the network only once, not on every rerun."""
    first = get(shared_cache.activations, ("first layer", net.model_id, in_shape),
                lambda: fm.FirstLayer.of(net.model, in_shape),
                network_bytes=functools.partial(weight_bytes, net.architecture))
    return None if first.weight is None else (first.name, first.weight)


def grad_cam(done: Analysed, x: torch.Tensor, layer: str, class_index: int) -> gradcam.GradCam:
    """Grad-CAM of `class_index` on `layer` for the preprocessed input `x`, in the turn its
    network's size calls for (the backward pass holds the network and its activations)."""
    with heavy_work(weight_bytes(done.architecture)):
        return gradcam.grad_cam(done.model, fm.as_input(x), layer, class_index)
