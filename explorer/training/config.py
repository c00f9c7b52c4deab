"""What a run is: the settings a student chose (`TrainConfig`) and the run as queued (`RunConfig`).

`RunConfig` is the one contract between everything that touches a run: the page and the CLI
create it, the run folder stores it as `config.json`, the worker trains from it, the
checkpoint carries it, and the Feature maps page rebuilds the model from it. It is frozen and
round-trips through JSON (`to_dict` / `from_dict`), so a run reads the same in any process.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from explorer.i18n import _
from explorer.training.augment import AugmentConfig

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine", "onecycle")
COMPILE_MODES = ("auto", "on", "off")
BATCH_SIZES = (16, 32, 64, 128, 256, 512, 1024)  # the Training form's choices
#: The learning rate the Training form offers with each optimiser.
OPTIMISER_LR = {"sgd": 0.05, "adam": 3e-3, "adamw": 3e-3}


@dataclass(frozen=True)
class Knob:
    """The range a setting may take (the form's widget offers it; `validate` checks it unless
    `form_only`), and the form's step and choices."""

    low: float
    high: float
    step: float | None = None
    choices: tuple[Any, ...] = ()
    #: A range only the form keeps to (the CLI and the experiments may go beyond it, e.g. a
    #: learning rate of 1e-12 that leaves the weights where they start); `validate` keeps its
    #: own rule for the setting then.
    form_only: bool = False


def _knob(default: Any, low: float, high: float, step: float | None = None,
          choices: tuple[Any, ...] = (), form_only: bool = False) -> Any:
    return field(default=default,
                 metadata={"knob": Knob(low, high, step, choices, form_only)})


