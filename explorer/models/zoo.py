"""The model zoo: every network of the course, for small images and for ImageNet.

One registry (`list_models`, `get_spec`), one way to build a model for an input
(`build_model`, `build_seeded`), and torchvision's pretrained ImageNet networks loaded from
the local torch hub cache as plain tensors (`build_pretrained`; `weights.download` fetches a
file there on request, checked by hash). The architectures live in
`explorer.models.architectures`.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import pickle
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
import torchvision
from torch import nn

from explorer.i18n import N_, _
from explorer.models import layer_stack
from explorer.models import weights as weights_files
from explorer.models.architectures import alexnet, densenet, googlenet, lenet, mlp, nin, resnet, vgg
from explorer.models.architectures.airbench import airbench
from explorer.models.architectures.cifar_resnet import builder as cifar_builder
from explorer.models.architectures.common import Builder
from explorer.models.modules import leaf_modules

log = logging.getLogger(__name__)


class BuildError(ValueError):
    """A model that cannot be built for the requested input; `str(err)` is one sentence."""


class PretrainedMissing(ValueError):
    """Pretrained weights that cannot be used: not in the local torch hub cache (the sentence
    says where they go), refused by their SHA-256, or not a plain state_dict."""


@dataclass(frozen=True)
class Variant:
    """A named input configuration."""

    name: str
    in_channels: int
    height: int
    width: int
    num_classes: int
    small: bool

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_channels, self.height, self.width)

    @property
    def label(self) -> str:
        """The configuration as the page names it ("mnist · 1×28×28 · 10 classes")."""
        return _("{name} · {c}×{h}×{w} · {k} classes").format(
            name=self.name, c=self.in_channels, h=self.height, w=self.width, k=self.num_classes)


VARIANTS: dict[str, Variant] = {
    "mnist": Variant("mnist", 1, 28, 28, 10, small=True),
    "cifar": Variant("cifar", 3, 32, 32, 10, small=True),
    "imagenet": Variant("imagenet", 3, 224, 224, 1000, small=False),
}


@dataclass(frozen=True)
class ModelSpec:
    """What the pages say about a network of the zoo."""

    key: str
    title: str
    family: str
    paper: str
    small_note: str
    imagenet_from_torchvision: bool
    supports_batchnorm: bool
    # torchvision's weights enum entry for pretrained ImageNet weights, e.g. "ResNet18_Weights"
    torchvision_weights: str | None = None


@dataclass(frozen=True)
class _Entry:
    spec: ModelSpec
    small: Builder
    imagenet: Builder
    listed: bool = True  # False: built for the Experiments page, not offered in the zoo's lists


def _tv(name: str, **kwargs) -> Builder:
    """An ImageNet builder that calls torchvision's `models.<name>(weights=None)`."""

    def build(in_channels: int, height: int, width: int, num_classes: int,
              batchnorm: bool = False) -> nn.Module:
        fn_name = f"{name}_bn" if batchnorm and name.startswith("vgg") else name
        return getattr(torchvision.models, fn_name)(weights=None, num_classes=num_classes,
                                                    **kwargs)

    return build


def _vgg_small(config: str) -> Builder:
    def build(in_channels: int, height: int, width: int, num_classes: int,
              batchnorm: bool = False) -> nn.Module:
        return vgg.SmallVGG(config, in_channels, height, width, num_classes, batchnorm)

    return build


def _vgg_c(in_channels: int, height: int, width: int, num_classes: int,
           batchnorm: bool = False) -> nn.Module:
    return vgg.imagenet_vgg("C", num_classes, batchnorm)


_VGG_SMALL = N_("channels ÷4 (16–128), a 256-wide classifier instead of 4096 and no fifth "
                 "max-pool, so a 28×28 digit still ends at 1×1 and it trains in minutes")
_RESNET_SMALL = N_("3×3 stride-1 stem without the first max-pool (CIFAR-style: a 28-pixel "
                   "image would shrink to 1×1 otherwise) and half the widths (32–256)")
_PAPER = {
    "lenet": "LeCun, Bottou, Bengio & Haffner, 1998",
    "alexnet": "Krizhevsky, Sutskever & Hinton, 2012",
    "vgg": "Simonyan & Zisserman, 2014",
    "nin": "Lin, Chen & Yan, 2013",
    "googlenet": "Szegedy et al., 2014",
    "resnet": "He, Zhang, Ren & Sun, 2015",
    "densenet": "Huang, Liu, van der Maaten & Weinberger, 2016",
}


