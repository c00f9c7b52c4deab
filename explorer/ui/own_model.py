"""Your own classes' network sections: train one on the dataset (from scratch, or fine-tuned
from ImageNet weights), watch it in the shared queue, then use it on a new shot (every class's
probability, feature maps layer by layer, Grad-CAM) and take it home (.pt and ONNX).

The run goes through `run_queue.submit`, like every run, so the Training page shows its
curves, timeline and confusion matrix; the new shot goes through the Feature maps page's
pictures (`feature_map_pictures`) and serving (`network_choice`), so it is what that page
would show. A session keeps run ids and widget values, never a network or a picture.
"""

from __future__ import annotations

import functools

import pandas as pd
import streamlit as st

from explorer import feature_maps as fm
from explorer import i18n, images
from explorer.i18n import N_, _
from explorer.models import zoo
from explorer.training import access, export, run_queue, runs
from explorer.training import own_classes as own
from explorer.training.config import OPTIMISER_LR, TrainConfig
from explorer.ui import feature_map_pictures as pictures
from explorer.ui import (
    navigation,
    network_choice,
    own_dataset,
    run_charts,
    run_progress,
    train_form,
    widgets,
)

SCRATCH_LR = 1e-2  # AdamW, one-cycle: LeNet-5 on 180 shapes reaches 90% (tests/test_own_classes)
SIZES = (28, 32, 48, 64, 96, 128)  # pixels a side; the store keeps 128
STARTS = {"scratch": N_("From scratch (random weights)"),
          "imagenet": N_("Fine-tune from ImageNet weights")}
BACKBONES = {"frozen": N_("Frozen: only the new head learns"),
             "slower": N_("Learning at a tenth of the rate")}


def trained_runs(actor: access.Actor, ref: own.Ref) -> list[runs.RunInfo]:
    """The runs on this dataset that `actor` may open and that have weights, newest first."""
    return [r for r in access.visible_runs(actor)
            if r.config.settings.dataset == ref.key and r.has_checkpoint]


def split_table(counts: list[int], names: list[str]) -> None:
    """The stratified held-out split a run will draw, class by class."""
    split = own.split_counts(counts)
    st.dataframe(pd.DataFrame({_("class"): names, _("images"): counts,
                               _("for training"): [t for t, _h in split],
                               _("held out for testing"): [h for _t, h in split]}),
                 hide_index=True)
    st.caption(_("A fifth of every class is held out (at least one image of each class with "
                 "two or more), drawn with seed 0: the test accuracy is measured on images "
                 "the network never trained on."))


def _start(model: str) -> tuple[bool, bool]:
    """Scratch or fine-tuning (offered where this machine has the network's ImageNet
    weights), and whether the backbone is frozen."""
    file = zoo.pretrained_file(model)
    here = file is not None and file.is_cached()
    widgets.offered("own_start", list(STARTS))
    if not here:
        st.session_state["own_start"] = "scratch"
    start = st.radio(_("Start from"), list(STARTS), key="own_start", horizontal=True,
                     format_func=lambda k: _(STARTS[k]), disabled=not here)
    if not here:
        st.caption(_("Fine-tuning needs the network's ImageNet weights on this machine: "
                     "ResNet-18's can be downloaded on the Feature maps page.") if file else
                   _("torchvision publishes no ImageNet weights for this network."))
        return False, False
    if start == "scratch":
        return False, False
    widgets.offered("own_backbone", list(BACKBONES))
    backbone = st.radio(_("The pretrained layers (the backbone)"), list(BACKBONES),
                        key="own_backbone", horizontal=True,
                        format_func=lambda k: _(BACKBONES[k]))
    st.caption(_("A new head for your classes learns from scratch. Frozen, the backbone's "
                 "ImageNet features stay as they are (fast, and safe with few images); at a "
                 "tenth of the rate they adapt a little to your images without being "
                 "wiped out."))
    return True, backbone == "frozen"


