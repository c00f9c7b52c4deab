"""The zoo's networks as the Model zoo page inspects them, and what it reads off them, cached.

Networks live in the byte-bounded model cache every session of a server process shares
(`explorer.serving.shared_cache.models`), the one place a network is cached: on PyTorch's meta
device for the layer table (every shape, no memory, instant to build) and with seeded real
weights for the save & load and `to(device)` lessons. What is read off a network (its layer
table, the block diagram, the nn.Module lesson's facts, the tensors per device) is small and
cached here by the small values that determine it.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass

import streamlit as st
import torch
from torch import nn

from explorer import i18n
from explorer.figures import diagram
from explorer.i18n import _
from explorer.models import layer_table, module_lesson, zoo
from explorer.models.modules import exclusive
from explorer.serving import networks, shared_cache

TTL = 3600  # seconds; every cache is also bounded by max_entries
SEED = 0  # the seed of the real weights the lessons save, load and move


@dataclass(frozen=True)
class Network:
    """A zoo network as the page shows it: `layer`, when set, gets a new kernel and stride."""

    key: str
    variant: str
    batchnorm: bool
    layer: str = ""
    kernel: int = 3
    stride: int = 1

    @property
    def as_built(self) -> Network:
        """The same network without the changed layer."""
        return Network(self.key, self.variant, self.batchnorm)


def _build_meta(net: Network) -> nn.Module:
    if net.layer:
        base = meta_network(net.as_built)
        with exclusive(base):  # copied without another session's table hooks on it
            return layer_table.with_layer_changed(base, net.layer, kernel=net.kernel,
                                                  stride=net.stride)
    with torch.device("meta"):
        return zoo.build_model(net.key, variant=net.variant, batchnorm=net.batchnorm)


def meta_network(net: Network) -> nn.Module:
    """The network on PyTorch's meta device (`zoo.BuildError` when its input is too small,
    ValueError or RuntimeError when the changed layer cannot be applied). It holds no tensor
    memory, so the byte budget barely feels it."""
    return shared_cache.models.get(("zoo", "meta", net), functools.partial(_build_meta, net),
                                   kind=("zoo", "meta"))


@st.cache_resource(max_entries=96, ttl=TTL, show_spinner=False)
def table(net: Network, size: int, lang: str) -> layer_table.LayerTable:
    """The layer table for a 1×C×size×size input, its notes in `lang`."""
    model = meta_network(net)
    channels = zoo.VARIANTS[net.variant].in_channels
    with exclusive(model), i18n.use_language(lang):  # hooks go on a model other sessions share
        return layer_table.inspect_model(model, (channels, size, size))


@st.cache_data(max_entries=96, ttl=TTL, show_spinner=False)
def table_view(net: Network, size: int, lang: str, title: str
               ) -> tuple[list[dict[str, object]], str]:
    """The layer table as records and the block diagram as DOT."""
    inspected = table(net, size, lang)
    return layer_table.table_records(inspected), diagram.graph_dot(inspected, title)


@st.cache_resource(max_entries=96, ttl=TTL, show_spinner=False)
def lesson(net: Network) -> module_lesson.Lesson:
    """What the nn.Module lesson shows for the network (read from a copy of it)."""
    model = meta_network(net)
    with exclusive(model):  # copied without another session's table hooks on it
        return module_lesson.lesson(model)


def seeded_network(key: str, variant: str, batchnorm: bool) -> nn.Module:
    """The network with seed `SEED`'s real weights, in eval mode and PyTorch's default layout
    (its state_dict is the one a student downloads); room is made for it before it is built,
    and a large one is built in the machine's turn, like every network (`networks.get`)."""
    size = functools.partial(zoo.weight_bytes, key, variant=variant, batchnorm=batchnorm)
    return networks.get(
        shared_cache.models, ("zoo", "seeded", key, variant, batchnorm, SEED),
        lambda: zoo.build_seeded(key, seed=SEED, variant=variant, batchnorm=batchnorm).eval(),
        network_bytes=size, kind=("zoo", key, variant, batchnorm), expected_bytes=size)


def seeded_network_shown(key: str, variant: str, batchnorm: bool) -> nn.Module:
    """`seeded_network` with a spinner while it is built (in the script's own thread)."""
    with st.spinner(_("Initialising real weights…")):
        return seeded_network(key, variant, batchnorm)


@st.cache_data(max_entries=12, ttl=TTL, show_spinner=False)
def moved_devices(key: str, variant: str, batchnorm: bool, device: str
                  ) -> tuple[dict[str, int], dict[str, int]]:
    """Tensors per device of the real network, before and after `to(device)` (of a copy)."""
    real = seeded_network(key, variant, batchnorm)
    moved = copy.deepcopy(real).to(device)
    return module_lesson.tensor_devices(real), module_lesson.tensor_devices(moved)
