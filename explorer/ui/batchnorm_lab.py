"""The BatchNorm lab's controls, this session's lab, and the lab's cached figures.

Each session's `explorer.batchnorm.BatchNormLab` lives in a session-scoped resource cache, not
in `st.session_state` and not in a cache every session shares. A lab is large (a batch of up
to `MAX_VALUES` values, the output, and up to `MAX_STEPS` records of its buffers: tens of MB
at the limits), so session state, which should hold small values, keeps only its id; and in
a shared cache one session's lab could push out another's. The session's cache holds its lab
(a new configuration replaces it) and lets go of it when the session disconnects; a browser
that reconnects after that starts a fresh lab with the same settings. It has no `on_release`:
a lab is tensors and Python objects, freed once the cache drops it, and Streamlit clears a
session's caches on disconnect while it may still be stopping a rerun that uses the lab, so
emptying the lab there could break that rerun.
"""

from __future__ import annotations

from uuid import uuid4

import streamlit as st
from PIL import Image

from explorer import batchnorm as bn
from explorer import i18n
from explorer.figures import PrebuiltFigure
from explorer.figures import batchnorm as figures
from explorer.i18n import N_, _
from explorer.ui import widgets

KINDS = {"1d": N_("BatchNorm1d on [N, C]"), "2d": N_("BatchNorm2d on [N, C, H, W]")}
BATCH_MODES = {"same": N_("the same batch again"), "new": N_("a new batch each step")}
MODES = ("train", "eval")
#: The course's experiment: x = torch.randn(100, 16) + 0.5 through nn.BatchNorm1d(16).
DEFAULTS: dict[str, object] = {
    "bn_kind": "1d", "bn_channels": 16, "bn_batch": 100, "bn_size": 4, "bn_shift": 0.5,
    "bn_scale": 1.0, "bn_seed": 0, "bn_batches": "same", "bn_momentum": "0.1", "bn_eps": 1e-5,
    "bn_affine": True, "bn_track": True, "bn_mode": "train",
}
URL_KEYS = tuple(DEFAULTS)
CHOICES = {"bn_kind": tuple(KINDS), "bn_batches": tuple(BATCH_MODES), "bn_mode": MODES,
           "bn_momentum": tuple(bn.MOMENTUM_CHOICES), "bn_eps": bn.EPS_CHOICES}
BOUNDS = {"bn_channels": (1, 64), "bn_batch": (1, 512), "bn_size": (1, 16),
          "bn_shift": (-3.0, 3.0), "bn_scale": (0.1, 3.0), "bn_seed": (0, 9999)}
SHIFT_RUN = 50  # steps the distribution-shift button runs
LAB_ID = "bn_lab_id"  # session state holds the lab's id, never the lab


def course_settings() -> None:
    """Every control back to the course's experiment, and a fresh lab."""
    for key, value in DEFAULTS.items():
        st.session_state[key] = value
    st.session_state["bn_gamma"], st.session_state["bn_beta"] = 1.0, 0.0
    st.session_state["bn_reset"] = True


def shift_and_run() -> None:
    """Move the data's mean up by one (at most to 3) and run `SHIFT_RUN` steps."""
    st.session_state["bn_shift"] = round(min(3.0, st.session_state["bn_shift"] + 1.0), 1)
    st.session_state["bn_pending"] = SHIFT_RUN


def _data_controls() -> dict[str, object]:
    st.markdown(_("**Data** · `x = z·scale + shift`, `z ~ randn`"))
    c1, c2 = st.columns(2)
    chosen = {"channels": widgets.number_input(_("Features (channels) C"), 1, 64,
                                               key="bn_channels", where=c1),
              "batch_size": widgets.number_input(_("Batch size N"), 1, 512, key="bn_batch",
                                                 where=c2)}
    chosen["shift"] = st.slider(_("Mean shift"), -3.0, 3.0, step=0.1, key="bn_shift",
                                help=_("Change it mid-run to shift the data under a trained "
                                       "layer."))
    chosen["scale"] = st.slider(_("Scale (standard deviation)"), 0.1, 3.0, step=0.1,
                                key="bn_scale")
    c1, c2 = st.columns(2)
    chosen["seed"] = widgets.number_input(_("Seed"), 0, 9999, key="bn_seed", where=c1)
    chosen["batches"] = c2.radio(_("Each step feeds"), tuple(BATCH_MODES), key="bn_batches",
                                 format_func=lambda mode: _(BATCH_MODES[mode]),
                                 help=_("The course repeats the same x."))
    return chosen


