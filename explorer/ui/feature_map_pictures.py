"""The Feature maps views' pictures and tables, drawn and encoded once for every session.

Each is an `st.cache_data` keyed by small ids (the network, the photo and its preprocessing:
`Analysed.key`) and the view's settings; the captured tensors it is drawn from are passed
unhashed (a leading underscore). So a class looking at one photo through one network shares
the pictures, and a rerun that finds them cached loads no network and no capture. Pictures
are PNG or JPEG bytes (`explorer.figures.encoding`): show them with that `output_format`.
"""

from __future__ import annotations

import base64
import html

import pandas as pd
import streamlit as st
from PIL import Image

from explorer import feature_maps as fm
from explorer import i18n
from explorer.figures import feature_maps as figs
from explorer.figures import handwriting as digit_figs
from explorer.figures.encoding import jpeg, png
from explorer.i18n import _
from explorer.receptive_field import ReceptiveField
from explorer.serving import networks

TTL = 3600  # seconds: a lesson; every cache below is also bounded by max_entries


@st.cache_data(max_entries=32, ttl=TTL, show_spinner=False)
def preprocessing_pictures(image_id: str, pre_id: str, _photo: Image.Image,
                           _prepared: fm.Prepared, _pre: fm.Preprocessing) -> list[bytes]:
    """The stages of the preprocessing, PNG-encoded once per (image, preprocessing): four, or
    a digit photo's eight. Upright ones are set in a square, so none is taller than wide."""
    photo, resized, crop, channels = figs.preprocessing_stages(_photo, _prepared, _pre)
    if _prepared.digit is not None and _prepared.digit.steps is not None:
        return [png(p) for p in (*digit_figs.photo_pictures(_prepared.digit), channels)]
    photo, resized = (p.copy() for p in (photo, resized))
    for p in (photo, resized):
        p.thumbnail((448, 448))
    return [png(p) for p in (digit_figs.square(photo), digit_figs.square(resized),
                             digit_figs.square(crop), channels)]


@st.cache_data(max_entries=32, ttl=TTL, show_spinner=False)
def strip_html(key: tuple[str, str, str], every: bool, cmap: str, _capture: fm.Capture,
               lang: str) -> str:
    """The overview strip, drawn and encoded once per (model, image, layers, colours, language
    of its labels)."""
    records = _capture.overview(every_layer=every)
    with i18n.use_language(lang):
        strip = figs.overview_strip(records, cmap)
        alt = _("The strongest channel of each layer, from the input on: {layers}.").format(
            layers="; ".join(f"{r.name} {'×'.join(map(str, r.maps.shape))}" for r in records))
        region = _("Overview strip, scrolls sideways")
    data = base64.b64encode(jpeg(strip)).decode()
    # scrolls sideways: focusable, so that a keyboard can scroll it too
    return (f'<div style="overflow-x:auto;padding-bottom:6px" tabindex="0" role="region" '
            f'aria-label="{html.escape(region)}"><img alt="{html.escape(alt)}" '
            f'src="data:image/jpeg;base64,{data}" style="max-width:none"></div>')


@st.cache_data(max_entries=32, ttl=TTL, show_spinner=False)
def layer_grid(key: tuple[str, str, str], layer: str, sort: str, cmap: str, per_channel: bool,
               _capture: fm.Capture) -> tuple[bytes, list[int]]:
    """Every channel of `layer` (JPEG), and the channels' order in it."""
    maps = _capture[layer].maps
    order = fm.channel_order(maps, sort)
    return jpeg(figs.channel_grid(maps, order, cmap, per_channel)), order


@st.cache_data(max_entries=64, ttl=TTL, show_spinner=False)
def channel_pictures(key: tuple[str, str, str], layer: str, channel: int, cmap: str,
                     alpha: float, _capture: fm.Capture, _pixels: Image.Image
                     ) -> tuple[bytes, bytes]:
    """One channel enlarged, and over the input."""
    enlarged, over = figs.channel_views(_capture[layer].maps, channel, _pixels, cmap, alpha)
    return png(enlarged), png(over)


@st.cache_data(max_entries=32, ttl=TTL, show_spinner=False)
def channel_table(key: tuple[str, str, str], layer: str, _capture: fm.Capture) -> pd.DataFrame:
    return pd.DataFrame(fm.channel_stats(_capture[layer].maps))


def channel_statistics(key: tuple[str, str, str], layer: str, capture: fm.Capture,
                       order: list[int]) -> pd.DataFrame:
    """The layer's per-channel statistics in `order`, headed in the session's language."""
    return channel_table(key, layer, capture).loc[order].rename_axis(_("channel")).rename(
        columns={"zeros": _("fraction = 0"), "negative": _("fraction < 0"), "min": _("min"),
                 "max": _("max"), "mean": _("mean")})


@st.cache_data(max_entries=16, ttl=TTL, show_spinner=False)
def cam_pictures(key: tuple[str, str, str], layer: str, class_index: int,
                 _done: networks.Analysed) -> tuple[bytes, bytes, tuple[int, ...]]:
    """(input, Grad-CAM overlay, the layer's shape) for one class on one layer. The network
    and its input are loaded only here, on a miss: a rerun that finds the pictures cached
    does not bring an evicted network back."""
    prepared = _done.prepared
    result = networks.grad_cam(_done, prepared.tensor, layer, class_index)
    base, heat = figs.grad_cam_views(prepared.pixels, result.cam)
    return png(base), png(heat), result.layer_shape


@st.cache_data(max_entries=16, ttl=TTL, show_spinner=False)
def filter_picture(model_id: str, _weight) -> bytes:
    """First-layer filters (`model_id` names the network, or its initial weights)."""
    return png(figs.filter_grid(_weight))


@st.cache_data(max_entries=16, ttl=TTL, show_spinner=False)
def box_picture(key: tuple[str, str, str], layer: str, row: int, col: int,
                _rf: ReceptiveField, _pixels: Image.Image) -> bytes:
    """Where cell (row, col) of `layer` looks in the input."""
    return png(figs.receptive_field_box(_pixels, _rf.box(row, col)))
