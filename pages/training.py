"""Training: pick a zoo network, a dataset and a few knobs, press Train and watch it learn."""

from __future__ import annotations

import functools
import time

import streamlit as st

from explorer import devices, handwriting, i18n
from explorer.figures import handwriting as handwriting_figures
from explorer.figures import timeline as timeline_figures
from explorer.figures import training as figures
from explorer.i18n import N_, _
from explorer.models import layer_stack, zoo
from explorer.training import (
    access,
    augment,
    datasets,
    predictions,
    reasons,
    run_queue,
    runs,
    timeline,
)
from explorer.training.config import OPTIMIZERS, SCHEDULES, TrainConfig
from explorer.ui import drawing, identity, widgets

FOLDER = "Image folder on the server…"  # an option value; shown through FOLDER_LABEL
FOLDER_LABEL = N_("Image folder on the server…")
PHASE_NAMES = {"starting": N_("starting"), "loading data": N_("loading data"),
               "compiling": N_("compiling")}
OUTCOME_NAMES = {"all": N_("all"), "right": N_("right"), "wrong": N_("wrong")}
OPTIMISER_LR = {"sgd": 0.05, "adam": 3e-3, "adamw": 3e-3}
BATCHES = [16, 32, 64, 128, 256, 512, 1024]
FORM_KEYS = ("training_model", "training_dataset", "training_folder", "training_device",
             "training_epochs", "training_batch", "training_seed", "training_optimizer",
             "training_lr", "training_schedule", "training_wd", "training_momentum",
             "training_nesterov", "training_smoothing", "training_batchnorm", "training_hflip",
             "training_vflip", "training_rot90", "training_rotation", "training_scale",
             "training_crop", "training_noise", "training_nproc", "training_compile")


def _model_title(key: str) -> str:
    return _(zoo.get_spec(key).title)


def _dataset_label(key: str) -> str:
    return _(datasets.REGISTRY[key].title) if key in datasets.REGISTRY else key


def _on_optimiser_change() -> None:
    st.session_state["training_lr"] = OPTIMISER_LR[st.session_state["training_optimizer"]]


def _show_run(run_id: str | None) -> None:
    st.session_state["training_run"] = run_id
    if run_id:
        st.query_params["run"] = run_id


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _run_label(info: runs.RunInfo) -> str:
    cfg = info.config
    return (f"{cfg.model} · {cfg.settings.dataset}{' · BN' if cfg.batchnorm else ''}"
            f" · aug {cfg.settings.augment.describe()} · {info.run_id[-4:]}")


# --- 1 · the form ------------------------------------------------------------------------------
def custom_layers() -> str:
    """The student's own layer stack (from the Model zoo's builder or the address bar), or ""."""
    if "training_layers" not in st.session_state:
        st.session_state["training_layers"] = st.query_params.get("layers", "")
    try:
        layer_stack.parse(st.session_state["training_layers"])
    except layer_stack.StackError:
        st.session_state["training_layers"] = ""
    return st.session_state["training_layers"]


