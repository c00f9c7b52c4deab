"""Feature maps: what every layer of a classic CNN makes of your image, plus Grad-CAM."""

from __future__ import annotations

import base64
import hashlib
import io

import pandas as pd
import streamlit as st
import torch
from PIL import Image

from explorer import feature_maps as fm
from explorer import gradcam
from explorer.models import zoo
from explorer.training import checkpoints, runs
from explorer.training.config import RunConfig
from explorer.ui import widgets

widgets.page_header(
    "Feature maps",
    "Every layer of a CNN turns the image into a stack of **feature maps**, one per channel. "
    "Pick a network and watch the maps shrink while the channels multiply; then open any layer, "
    "see which region drove the prediction (Grad-CAM) and how much of the image one cell sees.",
)
photo = widgets.image_input()

WEIGHTS = ("Random (seeded)", "Training run", "ImageNet pretrained")
VIEWS = ("Layer maps", "First-layer filters", "Prediction & Grad-CAM", "Receptive field")
VARIANT_LABELS = {"mnist": "MNIST-size 1×28×28", "cifar": "CIFAR-size 3×32×32",
                  "imagenet": "ImageNet-size 3×224×224"}
SORTS = {"Network order": "network", "Mean activation, high → low": "mean-desc",
         "Mean activation, low → high": "mean-asc"}


# --- cached work -----------------------------------------------------------------------------


@st.cache_resource(max_entries=4, show_spinner="Building the network…")
def random_model(key: str, variant: str, batchnorm: bool, seed: int) -> torch.nn.Module:
    return fm.for_inference(zoo.build_seeded(key, seed=seed, variant=variant,
                                                       batchnorm=batchnorm))


@st.cache_resource(max_entries=2, show_spinner="Loading ImageNet weights…")
def pretrained_model(key: str) -> torch.nn.Module:
    model = zoo.build_seeded(key, seed=0, variant="imagenet")
    return fm.for_inference(zoo.load_pretrained(model, key))


@st.cache_resource(max_entries=4, show_spinner="Loading the checkpoint…")
def checkpoint_model(run_dir: str, mtime: float) -> tuple[torch.nn.Module, RunConfig]:
    model, config = checkpoints.model_from_checkpoint(run_dir)
    return fm.for_inference(model), config


@st.cache_resource(max_entries=4, show_spinner=False)
def initial_filters(run_dir: str, mtime: float, _config: RunConfig
                    ) -> tuple[str, torch.Tensor] | None:
    return fm.first_layer_weights(checkpoints.initial_model(_config), _config.input_shape)


@st.cache_resource(max_entries=8, ttl=3600, show_spinner="Running the network…")
def analyse(model_id: str, image_hash: str, pre_id: str, _model: torch.nn.Module,
            _image: Image.Image, _pre: fm.Preprocessing) -> tuple[fm.Prepared, fm.Capture]:
    """Preprocess and capture every layer once per (model, image, preprocessing)."""
    prepared = fm.prepare(_image, _pre)
    return prepared, fm.capture(_model, fm.as_input(prepared.tensor))


@st.cache_data(max_entries=32, ttl=3600, show_spinner=False)
def layer_grid(model_id: str, image_hash: str, pre_id: str, layer: str, sort: str, cmap: str,
               per_channel: bool, _capture: fm.Capture) -> tuple:
    maps = _capture[layer].maps
    order = fm.channel_order(maps, sort)
    return fm.channel_grid(maps, order, cmap, per_channel), order


@st.cache_data(max_entries=16, ttl=3600, show_spinner="Back-propagating for Grad-CAM…")
def cam(model_id: str, image_hash: str, pre_id: str, layer: str, class_index: int,
        _model: torch.nn.Module, _x: torch.Tensor) -> gradcam.GradCam:
    return gradcam.grad_cam(_model, fm.as_input(_x), layer, class_index)


def image_hash(image: Image.Image) -> str:
    return hashlib.sha1(image.tobytes() + repr((image.size, image.mode)).encode()).hexdigest()


def scrolling_image(image: Image.Image) -> None:
    """A picture wider than the page, in a horizontally scrolling box at its natural size."""
    buf = io.BytesIO()
    image.save(buf, "PNG")
    data = base64.b64encode(buf.getvalue()).decode()
    st.html(f'<div style="overflow-x:auto;padding-bottom:6px"><img alt="overview strip" '
            f'src="data:image/png;base64,{data}" style="max-width:none"></div>')


def keep_valid(key: str, options: list, default) -> None:
    if st.session_state.get(key) not in options:
        st.session_state[key] = default


# --- model and weights ---------------------------------------------------------------------