def _spec(key: str, title: str, family: str, small_note: str, *, torchvision_weights=None,
          batchnorm: bool = False, paper: str | None = None) -> ModelSpec:
    return ModelSpec(key, title, family, paper or _PAPER[family], small_note,
                     imagenet_from_torchvision=torchvision_weights is not None,
                     supports_batchnorm=batchnorm, torchvision_weights=torchvision_weights)


_REGISTRY: dict[str, _Entry] = {
    e.spec.key: e for e in (
        _Entry(_spec("mlp", "MLP [784, 256×4, 10]", "mlp",
                     N_("the same four 256-wide hidden layers at every size; only the input "
                        "layer grows with channels × height × width"), batchnorm=True,
                     paper=N_("the course's multilayer perceptron")), mlp.mlp, mlp.mlp),
        _Entry(_spec("lenet5", N_("LeNet-5 (ReLU, max-pool)"), "lenet",
                     N_("first conv padded by 2 so a 28×28 digit plays the paper's 32×32 input; "
                        "ReLU and max-pooling as modern courses teach it"), batchnorm=True),
               lenet.lenet5, lenet.lenet5),
        _Entry(_spec("lenet5-classic", N_("LeNet-5 (1998: sigmoid, average pool)"), "lenet",
                     N_("first conv padded by 2 so a 28×28 digit plays the paper's 32×32 input; "
                        "otherwise the 1998 sigmoid + average-pool network"), batchnorm=True),
               lenet.lenet5_classic, lenet.lenet5_classic),
        _Entry(_spec("alexnet", "AlexNet", "alexnet",
                     N_("3×3 stride-1 convs instead of the 11×11 stride-4 stem (a 28-pixel "
                        "digit would vanish) and a 1024-wide classifier instead of 4096, to "
                        "train in minutes"), torchvision_weights="AlexNet_Weights"),
               alexnet.small_alexnet, _tv("alexnet")),
        _Entry(_spec("vgg11", N_("VGG-11 (configuration A)"), "vgg", _VGG_SMALL, batchnorm=True,
                     torchvision_weights="VGG11_Weights"), _vgg_small("A"), _tv("vgg11")),
        _Entry(_spec("vgg13", N_("VGG-13 (configuration B)"), "vgg", _VGG_SMALL, batchnorm=True,
                     torchvision_weights="VGG13_Weights"), _vgg_small("B"), _tv("vgg13")),
        _Entry(_spec("vgg16-c", N_("VGG-16 with 1×1 convs (configuration C)"), "vgg", _VGG_SMALL,
                     batchnorm=True), _vgg_small("C"), _vgg_c),
        _Entry(_spec("vgg16", N_("VGG-16 (configuration D, the usual VGG-16)"), "vgg", _VGG_SMALL,
                     batchnorm=True,
                     torchvision_weights="VGG16_Weights"), _vgg_small("D"), _tv("vgg16")),
        _Entry(_spec("vgg19", N_("VGG-19 (configuration E)"), "vgg", _VGG_SMALL, batchnorm=True,
                     torchvision_weights="VGG19_Weights"), _vgg_small("E"), _tv("vgg19")),
        _Entry(_spec("nin", "Network in Network", "nin",
                     N_("3×3 stride-1 stem instead of 11×11 stride 4 and widths 48/128/192 "
                        "instead of 96/256/384, so small images keep their detail"),
                     batchnorm=True),
               nin.nin_small, nin.nin_imagenet),
        _Entry(_spec("googlenet", "GoogLeNet (Inception v1)", "googlenet",
                     N_("the nine Inception blocks at half width behind a 3×3 stem and one "
                        "max-pool (instead of 7×7/2 + three pools); no auxiliary heads"),
                     torchvision_weights="GoogLeNet_Weights"),
               googlenet.small_googlenet, _tv("googlenet", aux_logits=False, init_weights=True)),
        _Entry(_spec("resnet18", "ResNet-18", "resnet", _RESNET_SMALL,
                     torchvision_weights="ResNet18_Weights"),
               resnet.small_resnet(18), _tv("resnet18")),
        _Entry(_spec("resnet34", "ResNet-34", "resnet", _RESNET_SMALL,
                     torchvision_weights="ResNet34_Weights"),
               resnet.small_resnet(34), _tv("resnet34")),
        _Entry(_spec("resnet50", N_("ResNet-50 (bottleneck)"), "resnet", _RESNET_SMALL,
                     torchvision_weights="ResNet50_Weights"),
               resnet.small_resnet(50), _tv("resnet50")),
        _Entry(_spec("densenet121", "DenseNet-121", "densenet",
                     N_("growth rate 12 instead of 32 and a 3×3 stride-1 stem without the "
                        "first max-pool, so it fits small images and trains in minutes"),
                     torchvision_weights="DenseNet121_Weights"),
               densenet.small_densenet121, _tv("densenet121")),
        # The teacher's speed demo (explorer.training.presets.AIRBENCH), not in the lists
        _Entry(_spec("airbench", "airbench94 (a speed record on CIFAR-10)", "airbench",
                     "Keller Jordan's airbench94 network: a 2×2 patch layer, three wide "
                     "conv-pool groups, BatchNorm with a fixed scale; its first layer learns "
                     "instead of being set from the data",
                     paper="Jordan, 2024 (github.com/KellerJordan/airbench)"),
               airbench, airbench, listed=False),
        *(_Entry(_spec(f"{name}26", f"{title} (26 layers, He et al.'s CIFAR-10 experiment)",
                       "resnet", "6n+2 = 26 layers on widths 8/16/32 (half the paper's), "
                       "BatchNorm after every conv, zero-padded shortcuts"),
                 cifar_builder(residual), cifar_builder(residual), listed=False)
          for name, title, residual in (("plain", "Plain network", False),
                                        ("residual", "Residual network", True))),
    )
}