@widgets.guarded("train your network")
def train(actor: access.Actor, ref: own.Ref) -> None:
    """Network, input size, start, epochs and augmentation; the split; Train."""
    names = own.meta(actor, ref)["classes"]
    counts = [len(i) for i in own.images_of(actor, ref)]
    split_table(counts, names)
    if ref.owner != actor.owner:
        st.info(_("A student's dataset is theirs to train on: you can look at it and remove "
                  "images."))
        return
    c1, c2, c3 = st.columns(3)
    widgets.offered("own_model", zoo.list_models())
    st.session_state.setdefault("own_model", "lenet5")
    model = c1.selectbox(_("Network"), zoo.list_models(), key="own_model",
                         format_func=train_form.model_title)
    widgets.offered("own_size", list(SIZES))
    st.session_state.setdefault("own_size", 32)
    size = c2.select_slider(_("Input size (pixels a side)"), SIZES, key="own_size")
    epochs = int(widgets.number_input(_("Epochs"), 1, 100, 15, key="own_epochs", where=c3))
    pretrained, frozen = _start(model)
    aug = train_form.augmentation(ref.key)
    config = TrainConfig(model=model, dataset=ref.key, folder_size=int(size), epochs=epochs,
                         batch_size=32, lr=OPTIMISER_LR["adamw"] if pretrained else SCRATCH_LR,
                         augment=aug, pretrained=pretrained, freeze_backbone=frozen)
    if st.button(_("Train"), type="primary", icon=":material/play_arrow:", key="own_train",
                 disabled=sum(1 for c in counts if c >= 2) < own.MIN_CLASSES):
        try:
            run_dir = run_queue.submit(config, actor.owner)
        except ValueError as err:
            st.error(str(err))
        else:
            st.session_state["training_run"] = run_dir.name  # the Training page shows it


def watch(actor: access.Actor, ref: own.Ref) -> None:
    """The latest run on this dataset: its progress while it trains (refreshing), a link to
    it on the Training page."""
    listed = [r for r in access.visible_runs(actor) if r.config.settings.dataset == ref.key]
    if not listed:
        return
    info = listed[0]
    st.page_link(navigation.by_url_path("training").path.as_posix(),
                 query_params={"run": info.run_id},
                 label=_("Run {run} on the Training page: curves, timeline, confusion matrix "
                         "and per-class accuracy").format(run=info.run_id),
                 icon=":material/monitoring:")
    live = info.state in runs.ACTIVE_STATES
    st.fragment(_progress, run_every=1.0 if live else None)(info.run_id, live)


@widgets.guarded("the run")
def _progress(run_id: str, was_live: bool) -> None:
    info = runs.run_info(runs.runs_dir() / run_id)
    st.markdown(_("**{state}** · {icon}").format(state=runs.state_label(info.state),
                                                 icon=runs.state_icon(info.state)))
    if info.state in runs.ACTIVE_STATES:
        run_progress.readouts(info)
        run_charts.curves(info)
    elif was_live:  # it just ended: the page below (using it) needs its weights
        st.rerun(scope="app")
    elif reason := info.status.shown_reason:
        (st.error if info.state == "failed" else st.info)(reason)


# --- using it -----------------------------------------------------------------------------------


def _shot() -> images.LoadedImage | None:
    """A new webcam shot or upload to classify (the newer of the two), or None."""
    camera, upload = st.columns(2)
    shot = camera.camera_input(_("Take a new picture"), key="own_use_camera")
    file = widgets.uploader(_("…or upload one"), _(own_dataset.IMAGES), key="own_use_file",
                            where=upload)
    chosen = shot if shot is not None else file
    if chosen is None:
        return None
    try:
        return images.load_image(chosen.getvalue(), name=chosen.name)
    except images.ImageLoadError as err:
        st.error(str(err))
        return None