@dataclass(frozen=True)
class TrainConfig:
    """Everything a student chooses for a run."""

    model: str = "lenet5"
    dataset: str = "mnist-mini"
    batchnorm: bool = False
    epochs: int = _knob(5, 1, 200)
    # the global batch: with N processes each takes batch_size / N
    batch_size: int = _knob(128, 1, 2**31 - 1, choices=BATCH_SIZES)
    optimizer: str = "adamw"
    lr: float = _knob(OPTIMISER_LR["adamw"], 1e-6, 100.0, form_only=True)
    momentum: float = _knob(0.9, 0.0, 0.99)  # SGD only
    nesterov: bool = False  # SGD only
    weight_decay: float = _knob(5e-4, 0.0, 1.0)
    schedule: str = "onecycle"
    step_epochs: int = 2  # "step": multiply the learning rate by step_gamma every step_epochs
    step_gamma: float = 0.1
    label_smoothing: float = _knob(0.0, 0.0, 0.3, step=0.05, form_only=True)
    seed: int = _knob(0, 0, 2**31 - 1)
    device: str = "auto"
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    image_size: int | None = None  # resize inputs to size×size on the device; None keeps them
    folder_size: int = 32  # decode size for image-folder datasets
    amp: bool = True  # bf16 autocast on CUDA
    channels_last: bool = True  # on CUDA only (slower on the CPU, see engine's docstring)
    compile: str = "auto"  # torch.compile the training step: auto = on CUDA only
    nproc: int = _knob(1, 1, 1024)  # worker processes (DDP ranks) on this machine
    readouts_per_s: float = 4.0
    misclassified: int = 48  # how many misclassified test images the evaluation keeps
    train_limit: int = 0  # train on a seeded subset of this many images; 0 keeps them all
    test_limit: int = 0  # evaluate on a seeded subset of this many test images; 0: all
    eval_train: bool = False  # also score the un-augmented training images every epoch
    # airbench's tricks: biases (and BatchNorm's shifts) at this many times the learning rate,
    # with weight decay ÷ as much (the same decay per step); test images scored with their mirror
    bias_lr_scale: float = 1.0
    test_flips: bool = False
    # fine-tuning (d2l's chapter): start from the network's ImageNet weights with a new head
    # for this dataset's classes; the backbone frozen, or learning at lr × backbone_lr_scale
    pretrained: bool = False
    freeze_backbone: bool = False
    backbone_lr_scale: float = 0.1
    layers: str = ""  # model "custom": the layer stack, as `explorer.models.layer_stack` writes it

    def validate(self) -> None:
        """Raise ValueError with one sentence for settings that cannot train."""
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(_("Unknown optimiser {name!r}: use one of {choices}.").format(
                name=self.optimizer, choices=OPTIMIZERS))
        if self.schedule not in SCHEDULES:
            raise ValueError(_("Unknown schedule {name!r}: use one of {choices}.").format(
                name=self.schedule, choices=SCHEDULES))
        if self.compile not in COMPILE_MODES:
            raise ValueError(_("Unknown compile mode {name!r}: use one of {choices}.").format(
                name=self.compile, choices=COMPILE_MODES))
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(_("Epochs and batch size must be at least 1."))
        if self.nproc < 1:
            raise ValueError(_("A run needs at least one process."))
        if self.batch_size < self.nproc:
            raise ValueError(_("A batch of {batch} cannot be split over {nproc} processes: each "
                               "needs at least one image.").format(batch=self.batch_size,
                                                                   nproc=self.nproc))
        if not self.lr > 0:
            raise ValueError(_("The learning rate must be positive."))
        if not 0 < self.backbone_lr_scale <= 1:
            raise ValueError(_("The backbone's learning-rate factor must be in (0, 1]."))
        if not self.bias_lr_scale > 0:
            raise ValueError(_("The biases' learning-rate factor must be positive."))
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(_("Label smoothing must be in [0, 1)."))
        if self.train_limit < 0 or self.test_limit < 0:
            raise ValueError(_("A subset size cannot be negative (0 keeps every image)."))
        for f in fields(self):
            knob, value = f.metadata.get("knob"), getattr(self, f.name)
            if knob is not None and not knob.form_only and not knob.low <= value <= knob.high:
                raise ValueError(_("{name} must be between {low:g} and {high:g}.").format(
                    name=f.name, low=knob.low, high=knob.high))
        if self.model == "custom" and not self.layers.strip():
            raise ValueError(_("Your own network has no layers yet: build it on the Model zoo "
                               "page first."))

    @classmethod
    def knob(cls, name: str) -> Knob:
        """The declared range (and form step and choices) of setting `name`."""
        return next(f.metadata["knob"] for f in fields(cls) if f.name == name)

    @classmethod
    def default(cls, name: str) -> Any:
        """Setting `name`'s default."""
        return next(f.default for f in fields(cls) if f.name == name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """The settings in `data`; unknown keys are ignored, missing ones take defaults."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if isinstance(kwargs.get("augment"), dict):
            kwargs["augment"] = AugmentConfig(**kwargs["augment"])
        return cls(**kwargs)


@dataclass(frozen=True)
class RunConfig:
    """A run as queued: the settings plus what its dataset resolved, and who started it."""

    run_id: str
    settings: TrainConfig
    variant: str  # the zoo configuration: "mnist" (1 channel) or "cifar" (3 channels)
    in_channels: int
    height: int
    width: int
    num_classes: int
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    dataset_title: str = ""
    train_size: int = 0
    test_size: int = 0
    created: float = 0.0
    owner: str = ""  # the browser (or "cli") that started the run
    experiment: str = ""  # the experiment this run is an arm of (explorer.experiments)
    arm: str = ""  # which arm of that experiment, e.g. "with BatchNorm"
    initial_weights: str = ""  # a state_dict file in the run folder the network starts from

    @property
    def model(self) -> str:
        return self.settings.model

    @property
    def seed(self) -> int:
        return self.settings.seed

    @property
    def batchnorm(self) -> bool:
        return self.settings.batchnorm

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_channels, self.height, self.width)

    def build_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of `zoo.build_model` / `zoo.build_seeded` for this run's network."""
        kwargs = {"variant": self.variant, "in_channels": self.in_channels,
                  "height": self.height, "width": self.width, "num_classes": self.num_classes,
                  "batchnorm": self.settings.batchnorm}
        if self.settings.layers:
            kwargs["layers"] = self.settings.layers
        return kwargs

    def with_owner(self, owner: str) -> RunConfig:
        return replace(self, owner=owner)

    def to_dict(self) -> dict[str, Any]:
        """A flat JSON-ready dict: the settings' keys beside the resolved ones."""
        resolved = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "settings"}
        resolved["class_names"] = list(self.class_names)
        resolved["mean"], resolved["std"] = list(self.mean), list(self.std)
        return {**self.settings.to_dict(), **resolved}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Read `to_dict`'s output (also older run folders that lack the newer keys)."""
        known = {f.name for f in fields(cls)} - {"settings"}
        kwargs = {k: v for k, v in data.items() if k in known}
        for key in ("class_names", "mean", "std"):
            kwargs[key] = tuple(kwargs.get(key) or ())
        if not kwargs["class_names"]:
            kwargs["class_names"] = tuple(str(i) for i in range(int(data["num_classes"])))
        return cls(settings=TrainConfig.from_dict(data), **kwargs)
