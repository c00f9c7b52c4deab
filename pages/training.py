"""Training: pick a zoo network, a dataset and a few knobs, press Train and watch it learn."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from explorer import devices
from explorer.models import zoo
from explorer.training import augment, datasets, jobs, runs
from explorer.training.config import OPTIMIZERS, SCHEDULES, TrainConfig
from explorer.ui import widgets

widgets.page_header(
    "Training",
    "Train a classic CNN from the model zoo and watch its loss fall and its accuracy climb "
    "while it learns. The whole dataset sits on the training device as one tensor; batches "
    "are shuffled, augmented and normalised there, so the device never waits for Python. "
    "Runs go on in the background: switch pages or reload, and this page finds the run again.",
)

queue = jobs.default_queue()
FOLDER = "Image folder on the server…"
OPTIMISER_LR = {"sgd": 0.05, "adam": 3e-3, "adamw": 3e-3}
STATE_ICON = {"queued": ":material/hourglass_top:", "running": ":material/play_circle:",
              "finished": ":material/check_circle:", "stopped": ":material/stop_circle:",
              "failed": ":material/error:"}


@st.cache_data(show_spinner=False, max_entries=64)
def _model_title(key: str) -> str:
    return zoo.get_spec(key).title


def _dataset_label(key: str) -> str:
    return datasets.REGISTRY[key].title if key in datasets.REGISTRY else key


def _on_optimiser_change() -> None:
    st.session_state["training_lr"] = OPTIMISER_LR[st.session_state["training_optimizer"]]


# --- which run this page shows: the session's, the address bar's, else the newest live one --
if "training_run" not in st.session_state:
    live = queue.active()
    st.session_state["training_run"] = st.query_params.get("run") or (
        live[-1].run_id if live else None)


def _show_run(run_id: str | None) -> None:
    st.session_state["training_run"] = run_id
    if run_id:
        st.query_params["run"] = run_id


# --- 1 · the form ------------------------------------------------------------------------
st.subheader("1 · Set up a run")
widgets.url_state("training_model", "lenet5", choices=zoo.list_models())
widgets.url_state("training_dataset", "mnist-mini", choices=[*datasets.choices(), FOLDER])
widgets.url_state("training_epochs", 5, bounds=(1, 200))
widgets.url_state("training_batch", 128, choices=[16, 32, 64, 128, 256, 512, 1024])
st.session_state.setdefault("training_optimizer", "adamw")
st.session_state.setdefault("training_lr", OPTIMISER_LR["adamw"])

c1, c2, c3 = st.columns(3)
with c1:
    model_key = st.selectbox("Network", zoo.list_models(), key="training_model",
                             format_func=_model_title)
    spec = zoo.get_spec(model_key)
    st.caption(f"{spec.paper} · small configuration: {spec.small_note}")
    batchnorm = st.toggle("BatchNorm after every conv", key="training_batchnorm",
                          disabled=not spec.supports_batchnorm,
                          help="Compare a run with and without it in “Compare runs” below.")
with c2:
    dataset_choice = st.selectbox("Dataset", [*datasets.choices(), FOLDER],
                                  key="training_dataset", format_func=lambda k: (
                                      k if k == FOLDER else _dataset_label(k)))
    if dataset_choice == FOLDER:
        folder = st.text_input("Folder path (one sub-folder per class)", key="training_folder",
                               placeholder="/data/pets with cats/…, dogs/…")
        dataset_key = f"{datasets.FOLDER_PREFIX}{folder.strip()}" if folder.strip() else None
    else:
        dataset_key = dataset_choice
    device_pref = st.selectbox("Device", devices.available_preferences(), key="training_device",
                               help="auto: CUDA, else Apple MPS, else CPU. On CUDA the forward "
                               "pass runs in bf16 autocast with channels_last tensors.")
with c3:
    epochs = st.number_input("Epochs", 1, 200, key="training_epochs")
    batch = st.select_slider("Batch size", [16, 32, 64, 128, 256, 512, 1024], key="training_batch")
    seed = st.number_input("Seed", 0, 2**31 - 1, 0, key="training_seed")

o1, o2, o3, o4 = st.columns(4)
optimizer = o1.selectbox("Optimiser", OPTIMIZERS, key="training_optimizer",
                         format_func={"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}.get,
                         on_change=_on_optimiser_change)
lr = o2.number_input("Learning rate", 1e-6, 100.0, key="training_lr", format="%.4g",
                     help="Peak rate for one-cycle. Try 10 to watch a run diverge.")
schedule = o3.selectbox("Schedule", SCHEDULES, index=3, key="training_schedule",
                        format_func={"constant": "constant", "step": "step (×0.1 every 2 "
                                     "epochs)", "cosine": "cosine", "onecycle": "one-cycle"}.get)
weight_decay = o4.number_input("Weight decay", 0.0, 1.0, 5e-4, format="%.4g",
                               key="training_wd")
p1, p2, p3 = st.columns(3)
momentum = p1.slider("SGD momentum", 0.0, 0.99, 0.9, key="training_momentum",
                     disabled=optimizer != "sgd")
nesterov = p2.toggle("Nesterov", key="training_nesterov", disabled=optimizer != "sgd")
smoothing = p3.slider("Label smoothing", 0.0, 0.3, 0.0, 0.05, key="training_smoothing")

# --- augmentation with its preview ---------------------------------------------------------
with st.expander("Augmentation: what the network will see", expanded=False):
    a1, a2 = st.columns([1, 2])
    with a1:
        hflip = st.checkbox("Random horizontal flip", key="training_hflip")
        vflip = st.checkbox("Random vertical flip", key="training_vflip")
        rot90 = st.checkbox("Random multiple of 90°", key="training_rot90")
        rotation = st.slider("Rotation (± degrees)", 0, 180, 0, key="training_rotation")
        scale = st.slider("Zoom range", 0.5, 2.0, (1.0, 1.0), 0.05, key="training_scale")
        crop = st.slider("Random crop: shift up to (pixels)", 0, 8, 0, key="training_crop")
        noise = st.slider("Gaussian noise σ", 0.0, 0.5, 0.0, 0.01, key="training_noise")
    aug = augment.AugmentConfig(hflip, vflip, float(rotation), rot90, scale[0], scale[1],
                                crop, noise)
    with a2:
        preview_key = dataset_key if dataset_key and datasets.is_available(dataset_key) else None
        if preview_key is None:
            st.info("The preview appears once the dataset is on this machine.")
        else:
            try:
                data = datasets.load(preview_key)
            except datasets.DatasetUnavailable as err:
                st.warning(str(err))
            else:
                grid = augment.preview(data.train_x[:6], aug, copies=8, seed=int(seed))
                st.image(augment.grid_image(grid, nrow=8).numpy(), width="stretch",
                         caption="Each row: an original training image, then 7 random "
                         f"augmentations ({aug.describe()}). Every sample draws its own.")
widgets.sync_url("training_model", "training_dataset", "training_epochs", "training_batch")

# --- dataset availability and the Train button ----------------------------------------------
ready = dataset_key is not None
if dataset_key and not dataset_key.startswith(datasets.FOLDER_PREFIX):
    entry = datasets.REGISTRY[dataset_key]
    st.caption(entry.note)
    if not datasets.is_available(dataset_key):
        ready = False
        st.warning(f"{entry.title.split(' (')[0]} is not on this machine yet: its files are "
                   f"expected in {datasets.expected_folder(dataset_key)}.")
        if st.button(f"Download {entry.title.split(' (')[0]}", key="training_download"):
            with st.spinner("Downloading…"):
                try:
                    datasets.load(dataset_key, download=True)
                except datasets.DatasetUnavailable as err:
                    st.error(str(err))
                else:
                    st.rerun()

config = TrainConfig(
    model=model_key, dataset=dataset_key or "", batchnorm=bool(batchnorm and
                                                                spec.supports_batchnorm),
    epochs=int(epochs), batch_size=int(batch), optimizer=optimizer, lr=float(lr),
    momentum=float(momentum), nesterov=bool(nesterov), weight_decay=float(weight_decay),
    schedule=schedule, label_smoothing=float(smoothing), seed=int(seed), device=device_pref,
    augment=aug,
)
b1, b2 = st.columns([1, 5])
if b1.button("Train", type="primary", icon=":material/play_arrow:", disabled=not ready,
             key="training_train"):
    try:
        job = queue.submit(config)
    except ValueError as err:
        st.error(str(err))
    else:
        _show_run(job.run_id)
waiting = [j for j in queue.active() if j.state == "queued"]
b2.caption(f"{len(queue.active())} run(s) live on this server, {len(waiting)} waiting · "
           f"{queue.per_device} run(s) at a time per device.")


# --- 2 · the live view ----------------------------------------------------------------------
def _loss_figure(c: dict, run_id: str) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(x=c["step"], y=c["loss"], mode="lines", name="loss per step",
                    line={"width": 1, "color": "rgba(99,110,250,0.35)"})
    fig.add_scatter(x=c["step"], y=c["loss_smooth"], mode="lines", name="smoothed",
                    line={"width": 2, "color": "#636efa"})
    fig.update_layout(title="Training loss per step", xaxis_title="step", yaxis_title="loss",
                      height=320, margin={"t": 40, "b": 40, "l": 50, "r": 10},
                      uirevision=run_id, legend={"orientation": "h", "y": -0.25})
    return fig


def _accuracy_figure(epochs: list[dict], run_id: str) -> go.Figure:
    fig = go.Figure()
    x = [e["epoch"] for e in epochs]
    fig.add_scatter(x=x, y=[e["train_acc"] for e in epochs], mode="lines+markers", name="train")
    fig.add_scatter(x=x, y=[e["test_acc"] for e in epochs], mode="lines+markers", name="test")
    fig.update_layout(title="Accuracy per epoch", xaxis_title="epoch", yaxis_title="accuracy",
                      yaxis_tickformat=".0%", height=320, uirevision=run_id, xaxis_dtick=1,
                      margin={"t": 40, "b": 40, "l": 50, "r": 10},
                      legend={"orientation": "h", "y": -0.25})
    if not epochs:  # before the first epoch ends, show an honest 0–100% frame
        fig.update_layout(yaxis_range=[0, 1], xaxis_range=[0.5, 1.5])
    return fig


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _run_view(run_id: str) -> bool:
    """Draw the run's status, progress and curves; True while it is still live."""
    info = runs.run_info(runs.runs_dir() / run_id)
    job = queue.get(run_id)
    state = job.state if job else info.state
    cfg = info.config
    st.markdown(f"**Run {run_id}** · {_model_title(cfg.model)} on "
                f"{cfg.dataset_title or cfg.settings.dataset} · "
                f"{STATE_ICON.get(state, '')} {state}")
    if job and job.active:
        p = job.progress
        position = queue.queue_position(run_id)
        if position:
            st.info(f"Waiting in the queue: number {position}. It starts when a run on "
                    f"{job.device} ends.")
        else:
            st.progress(p.fraction, text=f"epoch {min(p.epoch + 1, p.epochs)} of {p.epochs} · "
                        f"step {p.step} of {p.total_steps} · elapsed {_duration(p.elapsed_s)}"
                        f" · ETA {_duration(p.eta_s)}")
        m1, m2, m3, m4 = st.columns(4)
        m1.metric("Images per second", f"{p.images_per_s:,.0f}" if p.images_per_s else "…")
        memory_label = "Device memory" if job.device != "cpu" else "Process memory (CPU)"
        m2.metric(memory_label, f"{p.memory_mb:,.0f} MB" if p.memory_mb else "…")
        m3.metric("Latest loss", f"{p.loss:.4f}" if p.loss is not None else "…")
        m4.metric("Epochs done", f"{p.epoch} / {p.epochs}")
        if st.button("Stop", icon=":material/stop:", key="training_stop"):
            queue.stop(run_id)
    else:
        status = info.status
        if status.get("reason"):
            (st.error if state == "failed" else st.info)(status["reason"])
    c = runs.curves(runs.read_metrics(info.path))
    l1, l2 = st.columns(2)
    l1.plotly_chart(_loss_figure(c, run_id), key=f"training_loss_{run_id}",
                    config={"displaylogo": False})
    l2.plotly_chart(_accuracy_figure(c["epochs"], run_id), key=f"training_acc_{run_id}",
                    config={"displaylogo": False})
    last = c["epochs"][-1] if c["epochs"] else None
    st.caption(f"{len(c['step'])} steps logged · {len(c['epochs'])} epochs finished"
               + (f" · last test accuracy {last['test_acc']:.2%}" if last else ""))
    return bool(job and job.active)