@widgets.guarded("use your network")
def use(actor: access.Actor, ref: own.Ref) -> None:
    """A trained run's answer for a new shot: every class's probability, Grad-CAM, and the
    feature maps layer by layer."""
    trained = trained_runs(actor, ref)
    if not trained:
        st.info(_("Train a network above: once it has weights (after its first epoch), a new "
                  "shot is classified here."))
        return
    by_id = {r.run_id: r for r in trained}
    network_choice.keep_valid("own_use_run", list(by_id), trained[0].run_id)
    run = by_id[st.selectbox(_("Network"), list(by_id), key="own_use_run",
                             format_func=lambda rid: _run_label(by_id[rid]))]
    net = network_choice.run_network(run)
    photo = _shot()
    if photo is not None:
        answer(net, photo)
    downloads(actor, run)


def _run_label(info: runs.RunInfo) -> str:
    return f"{info.run_id} · {train_form.model_title(info.config.model)} · " \
           f"{runs.state_label(info.state)}"


def answer(net, photo: images.LoadedImage) -> None:
    """What `net` makes of `photo`, through the Feature maps page's serving and pictures."""
    done = network_choice.loaded(net, photo.image, fm.preprocessing_for(net.variant,
                                                                        config=net.config))
    if done is None:
        return
    capture = done.capture
    names = fm.class_names_for(net.variant, capture.logits.numel(), net.config)
    ranked = fm.top_k(capture.logits, names, len(names))
    probability = _("probability")
    left, right = st.columns([1, 1])
    left.markdown(_("**It sees: {name}** ({p:.0%})").format(name=ranked[0][1], p=ranked[0][2]))
    left.dataframe(pd.DataFrame([(n, p) for _i, n, p in ranked],
                                columns=[_("class"), probability]), hide_index=True,
                   column_config={probability: st.column_config.ProgressColumn(
                       probability, min_value=0.0, max_value=1.0, format="percent")})
    cam_layers = capture.cam_layers()
    if cam_layers:
        base, heat, _shape = pictures.cam_pictures(done.key, cam_layers[-1], ranked[0][0], done)
        a1, a2 = right.columns(2)
        widgets.image(a1, base, caption=_("input"), output_format="PNG",
                      alt=_("The input photo, as the network sees it"))
        widgets.image(a2, heat, caption=_("Grad-CAM for “{name}” on {layer}").format(
            name=ranked[0][1], layer=cam_layers[-1]), output_format="PNG",
            alt=_("Grad-CAM heatmap: where {layer} raised the score of “{name}”").format(
                layer=cam_layers[-1], name=ranked[0][1]))
    if capture.overview(every_layer=False):
        st.markdown(_("**Its feature maps, layer by layer** (the strongest channel of each)"))
        st.html(pictures.strip_html(done.key, False, "Viridis", capture, i18n.language()))
        spatial = capture.names(spatial_only=True)
        network_choice.keep_valid("own_use_layer", spatial, spatial[0])
        layer = st.selectbox(_("Every channel of layer"), spatial, key="own_use_layer")
        grid, _order = pictures.layer_grid(done.key, layer, "network", "Viridis", True, capture)
        maps = capture[layer].maps
        widgets.image(st, grid, caption=_("{layer}: all {n} channels, {h}×{w} each").format(
            layer=layer, n=maps.shape[0], h=maps.shape[1], w=maps.shape[2]),
                      output_format="JPEG")


def downloads(actor: access.Actor, run: runs.RunInfo) -> None:
    """The trained weights as .pt and ONNX, made on click by functions that check who asks,
    each with the code that loads it."""
    stem = export.file_stem(run.config)
    d1, d2 = st.columns(2)
    d1.download_button(_("Download the weights (.pt)"),
                       functools.partial(export.state_dict_file, run.run_id, actor),
                       file_name=f"{stem}.pt", mime="application/octet-stream",
                       icon=":material/download:", key="own_download_pt", on_click="ignore")
    d1.code(export.loading_code(run.config, "pt"), language="python", wrap_lines=True)
    d2.download_button(_("Download as ONNX"),
                       functools.partial(export.onnx_file, run.run_id, actor),
                       file_name=f"{stem}.onnx", mime="application/octet-stream",
                       icon=":material/download:", key="own_download_onnx", on_click="ignore")
    d2.code(export.loading_code(run.config, "onnx"), language="python", wrap_lines=True)