widgets.url_state("fm_weights", WEIGHTS[0], choices=WEIGHTS)
widgets.url_state("fm_model", "resnet18", choices=zoo.list_models())
widgets.url_state("fm_variant", "imagenet", choices=list(zoo.VARIANTS))
widgets.url_state("fm_view", VIEWS[0], choices=VIEWS)
widgets.url_state("fm_seed", 0, bounds=(0, 9999))

st.subheader("Network and weights")
c1, c2, c3, c4 = st.columns([1.3, 1.2, 1.2, 0.8])
weights = c1.radio("Weights", WEIGHTS, key="fm_weights")
config: dict | None = None
init_filters = None
model_id = ""
model = None
if weights == "Training run":
    trained = [r for r in runs.list_runs() if r.has_checkpoint]
    if not trained:
        st.info(f"No training run with a checkpoint in `{runs.runs_dir()}` yet: train one on "
                "the Training page (one epoch is enough), then come back. Showing random "
                "weights meanwhile.", icon=":material/info:")
        weights = WEIGHTS[0]
    else:
        by_id = {r.run_id: r for r in trained}
        keep_valid("fm_run", list(by_id), trained[0].run_id)
        run = by_id[c2.selectbox(
            "Training run", list(by_id), key="fm_run",
            format_func=lambda rid: f"{rid} ({by_id[rid].state})")]
        ckpt = run.path / "checkpoint.pt"
        mtime = ckpt.stat().st_mtime
        try:
            model, config = checkpoint_model(str(run.path), mtime)
            init_filters = initial_filters(str(run.path), mtime, config)
        except Exception as err:  # a damaged or foreign checkpoint: one sentence, no traceback
            st.error(f"The checkpoint of run {run.run_id} could not be loaded: {err}")
            st.stop()
        key, variant = config.model, config.variant
        model_id = f"run:{run.run_id}:{mtime}"
        c3.markdown(f"**{zoo.get_spec(key).title}** · {VARIANT_LABELS.get(variant, variant)}  \n"
                    f"trained on {config.dataset_title or config.settings.dataset}")
if weights != "Training run":
    key = c2.selectbox("Network", zoo.list_models(), key="fm_model",
                       format_func=lambda k: zoo.get_spec(k).title)
    spec = zoo.get_spec(key)
    if weights == "ImageNet pretrained":
        st.session_state["fm_variant"] = "imagenet"
    variant = c3.selectbox("Input size", list(zoo.VARIANTS), key="fm_variant",
                           format_func=lambda v: VARIANT_LABELS.get(v, v),
                           disabled=weights == "ImageNet pretrained")
    if weights == "ImageNet pretrained":
        if not spec.imagenet_from_torchvision:
            st.warning(f"torchvision publishes no ImageNet weights for {spec.title}; showing "
                       "random weights.")
            weights = WEIGHTS[0]
        else:
            try:
                model = pretrained_model(key)
                model_id = f"pretrained:{key}"
            except zoo.PretrainedMissing as err:
                st.warning(f"{err} The page never downloads; showing random weights meanwhile.",
                           icon=":material/download:")
                weights = WEIGHTS[0]
    seed = int(c4.number_input("Seed", 0, 9999, key="fm_seed", disabled=weights != WEIGHTS[0]))
    if model is None:
        try:
            model = random_model(key, variant, False, seed)
        except zoo.BuildError as err:
            st.error(str(err))
            st.stop()
        model_id = f"random:{key}:{variant}:{seed}"
    st.caption(f"{spec.title} ({spec.paper}). {spec.small_note if variant != 'imagenet' else ''}")
widgets.sync_url("fm_weights", "fm_model", "fm_variant", "fm_seed")

# --- preprocessing -------------------------------------------------------------------------

pre = fm.preprocessing_for(variant, config=config)
if pre.grayscale:
    widgets.url_state("fm_invert", fm.looks_dark_on_light(photo.image))
    st.toggle("Invert (for a dark digit on light paper: MNIST digits are light on dark)",
              key="fm_invert")
    widgets.sync_url("fm_invert")
    pre = fm.preprocessing_for(variant, config=config, invert=st.session_state["fm_invert"])
pre_id = repr(pre)
img_id = image_hash(photo.image)
prepared, capture = analyse(model_id, img_id, pre_id, model, photo.image, pre)
x = prepared.tensor