#: The key of a student's own layer stack (see `explorer.models.layer_stack`).
CUSTOM = "custom"
_CUSTOM_SPEC = ModelSpec(CUSTOM, N_("Your network (built on the Model zoo page)"), "custom",
                         N_("your own layer stack"), N_("exactly the layers you stacked"),
                         imagenet_from_torchvision=False, supports_batchnorm=False)


def list_models() -> list[str]:
    """Registry keys in course order (the networks the zoo, Training and Feature maps offer)."""
    return [key for key, entry in _REGISTRY.items() if entry.listed]


def get_spec(key: str) -> ModelSpec:
    """The spec of `key`; KeyError names the known keys."""
    if key == CUSTOM:
        return _CUSTOM_SPEC
    try:
        return _REGISTRY[key].spec
    except KeyError:
        raise KeyError(f"unknown model {key!r}; known: {', '.join(_REGISTRY)}") from None


def resolve_input(variant: str = "mnist", in_channels: int | None = None,
                  height: int | None = None, width: int | None = None,
                  num_classes: int | None = None) -> Variant:
    """The variant's input configuration with any explicit sizes applied."""
    if variant not in VARIANTS:
        raise BuildError(_("Unknown configuration “{variant}”: choose one of {choices}.").format(
            variant=variant, choices=", ".join(VARIANTS)))
    base = VARIANTS[variant]
    resolved = Variant(
        base.name,
        base.in_channels if in_channels is None else in_channels,
        base.height if height is None else height,
        base.width if width is None else width,
        base.num_classes if num_classes is None else num_classes,
        base.small,
    )
    for sentence, value in (
            (N_("The number of channels must be at least 1, not {value}."), resolved.in_channels),
            (N_("The height must be at least 1, not {value}."), resolved.height),
            (N_("The width must be at least 1, not {value}."), resolved.width),
            (N_("The number of classes must be at least 1, not {value}."), resolved.num_classes)):
        if value < 1:
            raise BuildError(_(sentence).format(value=value))
    if not base.small and resolved.in_channels != 3:
        raise BuildError(_("The ImageNet configuration takes 3-channel images as torchvision "
                           "defines it, not {channels}; use mnist or cifar instead.").format(
                               channels=resolved.in_channels))
    return resolved


def _builder(key: str, small: bool) -> Builder:
    get_spec(key)
    entry = _REGISTRY[key]
    return entry.small if small else entry.imagenet


@lru_cache(maxsize=512)
def _fits(key: str, config: Variant, batchnorm: bool) -> bool:
    """Whether the model builds and forwards a config-sized input (checked on meta: free)."""
    build = _builder(key, config.small)
    try:
        with torch.device("meta"), torch.no_grad():
            model = build(config.in_channels, config.height, config.width, config.num_classes,
                          batchnorm)
            model.eval()(torch.zeros(1, *config.input_shape))
    except RuntimeError:
        return False
    return True


@lru_cache(maxsize=256)
def min_input_size(key: str, variant: str = "mnist", batchnorm: bool = False) -> int:
    """The smallest square input side the model accepts in this configuration."""
    base = VARIANTS[variant]
    low, high = 1, 512

    def fits(side: int) -> bool:
        return _fits(key, Variant(variant, base.in_channels, side, side, base.num_classes,
                                  base.small), batchnorm)

    if fits(low):
        return low
    while high - low > 1:  # invariant: low does not fit, high does
        mid = (low + high) // 2
        low, high = (low, mid) if fits(mid) else (mid, high)
    return high