@widgets.guarded("network and data")
def network_and_data() -> tuple[str, zoo.ModelSpec, bool, str | None, str]:
    """Network, dataset and device choices: (model key, spec, batchnorm, dataset key, device)."""
    layers = custom_layers()
    models = [*zoo.list_models(), *([zoo.CUSTOM] if layers else [])]
    widgets.url_state("training_model", "lenet5", choices=models)
    widgets.url_state("training_dataset", "mnist-mini", choices=[*datasets.choices(), FOLDER])
    c1, c2, c3 = st.columns(3)
    with c1:
        model_key = st.selectbox(_("Network"), models, key="training_model",
                                 format_func=_model_title)
        spec = zoo.get_spec(model_key)
        if model_key == zoo.CUSTOM:
            st.query_params["layers"] = layers
            st.caption(_("The layer stack you built on the Model zoo page (change it there):"))
            st.code(layer_stack.to_code(layer_stack.parse(layers)), language="python",
                    wrap_lines=True)
        else:
            st.caption(_("{paper} · small configuration: {note}").format(
                paper=_(spec.paper), note=_(spec.small_note)))
        batchnorm = st.toggle(_("BatchNorm after every conv"), key="training_batchnorm",
                              disabled=not spec.supports_batchnorm,
                              help=_("Compare a run with and without it in “Compare runs” "
                                     "below."))
    with c2:
        choice = st.selectbox(_("Dataset"), [*datasets.choices(), FOLDER], key="training_dataset",
                              format_func=lambda k: _(FOLDER_LABEL) if k == FOLDER
                              else _dataset_label(k))
        dataset_key = server_folder() if choice == FOLDER else choice
        device = st.selectbox(_("Device"), devices.available_preferences(),
                              key="training_device",
                              help=_("auto: CUDA, else Apple MPS, else CPU. On CUDA the forward "
                                     "pass runs in bf16 autocast with channels_last tensors."))
    with c3:
        processes()
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


def processes() -> None:
    """Epochs, batch, seed, and how many processes train (DDP) and whether to compile."""
    widgets.url_state("training_epochs", 5, bounds=(1, 200))
    widgets.url_state("training_batch", 128, choices=BATCHES)
    widgets.number_input(_("Epochs"), 1, 200, key="training_epochs")
    st.select_slider(_("Batch size"), BATCHES, key="training_batch",
                     help=_("The global batch: with several processes each takes its share."))
    widgets.number_input(_("Seed"), 0, 2**31 - 1, 0, key="training_seed")
    gpus = devices.cuda_count()
    label = (_("GPUs (one process each, of {n})").format(n=gpus) if gpus > 1
             else _("CPU processes (DDP, gloo)"))
    widgets.number_input(label, 1, max(gpus, 2), 1, key="training_nproc",
                         help=_("More than one trains with DistributedDataParallel under "
                                "torchrun: each process keeps its own shard of the data and "
                                "the gradients are averaged after every step."))


