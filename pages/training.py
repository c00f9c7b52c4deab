"""Training: pick a zoo network, a dataset and a few knobs, press Train and watch it learn."""

from __future__ import annotations

import functools

import streamlit as st

from explorer import devices, handwriting
from explorer.i18n import N_, _
from explorer.models import zoo
from explorer.training import access, datasets, presets, run_queue, runs
from explorer.training.config import TrainConfig
from explorer.ui import (
    drawing,
    identity,
    run_charts,
    run_progress,
    run_table,
    run_timeline,
    test_galleries,
    train_form,
    widgets,
)

FOLDER = "Image folder on the server…"  # an option value; shown through FOLDER_LABEL
FOLDER_LABEL = N_("Image folder on the server…")


def _show_run(run_id: str | None) -> None:
    st.session_state["training_run"] = run_id
    if run_id:
        st.query_params["run"] = run_id


# --- 1 · the form ------------------------------------------------------------------------------
@widgets.guarded("network and data")
def network_and_data() -> tuple[str, zoo.ModelSpec, bool, str | None, str]:
    """Network, dataset and device choices: (model key, spec, batchnorm, dataset key, device)."""
    layers = train_form.custom_layers()
    models = [*zoo.list_models(), *presets.unlisted_models(), *([zoo.CUSTOM] if layers else [])]
    widgets.url_state("training_model", TrainConfig.default("model"), choices=models)
    widgets.url_state("training_dataset", TrainConfig.default("dataset"),
                      choices=[*datasets.choices(), FOLDER])
    c1, c2, c3 = st.columns(3)
    with c1:
        model_key, spec, batchnorm = train_form.network(models, layers)
    with c2:
        choice = st.selectbox(_("Dataset"), [*datasets.choices(), FOLDER], key="training_dataset",
                              format_func=lambda k: _(FOLDER_LABEL) if k == FOLDER
                              else train_form.dataset_label(k))
        dataset_key = server_folder() if choice == FOLDER else choice
        device = st.selectbox(_("Device"), devices.available_preferences(),
                              key="training_device",
                              help=_("auto: CUDA, else Apple MPS, else CPU. On CUDA the forward "
                                     "pass runs in bf16 autocast with channels_last tensors."))
    with c3:
        train_form.processes()
    return model_key, spec, bool(batchnorm and spec.supports_batchnorm), dataset_key, device


def server_folder() -> str | None:
    """One of the image folders the operator offers (`$EXPLORER_DATA_ROOT`), or None."""
    offered = datasets.server_folders()
    if not offered:
        st.info(_("This server offers no image folders: the person who runs it can set "
                  "EXPLORER_DATA_ROOT to a folder whose sub-folders are ImageFolder datasets."))
        return None
    if st.session_state.get("training_folder") not in offered:
        st.session_state["training_folder"] = offered[0]
    name = st.selectbox(_("Image folder (one sub-folder per class)"), offered,
                        key="training_folder")
    return datasets.folder_key(name) if name in offered else None


dataset_ready = widgets.guarded("dataset")(train_form.dataset_ready)


@widgets.guarded("train button")
def train_button(config: TrainConfig, ready: bool, actor: access.Actor) -> None:
    """Train (one live run per student), with what the queue looks like right now."""
    mine = run_queue.live_runs(actor.owner)
    b1, b2 = st.columns([1, 5])
    limit = run_queue.runs_per_owner()
    busy = len(run_queue.submissions(mine)) >= limit  # an experiment's runs count once
    if b1.button(_("Train"), type="primary", icon=":material/play_arrow:", key="training_train",
                 disabled=not ready or busy):
        try:
            run_dir = run_queue.submit(config, actor.owner)
        except ValueError as err:
            st.error(str(err))
        else:
            _show_run(run_dir.name)
            st.rerun()
    everyone = run_queue.live_runs()
    waiting = sum(r.state == "queued" for r in everyone)
    mine_text = (" " + _("Your run {run} is {state}: Train is back when it ends.").format(
        run=mine[-1].run_id, state=runs.state_label(mine[-1].state)) if busy else "")
    b2.caption(_("{live} run(s) live on this server, {waiting} waiting · {per_device} run(s) at "
                 "a time per device.").format(live=len(everyone), waiting=waiting,
                                              per_device=run_queue.runs_per_device())
               + mine_text)


