"""Choosing a network and its weights on a page, and loading it with a spinner meanwhile.

A zoo network with random weights (seeded), a finished training run's checkpoint, or
torchvision's ImageNet weights (downloaded from the page when they are missing). What comes
back is an `explorer.serving.networks.Network`: ids and loaders, whose loaders show a spinner
while the server builds or maps a network, or runs it on the photo (st.spinner appears only
after half a second, so a cached one shows none). The serving itself, its caches and turns,
is `explorer.serving.networks`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st
import torch
from PIL import Image

from explorer import feature_maps as fm
from explorer.i18n import N_, _
from explorer.models import zoo
from explorer.serving import networks
from explorer.serving.networks import Analysed, Network
from explorer.training import access, checkpoints, runs
from explorer.training.config import RunConfig
from explorer.ui import identity, pretrained, widgets

T = TypeVar("T")
# Option values stay English (they travel in links); the page shows them translated.
WEIGHTS = (N_("Random (seeded)"), N_("Training run"), N_("ImageNet pretrained"))
VARIANT_LABELS = {"mnist": N_("MNIST-size 1×28×28"), "cifar": N_("CIFAR-size 3×32×32"),
                  "imagenet": N_("ImageNet-size 3×224×224")}


def keep_valid(key: str, options: list, default: Any) -> None:
    """A choice whose options change with the network keeps a value among them."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = default


def _waiting(message: str, load: Callable[[], T]) -> T:
    """`load()` under a spinner saying `message` (in the session's language when it runs)."""
    with st.spinner(_(message)):
        return load()


def _loader(message: str, load: Callable[..., T], *args: Any) -> Callable[[], T]:
    return functools.partial(_waiting, message, functools.partial(load, *args))


def analysed(net: Network, image: Image.Image, pre: fm.Preprocessing) -> Analysed:
    """What `net` makes of `image` under `pre`, as ids and loaders (see `Analysed`); its
    `load()` raises `zoo.BuildError` when the network cannot take this input."""
    ids = (net.model_id, networks.image_id(image), repr(pre))
    load = _loader(N_("Running the network…"), networks.analysis, *ids, net.load, image, pre,
                   net.architecture)
    return Analysed(*ids, pre, load, net.load, net.architecture)


def loaded(net: Network, image: Image.Image, pre: fm.Preprocessing) -> Analysed | None:
    """`analysed`, run; None (and PyTorch's reason shown) when the network cannot take this
    input size."""
    done = analysed(net, image, pre)
    try:
        done.load()
    except zoo.BuildError as err:
        st.error(str(err))
        return None
    return done


@st.cache_resource(max_entries=4, ttl=3600, show_spinner=False)
def initial_filters(run_dir: str, mtime: float, _config: RunConfig
                    ) -> tuple[str, torch.Tensor] | None:
    """A run's first-layer filters before training (its seed rebuilds them)."""
    return fm.first_layer_weights(checkpoints.initial_model(_config), _config.input_shape)


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
    return run_network(run)


def run_network(run: runs.RunInfo) -> Network:
    """The network of training run `run` (a `runs.RunInfo` with a checkpoint); a checkpoint
    that cannot be loaded says so in one sentence and stops the page."""
    mtime = (run.path / "checkpoint.pt").stat().st_mtime
    try:
        with st.spinner(_("Loading the checkpoint…")):
            model, config = networks.run_model(str(run.path), mtime)
        init = initial_filters(str(run.path), mtime, config)
    except Exception as err:  # a damaged or foreign checkpoint: one sentence, no traceback
        # PyTorch's own words, without the server's folders that an OSError would name
        error = str(err).replace(str(run.path), run.run_id).replace(str(run.path.parent), "…")
        st.error(_("The checkpoint of run {run} could not be loaded: {error}").format(
            run=run.run_id, error=error))
        st.stop()
    del model  # the session keeps the loader below, not the network
    return Network(config.model, config.variant, WEIGHTS[1],
                   functools.partial(networks.run_network, str(run.path), mtime),
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
    load = _loader(N_("Loading ImageNet weights…"), networks.pretrained_model, key)
    try:
        if not file.is_cached():
            if file.refusal():  # offer_download's warning already says why, beside its button
                return None
            raise zoo.PretrainedMissing(
                _("No pretrained {name} weights on this machine yet: use the download button "
                  "beside “Weights”, or {by_hand}.").format(name=_(spec.title),
                                                           by_hand=file.by_hand()))
        load()
    except zoo.PretrainedMissing as err:
        st.warning(_("{problem} Showing random weights meanwhile.").format(problem=err),
                   icon=":material/download:")
        return None
    return Network(key, "imagenet", WEIGHTS[2], load, f"pretrained:{key}")


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


def choose() -> Network:
    """The "Network and weights" row: weights, network (or run), input size and seed, with
    what the choice means under it; the address bar follows it."""
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
                          _loader(N_("Building the network…"), networks.random_model, key,
                                  variant, False, seed),
                          f"random:{key}:{variant}:{seed}")
        st.caption(f"{_(spec.title)} ({_(spec.paper)}). "
                   + (_("{note}.").format(note=_(spec.small_note)) if variant != "imagenet"
                      else ""))
        if net.weights == WEIGHTS[0]:
            what_random_weights_show(net)
    widgets.sync_url("fm_weights", "fm_model", "fm_variant", "fm_seed")
    return net