def _vanishing_layer(key: str, config: Variant, side: int, batchnorm: bool) -> str:
    """Name of the first layer whose output is empty for `config` (model built at `side`)."""
    with torch.device("meta"), torch.no_grad():
        model = _builder(key, config.small)(config.in_channels, side, side, config.num_classes,
                                            batchnorm)
        entered: list[str] = []
        handles = [m.register_forward_pre_hook(lambda _m, _i, n=name: entered.append(n))
                   for name, m in leaf_modules(model).items()]
        with contextlib.suppress(RuntimeError):  # the failure is what we are locating
            model.eval()(torch.zeros(1, *config.input_shape))
        for handle in handles:
            handle.remove()
    return entered[-1] if entered else _("the first layer")


def _build_custom(layers: str, config: Variant) -> nn.Module:
    """A student's layer stack, checked to map the input to one score per class."""
    try:
        stack = layer_stack.parse(layers)
        layer_stack.check_trainable(stack, config.input_shape, config.num_classes)
    except layer_stack.StackError as err:
        raise BuildError(str(err)) from None
    return layer_stack.build(stack)


def build_model(key: str, *, variant: str = "mnist", in_channels: int | None = None,
                height: int | None = None, width: int | None = None,
                num_classes: int | None = None, batchnorm: bool = False,
                layers: str = "") -> nn.Module:
    """A freshly initialised `key` network for the variant's input, with overrides applied.

    "mnist" and "cifar" build the small architecture, "imagenet" the paper's (torchvision's
    where torchvision has it). `batchnorm` adds BatchNorm where `spec.supports_batchnorm`;
    ResNet, GoogLeNet and DenseNet always have it and AlexNet never does, so it is ignored
    there. Builds on the current default device (use `with torch.device("meta"):` for a free
    structural copy). Raises `BuildError` with one sentence when the input is too small.
    `key` "custom" builds the layer stack `layers` (`layer_stack.format_stack`'s text).
    """
    spec = get_spec(key)
    config = resolve_input(variant, in_channels, height, width, num_classes)
    if key == CUSTOM:
        return _build_custom(layers, config)
    batchnorm = batchnorm and spec.supports_batchnorm
    if not _fits(key, config, batchnorm):
        side = min_input_size(key, variant, batchnorm)
        layer = _vanishing_layer(key, config, max(side, config.height, config.width), batchnorm)
        raise BuildError(
            _("{network} ({variant}) needs inputs of at least {side}×{side}: at {height}×{width} "
              "the image shrinks to nothing at layer “{layer}”.").format(
                network=_(spec.title), variant=variant, side=side, height=config.height,
                width=config.width, layer=layer))
    return _builder(key, config.small)(config.in_channels, config.height, config.width,
                                       config.num_classes, batchnorm)


_SEED_LOCK = threading.Lock()


def build_seeded(key: str, *, seed: int, variant: str = "mnist", in_channels: int | None = None,
                 height: int | None = None, width: int | None = None,
                 num_classes: int | None = None, batchnorm: bool = False,
                 layers: str = "") -> nn.Module:
    """`build_model` with the initial weights that `seed` gives, the same on every call.

    The weights are drawn from torch's global generator (as every `reset_parameters` does), so
    the build runs under a lock (two concurrent builds cannot interleave their draws) and under
    `torch.random.fork_rng` (the caller's global RNG state is left as it was).
    """
    with _SEED_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(key, variant=variant, in_channels=in_channels, height=height,
                           width=width, num_classes=num_classes, batchnorm=batchnorm,
                           layers=layers)


@lru_cache(maxsize=64)
def _structure(key: str, variant: str, batchnorm: bool) -> nn.Module:
    with torch.device("meta"):
        return build_model(key, variant=variant, batchnorm=batchnorm)


def skeleton(key: str, *, variant: str = "mnist", batchnorm: bool = False) -> nn.Module:
    """`build_model`'s architecture on the meta device: no memory and no initialisation, for
    saved weights to be assigned into (`load_state_dict(..., assign=True)`)."""
    return copy.deepcopy(_structure(key, variant, batchnorm))


def weight_bytes(key: str, *, variant: str = "mnist", batchnorm: bool = False) -> int:
    """Bytes of the network's parameters and buffers, known without building it."""
    model = _structure(key, variant, batchnorm)
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


