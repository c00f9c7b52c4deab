"""Feature maps: what every layer of a classic CNN makes of your image, plus Grad-CAM.

A sequence of sections. The network and the photo are full reruns (everything below depends on
them); each view below the overview strip is a fragment, so moving its widgets reruns that view
alone. Networks and captures are served by `explorer.serving.networks`, pictures by
`explorer.ui.feature_map_pictures`: both shared by every session, keyed by small ids.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explorer import feature_maps as fm
from explorer import handwriting, i18n
from explorer.figures import feature_maps as figs
from explorer.i18n import N_, _
from explorer.models.modules import shape_text
from explorer.serving.networks import Analysed, Network, first_layer
from explorer.ui import drawing, network_choice, preprocessing_panel, widgets
from explorer.ui import feature_map_pictures as pictures
from explorer.ui.network_choice import keep_valid

VIEWS = (N_("Layer maps"), N_("First-layer filters"), N_("Prediction & Grad-CAM"),
         N_("Receptive field"))
SORTS = {N_("Network order"): "network", N_("Mean activation, high → low"): "mean-desc",
         N_("Mean activation, low → high"): "mean-asc"}
RANGES = (N_("per channel"), N_("shared by the layer"))


# --- sections ---------------------------------------------------------------------------------


@widgets.guarded("network and weights")
def network_and_weights() -> Network:
    return network_choice.choose()


@widgets.guarded("a photo for a digit model")
def photo_for_a_digit_model(net: Network) -> None:
    """A network trained on small grayscale images, shown a photo: say what its answer is worth."""
    if net.config is None or not handwriting.takes_drawings(net.config):
        return
    if fm.reads_digits(net.variant, net.config):
        st.warning(_("This network was trained on {data}. A photo of a handwritten digit is "
                     "prepared below the way MNIST was made, so it can be read; any other "
                     "photo still gets one of its {n} classes, often very sure, and that "
                     "confidence means nothing here. Or draw on the canvas at the bottom of "
                     "the page.").format(data=handwriting.trained_on(net.config),
                                         n=net.config.num_classes), icon=":material/warning:")
        return
    st.warning(_("This network was trained on {data}. A photo is not one of them: it still "
                 "answers with one of its {n} classes, often very sure, and that confidence "
                 "means nothing here. Draw on the canvas at the bottom of the page to give it "
                 "what it knows.").format(data=handwriting.trained_on(net.config),
                                          n=net.config.num_classes),
               icon=":material/warning:")


@widgets.guarded("preprocessing")
def preprocessing(net: Network, photo) -> Analysed:
    pre = preprocessing_panel.choose(net, photo.image)
    done = network_choice.loaded(net, photo.image, pre)
    if done is None:  # this network cannot take this input size: said why, stop
        st.stop()
    preprocessing_panel.show(done, photo.image, pre)
    if not any(r.is_spatial for r in done.capture.records):
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
        st.html(pictures.strip_html(done.key, every, cmap, done.capture, i18n.language()))
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
    grid, order = pictures.layer_grid(done.key, layer, sort, cmap, per_channel, done.capture)
    left, right = st.columns([3, 2])
    widgets.image(left, grid, caption=_("{layer}: all {n} channels, {h}×{w} each, in the order "
                                        "“{order}”").format(
                      layer=layer, n=maps.shape[0], h=maps.shape[1], w=maps.shape[2],
                      order=_(sort_name)),
                  width="stretch", output_format="JPEG")
    if "fm_channel" not in st.session_state:  # a shared link may name the channel
        widgets.url_state("fm_channel", order[0], choices=order)
    keep_valid("fm_channel", order, order[0])
    channel = right.selectbox(_("Enlarge channel"), order, key="fm_channel",
                              format_func=lambda c: _("channel {c}").format(c=c))
    widgets.sync_url("fm_channel")
    e1, e2 = right.columns(2)
    alpha = right.slider(_("Overlay opacity"), 0.0, 1.0, 0.55, key="fm_alpha")
    enlarged, over = pictures.channel_pictures(done.key, layer, channel, cmap, alpha,
                                               done.capture, done.prepared.pixels)
    values = _("values from {low:.3g} to {high:.3g}").format(low=float(maps[channel].min()),
                                                             high=float(maps[channel].max()))
    widgets.image(e1, enlarged, caption=_("channel {c}").format(c=channel), width="stretch",
                  output_format="PNG", alt=_("Feature map of channel {c} of {layer}, {h}×{w}, "
                                             "{values}").format(
                      c=channel, layer=layer, h=maps.shape[1], w=maps.shape[2], values=values))
    widgets.image(e2, over, caption=_("over the input"), width="stretch", output_format="PNG",
                  alt=_("Channel {c} of {layer} laid over the input photo").format(
                      c=channel, layer=layer))
    stats = pictures.channel_statistics(done.key, layer, done.capture, order)
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
                _("**{name}**: {n} filters of {shape} (blue < 0 < orange; white is 0)."))
    st.markdown(sentence.format(name=name, n=weight.shape[0], shape=shape_text(weight.shape[1:])))
    filters_alt = N_("The {n} filters of {name}, {shape} each, weights from {low:.3g} to "
                     "{high:.3g}")
    filters = {"n": weight.shape[0], "name": name, "shape": shape_text(weight.shape[1:]),
               "low": float(weight.min()), "high": float(weight.max())}
    if net.init_filters is None or net.config is None:
        widgets.image(st, pictures.filter_picture(net.model_id, weight), width="stretch",
                      output_format="PNG", alt=_(filters_alt).format(**filters))
        st.dataframe(pd.DataFrame({_("value"): fm.filter_summary(weight)}))
        return
    initial = net.init_filters[1]
    f1, f2 = st.columns(2)
    widgets.image(f1, pictures.filter_picture(net.model_id, weight),
                  caption=_("after training (seed {seed})").format(seed=net.config.seed),
                  width="stretch", output_format="PNG", alt=_(filters_alt).format(**filters))
    widgets.image(f2, pictures.filter_picture(f"{net.model_id}:init", initial),
                  caption=_("the same filters at initialisation"), width="stretch",
                  output_format="PNG", alt=_(filters_alt).format(**dict(
                      filters, low=float(initial.min()), high=float(initial.max()))))
    change = fm.filter_change(weight, initial)
    st.dataframe(pd.DataFrame({_("trained"): change.trained, _("initial"): change.initial,
                               _("change"): change.change}), width="stretch")
    st.caption(_("Training moved these weights by {moved:.1%} of their initial norm. "
                 "Smoothness is the correlation of neighbouring weights: random filters sit "
                 "near 0, learned edge and blob detectors rise above it.").format(
        moved=change.moved))


def _follow_prediction() -> None:
    st.session_state.pop("fm_cam_picked", None)


def _picked(key: tuple[str, str, str]) -> None:
    st.session_state["fm_cam_picked"] = (key, st.session_state["fm_cam_class"])


def explained_class(done: Analysed, classes: list[int], names: list[str], where) -> int:
    """The class Grad-CAM explains: the top prediction, unless the student picked another for
    this very input (network, photo, preprocessing), which it then says."""
    picked = st.session_state.get("fm_cam_picked")
    if picked is None or tuple(picked[0]) != done.key or picked[1] not in classes:
        _follow_prediction()
        st.session_state["fm_cam_class"] = classes[0]
    cls = where.selectbox(_("Explain class"), classes, key="fm_cam_class",
                          format_func=lambda i: f"{names[i]} (#{i})",
                          on_change=_picked, args=(done.key,))
    if cls != classes[0]:
        where.caption(_("You picked “{name}”; the network's top prediction is “{top}”. A new "
                        "photo or network goes back to explaining the prediction.").format(
            name=names[cls], top=names[classes[0]]))
        where.button(_("Explain the prediction"), key="fm_cam_follow",
                     on_click=_follow_prediction, icon=":material/undo:")
    return cls


@st.fragment
@widgets.guarded("prediction and Grad-CAM")
def prediction_and_grad_cam(done: Analysed, net: Network) -> None:
    capture = done.capture
    names = fm.class_names_for(net.variant, capture.logits.numel(), net.config)
    top = fm.top_k(capture.logits, names, 5)
    t1, t2 = st.columns([1, 2])
    probability = _("probability")
    t1.dataframe(pd.DataFrame(top, columns=[_("index"), _("class"), probability]),
                 hide_index=True, column_config={probability: st.column_config.ProgressColumn(
                     probability, min_value=0.0, max_value=1.0, format="percent")})
    if net.weights == network_choice.WEIGHTS[0]:
        t1.caption(_("Random weights: the prediction is noise until the network is trained.")
                   + " " + _("A random network gives nearly the same top 5 to every image: "
                             "try another photo and see."))
    if not capture.names(spatial_only=True):
        t2.info(_("Grad-CAM needs a layer with feature maps; this network has none."))
        return
    cam_layers = capture.cam_layers()
    keep_valid("fm_cam_layer", cam_layers, cam_layers[-1])
    cam_layer = t2.selectbox(_("Grad-CAM layer"), cam_layers, key="fm_cam_layer",
                             help=_("The last conv layers give the most class-specific maps."))
    cls = explained_class(done, [t[0] for t in top], names, t2)
    with st.spinner(_("Back-propagating for Grad-CAM…")):
        base, heat, layer_shape = pictures.cam_pictures(done.key, cam_layer, cls, done)
    a1, a2 = t2.columns(2)
    widgets.image(a1, base, caption=_("input"), width="stretch", output_format="PNG",
                  alt=_("The input photo, as the network sees it"))
    widgets.image(a2, heat, caption=_("Grad-CAM for “{name}” on {layer} ({shape})").format(
        name=names[cls], layer=cam_layer, shape=shape_text(layer_shape)), width="stretch",
                  output_format="PNG", alt=_(
                      "Grad-CAM heatmap over the input photo: where {layer} ({shape}) raised "
                      "the score of “{name}”, bright for most").format(
                      name=names[cls], layer=cam_layer, shape=shape_text(layer_shape)))
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
    widgets.image(r2, pictures.box_picture(done.key, layer, row, col, rf, done.prepared.pixels),
                  caption=_("cell ({row}, {col}) of {layer} sees this region of the {h}×{w} "
                            "input (clipped to the image)").format(
                      row=row, col=col, layer=layer, h=pre.height, w=pre.width),
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
