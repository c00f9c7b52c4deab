"""Feature maps: what every layer of a classic CNN makes of your image, plus Grad-CAM.

A sequence of sections. The network and the photo are full reruns (everything below depends on
them); each view below the overview strip is a fragment, so moving its widgets reruns that view
alone. Models, captures and encoded pictures are cached across sessions (a class looking at the
same photo shares them), keyed by small ids: the photo is hashed once per loaded image.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st
import torch
from PIL import Image

from explorer import feature_maps as fm
from explorer import gradcam, handwriting, i18n
from explorer.figures import feature_maps as figs
from explorer.i18n import N_, _
from explorer.models import zoo
from explorer.models.modules import shape_text
from explorer.serving import networks, shared_cache, weight_store
from explorer.training import access, checkpoints
from explorer.training.config import RunConfig
from explorer.ui import drawing, identity, pretrained, widgets

# Option values stay English (they travel in links); the page shows them translated.
WEIGHTS = (N_("Random (seeded)"), N_("Training run"), N_("ImageNet pretrained"))
VIEWS = (N_("Layer maps"), N_("First-layer filters"), N_("Prediction & Grad-CAM"),
         N_("Receptive field"))
VARIANT_LABELS = {"mnist": N_("MNIST-size 1×28×28"), "cifar": N_("CIFAR-size 3×32×32"),
                  "imagenet": N_("ImageNet-size 3×224×224")}
SORTS = {N_("Network order"): "network", N_("Mean activation, high → low"): "mean-desc",
         N_("Mean activation, low → high"): "mean-asc"}
RANGES = (N_("per channel"), N_("shared by the layer"))
TTL = 3600  # seconds: a lesson; every cache below is also bounded by max_entries
MAX_IMAGE_WIDTH = 1460  # st.image's widest picture (2 × 730 px); wider ones it shrinks


# --- cached work (shared by every session of this server) ------------------------------------


def random_model(key: str, variant: str, batchnorm: bool, seed: int) -> torch.nn.Module:
    """Held in the byte-bounded model cache (a count bound lets four VGGs fill 2 GB), its
    weights memory-mapped from the store the server's processes share (built by the first
    process that needs them). One larger than the whole budget (VGG at 224 px) is not kept
    at all: mapping it again takes milliseconds, and only captures and Grad-CAM need it."""
    size = functools.partial(zoo.weight_bytes, key, variant=variant, batchnorm=batchnorm)
    with st.spinner(_("Building the network…")):
        return shared_cache.models.get(
            ("random", key, variant, batchnorm, seed),
            functools.partial(networks.random_network, key, variant, batchnorm, seed),
            kind=(key, variant, batchnorm), estimate=size, keep_oversize=False,
            turn=lambda: weight_store.networks.turn(size()))


def pretrained_model(key: str) -> torch.nn.Module:
    with st.spinner(_("Loading ImageNet weights…")):
        return shared_cache.models.get(("pretrained", key),
                                      lambda: fm.for_inference(zoo.build_pretrained(key)),
                                      kind=(key, "imagenet", False))


def checkpoint_network(run_dir: str, mtime: float) -> torch.nn.Module:
    return drawing.run_model(run_dir, mtime)[0]


@st.cache_resource(max_entries=4, ttl=TTL, show_spinner=False)
def initial_filters(run_dir: str, mtime: float, _config: RunConfig
                    ) -> tuple[str, torch.Tensor] | None:
    return fm.first_layer_weights(checkpoints.initial_model(_config), _config.input_shape)


def large_network_turn(architecture: tuple[str, str]):
    """The machine's turn for running a network of this (key, variant), taken only when it is
    large (`weight_store.WeightStore.turn`); a layer stack of a run counts as small."""
    try:
        size = zoo.weight_bytes(architecture[0], variant=architecture[1])
    except (ValueError, KeyError):  # a run's custom stack, not one of the large networks
        size = 0
    return weight_store.networks.turn(size)


def analyse(model_id: str, image_id: str, pre_id: str, model: Callable[[], torch.nn.Module],
            image: Image.Image, pre: fm.Preprocessing, architecture: tuple[str, str]
            ) -> fm.Analysis:
    """Preprocess and capture every layer once per (model, image, preprocessing); held in the
    byte-bounded activation cache (DenseNet-121's layers at 224 px are 150 MB). `model` is
    called only when the capture is not cached; a capture is about as large as the last one
    of the same architecture and preprocessing, whatever the weights."""
    with st.spinner(_("Running the network…")):
        return shared_cache.activations.get(
            (model_id, image_id, pre_id), lambda: fm.analyse(model(), image, pre),
            kind=(architecture, pre_id),
            turn=functools.partial(large_network_turn, architecture))


@st.cache_resource(show_spinner=False)
def _image_ids() -> dict[int, tuple[weakref.ref, str]]:
    return {}


def image_id(image: Image.Image) -> str:
    """A digest of the photo, computed once per loaded image object (not on every rerun)."""
    known, ident = _image_ids(), id(image)
    entry = known.get(ident)
    if entry is None or entry[0]() is not image:
        digest = hashlib.sha1(image.tobytes() + repr((image.size, image.mode)).encode())
        entry = (weakref.ref(image, lambda _ref: known.pop(ident, None)),
                 digest.hexdigest()[:16])
        known[ident] = entry
    return entry[1]


def png(picture: Image.Image | np.ndarray) -> bytes:
    """PNG bytes (fast compression), encoded once; shown with `output_format="PNG"` so that
    st.image passes them on as they are instead of re-encoding them on every rerun."""
    return _encode(picture, "PNG", compress_level=1)


def jpeg(picture: Image.Image | np.ndarray) -> bytes:
    """JPEG bytes for the large colour-mapped mosaics (every channel of a layer, the strip):
    a 1460×900 mosaic encodes in 4 ms instead of PNG's 140 ms and is 7× smaller to send."""
    return _encode(picture, "JPEG", quality=90)


def _encode(picture: Image.Image | np.ndarray, fmt: str, **options) -> bytes:
    if isinstance(picture, np.ndarray):
        picture = Image.fromarray(picture)
    if picture.width > MAX_IMAGE_WIDTH:  # st.image would shrink it like this on every rerun
        picture = picture.resize((MAX_IMAGE_WIDTH,
                                  int(picture.height * MAX_IMAGE_WIDTH / picture.width)),
                                 Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    picture.convert("RGB" if fmt == "JPEG" else picture.mode).save(buffer, fmt, **options)
    return buffer.getvalue()


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
    load_model: Callable[[], torch.nn.Module]
    architecture: tuple[str, str]  # (zoo key, variant)

    @property
    def key(self) -> tuple[str, str, str]:
        return self.model_id, self.image_id, self.pre_id

    @property
    def model(self) -> torch.nn.Module:
        return self.load_model()

    @property
    def prepared(self) -> fm.Prepared:
        return self.load().prepared

    @property
    def capture(self) -> fm.Capture:
        return self.load().capture


@st.cache_data(max_entries=32, ttl=TTL, show_spinner=False)
def preprocessing_pictures(image_id: str, pre_id: str, _photo: Image.Image,
                           _prepared: fm.Prepared, _pre: fm.Preprocessing) -> list[bytes]:
    """The four stages of the preprocessing, PNG-encoded once per (image, preprocessing)."""
    x = _prepared.tensor[0]
    crop = _prepared.pixels.resize((224, round(224 * _pre.height / _pre.width)),
                                   Image.Resampling.NEAREST)
    channels = figs.channel_grid(x, cmap="RdBu_r", per_channel=True, tile=112,
                                 columns=1 if _pre.in_channels == 1 else 3)
    return [png(_photo), png(_prepared.resized), png(crop), png(channels)]


@st.cache_data(max_entries=32, ttl=TTL, show_spinner=False)
def strip_html(key: tuple[str, str, str], every: bool, cmap: str, _capture: fm.Capture,
               lang: str) -> str:
    """The overview strip, drawn and encoded once per (model, image, layers, colours, language
    of its labels)."""
    with i18n.use_language(lang):
        strip = figs.overview_strip(_capture.overview(every_layer=every), cmap)
    data = base64.b64encode(jpeg(strip)).decode()
    return (f'<div style="overflow-x:auto;padding-bottom:6px"><img alt="overview strip" '
            f'src="data:image/jpeg;base64,{data}" style="max-width:none"></div>')


@st.cache_data(max_entries=32, ttl=TTL, show_spinner=False)
def layer_grid(key: tuple[str, str, str], layer: str, sort: str, cmap: str, per_channel: bool,
               _capture: fm.Capture) -> tuple[bytes, list[int]]:
    maps = _capture[layer].maps
    order = fm.channel_order(maps, sort)
    return jpeg(figs.channel_grid(maps, order, cmap, per_channel)), order


@st.cache_data(max_entries=64, ttl=TTL, show_spinner=False)
def channel_pictures(key: tuple[str, str, str], layer: str, channel: int, cmap: str,
                     alpha: float, _capture: fm.Capture, _pixels: Image.Image
                     ) -> tuple[bytes, bytes]:
    """One channel enlarged, and over the input."""
    maps = _capture[layer].maps
    unit = figs.scale_to_unit(maps[channel:channel + 1], per_channel=True)[0]
    return (png(figs.enlarge(unit, cmap)),
            png(figs.overlay(_pixels.resize((224, 224)), unit, cmap, alpha)))


@st.cache_data(max_entries=32, ttl=TTL, show_spinner=False)
def channel_table(key: tuple[str, str, str], layer: str, _capture: fm.Capture) -> pd.DataFrame:
    return pd.DataFrame(fm.channel_stats(_capture[layer].maps))


def channel_headers(stats: pd.DataFrame) -> pd.DataFrame:
    """The statistics table with its headers in the session's language."""
    return stats.rename_axis(_("channel")).rename(columns={
        "zeros": _("fraction = 0"), "negative": _("fraction < 0"), "min": _("min"),
        "max": _("max"), "mean": _("mean")})


@st.cache_data(max_entries=16, ttl=TTL, show_spinner=False)
def cam_pictures(key: tuple[str, str, str], layer: str, class_index: int, _done: Analysed
                 ) -> tuple[bytes, bytes, tuple[int, ...]]:
    """(input, Grad-CAM overlay, the layer's shape) for one class on one layer. The network
    and its input are loaded only here, on a miss: a rerun that finds the pictures cached
    does not bring an evicted network back."""
    prepared = _done.prepared
    with shared_cache.in_turn(large_network_turn(_done.architecture), shared_cache.heavy_work):
        result = gradcam.grad_cam(_done.model, fm.as_input(prepared.tensor), layer, class_index)
    base = prepared.pixels.resize((224, 224))
    return png(base), png(figs.overlay(base, result.cam, "Inferno", 0.5)), result.layer_shape


def first_layer(net: Network, in_shape: tuple[int, int, int]) -> tuple[str, torch.Tensor] | None:
    """The first layer's filters, copied out of the network into the byte-bounded activation
    cache: the filters view needs the network only once, not on every rerun."""
    first = shared_cache.activations.get(
        ("first layer", net.model_id, in_shape), lambda: fm.FirstLayer.of(net.model, in_shape),
        turn=functools.partial(large_network_turn, (net.key, net.variant)))
    return None if first.weight is None else (first.name, first.weight)


@st.cache_data(max_entries=16, ttl=TTL, show_spinner=False)
def filter_picture(model_id: str, _weight: torch.Tensor) -> bytes:
    return png(figs.filter_grid(_weight))


@st.cache_data(max_entries=16, ttl=TTL, show_spinner=False)
def box_picture(key: tuple[str, str, str], layer: str, row: int, col: int,
                _rf, _pixels: Image.Image, scale: int) -> bytes:
    return png(figs.draw_box(_pixels, _rf.box(row, col), scale=scale))


def keep_valid(key: str, options: list, default) -> None:
    if st.session_state.get(key) not in options:
        st.session_state[key] = default


# --- sections ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Network:
    """The chosen network, by id and loader (see `Analysed`: no model is kept per session)."""

    key: str
    variant: str
    weights: str
    load: Callable[[], torch.nn.Module]
    model_id: str
    config: RunConfig | None = None
    init_filters: tuple[str, torch.Tensor] | None = None
    checkpoint: tuple[str, float] | None = None  # (run folder, checkpoint mtime) of a run

    @property
    def model(self) -> torch.nn.Module:
        return self.load()


def training_run_network(column) -> Network | None:
    """The network of a finished training run's checkpoint, or None when there is none yet."""
    trained = [r for r in access.visible_runs(identity.actor()) if r.has_checkpoint]
    if not trained:
        st.info(_("No training run of yours (or shared by the teacher) has a checkpoint yet: "
                  "train one on the Training page (one epoch is enough), then come back. "
                  "Showing random weights meanwhile."), icon=":material/info:")
        return None
    by_id = {r.run_id: r for r in trained}
    keep_valid("fm_run", list(by_id), trained[0].run_id)
    run = by_id[column.selectbox(_("Training run"), list(by_id), key="fm_run",
                                 format_func=lambda rid: f"{rid} ({by_id[rid].state})")]
    mtime = (run.path / "checkpoint.pt").stat().st_mtime
    try:
        with st.spinner(_("Loading the checkpoint…")):
            model, config = drawing.run_model(str(run.path), mtime)
        init = initial_filters(str(run.path), mtime, config)
    except Exception as err:  # a damaged or foreign checkpoint: one sentence, no traceback
        # PyTorch's own words, without the server's folders that an OSError would name
        error = str(err).replace(str(run.path), run.run_id).replace(str(run.path.parent), "…")
        st.error(_("The checkpoint of run {run} could not be loaded: {error}").format(
            run=run.run_id, error=error))
        st.stop()
    del model  # the session keeps the loader below, not the network
    return Network(config.model, config.variant, WEIGHTS[1],
                   functools.partial(checkpoint_network, str(run.path), mtime),
                   f"run:{run.run_id}:{mtime}", config, init, (str(run.path), mtime))


def pretrained_network(key: str) -> Network | None:
    """torchvision's ImageNet weights of `key`, or None (with a note) when they are not here.

    The file is looked for first, so a missing file costs a stat, not a network build.
    """
    spec = zoo.get_spec(key)
    file = zoo.pretrained_file(key)
    if file is None:
        st.warning(_("torchvision publishes no ImageNet weights for {name}; showing random "
                     "weights.").format(name=_(spec.title)))
        return None
    try:
        if not file.is_cached():
            if file.refusal():  # offer_download's warning already says why, beside its button
                return None
            raise zoo.PretrainedMissing(
                _("No pretrained {name} weights on this machine yet: use the download button "
                  "beside “Weights”, or {by_hand}.").format(name=_(spec.title),
                                                           by_hand=file.by_hand()))
        pretrained_model(key)
    except zoo.PretrainedMissing as err:
        st.warning(_("{problem} Showing random weights meanwhile.").format(problem=err),
                   icon=":material/download:")
        return None
    return Network(key, "imagenet", WEIGHTS[2], functools.partial(pretrained_model, key),
                   f"pretrained:{key}")


def offer_download(key: str, column, messages) -> None:
    """The download button under the weights choice while `key`'s ImageNet file is missing
    (its progress and errors in `messages`); once the file is here the page uses it."""
    file = zoo.pretrained_file(key)
    if file is None or file.is_cached():
        return
    with column:
        if pretrained.download_button(file, key="fm_download", messages=messages):
            st.session_state["fm_weights_arrived"] = True
            st.rerun()


def what_random_weights_show(net: Network) -> None:
    classes = zoo.VARIANTS[net.variant].num_classes
    st.info(_("**Random weights: this network has learned nothing.** Its filters are random "
              "numbers. The first layer's maps still look like your photo (a random small "
              "filter is some blur or edge detector), but deeper layers only smear it into "
              "textures that nobody trained to mean anything, and the prediction is chance "
              "(1 in {classes:,}). Download the ImageNet weights, or train a run and pick "
              "“Training run”, to see what learned filters find.").format(classes=classes),
            icon=":material/casino:")


@widgets.guarded("network and weights")
def network_and_weights() -> Network:
    widgets.url_state("fm_model", "resnet18", choices=zoo.list_models())
    have_imagenet = (file := zoo.pretrained_file(st.session_state["fm_model"])) is not None \
        and file.is_cached()
    widgets.url_state("fm_weights", WEIGHTS[2] if have_imagenet else WEIGHTS[0],
                      choices=WEIGHTS)
    if st.session_state.pop("fm_weights_arrived", False):
        st.session_state["fm_weights"] = WEIGHTS[2]
    widgets.url_state("fm_variant", "imagenet", choices=list(zoo.VARIANTS))
    widgets.url_state("fm_seed", 0, bounds=(0, 9999))
    st.subheader(_("Network and weights"))
    c1, c2, c3, c4 = st.columns([1.3, 1.2, 1.2, 0.8])
    messages = st.container()  # full width, under the row of choices
    weights = c1.radio(_("Weights"), WEIGHTS, key="fm_weights", format_func=_)
    net = training_run_network(c2) if weights == WEIGHTS[1] else None
    if net is not None:
        c3.markdown(_("**{name}** · {size}  \ntrained on {data}").format(
            name=_(zoo.get_spec(net.key).title),
            size=_(VARIANT_LABELS.get(net.variant, net.variant)),
            data=net.config.dataset_title or net.config.settings.dataset))
    else:
        key = c2.selectbox(_("Network"), zoo.list_models(), key="fm_model",
                           format_func=lambda k: _(zoo.get_spec(k).title))
        spec = zoo.get_spec(key)
        offer_download(key, c1, messages)
        if weights == WEIGHTS[2]:
            st.session_state["fm_variant"] = "imagenet"
        variant = c3.selectbox(_("Input size"), list(zoo.VARIANTS), key="fm_variant",
                               format_func=lambda v: _(VARIANT_LABELS.get(v, v)),
                               disabled=weights == WEIGHTS[2])
        if weights == WEIGHTS[2]:
            net = pretrained_network(key)
        seed = int(widgets.number_input(_("Seed"), 0, 9999, key="fm_seed",
                                        disabled=net is not None, where=c4))
        if net is None:  # built on first use: a cached capture needs no network at all
            net = Network(key, variant, WEIGHTS[0],
                          functools.partial(random_model, key, variant, False, seed),
                          f"random:{key}:{variant}:{seed}")
        st.caption(f"{_(spec.title)} ({_(spec.paper)}). "
                   + (_("{note}.").format(note=_(spec.small_note)) if variant != "imagenet"
                      else ""))
        if net.weights == WEIGHTS[0]:
            what_random_weights_show(net)
    widgets.sync_url("fm_weights", "fm_model", "fm_variant", "fm_seed")
    return net


@widgets.guarded("a photo for a digit model")
def photo_for_a_digit_model(net: Network) -> None:
    """A network trained on small grayscale images, shown a photo: say what its answer is worth."""
    if net.config is None or not handwriting.takes_drawings(net.config):
        return
    st.warning(_("This network was trained on {data}. A photo is not one of them: it still "
                 "answers with one of its {n} classes, often very sure, and that confidence "
                 "means nothing here. Draw on the canvas at the bottom of the page to give it "
                 "what it knows.").format(data=handwriting.trained_on(net.config),
                                          n=net.config.num_classes),
               icon=":material/warning:")


@widgets.guarded("preprocessing")
def preprocessing(net: Network, photo) -> Analysed:
    pre = fm.preprocessing_for(net.variant, config=net.config)
    if pre.grayscale:
        widgets.url_state("fm_invert", fm.looks_dark_on_light(photo.image))
        st.toggle(_("Invert (for a dark digit on light paper: MNIST digits are light on dark)"),
                  key="fm_invert")
        widgets.sync_url("fm_invert")
        pre = fm.preprocessing_for(net.variant, config=net.config,
                                   invert=st.session_state["fm_invert"])
    ids = (net.model_id, image_id(photo.image), repr(pre))
    architecture = (net.key, net.variant)
    load = functools.partial(analyse, *ids, net.load, photo.image, pre, architecture)
    try:
        analysis = load()
    except zoo.BuildError as err:  # this network cannot take this input size: say why, stop
        st.error(str(err))
        st.stop()
    prepared, capture = analysis.prepared, analysis.capture
    done = Analysed(*ids, pre, load, net.load, architecture)
    x = prepared.tensor
    with st.expander(_("Preprocessing: the tensor that goes in is {shape}").format(
            shape=shape_text(x.shape)), expanded=pre.grayscale):
        pictures = preprocessing_pictures(done.image_id, done.pre_id, photo.image, prepared,
                                          pre)
        rw, rh = prepared.resized_size or prepared.resized.size
        captions = [_("your image {w}×{h}").format(w=photo.image.width, h=photo.image.height),
                    (_("resized {w:,}×{h:,}, its centre shown") if prepared.window_only
                     else _("resized {w:,}×{h:,}")).format(w=rw, h=rh),
                    _("centre crop {h}×{w}: what the network sees").format(h=pre.height,
                                                                          w=pre.width),
                    _("normalised tensor, per channel (blue < 0 < red)")]
        for column, picture, caption in zip(st.columns(4), pictures, captions, strict=True):
            widgets.picture(picture, caption=caption, output_format="PNG", where=column)
        st.markdown("  \n".join(f"{i}. {s}" for i, s in enumerate(pre.steps(), 1)))
        flat = x[0].reshape(pre.in_channels, -1)
        st.dataframe(pd.DataFrame({_("channel"): range(pre.in_channels),
                                   _("mean"): flat.mean(1), _("std"): flat.std(1),
                                   _("min"): flat.amin(1), _("max"): flat.amax(1)}),
                     hide_index=True)
    if not any(r.is_spatial for r in capture.records):
        st.info(_("This network has no convolutional layers, so there are no feature maps to "
                  "show; its first-layer weights and prediction are below."))
    return done


@widgets.guarded("overview strip")
def overview(done: Analysed) -> tuple[str, tuple[str, ...]]:
    """The strip; returns the colour scale and the strip's conv layers (names only: fragments
    keep their arguments in the session, and a layer record holds its tensors)."""
    st.subheader(_("Overview: one map per layer"))
    o1, o2 = st.columns([3, 1])
    widgets.url_state("fm_cmap", "Viridis", choices=figs.COLORMAPS)
    every = o1.toggle(_("Every layer (BatchNorm, activations, containers too)"), key="fm_every")
    cmap = o2.selectbox(_("Colour scale"), figs.COLORMAPS, key="fm_cmap")
    strip_layers = done.capture.overview(every_layer=every)
    if strip_layers:
        st.caption(_("The strongest channel (highest mean activation) of each layer, drawn at "
                     "a size proportional to its height; under it channels × height × width."))
        st.html(strip_html(done.key, every, cmap, done.capture, i18n.language()))
    return cmap, tuple(r.name for r in strip_layers if r.kind == "conv")


def choose_layer(done: Analysed, strip_convs: tuple[str, ...]) -> fm.LayerRecord:
    spatial = done.capture.names(spatial_only=True)
    labels = {r.name: r.label() for r in done.capture.records if r.is_spatial}
    default_layer = strip_convs[0] if strip_convs else spatial[0]
    if "fm_layer" not in st.session_state:
        widgets.url_state("fm_layer", default_layer, choices=spatial)
    keep_valid("fm_layer", spatial, default_layer)
    layer = st.selectbox(_("Layer"), spatial, key="fm_layer", format_func=labels.get)
    widgets.sync_url("fm_layer")
    return done.capture[layer]


@st.fragment
@widgets.guarded("layer maps")
def layer_maps(done: Analysed, strip_convs: tuple[str, ...], cmap: str) -> None:
    record = choose_layer(done, strip_convs)
    layer, maps = record.name, record.maps
    g1, g2 = st.columns([2, 1])
    sort_name = g1.radio(_("Sort channels by"), list(SORTS), key="fm_sort", horizontal=True,
                         format_func=_)
    sort = SORTS[sort_name]
    per_channel = g2.radio(_("Colour range"), RANGES, key="fm_range", horizontal=True,
                           format_func=_) == RANGES[0]
    grid, order = layer_grid(done.key, layer, sort, cmap, per_channel, done.capture)
    left, right = st.columns([3, 2])
    left.image(grid, caption=_("{layer}: all {n} channels, {h}×{w} each, in the order "
                               "“{order}”").format(layer=layer, n=maps.shape[0], h=maps.shape[1],
                                                   w=maps.shape[2], order=_(sort_name)),
               width="stretch", output_format="JPEG")
    if "fm_channel" not in st.session_state:  # a shared link may name the channel
        widgets.url_state("fm_channel", order[0], choices=order)
    keep_valid("fm_channel", order, order[0])
    channel = right.selectbox(_("Enlarge channel"), order, key="fm_channel",
                              format_func=lambda c: _("channel {c}").format(c=c))
    widgets.sync_url("fm_channel")
    e1, e2 = right.columns(2)
    alpha = right.slider(_("Overlay opacity"), 0.0, 1.0, 0.55, key="fm_alpha")
    enlarged, over = channel_pictures(done.key, layer, channel, cmap, alpha, done.capture,
                                      done.prepared.pixels)
    e1.image(enlarged, caption=_("channel {c}").format(c=channel), width="stretch",
             output_format="PNG")
    e2.image(over, caption=_("over the input"), width="stretch", output_format="PNG")
    stats = channel_headers(channel_table(done.key, layer, done.capture).loc[order])
    right.dataframe(stats.loc[[channel]], width="stretch")
    st.caption(_("Per-channel statistics (after a ReLU, “fraction = 0” is the sparsity; "
                 "before it, “fraction < 0” is what the ReLU will zero)."))
    st.dataframe(stats, width="stretch", height=240)


@widgets.guarded("first-layer filters")
def first_layer_filters(done: Analysed, net: Network) -> None:
    pre = done.pre
    first = first_layer(net, (pre.in_channels, pre.height, pre.width))
    if first is None:
        st.info(_("This network's first weighted layer cannot be drawn as images."))
        return
    name, weight = first
    sentence = (_("**{name}**: {n} filters of {shape} (RGB kernels in colour; grey/white is 0).")
                if weight.shape[1] == 3 else
                _("**{name}**: {n} filters of {shape} (blue < 0 < red; grey/white is 0)."))
    st.markdown(sentence.format(name=name, n=weight.shape[0], shape=shape_text(weight.shape[1:])))
    if net.init_filters is None or net.config is None:
        st.image(filter_picture(net.model_id, weight), width="stretch", output_format="PNG")
        st.dataframe(pd.DataFrame({_("value"): fm.filter_summary(weight)}))
        return
    initial = net.init_filters[1]
    f1, f2 = st.columns(2)
    f1.image(filter_picture(net.model_id, weight),
             caption=_("after training (seed {seed})").format(seed=net.config.seed),
             width="stretch", output_format="PNG")
    f2.image(filter_picture(f"{net.model_id}:init", initial),
             caption=_("the same filters at initialisation"), width="stretch",
             output_format="PNG")
    trained, at_start = fm.filter_summary(weight), fm.filter_summary(initial)
    table = pd.DataFrame({_("trained"): trained, _("initial"): at_start,
                          _("change"): {k: trained[k] - at_start[k] for k in trained}})
    st.dataframe(table, width="stretch")
    moved = float((weight - initial).norm() / initial.norm())
    st.caption(_("Training moved these weights by {moved:.1%} of their initial norm. "
                 "Smoothness is the correlation of neighbouring weights: random filters sit "
                 "near 0, learned edge and blob detectors rise above it.").format(moved=moved))


@st.fragment
@widgets.guarded("prediction and Grad-CAM")
def prediction_and_grad_cam(done: Analysed, net: Network) -> None:
    capture = done.capture
    if net.config is not None:
        names = fm.run_class_names(net.config)
    elif net.variant == "imagenet":
        names = zoo.imagenet_class_names()
    else:
        names = fm.default_class_names(net.variant, capture.logits.numel())
    top = fm.top_k(capture.logits, names, 5)
    t1, t2 = st.columns([1, 2])
    probability = _("probability")
    t1.dataframe(pd.DataFrame(top, columns=[_("index"), _("class"), probability]),
                 hide_index=True, column_config={probability: st.column_config.ProgressColumn(
                     probability, min_value=0.0, max_value=1.0, format="percent")})
    if net.weights == WEIGHTS[0]:
        t1.caption(_("Random weights: the prediction is noise until the network is trained."))
    if not capture.names(spatial_only=True):
        t2.info(_("Grad-CAM needs a layer with feature maps; this network has none."))
        return
    cam_layers = [r.name for r in capture.records
                  if r.is_spatial and (r.kind in ("conv", "block") or r.type_name == "ReLU")
                  and r.type_name != "Sequential"]
    keep_valid("fm_cam_layer", cam_layers, cam_layers[-1])
    cam_layer = t2.selectbox(_("Grad-CAM layer"), cam_layers, key="fm_cam_layer",
                             help=_("The last conv layers give the most class-specific maps."))
    classes = [t[0] for t in top]
    keep_valid("fm_cam_class", classes, classes[0])
    cls = t2.selectbox(_("Explain class"), classes, key="fm_cam_class",
                       format_func=lambda i: f"{names[i]} (#{i})")
    with st.spinner(_("Back-propagating for Grad-CAM…")):
        base, heat, layer_shape = cam_pictures(done.key, cam_layer, cls, done)
    a1, a2 = t2.columns(2)
    a1.image(base, caption=_("input"), width="stretch", output_format="PNG")
    a2.image(heat, caption=_("Grad-CAM for “{name}” on {layer} ({shape})").format(
        name=names[cls], layer=cam_layer, shape=shape_text(layer_shape)), width="stretch",
             output_format="PNG")
    t2.caption(_("Bright regions raised this class's score: each channel of the layer is "
                 "weighted by the mean gradient of the score, the weighted sum is kept where "
                 "positive and upsampled to the input size."))


@st.fragment
@widgets.guarded("receptive field")
def receptive_field(done: Analysed, strip_convs: tuple[str, ...]) -> None:
    record = choose_layer(done, strip_convs)
    layer, rf, pre = record.name, record.rf, done.pre
    if rf is None:
        st.info(_("The receptive field of {layer} cannot be worked out from its layer "
                  "stack.").format(layer=layer))
        return
    r1, r2 = st.columns([1, 2])
    h, w = record.maps.shape[-2:]
    row = r1.slider(_("Cell row"), 0, h - 1, h // 2, key="fm_rf_row") if h > 1 else 0
    col = r1.slider(_("Cell column"), 0, w - 1, w // 2, key="fm_rf_col") if w > 1 else 0
    r1.metric(_("Receptive field"), f"{rf.size[0]:.0f}×{rf.size[1]:.0f} px")
    r1.markdown((_("jump between cells **{jump:.0f}** px · centre of cell (0, 0) at "
                   "**{start:+.1f}** px (approximate)") if rf.approximate else
                 _("jump between cells **{jump:.0f}** px · centre of cell (0, 0) at "
                   "**{start:+.1f}** px")).format(jump=rf.jump[0], start=rf.start[0]))
    r1.caption(_("Worked out layer by layer: r ← r + (k − 1)·d·j, j ← j·s, start ← start + "
                 "((k − 1)·d/2 − p)·j, for every conv and pooling layer on the way."))
    scale = max(1, 448 // max(pre.height, pre.width))
    r2.image(box_picture(done.key, layer, row, col, rf, done.prepared.pixels, scale),
             caption=_("cell ({row}, {col}) of {layer} sees this region of the {h}×{w} input "
                       "(clipped to the image)").format(row=row, col=col, layer=layer,
                                                       h=pre.height, w=pre.width),
             width="stretch", output_format="PNG")


# --- the page ---------------------------------------------------------------------------------

widgets.page_header(
    _("Feature maps"),
    _("Every layer of a CNN turns the image into a stack of **feature maps**, one per channel. "
      "Pick a network and watch the maps shrink while the channels multiply; then open any "
      "layer, see which region drove the prediction (Grad-CAM) and how much of the image one "
      "cell sees."),
)
photo = widgets.image_input()
widgets.url_state("fm_view", VIEWS[0], choices=VIEWS)
network = network_and_weights()
if network is None:  # its section said so; everything below needs the network
    st.stop()
photo_for_a_digit_model(network)
analysed = preprocessing(network, photo)
if analysed is None:
    st.stop()
colour_scale, strip = overview(analysed) or (figs.COLORMAPS[0], ())
view = st.radio(_("View"), VIEWS, key="fm_view", horizontal=True, format_func=_)
has_maps = bool(analysed.capture.names(spatial_only=True))
if view == "Layer maps" and has_maps:
    layer_maps(analysed, strip, colour_scale)
elif view == "First-layer filters":
    first_layer_filters(analysed, network)
elif view == "Prediction & Grad-CAM":
    prediction_and_grad_cam(analysed, network)
elif view == "Receptive field" and has_maps:
    receptive_field(analysed, strip)
widgets.sync_url("fm_view", "fm_cmap")
if network.checkpoint is not None and handwriting.takes_drawings(network.config):
    st.subheader(_("Your own handwriting"))
    drawing.section(*network.checkpoint, key="fm_draw")
