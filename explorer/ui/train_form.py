"""The Training form's knobs: epochs, batch, seed and processes; the optimiser and its
schedule and regularisation; the augmentation switches with a preview. Defaults, ranges and
choices come from `TrainConfig` (its fields' `Knob`s), so the form offers what a run accepts.
"""

from __future__ import annotations

import streamlit as st

from explorer import devices
from explorer.i18n import N_, _
from explorer.models import layer_stack, zoo
from explorer.training import augment, datasets, presets
from explorer.training.config import OPTIMISER_LR, OPTIMIZERS, SCHEDULES, TrainConfig
from explorer.ui import widgets

SCHEDULE_NAMES = {"constant": N_("constant"), "step": N_("step (×0.1 every 2 epochs)"),
                  "cosine": N_("cosine"), "onecycle": N_("one-cycle")}
OPTIMISER_NAMES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}
#: The form's widgets, kept across page switches.
FORM_KEYS = ("training_model", "training_dataset", "training_folder", "training_device",
             "training_epochs", "training_batch", "training_seed", "training_optimizer",
             "training_lr", "training_schedule", "training_wd", "training_momentum",
             "training_nesterov", "training_smoothing", "training_batchnorm", "training_hflip",
             "training_vflip", "training_rot90", "training_rotation", "training_scale",
             "training_crop", "training_noise", "training_nproc", "training_compile",
             "training_preset")


def preset_state(preset: presets.Preset) -> dict[str, object]:
    """The form's widget values that set up `preset`'s run."""
    c, a = preset.config, preset.config.augment
    return {"training_model": c.model, "training_dataset": c.dataset,
            "training_batchnorm": c.batchnorm, "training_epochs": c.epochs,
            "training_batch": c.batch_size, "training_seed": c.seed,
            "training_optimizer": c.optimizer, "training_lr": c.lr,
            "training_schedule": c.schedule, "training_wd": c.weight_decay,
            "training_momentum": c.momentum, "training_nesterov": c.nesterov,
            "training_smoothing": c.label_smoothing, "training_compile": c.compile,
            "training_hflip": a.hflip, "training_vflip": a.vflip, "training_rot90": a.rot90,
            "training_rotation": int(a.rotation), "training_scale": (a.scale_min, a.scale_max),
            "training_crop": a.crop_padding, "training_noise": a.noise}


#: A preset's settings the form has no widget for: they hold while its network is chosen.
PRESET_ONLY = ("bias_lr_scale", "test_flips")


def _apply_preset(key: str) -> None:
    st.session_state.update(preset_state(presets.PRESETS[key]), training_preset=key)


def preset_extras(model_key: str) -> dict[str, object]:
    """The chosen preset's settings beyond the form's, while its network is still chosen."""
    chosen = presets.PRESETS.get(st.session_state.get("training_preset", ""))
    if chosen is None or chosen.config.model != model_key:
        return {}
    return {name: getattr(chosen.config, name) for name in PRESET_ONLY}


def preset(teacher: bool) -> None:
    """The ready-made runs this machine can train (a teacher's speed demo): one click fills
    the form below, which stays editable. The teacher learns what it takes when none is."""
    offered = presets.available()
    if not offered and teacher:
        st.caption(_("Speed demo: the airbench94 preset (CIFAR-10 to 94% in seconds on a GPU) "
                     "is offered here once CIFAR-10 is on this machine: choose CIFAR-10 as the "
                     "dataset below and download it."))
    for choice in offered:
        b1, b2 = st.columns([2, 5])
        b1.button(_(choice.title), key=f"training_preset_{choice.key}",
                  icon=":material/bolt:", on_click=_apply_preset, args=(choice.key,),
                  width="stretch")
        note = _(choice.description)
        if not devices.cuda_count():
            note += " " + _("There is no GPU here: on this CPU each of its epochs takes minutes.")
        b2.caption(note)


def custom_layers() -> str:
    """The student's own layer stack (from the Model zoo's builder or the address bar), or ""."""
    if "training_layers" not in st.session_state:
        st.session_state["training_layers"] = st.query_params.get("layers", "")
    try:
        layer_stack.parse(st.session_state["training_layers"])
    except layer_stack.StackError:
        st.session_state["training_layers"] = ""
    return st.session_state["training_layers"]


def model_title(key: str) -> str:
    """A zoo network's title in the current language."""
    return _(zoo.get_spec(key).title)


def dataset_label(key: str) -> str:
    """A registered dataset's title in the current language (a folder key as it is)."""
    return _(datasets.REGISTRY[key].title) if key in datasets.REGISTRY else key


def network(models: list[str], layers: str) -> tuple[str, zoo.ModelSpec, bool]:
    """The network, what it is, and the BatchNorm switch: (key, spec, batchnorm as chosen)."""
    model_key = st.selectbox(_("Network"), models, key="training_model",
                             format_func=model_title)
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
                          help=_("Compare a run with and without it in “Compare runs” below."))
    return model_key, spec, bool(batchnorm)


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