def _layer_controls() -> dict[str, object]:
    st.markdown(_("**Layer**"))
    kind = st.radio(_("Layer type"), tuple(KINDS), key="bn_kind",
                    format_func=lambda k: _(KINDS[k]))
    c1, c2 = st.columns(2)
    momentum = c1.selectbox(
        "momentum", tuple(bn.MOMENTUM_CHOICES), key="bn_momentum",
        format_func=lambda m: bn.format_momentum(bn.MOMENTUM_CHOICES[m]),
        help=_("PyTorch's momentum is the weight on the NEW batch. None: cumulative average."),
    )
    eps = c2.selectbox("eps", bn.EPS_CHOICES, key="bn_eps", format_func=lambda e: f"{e:g}")
    size = widgets.number_input(_("Feature map height = width (BatchNorm2d only)"), 1, 16,
                                key="bn_size", disabled=kind == "1d")
    return {"kind": kind, "momentum": momentum, "eps": eps, "size": size,
            "affine": st.toggle(_("affine (learnable γ and β)"), key="bn_affine"),
            "track": st.toggle("track_running_stats", key="bn_track")}


def _run_controls() -> tuple[str, dict[int, bool], bool]:
    st.markdown(_("**Run**"))
    mode = st.radio(_("Mode"), MODES, key="bn_mode", horizontal=True,
                    format_func=lambda m: f"layer.{m}()")
    b1, b2 = st.columns(2)
    clicked = {1: b1.button(_("Step 1"), key="bn_step1", width="stretch", type="primary"),
               10: b2.button(_("Step 10"), key="bn_step10", width="stretch")}
    b1, b2 = st.columns(2)
    clicked[100] = b1.button(_("Run 100"), key="bn_run100", width="stretch")
    reset = b2.button(_("Reset"), key="bn_reset_button", width="stretch",
                      icon=":material/restart_alt:")
    st.button(_("Back to the course's settings"), on_click=course_settings, type="tertiary",
              icon=":material/school:")
    st.caption(_("Changing C, N, H×W, the seed, affine or track_running_stats builds a new "
                 "layer; the other settings apply mid-run."))
    return mode, clicked, reset


@widgets.guarded("controls")
def controls() -> tuple[bn.LabConfig, bn.Knobs, dict[int, bool], bool]:
    """Data, layer and run controls; returns the lab's config, its knobs and the buttons."""
    for key, default in DEFAULTS.items():
        widgets.url_state(key, default, choices=CHOICES.get(key), bounds=BOUNDS.get(key))
    with st.container(border=True):
        data_col, layer_col, run_col = st.columns([1.1, 1.1, 1], gap="large")
        with data_col:
            data = _data_controls()
        with layer_col:
            layer = _layer_controls()
        with run_col:
            mode, clicked, reset = _run_controls()
    widgets.sync_url(*URL_KEYS)
    st.session_state.setdefault("bn_gamma", 1.0)
    st.session_state.setdefault("bn_beta", 0.0)
    config = bn.LabConfig(kind=layer["kind"], channels=int(data["channels"]),
                          batch_size=int(data["batch_size"]), size=int(layer["size"]),
                          seed=int(data["seed"]), affine=layer["affine"],
                          track_running_stats=layer["track"])
    knobs = bn.Knobs(shift=float(data["shift"]), scale=float(data["scale"]),
                     same_batch=data["batches"] == "same",
                     momentum=bn.MOMENTUM_CHOICES[layer["momentum"]], eps=float(layer["eps"]),
                     training=mode == "train", gamma=float(st.session_state["bn_gamma"]),
                     beta=float(st.session_state["bn_beta"]))
    return config, knobs, clicked, reset