with st.expander(f"Preprocessing: the tensor that goes in is {fm.shape_text(x.shape)}",
                 expanded=pre.grayscale):
    p1, p2, p3, p4 = st.columns(4)
    p1.image(photo.image, caption=f"your image {photo.image.width}×{photo.image.height}",
             width="stretch")
    p2.image(prepared.resized, caption=f"resized {prepared.resized.width}×"
             f"{prepared.resized.height}", width="stretch")
    p3.image(prepared.pixels.resize((224, round(224 * pre.height / pre.width)),
                                    Image.Resampling.NEAREST),
             caption=f"centre crop {pre.height}×{pre.width}: what the network sees",
             width="stretch")
    channels = fm.channel_grid(x[0], cmap="RdBu_r", per_channel=True, tile=112, columns=1
                               if pre.in_channels == 1 else 3)
    p4.image(channels, caption="normalised tensor, per channel (blue < 0 < red)",
             width="stretch")
    st.markdown("  \n".join(f"{i}. {s}" for i, s in enumerate(pre.steps(), 1)))
    flat = x[0].reshape(pre.in_channels, -1)
    st.dataframe(pd.DataFrame({"channel": range(pre.in_channels), "mean": flat.mean(1),
                               "std": flat.std(1), "min": flat.amin(1), "max": flat.amax(1)}),
                 hide_index=True)

if not any(r.is_spatial for r in capture.records):
    st.info("This network has no convolutional layers, so there are no feature maps to show; "
            "its first-layer weights and prediction are below.")

# --- overview strip ----------------------------------------------------------------------

st.subheader("Overview: one map per layer")
o1, o2 = st.columns([3, 1])
widgets.url_state("fm_cmap", "Viridis", choices=fm.COLORMAPS)
every = o1.toggle("Every layer (BatchNorm, activations, containers too)", key="fm_every")
cmap = o2.selectbox("Colour scale", fm.COLORMAPS, key="fm_cmap")
strip_layers = capture.overview(every_layer=every)
if strip_layers:
    st.caption("The strongest channel (highest mean activation) of each layer, drawn at a "
               "size proportional to its height; under it channels × height × width.")
    scrolling_image(fm.overview_strip(strip_layers, cmap))

# --- the chosen view ---------------------------------------------------------------------

view = st.radio("View", VIEWS, key="fm_view", horizontal=True)
spatial = capture.names(spatial_only=True)

if view in ("Layer maps", "Receptive field") and spatial:
    labels = {r.name: r.label() for r in capture.records if r.is_spatial}
    default_layer = next((r.name for r in strip_layers if r.kind == "conv"), spatial[0])
    if "fm_layer" not in st.session_state:
        widgets.url_state("fm_layer", default_layer, choices=spatial)
    keep_valid("fm_layer", spatial, default_layer)
    layer = st.selectbox("Layer", spatial, key="fm_layer", format_func=labels.get)
    widgets.sync_url("fm_layer")
    record = capture[layer]
    maps = record.maps

if view == "Layer maps" and spatial:
    g1, g2 = st.columns([2, 1])
    sort = SORTS[g1.radio("Sort channels by", list(SORTS), key="fm_sort", horizontal=True)]
    per_channel = g2.radio("Colour range", ["per channel", "shared by the layer"],
                           key="fm_range", horizontal=True) == "per channel"
    grid, order = layer_grid(model_id, img_id, pre_id, layer, sort, cmap, per_channel, capture)
    left, right = st.columns([3, 2])
    left.image(grid, caption=f"{layer}: all {maps.shape[0]} channels, "
               f"{maps.shape[1]}×{maps.shape[2]} each, in {sort.replace('-', ' ')} order",
               width="stretch")
    keep_valid("fm_channel", order, order[0])
    channel = right.selectbox("Enlarge channel", order, key="fm_channel",
                              format_func=lambda c: f"channel {c}")
    unit = fm.normalise(maps[channel:channel + 1], per_channel=True)[0]
    e1, e2 = right.columns(2)
    e1.image(fm.enlarge(unit, cmap), caption=f"channel {channel}", width="stretch")
    alpha = right.slider("Overlay opacity", 0.0, 1.0, 0.55, key="fm_alpha")
    e2.image(fm.overlay(prepared.pixels.resize((224, 224)), unit, cmap, alpha),
             caption="over the input", width="stretch")
    stats = pd.DataFrame(fm.channel_stats(maps)).rename_axis("channel").loc[order]
    stats = stats.rename(columns={"zeros": "fraction = 0", "negative": "fraction < 0"})
    right.dataframe(stats.loc[[channel]], width="stretch")
    st.caption("Per-channel statistics (after a ReLU, “fraction = 0” is the sparsity; before "
               "it, “fraction < 0” is what the ReLU will zero).")
    st.dataframe(stats, width="stretch", height=240)