# --- 2 · the live view ------------------------------------------------------------------------
def _stop(info: runs.RunInfo, actor: access.Actor) -> None:
    """Stop a run; the queue itself checks that `actor` may."""
    try:
        run_queue.request_stop(info.path, actor)
    except access.AccessDenied as err:
        st.error(str(err))


def _stop_button(info: runs.RunInfo, actor: access.Actor) -> None:
    allowed = actor.may_manage(info.config)
    if st.button(_("Stop {run}").format(run=info.run_id), icon=":material/stop:",
                 key="training_stop", disabled=not allowed,
                 help=None if allowed else _("Another student's run: only they or the "
                                             "signed-in teacher may stop it.")):
        _stop(info, actor)


@widgets.guarded("the run")
def run_view(run_id: str, actor: access.Actor) -> bool:
    """The run's status, progress and curves, read from its folder; True while it is live."""
    info = runs.run_info(runs.runs_dir() / run_id)
    cfg = info.config
    st.markdown(_("**Run {run}** · {network} on {data} · {icon} {state}").format(
        run=run_id, network=train_form.model_title(cfg.model),
        data=cfg.dataset_title or cfg.settings.dataset, icon=runs.state_icon(info.state),
        state=runs.state_label(info.state)))
    live = info.state in runs.ACTIVE_STATES
    if live:
        run_progress.readouts(info)
        _stop_button(info, actor)
    elif reason := info.status.shown_reason:
        (st.error if info.state == "failed" else st.info)(reason)
    run_charts.curves(info)
    return live


@st.fragment(run_every=0.5)
@widgets.guarded("the live run")
def live_run(run_id: str, actor: access.Actor) -> None:
    if run_view(run_id, actor) is False:  # None: its section failed and said so
        st.rerun(scope="app")  # the run ended: redraw the page with its results


@widgets.guarded("results")
def results(run_id: str, actor: access.Actor) -> None:
    """Confusion matrix, per-class accuracy, misclassified gallery, checkpoint download."""
    info = runs.run_info(runs.runs_dir() / run_id)
    evaluation = runs.read_evaluation(info.path)
    if info.has_checkpoint:
        # the bytes are made on click, by the function that checks who asks and strips owners
        st.download_button(_("Download checkpoint.pt"),
                           functools.partial(access.checkpoint_download, run_id, actor),
                           file_name=f"{run_id}.pt", mime="application/octet-stream",
                           icon=":material/download:", key=f"training_ckpt_{run_id}",
                           on_click="ignore")
        st.caption(_("`torch.load(path, weights_only=True)` gives a dict with `state_dict`, "
                     "`config` and `epoch`; the Feature maps page can load it."))
    if not evaluation:
        st.caption(_("The confusion matrix and the gallery are computed when a run finishes."))
        return
    run_charts.evaluation(run_id, evaluation)
    if evaluation.misclassified:
        test_galleries.mistakes(info, evaluation.misclassified, evaluation.class_names)


timeline_section = widgets.guarded("training timeline")(run_timeline.section)


@st.fragment
@widgets.guarded("predictions gallery")
def predictions_gallery(run_id: str) -> None:
    """Random test images with true label, prediction and confidence, right and wrong."""
    test_galleries.predicted(runs.run_info(runs.runs_dir() / run_id))


@widgets.guarded("your own handwriting")
def own_handwriting(run_id: str) -> None:
    """The drawing canvas, for a run of single-channel images that has a checkpoint."""
    info = runs.run_info(runs.runs_dir() / run_id)
    if not info.has_checkpoint or not handwriting.takes_drawings(info.config):
        return
    st.markdown(_("**Your own handwriting through this network**"))
    drawing.section(str(info.path), (info.path / "checkpoint.pt").stat().st_mtime,
                    key=f"training_draw_{run_id}")