@widgets.guarded("optimiser")
def optimiser_knobs() -> dict:
    """Optimiser, learning rate, schedule and regularisation, as TrainConfig fields."""
    st.session_state.setdefault("training_optimizer", "adamw")
    st.session_state.setdefault("training_lr", OPTIMISER_LR["adamw"])
    o1, o2, o3, o4 = st.columns([1, 1.5, 1, 1])  # room for a long rate and "Press Enter"
    optimizer = o1.selectbox(_("Optimiser"), OPTIMIZERS, key="training_optimizer",
                             format_func={"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}.get,
                             on_change=_on_optimiser_change)
    lr = widgets.number_input(_("Learning rate"), 1e-6, 100.0, key="training_lr",
                              format="%.4g",
                              help=_("Peak rate for one-cycle. Try 10 to watch a run diverge."),
                              where=o2)
    schedule_names = {"constant": N_("constant"), "step": N_("step (×0.1 every 2 epochs)"),
                      "cosine": N_("cosine"), "onecycle": N_("one-cycle")}
    schedule = o3.selectbox(_("Schedule"), SCHEDULES, index=3, key="training_schedule",
                            format_func=lambda s: _(schedule_names[s]))
    weight_decay = widgets.number_input(_("Weight decay"), 0.0, 1.0, 5e-4, format="%.4g",
                                        key="training_wd", where=o4)
    p1, p2, p3, p4 = st.columns(4)
    momentum = p1.slider(_("SGD momentum"), 0.0, 0.99, 0.9, key="training_momentum",
                         disabled=optimizer != "sgd")
    nesterov = p2.toggle("Nesterov", key="training_nesterov", disabled=optimizer != "sgd")
    smoothing = p3.slider(_("Label smoothing"), 0.0, 0.3, 0.0, 0.05, key="training_smoothing")
    compile_mode = p4.selectbox(
        "torch.compile", ["auto", "on", "off"], key="training_compile",
        help=_("Compile forward, loss and backward into fused kernels. auto: on CUDA only; on "
               "this kind of CPU it measured slower than eager for LeNet-5."))
    return {"optimizer": optimizer, "lr": float(lr), "schedule": schedule,
            "weight_decay": float(weight_decay), "momentum": float(momentum),
            "nesterov": bool(nesterov), "label_smoothing": float(smoothing),
            "compile": compile_mode}


@widgets.guarded("augmentation")
def augmentation(dataset_key: str | None) -> augment.AugmentConfig:
    """The augmentation switches with a preview of what the network will see."""
    # ?open=augmentation: the Home page's roadmap opens this section directly
    with st.expander(_("Data augmentation: what the network will see"),
                     expanded=st.query_params.get("open") == "augmentation"):
        a1, a2 = st.columns([1, 2])
        with a1:
            hflip = st.checkbox(_("Random horizontal flip"), key="training_hflip")
            vflip = st.checkbox(_("Random vertical flip"), key="training_vflip")
            rot90 = st.checkbox(_("Random multiple of 90°"), key="training_rot90")
            rotation = st.slider(_("Rotation (± degrees)"), 0, 180, 0, key="training_rotation")
            scale = st.slider(_("Zoom range"), 0.5, 2.0, (1.0, 1.0), 0.05, key="training_scale")
            crop = st.slider(_("Random crop: shift up to (pixels)"), 0, 8, 0,
                             key="training_crop")
            noise = st.slider(_("Gaussian noise σ"), 0.0, 0.5, 0.0, 0.01, key="training_noise")
        aug = augment.AugmentConfig(hflip, vflip, float(rotation), rot90, scale[0], scale[1],
                                    crop, noise)
        with a2:
            preview = dataset_key if dataset_key and datasets.is_available(dataset_key) else None
            if preview is None:
                st.info(_("The preview appears once the dataset is on this machine."))
                return aug
            try:
                data = datasets.load(preview)
            except datasets.DatasetUnavailable as err:
                st.warning(str(err))
                return aug
            grid = augment.preview(data.train_x[:6], aug, copies=8,
                                   seed=int(st.session_state.get("training_seed", 0)))
            st.image(augment.grid_image(grid, nrow=8).numpy(), width="stretch",
                     caption=_("Each row: an original training image, then 7 random "
                               "augmentations ({what}). Every sample draws its own.").format(
                         what=aug.describe()))
    return aug


@widgets.guarded("dataset")
def dataset_ready(dataset_key: str | None) -> bool:
    """Whether the dataset is on this machine; offers its download when it is not."""
    if dataset_key is None:
        return False
    if dataset_key.startswith(datasets.FOLDER_PREFIX):
        return datasets.is_available(dataset_key)
    entry = datasets.REGISTRY[dataset_key]
    st.caption(_(entry.note))
    if datasets.is_available(dataset_key):
        return True
    name = entry.short_title
    st.warning(_("{name} is not on this machine yet: its files are expected in {folder}.").format(
        name=name, folder=datasets.shown_folder(dataset_key)))
    if st.button(_("Download {name}").format(name=name), key="training_download"):
        with st.spinner(_("Downloading…")):
            try:
                datasets.load(dataset_key, download=True)
            except datasets.DatasetUnavailable as err:
                st.error(str(err))
            else:
                st.rerun()
    return False


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


def _live_readouts(info: runs.RunInfo) -> None:
    p = info.status.progress
    if info.state == "queued":
        where = run_queue.position(info.run_id)
        st.info(_("Waiting in the queue: number {n}. It starts when a slot of its device is "
                  "free.").format(n=where or "…"))
    elif p.phase in ("starting", "loading data", "compiling"):
        extra = f" {p.elapsed_s:.0f} s" if p.phase == "compiling" else ""
        st.progress(0.0, text=f"{_(PHASE_NAMES[p.phase])}…{extra}")
    else:
        st.progress(p.fraction, text=_(
            "epoch {epoch} of {epochs} · step {step} of {steps} · elapsed {elapsed} · ETA "
            "{eta}").format(epoch=min(p.epoch + 1, p.epochs), epochs=p.epochs, step=p.step,
                            steps=p.total_steps, elapsed=_duration(p.elapsed_s),
                            eta=_duration(p.eta_s)))
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(_("Images per second"), f"{p.images_per_s:,.0f}" if p.images_per_s else "…")
    label = _("Process memory (CPU)") if p.device in ("", "cpu") else _("Device memory")
    m2.metric(label, f"{p.memory_mb:,.0f} MB" if p.memory_mb else "…")
    m3.metric(_("Latest loss"), f"{p.loss:.4f}" if p.loss is not None else "…")
    m4.metric(_("Epochs done"), f"{p.epoch} / {p.epochs or info.config.settings.epochs}")
    notes = [_("{n} processes (DDP)").format(n=p.processes) if p.processes > 1 else "",
             _("compiled in {s:.1f} s").format(s=p.compile_s) if p.compile_s else "",
             reasons.shown_note(p.note)]
    if any(notes):
        st.caption(" · ".join(n for n in notes if n))


@widgets.guarded("the run")
def run_view(run_id: str, actor: access.Actor) -> bool:
    """The run's status, progress and curves, read from its folder; True while it is live."""
    info = runs.run_info(runs.runs_dir() / run_id)
    cfg = info.config
    st.markdown(_("**Run {run}** · {network} on {data} · {icon} {state}").format(
        run=run_id, network=_model_title(cfg.model),
        data=cfg.dataset_title or cfg.settings.dataset, icon=runs.state_icon(info.state),
        state=runs.state_label(info.state)))
    live = info.state in runs.ACTIVE_STATES
    if live:
        _live_readouts(info)
        _stop_button(info, actor)
    elif reason := info.status.shown_reason:
        (st.error if info.state == "failed" else st.info)(reason)
    c = runs.curves(runs.read_metrics(info.path))
    l1, l2 = st.columns(2)
    total = info.status.total_steps
    l1.plotly_chart(figures.loss_figure(c.step, c.loss, c.loss_smooth, run_id, total),
                    key=f"training_loss_{run_id}", config={"displaylogo": False})
    l2.plotly_chart(figures.accuracy_figure(c.epochs, run_id, cfg.settings.epochs),
                    key=f"training_acc_{run_id}", config={"displaylogo": False})
    last = c.last_epoch
    st.caption(_("{steps} steps logged · {epochs} epochs finished").format(
        steps=len(c.step), epochs=len(c.epochs))
               + (_(" · last test accuracy {acc:.2%}").format(acc=last["test_acc"])
                  if last else ""))
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
    names = evaluation.class_names
    st.markdown(_("**Test accuracy {acc:.2%}** on {n:,} test images.").format(
        acc=evaluation.accuracy, n=evaluation.test_images))
    e1, e2 = st.columns(2)
    e1.plotly_chart(figures.confusion_figure(evaluation.confusion, names),
                    key=f"training_confusion_{run_id}")
    e2.plotly_chart(figures.per_class_figure(evaluation.per_class_accuracy, names),
                    key=f"training_perclass_{run_id}")
    mistakes = evaluation.misclassified
    if mistakes:
        gallery(info, mistakes, names)


def gallery(info: runs.RunInfo, mistakes: list[runs.Mistake], names: list[str]) -> None:
    st.markdown(_("**Misclassified test images**, most confident mistakes first"))
    try:
        data = datasets.load(info.config.settings.dataset,
                             folder_size=info.config.settings.folder_size)
    except datasets.DatasetUnavailable as err:
        st.warning(str(err))
        return
    cols = st.columns(12)
    for i, m in enumerate(mistakes[:24]):
        image = augment.grid_image(data.test_x[m.index].unsqueeze(0).float() / 255, nrow=1)
        cols[i % 12].image(image.numpy(), width="stretch",
                           caption=_("{pred} ({confidence:.0%}), true {true}").format(
                               pred=names[m.pred], confidence=m.confidence,
                               true=names[m.true]))


# --- the timeline, predictions and your own handwriting ----------------------------------------
PLAY_FRAME_S = 0.35  # a snapshot on screen while the timeline plays


@st.cache_data(max_entries=8, ttl=3600, show_spinner=False)
def _timeline_curves(run_id: str, metrics_size: int, steps_per_epoch: int, total: int,
                     lang: str) -> dict:
    """The curves behind the timeline marker, rebuilt only when metrics.jsonl grows."""
    c = runs.curves(runs.read_metrics(runs.runs_dir() / run_id))
    with i18n.use_language(lang):
        return timeline_figures.curves_spec(c.step, c.loss_smooth, c.epochs,
                                            steps_per_epoch, total)


@st.cache_data(max_entries=256, ttl=3600, show_spinner=False)
def _snapshot_pictures(run_id: str, step: int, lang: str
                       ) -> tuple[float, list[tuple[str, object]]]:
    """(epoch, [(caption, picture)]) of one snapshot: its filters and each layer's maps."""
    line = timeline.read(runs.runs_dir() / run_id)
    snap = line.snapshot(step)
    pictures = []
    with i18n.use_language(lang):
        if snap["filters"].numel():
            pictures.append((_("{layer}: first-layer filters").format(
                layer=snap["filter_layer"]), timeline_figures.filters_picture(snap["filters"])))
        for layer, maps in snap["maps"].items():
            pictures.append((_("{layer}: maps of the probe image ({c} channels, {h}×{w})").format(
                layer=layer, c=maps.shape[0], h=maps.shape[1], w=maps.shape[2]),
                timeline_figures.maps_picture(maps)))
    return float(snap["epoch"]), pictures


def _timeline_position(key: str, steps: list[int]) -> None:
    """Seed the slider: after Play, where it ended; else stay with the newest snapshot
    while a run is live, unless the student has moved off it."""
    pending = st.session_state.pop(f"{key}_pending", None)
    newest, seen = steps[-1], st.session_state.get(f"{key}_newest")
    if pending in steps:
        st.session_state[key] = pending
    elif st.session_state.get(key) not in steps or st.session_state[key] == seen:
        st.session_state[key] = newest
    st.session_state[f"{key}_newest"] = newest


def _draw_snapshot(run_id: str, line: timeline.Timeline, step: int, spec: dict,
                   playing: bool = False) -> None:
    epoch, pictures = _snapshot_pictures(run_id, step, i18n.language())
    left, right = st.columns([3, 2])
    # a key keeps the chart mounted across scrubs; while playing, each frame is a new chart
    left.plotly_chart(timeline_figures.with_marker(spec, step, epoch),
                      key=None if playing else f"training_timeline_curves_{run_id}",
                      config={"displaylogo": False})
    probe, label = line.probe(), line.meta.get("probe_label")
    if probe is not None:
        names = runs.read_config(line.folder.parent).class_names
        right.image(timeline_figures.probe_picture(probe),
                    caption=_("the probe: test image #{i}, a {name}").format(
                        i=line.meta.get("probe_index", 0),
                        name=names[label] if label is not None and label < len(names) else "?"))
    if pictures:
        right.image(pictures[0][1], caption=pictures[0][0], width="stretch")
    columns = st.columns(max(3, len(pictures) - 1))  # a third of the width at most
    for column, (caption, picture) in zip(columns, pictures[1:], strict=False):
        column.image(picture, caption=caption, width="stretch")


@widgets.guarded("training timeline")
def timeline_section(run_id: str) -> None:
    """Filters and maps as they were at any of about 50 moments of the run, with Play."""
    run_dir = runs.runs_dir() / run_id
    line = timeline.read(run_dir)
    st.markdown(_("**Timeline: how the filters and one test image's maps evolved**"))
    if line is None or not line.steps:
        st.caption(_("This run has no timeline snapshots (yet): they are taken from its first "
                     "step on, about 50 per run."))
        return
    key = f"training_timeline_{run_id}"
    _timeline_position(key, line.steps)
    b1, b2 = st.columns([1, 7])
    play = b1.button(_("Play"), icon=":material/play_arrow:", key=f"{key}_play",
                     help=_("Step through every snapshot from the first"))
    step = b2.select_slider(_("Snapshot"), options=line.steps, key=key,
                            format_func=lambda s: _("step {s}").format(s=s),
                            label_visibility="collapsed")
    metrics = run_dir / "metrics.jsonl"
    spec = _timeline_curves(run_id, metrics.stat().st_size if metrics.exists() else 0,
                            int(line.meta.get("steps_per_epoch", 1)),
                            int(line.meta.get("total_steps", line.steps[-1])), i18n.language())
    frame = st.empty()
    for shown in (line.steps if play else [step]):
        with frame.container():
            _draw_snapshot(run_id, line, shown, spec, playing=play)
        if play:
            time.sleep(PLAY_FRAME_S)
    st.caption(_("{n} snapshots of {steps} steps ({mb:.2f} MB on disk). Filters: blue < 0 < "
                 "red, each on its own scale. Maps: each channel on its own colour scale."
                 ).format(n=len(line.steps), steps=line.meta.get("total_steps", "?"),
                          mb=line.size_bytes() / 2**20) + f" {line.error()}")
    if play:
        st.session_state[f"{key}_pending"] = line.steps[-1]
        st.rerun(scope="fragment")


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def _test_images(dataset: str, folder_size: int, indices: tuple[int, ...]) -> list:
    data = datasets.load(dataset, folder_size=folder_size)
    return [data.test_x[i].numpy() for i in indices]


@st.fragment
@widgets.guarded("predictions gallery")
def predictions_gallery(run_id: str) -> None:
    """Random test images with true label, prediction and confidence, right and wrong."""
    info = runs.run_info(runs.runs_dir() / run_id)
    preds = predictions.read(info.path)
    if preds is None:
        return
    names = list(info.config.class_names)
    st.markdown(_("**Predictions on random test images**: green frame right, red wrong"))
    g1, g2, g3 = st.columns([2, 2, 1])
    wanted = g1.selectbox(_("True class"), [None, *range(len(names))],
                          key="training_gallery_class",
                          format_func=lambda c: _("every class") if c is None else names[c])
    outcome = g2.radio(_("Show"), predictions.OUTCOMES, horizontal=True,
                       key="training_gallery_outcome",
                       format_func=lambda o: _(OUTCOME_NAMES.get(o, o)))
    seed_key = "training_gallery_seed"
    if g3.button(_("Another sample"), icon=":material/shuffle:", key="training_gallery_more"):
        st.session_state[seed_key] = st.session_state.get(seed_key, 0) + 1
    chosen = predictions.sample(preds, true_class=wanted, outcome=outcome, count=24,
                                seed=st.session_state.get(seed_key, 0))
    if not chosen:
        st.caption(_("No test image matches: try another class or outcome."))
        return
    try:
        images = _test_images(info.config.settings.dataset, info.config.settings.folder_size,
                              tuple(chosen))
    except datasets.DatasetUnavailable as err:
        st.warning(str(err))
        return
    cols = st.columns(12)
    for i, (index, image) in enumerate(zip(chosen, images, strict=True)):
        right = bool(preds.right[index])
        verdict = "✓" if right else _("✗ true {name}").format(name=names[preds.true[index]])
        cols[i % 12].image(handwriting_figures.gallery_tile(image, right), width="stretch",
                           caption=f"{names[preds.pred[index]]} "
                                   f"({preds.confidence[index]:.0%}) {verdict}")
    subset = preds.true == wanted if wanted is not None else slice(None)
    st.caption((_("{right:,} of {n:,} test images of this class are predicted right.")
                if wanted is not None else
                _("{right:,} of {n:,} test images of every class are predicted right.")).format(
        right=int(preds.right[subset].sum()), n=int(preds.right[subset].size)))


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
    accuracy = _("test accuracy")
    rows = [{
        _("run"): r.run_id,
        _("experiment"): f"{r.config.experiment} · {r.config.arm}" if r.config.experiment else "",
        _("network"): r.config.model, _("dataset"): r.config.settings.dataset,
        "BatchNorm": r.config.batchnorm, _("augmentation"): r.config.settings.augment.describe(),
        _("optimiser"): f"{r.config.settings.optimizer} lr={r.config.settings.lr:g}",
        _("state"): runs.state_label(r.state),
        _("epochs"): f"{r.status.epochs_done}/{r.config.settings.epochs}",
        accuracy: r.status.test_acc,
        _("mine"): actor.owns(r.config),
        _("shared with the class"): runs.is_shared(r.path),
    } for r in listed]
    st.dataframe(rows, hide_index=True, width="stretch",
                 column_config={accuracy: st.column_config.NumberColumn(format="percent")})
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
        if actor.may_manage(info.config) and info.state not in runs.ACTIVE_STATES and (
                a3.button(_("Delete this run"), key="training_delete",
                          icon=":material/delete:")):
            access.delete_run(info.run_id, actor)
            if st.session_state.get("training_run") == info.run_id:
                st.session_state["training_run"] = None
                st.query_params.pop("run", None)
            st.rerun()
    except access.AccessDenied as err:
        st.error(str(err))


@widgets.guarded("compare runs")
def compare(listed: list[runs.RunInfo]) -> None:
    st.markdown(_("**Compare runs**: overlay their curves (with and without BatchNorm or "
                  "augmentation, sigmoid LeNet vs ReLU LeNet, …)."))
    by_id = {r.run_id: r for r in listed}
    with_epochs = [r.run_id for r in listed if r.status.epochs_done]
    chosen = st.multiselect(_("Runs to compare"), list(by_id), default=with_epochs[:2],
                            key="training_compare")
    if not chosen:
        return
    series = []
    for rid in chosen:
        epochs = runs.curves(runs.read_metrics(by_id[rid].path)).epochs
        if not epochs:
            st.caption(_("{run} has no finished epoch yet.").format(run=rid))
        series.append((_run_label(by_id[rid]), epochs))
    acc, loss = figures.compare_figures(series)
    k1, k2 = st.columns(2)
    k1.plotly_chart(acc, key="training_compare_acc")
    k2.plotly_chart(loss, key="training_compare_loss")


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
widgets.keep_widget_state("training", FORM_KEYS)
if "training_run" not in st.session_state:
    mine = run_queue.live_runs(actor.owner)
    st.session_state["training_run"] = st.query_params.get("run") or (
        mine[-1].run_id if mine else None)

st.subheader(_("1 · Set up a run"))
chosen = network_and_data()
if chosen is None:  # its section said so; the form below needs the network and data
    st.stop()
model_key, spec, batchnorm, dataset_key, device_pref = chosen
knobs = optimiser_knobs()
aug = augmentation(dataset_key)
if knobs is None or aug is None:
    st.stop()
widgets.sync_url("training_model", "training_dataset", "training_epochs", "training_batch")
ready = dataset_ready(dataset_key)
config = TrainConfig(
    model=model_key, dataset=dataset_key or "", batchnorm=batchnorm,
    epochs=int(st.session_state["training_epochs"]),
    batch_size=int(st.session_state["training_batch"]),
    seed=int(st.session_state["training_seed"]), device=device_pref, augment=aug,
    nproc=int(st.session_state["training_nproc"]),
    layers=st.session_state["training_layers"] if model_key == zoo.CUSTOM else "", **knobs,
)
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