elif view == "First-layer filters":
    in_shape = (pre.in_channels, pre.height, pre.width)
    first = fm.first_layer_weights(model, in_shape)
    if first is None:
        st.info("This network's first weighted layer cannot be drawn as images.")
    else:
        name, weight = first
        kind = "RGB kernels in colour" if weight.shape[1] == 3 else "blue < 0 < red"
        st.markdown(f"**{name}**: {weight.shape[0]} filters of "
                    f"{fm.shape_text(weight.shape[1:])} ({kind}; grey/white is 0).")
        if init_filters is not None and config is not None:
            f1, f2 = st.columns(2)
            f1.image(fm.filter_grid(weight), caption=f"after training "
                     f"(seed {config.seed})", width="stretch")
            f2.image(fm.filter_grid(init_filters[1]), caption="the same filters at "
                     "initialisation", width="stretch")
            table = pd.DataFrame({"trained": fm.filter_summary(weight),
                                  "initial": fm.filter_summary(init_filters[1])})
            table["change"] = table["trained"] - table["initial"]
            st.dataframe(table, width="stretch")
            moved = float((weight - init_filters[1]).norm() / init_filters[1].norm())
            st.caption(f"Training moved these weights by {moved:.1%} of their initial norm. "
                       "Smoothness is the correlation of neighbouring weights: random filters "
                       "sit near 0, learned edge and blob detectors rise above it.")
        else:
            st.image(fm.filter_grid(weight), width="stretch")
            st.dataframe(pd.DataFrame({"value": fm.filter_summary(weight)}))

elif view == "Prediction & Grad-CAM":
    if config is not None:
        names = fm.run_class_names(config)
    elif variant == "imagenet":
        names = zoo.imagenet_class_names()
    else:
        names = fm.default_class_names(variant, capture.logits.numel())
    top = fm.top_k(capture.logits, names, 5)
    t1, t2 = st.columns([1, 2])
    t1.dataframe(pd.DataFrame(top, columns=["index", "class", "probability"]),
                 hide_index=True, column_config={"probability": st.column_config.ProgressColumn(
                     "probability", min_value=0.0, max_value=1.0, format="percent")})
    if weights == WEIGHTS[0]:
        t1.caption("Random weights: the prediction is noise until the network is trained.")
    if not spatial:
        t2.info("Grad-CAM needs a layer with feature maps; this network has none.")
    else:
        cam_layers = [r.name for r in capture.records
                      if r.is_spatial and (r.kind in ("conv", "block") or r.type_name ==
                                           "ReLU") and r.type_name != "Sequential"]
        keep_valid("fm_cam_layer", cam_layers, cam_layers[-1])
        cam_layer = t2.selectbox("Grad-CAM layer", cam_layers, key="fm_cam_layer",
                                 help="The last conv layers give the most class-specific maps.")
        classes = [t[0] for t in top]
        keep_valid("fm_cam_class", classes, classes[0])
        cls = t2.selectbox("Explain class", classes, key="fm_cam_class",
                           format_func=lambda i: f"{names[i]} (#{i})")
        result = cam(model_id, img_id, pre_id, cam_layer, cls, model, x)
        base = prepared.pixels.resize((224, 224))
        a1, a2 = t2.columns(2)
        a1.image(base, caption="input", width="stretch")
        a2.image(fm.overlay(base, result.cam, "Inferno", 0.5),
                 caption=f"Grad-CAM for “{names[cls]}” on {cam_layer} "
                 f"({fm.shape_text(result.layer_shape)})", width="stretch")
        t2.caption("Bright regions raised this class's score: each channel of the layer is "
                   "weighted by the mean gradient of the score, the weighted sum is kept where "
                   "positive and upsampled to the input size.")

elif view == "Receptive field" and spatial:
    rf = record.rf
    if rf is None:
        st.info(f"The receptive field of {layer} cannot be worked out from its layer stack.")
    else:
        r1, r2 = st.columns([1, 2])
        h, w = maps.shape[-2:]
        row = r1.slider("Cell row", 0, h - 1, h // 2, key="fm_rf_row") if h > 1 else 0
        col = r1.slider("Cell column", 0, w - 1, w // 2, key="fm_rf_col") if w > 1 else 0
        r1.metric("Receptive field", f"{rf.size[0]:.0f}×{rf.size[1]:.0f} px")
        r1.markdown(f"jump between cells **{rf.jump[0]:.0f}** px · centre of cell (0, 0) "
                    f"at **{rf.start[0]:+.1f}** px{' (approximate)' if rf.approximate else ''}")
        r1.caption("Worked out layer by layer: r ← r + (k − 1)·d·j, j ← j·s, start ← start + "
                   "((k − 1)·d/2 − p)·j, for every conv and pooling layer on the way.")
        scale = max(1, 448 // max(pre.height, pre.width))
        r2.image(fm.draw_box(prepared.pixels, rf.box(row, col), scale=scale),
                 caption=f"cell ({row}, {col}) of {layer} sees this region of the "
                 f"{pre.height}×{pre.width} input (clipped to the image)", width="stretch")
widgets.sync_url("fm_view", "fm_cmap")