@st.fragment(run_every=0.5)
def live_run(run_id: str) -> None:
    if not _run_view(run_id):
        st.rerun(scope="app")  # the run ended: redraw the page with its results


def results(run_id: str) -> None:
    """Confusion matrix, per-class accuracy, misclassified gallery, checkpoint download."""
    info = runs.run_info(runs.runs_dir() / run_id)
    evaluation = runs.read_evaluation(info.path)
    if info.has_checkpoint:
        st.download_button("Download checkpoint.pt", (info.path / "checkpoint.pt").read_bytes(),
                           file_name=f"{run_id}.pt", mime="application/octet-stream",
                           icon=":material/download:", key=f"training_ckpt_{run_id}",
                           on_click="ignore")
        st.caption("`torch.load(path, weights_only=True)` gives a dict with `state_dict`, "
                   "`config` and `epoch`; the Feature maps page can load it.")
    if not evaluation:
        st.caption("The confusion matrix and the gallery are computed when a run finishes.")
        return
    names = evaluation["class_names"]
    st.markdown(f"**Test accuracy {evaluation['accuracy']:.2%}** on "
                f"{sum(map(sum, evaluation['confusion'])):,} test images.")
    e1, e2 = st.columns(2)
    heat = go.Figure(go.Heatmap(z=evaluation["confusion"], x=names, y=names,
                                colorscale="Blues", texttemplate="%{z}",
                                hovertemplate="true %{y} → predicted %{x}: %{z}<extra></extra>"))
    heat.update_layout(title="Confusion matrix", xaxis_title="predicted", yaxis_title="true",
                       yaxis_autorange="reversed", height=420, xaxis_type="category",
                       yaxis_type="category", margin={"t": 40, "b": 40, "l": 60, "r": 10})
    e1.plotly_chart(heat, key=f"training_confusion_{run_id}")
    bars = go.Figure(go.Bar(x=names, y=evaluation["per_class_accuracy"],
                            text=[f"{a:.1%}" for a in evaluation["per_class_accuracy"]]))
    bars.update_layout(title="Accuracy per class", yaxis_tickformat=".0%", height=420,
                       xaxis_type="category", margin={"t": 40, "b": 40, "l": 50, "r": 10})
    e2.plotly_chart(bars, key=f"training_perclass_{run_id}")
    mistakes = evaluation["misclassified"]
    if not mistakes:
        return
    st.markdown("**Misclassified test images**, most confident mistakes first")
    try:
        data = datasets.load(info.config.settings.dataset,
                             folder_size=info.config.settings.folder_size)
    except datasets.DatasetUnavailable as err:
        st.warning(str(err))
        return
    cols = st.columns(12)
    for i, m in enumerate(mistakes[:24]):
        image = augment.grid_image(data.test_x[m["index"]].unsqueeze(0).float() / 255, nrow=1)
        cols[i % 12].image(image.numpy(), width="stretch",
                           caption=f"{names[m['pred']]} ({m['confidence']:.0%}), "
                                   f"true {names[m['true']]}")