# --- pretrained ImageNet weights ---------------------------------------------------------


def _weights(key: str, batchnorm: bool = False):
    spec = get_spec(key)
    if not spec.torchvision_weights:
        return None
    name = spec.torchvision_weights
    if batchnorm and spec.family == "vgg":
        name = name.replace("_Weights", "_BN_Weights")
    return torchvision.models.get_weight(f"{name}.IMAGENET1K_V1")


def pretrained_file(key: str, batchnorm: bool = False) -> weights_files.WeightsFile | None:
    """The published file of `key`'s ImageNet weights (None: torchvision has none)."""
    published = _weights(key, batchnorm)
    return weights_files.entry(str(published)) if published is not None else None


def pretrained_url(key: str, batchnorm: bool = False) -> str | None:
    """Where the ImageNet weights of `key` are fetched from (None: no such weights)."""
    file = pretrained_file(key, batchnorm)
    return file.source_url if file else None


def pretrained_path(key: str, batchnorm: bool = False) -> Path | None:
    """Where the weights file goes in the torch hub cache (None: torchvision has none)."""
    file = pretrained_file(key, batchnorm)
    return file.path if file else None


# Published DenseNet files keep the pre-0.4 names "norm.1", "conv.2" (dots are no longer
# allowed in module names); torchvision's builder renames them the same way.
_DENSENET_OLD_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")


def _published_architecture(key: str, batchnorm: bool) -> nn.Module:
    """torchvision's network shaped as its published file is (GoogLeNet with its aux heads)."""
    builder = f"{key}_bn" if batchnorm and get_spec(key).family == "vgg" else key
    kwargs = {"aux_logits": True, "transform_input": True,
              "init_weights": False} if key == "googlenet" else {}
    return getattr(torchvision.models, builder)(weights=None, **kwargs)


def build_pretrained(key: str, batchnorm: bool = False) -> nn.Module:
    """torchvision's ImageNet `key` network with its published weights, in eval mode.

    Reads only the local torch hub cache (`weights.download` puts files there, checked by
    hash) with `torch.load(..., weights_only=True)`: torchvision's own builders would load
    the file through `load_state_dict_from_url`, which unpickles arbitrary objects in some
    versions. The published files' quirks are undone as torchvision does: DenseNet's old key
    names, GoogLeNet's auxiliary heads (dropped after loading; it keeps the input
    re-scaling its weights were trained with). `PretrainedMissing` says, before anything is
    built, that the file is absent (with its URL and where it goes) or why a cached copy was
    refused; its sentence names the file, never a folder of the server's (the log has the path).
    """
    spec = get_spec(key)
    name = _(spec.title)
    file = pretrained_file(key, batchnorm)
    if file is None:
        raise PretrainedMissing(_("torchvision publishes no ImageNet weights for {name}.").format(
            name=name))
    if not file.is_cached():
        raise PretrainedMissing(file.refusal() or _(
            "No pretrained {name} weights on this machine: {by_hand}.").format(
                name=name, by_hand=file.by_hand()))
    with torch.device("meta"):
        model = _published_architecture(key, batchnorm)
    try:
        state = torch.load(file.path, map_location="cpu", weights_only=True)
        state = {_DENSENET_OLD_KEY.sub(r"\1\2", k): v for k, v in state.items()}
        model.load_state_dict(state, strict=True, assign=True)
        if any(t.is_meta for t in (*model.parameters(), *model.buffers())):
            raise RuntimeError("some tensors are missing")
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError) as err:
        log.warning("could not load the weights file %s as %s: %s", file.path, key, err)
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PretrainedMissing(
            _("The weights file {file} is not a plain state_dict of {name} ({why}); replace "
              "it: {by_hand}.").format(file=file.filename, name=name, why=first[:160],
                                       by_hand=file.by_hand())) from None
    if key == "googlenet":
        model.aux_logits, model.aux1, model.aux2 = False, None, None
    return model.eval()


def imagenet_transforms(key: str = "resnet18", batchnorm: bool = False):
    """torchvision's preprocessing for `key`'s ImageNet weights (resize, crop, mean, std).

    Networks without published weights get ResNet-18's, the ImageNet standard.
    """
    weights = _weights(key, batchnorm) or _weights("resnet18")
    return weights.transforms()


@lru_cache(maxsize=1)
def _class_names() -> tuple[str, ...]:
    return tuple(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet class names, from torchvision's weights metadata (offline)."""
    return list(_class_names())


