"""The shared photo as one grey channel, and the maps the Pooling & upsampling page computes
from it (its Sobel-x edges, an activation of them), cached per photo.

The caches are keyed by the photo's key (`kernels.image_key`), never by its pixels; every
session showing the same photo shares them.
"""

from __future__ import annotations

import streamlit as st
import torch
from PIL import Image

from explorer import i18n, images, kernels, sampling
from explorer.i18n import _

TTL = 3600  # seconds; every cache is also bounded by max_entries


@st.cache_resource(max_entries=16, ttl=TTL, show_spinner=False)
def _grey(photo_key: tuple, _image: Image.Image) -> torch.Tensor:
    return sampling.grey_tensor(_image)


def grey(photo: images.LoadedImage) -> tuple[tuple, torch.Tensor]:
    """The photo's key and the photo as a [1, 1, H, W] grey tensor."""
    key = kernels.image_key(photo.image, photo.name)
    return key, _grey(key, photo.image)


@st.cache_resource(max_entries=16, ttl=TTL, show_spinner=False)
def edges(photo_key: tuple, _x: torch.Tensor) -> tuple[torch.Tensor, sampling.InplaceReport]:
    """The signed Sobel-x map of the grey photo, and what ReLU(inplace=True) saves on it."""
    edge_map = sampling.edge_map(_x)
    return edge_map, sampling.inplace_report(edge_map)


@st.cache_resource(max_entries=32, ttl=TTL, show_spinner=False)
def activated(photo_key: tuple, _edges: torch.Tensor, name: str, lang: str
              ) -> tuple[torch.Tensor, sampling.SharedHistograms]:
    """The edge map after activation `name`, and both maps' histograms (legend in `lang`)."""
    after = sampling.activate(_edges, name)
    with i18n.use_language(lang):  # the histograms' legend
        labels = _("before"), _("after {name}").format(name=name)
    return after, sampling.shared_histograms({labels[0]: _edges, labels[1]: after})