# A server's session asks for one lab id only; AppTest runs every test under one session id,
# and the ids keep those tests' labs apart.
@st.cache_resource(scope="session", max_entries=8, show_spinner=False)
def _slot(lab_id: str) -> dict[str, bn.BatchNormLab]:
    """Where the lab of `lab_id` lives, in its session's cache (session state holds the id)."""
    return {}


def session_lab(config: bn.LabConfig, knobs: bn.Knobs) -> bn.BatchNormLab:
    """This session's lab, a new one when `config` changed, with `knobs` applied."""
    slot = _slot(st.session_state.setdefault(LAB_ID, uuid4().hex))
    lab = slot.get("lab")
    if lab is None or lab.config != config:
        lab = slot["lab"] = bn.BatchNormLab(config, knobs)
    lab.apply(knobs)
    return lab


@widgets.guarded("the lab")
def run_the_lab(config: bn.LabConfig, knobs: bn.Knobs, clicked: dict[int, bool],
                reset: bool) -> bn.BatchNormLab:
    """This session's lab, stepped as the buttons say; stops the page on a batch too big."""
    if config.numel > bn.MAX_VALUES:
        st.warning(_("A batch of {shape} holds {n:,} values; this lab takes at most {limit:,}. "
                     "Make the batch, the channels or the feature maps smaller.").format(
            shape=list(config.shape), n=config.numel, limit=bn.MAX_VALUES),
            icon=":material/warning:")
        st.stop()
    lab = session_lab(config, knobs)
    if reset or st.session_state.pop("bn_reset", False):
        lab.reset()
    for n, pressed in clicked.items():
        if pressed:
            lab.step(n)
    if pending := st.session_state.pop("bn_pending", 0):
        lab.step(pending)
    if lab.error:
        st.error(
            _("PyTorch refused the step: “{error}”. In train mode BatchNorm needs more than one "
              "value per channel to compute a variance: raise the batch size, give BatchNorm2d "
              "bigger feature maps, or switch to eval mode.").format(error=lab.error)
            if "Expected more than 1" in lab.error else lab.error,
            icon=":material/block:",
        )
    for key, limit in (("bn_channel", config.channels), ("bn_sample", config.batch_size)):
        if st.session_state.get(key, 0) >= limit:  # the range shrank under a stored choice
            st.session_state[key] = limit - 1
    return lab


@st.cache_resource(max_entries=8, show_spinner=False)
def axes_figures(shape: tuple[int, int, int, int], sample: int, channel: int, lang: str
                 ) -> tuple[PrebuiltFigure, ...]:
    """Which values BatchNorm, LayerNorm and InstanceNorm average together, drawn in `lang`:
    one figure each, for columns that stack on a phone (three panels in one figure left their
    titles running into each other at 390 px)."""
    groups = {kind: bn.norm_group(kind, shape, sample, channel) for kind in bn.NORM_AXES}
    with i18n.use_language(lang):
        return tuple(PrebuiltFigure(figures.axes_figure(shape, {kind: group}).to_dict())
                     for kind, group in groups.items())


@st.cache_resource(max_entries=16, ttl=3600, show_spinner=False)
def photo_maps(photo_key: tuple, _image: Image.Image, lang: str
               ) -> tuple[bn.FeatureMapsNorm, PrebuiltFigure]:
    """BatchNorm2d over feature maps of the photo (keyed by `photo_key`, not its pixels)."""
    result = bn.batchnorm_feature_maps(bn.image_feature_maps(_image))
    with i18n.use_language(lang):
        return result, PrebuiltFigure(figures.maps_figure(result).to_dict())