def _number(label: str, name: str, key: str, **kwargs) -> float:
    """A number input over `TrainConfig` setting `name`: its range, and its default unless
    the widget is seeded elsewhere (`value=None`)."""
    knob = TrainConfig.knob(name)
    kwargs.setdefault("value", TrainConfig.default(name))
    return widgets.number_input(label, knob.low, knob.high, key=key, **kwargs)


def _slider(where, label: str, name: str, key: str, **kwargs) -> float:
    knob = TrainConfig.knob(name)
    return where.slider(label, knob.low, knob.high, TrainConfig.default(name), knob.step,
                        key=key, **kwargs)


def processes() -> None:
    """Epochs, batch, seed, and how many processes train (DDP)."""
    widgets.url_state("training_epochs", TrainConfig.default("epochs"),
                      bounds=(TrainConfig.knob("epochs").low, TrainConfig.knob("epochs").high))
    batches = list(TrainConfig.knob("batch_size").choices)
    widgets.url_state("training_batch", TrainConfig.default("batch_size"), choices=batches)
    _number(_("Epochs"), "epochs", "training_epochs", value=None)
    st.select_slider(_("Batch size"), batches, key="training_batch",
                     help=_("The global batch: with several processes each takes its share."))
    _number(_("Seed"), "seed", "training_seed")
    gpus = devices.cuda_count()
    label = (_("GPUs (one process each, of {n})").format(n=gpus) if gpus > 1
             else _("CPU processes (DDP, gloo)"))
    widgets.number_input(label, 1, max(gpus, 2), TrainConfig.default("nproc"),
                         key="training_nproc",
                         help=_("More than one trains with DistributedDataParallel under "
                                "torchrun: each process keeps its own shard of the data and "
                                "the gradients are averaged after every step."))


def config(model_key: str, dataset_key: str | None, batchnorm: bool, device: str,
           aug: augment.AugmentConfig, knobs: dict) -> TrainConfig:
    """The run the form describes: these choices plus epochs, batch, seed, processes and the
    layer stack as the form's widgets hold them."""
    state = st.session_state
    return TrainConfig(
        model=model_key, dataset=dataset_key or "", batchnorm=batchnorm,
        epochs=int(state["training_epochs"]), batch_size=int(state["training_batch"]),
        seed=int(state["training_seed"]), device=device, augment=aug,
        nproc=int(state["training_nproc"]),
        layers=state["training_layers"] if model_key == zoo.CUSTOM else "", **knobs,
        **preset_extras(model_key))


def _on_optimiser_change() -> None:
    if (lr := OPTIMISER_LR.get(st.session_state["training_optimizer"])) is not None:
        st.session_state["training_lr"] = lr  # (not for a forged value; offered() drops it)


def optimiser() -> dict:
    """Optimiser, learning rate, schedule and regularisation, as TrainConfig fields."""
    widgets.offered("training_optimizer", OPTIMIZERS)
    st.session_state.setdefault("training_optimizer", TrainConfig.default("optimizer"))
    st.session_state.setdefault("training_lr", OPTIMISER_LR[TrainConfig.default("optimizer")])
    # the default through the session, not index=: a preset also sets it through the session
    # (Streamlit warned of a widget "created with a default value" and set in Session State)
    st.session_state.setdefault("training_schedule", TrainConfig.default("schedule"))
    o1, o2, o3, o4 = st.columns([1, 1.5, 1, 1])  # room for a long rate and "Press Enter"
    optimizer = o1.selectbox(_("Optimiser"), OPTIMIZERS, key="training_optimizer",
                             format_func=OPTIMISER_NAMES.get, on_change=_on_optimiser_change)
    lr = _number(_("Learning rate"), "lr", "training_lr", value=None, format="%.4g",
                 help=_("Peak rate for one-cycle. Try 10 to watch a run diverge."), where=o2)
    schedule = o3.selectbox(_("Schedule"), SCHEDULES, key="training_schedule",
                            format_func=lambda s: _(SCHEDULE_NAMES[s]))
    weight_decay = _number(_("Weight decay"), "weight_decay", "training_wd", format="%.4g",
                           where=o4)
    p1, p2, p3, p4 = st.columns(4)
    momentum = _slider(p1, _("SGD momentum"), "momentum", "training_momentum",
                       disabled=optimizer != "sgd")
    nesterov = p2.toggle("Nesterov", key="training_nesterov", disabled=optimizer != "sgd")
    smoothing = _slider(p3, _("Label smoothing"), "label_smoothing", "training_smoothing")
    compile_mode = p4.selectbox(
        "torch.compile", ["auto", "on", "off"], key="training_compile",
        help=_("Compile forward, loss and backward into fused kernels. auto: on CUDA only; on "
               "this kind of CPU it measured slower than eager for LeNet-5."))
    return {"optimizer": optimizer, "lr": float(lr), "schedule": schedule,
            "weight_decay": float(weight_decay), "momentum": float(momentum),
            "nesterov": bool(nesterov), "label_smoothing": float(smoothing),
            "compile": compile_mode}


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
            widgets.image(st, augment.grid_image(grid, nrow=8).numpy(), width="stretch",
                          caption=_("Each row: an original training image, then 7 random "
                                    "augmentations ({what}). Every sample draws its "
                                    "own.").format(what=aug.describe()))
    return aug