st.subheader("2 · Watch it train")
run_id = st.session_state.get("training_run")
if run_id and not (runs.runs_dir() / run_id / "config.json").exists():
    st.warning(f"There is no run {run_id!r} in {runs.runs_dir()}.")
    run_id = None
if run_id is None:
    st.info("Press **Train** above, or pick a past run below.")
else:
    job = queue.get(run_id)
    if job and job.active:
        live_run(run_id)
    else:
        _run_view(run_id)
        results(run_id)

# --- 3 · past runs and comparisons ----------------------------------------------------------
st.subheader("3 · Runs")
all_runs = runs.list_runs()
if not all_runs:
    st.caption(f"No runs yet in {runs.runs_dir()}.")
else:
    rows = [{
        "run": r.run_id, "network": r.config.model, "dataset": r.config.settings.dataset,
        "BatchNorm": r.config.batchnorm,
        "augmentation": r.config.settings.augment.describe(),
        "optimiser": f"{r.config.settings.optimizer} lr={r.config.settings.lr:g}",
        "state": r.state,
        "epochs": f"{r.status.get('epochs_done', 0)}/{r.config.settings.epochs}",
        "test accuracy": r.status.get("test_acc"),
    } for r in all_runs]
    st.dataframe(rows, hide_index=True, width="stretch",
                 column_config={"test accuracy": st.column_config.NumberColumn(format="percent")})
    ids = [r.run_id for r in all_runs]
    pick = st.selectbox("Show a run", ids, index=ids.index(run_id) if run_id in ids else 0,
                        key="training_pick")
    if st.button("Show this run", key="training_show"):
        _show_run(pick)
        st.rerun()

    st.markdown("**Compare runs**: overlay their curves (with and without BatchNorm or "
                "augmentation, sigmoid LeNet vs ReLU LeNet, …).")
    with_epochs = [r.run_id for r in all_runs if r.status.get("epochs_done")]
    chosen = st.multiselect("Runs to compare", ids, default=with_epochs[:2],
                            key="training_compare")
    if chosen:
        acc, loss = go.Figure(), go.Figure()
        for rid in chosen:
            info = next(r for r in all_runs if r.run_id == rid)
            label = (f"{info.config.model} · {info.config.settings.dataset}"
                     f"{' · BN' if info.config.batchnorm else ''}"
                     f" · aug {info.config.settings.augment.describe()}"
                     f" · {rid[-4:]}")
            ep = runs.curves(runs.read_metrics(info.path))["epochs"]
            if not ep:
                st.caption(f"{rid} has no finished epoch yet.")
                continue
            x = [e["epoch"] for e in ep]
            acc.add_scatter(x=x, y=[e["test_acc"] for e in ep], mode="lines+markers", name=label)
            loss.add_scatter(x=x, y=[e["train_loss"] for e in ep], mode="lines+markers",
                             name=label)
        acc.update_layout(title="Test accuracy per epoch", yaxis_tickformat=".0%", height=360,
                          xaxis_title="epoch", xaxis_dtick=1, uirevision="compare",
                          legend={"orientation": "h", "y": -0.3})
        loss.update_layout(title="Training loss per epoch", height=360, xaxis_title="epoch",
                           xaxis_dtick=1,
                           uirevision="compare", legend={"orientation": "h", "y": -0.3})
        k1, k2 = st.columns(2)
        k1.plotly_chart(acc, key="training_compare_acc")
        k2.plotly_chart(loss, key="training_compare_loss")