# --- 3 · runs and comparisons -----------------------------------------------------------------
@widgets.guarded("runs")
def runs_list(actor: access.Actor, shown: str | None) -> None:
    """This student's runs and those the teacher shared (the teacher: everyone's), compare."""
    listed = access.visible_runs(actor)
    mine_live = [r for r in listed if actor.owns(r.config) and r.state in runs.ACTIVE_STATES]
    if mine_live and st.button(_("Stop all my runs"), icon=":material/stop_circle:",
                               key="training_stop_mine"):
        for r in mine_live:
            _stop(r, actor)
    if actor.teacher:
        st.caption(_("You are the teacher: every student's runs are listed. Share a run to "
                     "let the whole class open it."))
    if not listed:
        st.caption(_("No runs of yours yet."))
        return
    run_table.table(listed, actor)
    by_id = {r.run_id: r for r in listed}
    ids = list(by_id)
    pick = st.selectbox(_("Show a run"), ids, index=ids.index(shown) if shown in ids else 0,
                        key="training_pick")
    run_actions(by_id.get(pick, listed[0]), actor)
    compare(listed)


def run_actions(info: runs.RunInfo, actor: access.Actor) -> None:
    """Show, share (the teacher) and delete (its owner or the teacher) the picked run."""
    a1, a2, a3 = st.columns(3)
    if a1.button(_("Show this run"), key="training_show", icon=":material/visibility:"):
        _show_run(info.run_id)
        st.rerun()
    try:
        if actor.teacher:
            shared = runs.is_shared(info.path)
            if a2.button(_("Stop sharing") if shared else _("Share with the class"),
                         key="training_share", icon=":material/share:"):
                access.set_shared(info.run_id, actor, not shared)
                st.rerun()
        if run_table.delete_button(info, actor, a3):
            if st.session_state.get("training_run") == info.run_id:
                st.session_state["training_run"] = None
                st.query_params.pop("run", None)
            st.rerun()
    except access.AccessDenied as err:
        st.error(str(err))


compare = widgets.guarded("compare runs")(run_charts.compare)


# --- the page ---------------------------------------------------------------------------------
widgets.page_header(
    _("Training"),
    _("Train a classic CNN from the model zoo and watch its loss fall and its accuracy climb "
      "while it learns. Each run trains in its own process (several, with DDP), never in the "
      "web server: the whole dataset sits on the training device as one tensor, batches are "
      "shuffled, augmented and normalised there. Switch pages or reload, and this page finds "
      "your run again."),
)
actor = identity.actor()
widgets.keep_widget_state("training", train_form.FORM_KEYS)
if "training_run" not in st.session_state:
    mine = run_queue.live_runs(actor.owner)
    st.session_state["training_run"] = st.query_params.get("run") or (
        mine[-1].run_id if mine else None)

st.subheader(_("1 · Set up a run"))
widgets.guarded("presets")(train_form.preset)(actor.teacher)
chosen = network_and_data()
if chosen is None:  # its section said so; the form below needs the network and data
    st.stop()
model_key, spec, batchnorm, dataset_key, device_pref = chosen
knobs = widgets.guarded("optimiser")(train_form.optimiser)()
aug = widgets.guarded("augmentation")(train_form.augmentation)(dataset_key)
if knobs is None or aug is None:
    st.stop()
widgets.sync_url("training_model", "training_dataset", "training_epochs", "training_batch")
ready = dataset_ready(dataset_key)
config = train_form.config(model_key, dataset_key, batchnorm, device_pref, aug, knobs)
train_button(config, ready, actor)

st.subheader(_("2 · Watch it train"))
run_id = st.session_state.get("training_run")
if run_id:
    try:  # the id may come from the address bar: only a run this student may see opens
        run_id = access.open_run(run_id, actor).run_id
    except access.AccessDenied as err:
        st.warning(str(err))
        run_id = st.session_state["training_run"] = None
        st.query_params.pop("run", None)
if run_id is None:
    st.info(_("Press **Train** above, or pick a past run below."))
elif runs.read_status(runs.runs_dir() / run_id).live:
    live_run(run_id, actor)
    st.fragment(timeline_section, run_every=2.0)(run_id)
else:
    run_view(run_id, actor)
    st.fragment(timeline_section)(run_id)
    results(run_id, actor)
    predictions_gallery(run_id)
    own_handwriting(run_id)

st.subheader(_("3 · Runs"))
anything_live = bool(run_queue.live_runs())  # then the table refreshes its epochs and accuracy
st.fragment(runs_list, run_every=2.0 if anything_live else None)(actor, run_id)
