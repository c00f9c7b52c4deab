"""What every layer of a CNN makes of one image: preprocessing, activation capture, statistics.

One forward pass with forward hooks on every module records the output of each leaf layer
(conv, BatchNorm, activation, pooling, ...) and of each block (a module with children, such as
a ResNet BasicBlock), with the receptive field of every output (`explorer.receptive_field`).
The rest turns captured tensors into numbers: per-channel statistics, top-5, first-layer
filters. The pictures are drawn in `explorer.figures.feature_maps`. No streamlit here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image, ImageOps
from torch import nn

from explorer import handwriting
from explorer.i18n import _
from explorer.memory import tensor_bytes
from explorer.models import zoo
from explorer.models.modules import exclusive, is_leaf, shape_text
from explorer.receptive_field import ReceptiveField, layer_rf

if TYPE_CHECKING:  # a run's settings, read by attribute: the lesson does not import training
    from explorer.training.config import RunConfig

_IMAGENET = zoo.imagenet_transforms()  # torchvision's preprocessing of its ImageNet weights
IMAGENET_MEAN = tuple(_IMAGENET.mean)
IMAGENET_STD = tuple(_IMAGENET.std)
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
MNIST_MEAN = (0.1307,)
MNIST_STD = (0.3081,)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")


# --- preprocessing --------------------------------------------------------------------------


@dataclass(frozen=True)
class Preprocessing:
    """How a photo becomes the model's input tensor."""

    in_channels: int
    height: int
    width: int
    resize: int  # the shorter side is resized to this before the centre crop
    mean: tuple[float, ...]
    std: tuple[float, ...]
    invert: bool = False
    digit_photo: bool = False  # a photo of a handwritten digit, prepared as MNIST was

    @property
    def grayscale(self) -> bool:
        return self.in_channels == 1

    def steps(self) -> list[str]:
        """The pipeline in words, in the order it runs (a digit photo's steps, with its own
        numbers, are `Prepared.digit`'s)."""
        if self.digit_photo:
            return [_("scale pixels to [0, 1]"), self._normalise_step()]
        out = [_("resize the shorter side to {n} px").format(n=self.resize),
               _("centre-crop to {h}×{w}").format(h=self.height, w=self.width)]
        if self.grayscale:
            out.insert(0, _("convert to grayscale"))
            if self.invert:
                out.append(_("invert (MNIST digits are light on dark)"))
        return [*out, _("scale pixels to [0, 1]"), self._normalise_step()]

    def _normalise_step(self) -> str:
        mean = ", ".join(f"{m:.4f}" for m in self.mean)
        std = ", ".join(f"{s:.4f}" for s in self.std)
        return _("normalise: (x − mean) / std, mean ({mean}), std ({std})").format(mean=mean,
                                                                                   std=std)


def preprocessing_for(variant: str, *, invert: bool = False, digit_photo: bool = False,
                      config: RunConfig | None = None) -> Preprocessing:
    """The preprocessing of a zoo variant ("mnist", "cifar", "imagenet") or of a training run.

    A run's config (runs contract) fixes channels, size, mean and std; otherwise the variant's
    dataset statistics are used. `digit_photo` (grayscale networks only) prepares a photo of
    a handwritten digit as MNIST was made (`handwriting.prepare_photo`) instead of resizing
    and cropping it; `invert` then does not apply (the pipeline decides).
    """
    if config is not None:
        variant = config.variant
    if variant == "imagenet":
        pre = Preprocessing(3, _IMAGENET.crop_size[0], _IMAGENET.crop_size[0],
                            _IMAGENET.resize_size[0], IMAGENET_MEAN, IMAGENET_STD)
    elif variant == "cifar":
        pre = Preprocessing(3, 32, 32, 32, CIFAR_MEAN, CIFAR_STD)
    elif variant == "mnist":
        pre = Preprocessing(1, 28, 28, 28, MNIST_MEAN, MNIST_STD)
    else:
        raise ValueError(f"Unknown input variant “{variant}”: use mnist, cifar or imagenet.")
    if config is not None:
        c, h, w = config.input_shape
        resize = round(min(h, w) * pre.resize / pre.height)
        mean = tuple(float(m) for m in config.mean or pre.mean)
        std = tuple(float(s) for s in config.std or pre.std)
        if len(mean) != c or len(std) != c:
            mean, std = (mean[0],) * c, (std[0],) * c
        pre = Preprocessing(c, h, w, resize, mean, std)
    if pre.grayscale and (invert or digit_photo):
        pre = Preprocessing(pre.in_channels, pre.height, pre.width, pre.resize, pre.mean,
                            pre.std, invert=invert and not digit_photo, digit_photo=digit_photo)
    return pre


def reads_digits(variant: str, config: RunConfig | None = None) -> bool:
    """Whether the network reads handwritten digits: a run trained on MNIST, or a zoo network
    built for MNIST's 1×28×28 (random weights, but the input a digit network takes)."""
    if config is not None:
        return config.settings.dataset in handwriting.DIGIT_DATASETS
    return variant == "mnist"


#: Longest side of the resized picture kept: a thin strip resized to 256 px across would be
#: hundreds of megapixels long, of which the centre crop keeps 224 px.
MAX_RESIZED_SIDE = 2048


@dataclass(frozen=True)
class Prepared:
    """Each stage of the preprocessing, for display, and the tensor that goes in."""

    resized: Image.Image  # the resized photo, or its centre window when that would be huge
    pixels: Image.Image  # cropped (and grayscale/inverted): exactly the model's view, 0..255
    tensor: torch.Tensor  # [1, C, H, W], normalised
    resized_size: tuple[int, int] | None = None  # (width, height) of the whole resized photo
    digit: handwriting.PhotoSteps | None = None  # a digit photo's steps (`digit_photo`)

    @property
    def window_only(self) -> bool:
        """True when `resized` is only the centre of the resized photo."""
        return self.resized_size is not None and self.resized_size != self.resized.size


def resize_shorter_side(image: Image.Image, size: int,
                        max_side: int = MAX_RESIZED_SIDE) -> tuple[Image.Image, tuple[int, int]]:
    """torchvision's `resize(image, [size])` (shorter side to `size`, bilinear, antialiased),
    and the size it has. Past `max_side` along the longer side only the centre `max_side`
    pixels are computed: PIL's `box` resamples just that part of the photo, which is what
    cropping the whole resized photo would give (to within one grey level of rounding).
    """
    width, height = image.size
    short, long = sorted((width, height))
    new_long = int(size * long / short)  # torchvision's own rounding
    full = (size, new_long) if width <= height else (new_long, size)
    if new_long <= max_side:
        return TF.resize(image, [size], antialias=True), full
    # A window whose margins are even numbers of pixels: torchvision's centre crop (which
    # rounds halves to even) then picks the same pixels from it as from the whole.
    window = max_side - (max_side - new_long) % 4
    start = (new_long - window) // 2
    scale = long / new_long
    if width <= height:
        box, out = (0, start * scale, width, (start + window) * scale), (size, window)
    else:
        box, out = (start * scale, 0, (start + window) * scale, height), (window, size)
    return image.resize(out, Image.Resampling.BILINEAR, box=box), full


def prepare(image: Image.Image, pre: Preprocessing) -> Prepared:
    """Run `pre` on a PIL image. A digit photo in which no ink stands out of the paper takes
    the plain path (`digit` says so: its `steps` are None)."""
    image = image.convert("L" if pre.grayscale else "RGB")
    digit = handwriting.prepare_photo(np.asarray(image)) if pre.digit_photo else None
    if digit is not None and digit.steps is not None:
        pixels = Image.fromarray(digit.steps.centred)
        if pixels.size != (pre.width, pre.height):
            pixels = pixels.resize((pre.width, pre.height), Image.Resampling.BILINEAR)
        tensor = TF.normalize(TF.to_tensor(pixels), list(pre.mean), list(pre.std)).unsqueeze(0)
        return Prepared(Image.fromarray(digit.soft), pixels, tensor, None, digit)
    resized, resized_size = resize_shorter_side(image, pre.resize)
    if min(resized.size) < min(pre.height, pre.width):  # very thin images: stretch instead
        resized = resized.resize((max(resized.width, pre.width),
                                  max(resized.height, pre.height)))
        resized_size = resized.size
    pixels = TF.center_crop(resized, [pre.height, pre.width])
    if pre.invert:
        pixels = ImageOps.invert(pixels)
    tensor = TF.normalize(TF.to_tensor(pixels), list(pre.mean), list(pre.std)).unsqueeze(0)
    return Prepared(resized, pixels, tensor, resized_size, digit)


def looks_dark_on_light(image: Image.Image) -> bool:
    """True when most of the image is bright: a digit on paper, which MNIST models see inverted."""
    return float(np.asarray(image.convert("L"), dtype=np.float32).mean()) > 127.5


def input_statistics(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per channel of the first image of [N, C, H, W]: mean, std, min and max."""
    flat = x[0].reshape(x.shape[1], -1)
    return {"mean": flat.mean(1), "std": flat.std(1), "min": flat.amin(1), "max": flat.amax(1)}


# --- capture ---------------------------------------------------------------------------------


def layer_kind(module: nn.Module) -> str:
    """A one-word category of a module, for labels and filters."""
    if isinstance(module, nn.Conv2d):
        return "conv"
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return "batchnorm"
    if isinstance(module, nn.modules.pooling._MaxPoolNd | nn.modules.pooling._AvgPoolNd
                  | nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
        return "pooling"
    if type(module).__module__ == "torch.nn.modules.activation":
        return "activation"
    if isinstance(module, nn.Linear):
        return "linear"
    if isinstance(module, nn.modules.dropout._DropoutNd):
        return "dropout"
    if isinstance(module, nn.LocalResponseNorm):
        return "normalisation"
    if isinstance(module, nn.Flatten):
        return "reshape"
    return "other" if is_leaf(module) else "block"


@dataclass
class LayerRecord:
    """One call of one module during the forward pass."""

    name: str  # dotted module name, plus "#2", "#3" for a module called again (ReLU reuse)
    kind: str
    type_name: str
    recorded: torch.Tensor  # a clone of the output (batch dimension kept), or see `derive`
    inputs: tuple[object, ...] | None = None  # clones of the call's arguments, with keep_inputs
    rf: ReceptiveField | None = None
    # A ReLU's output is relu(the layer before's recorded output), computed when asked for:
    # kept as a second clone it doubled the memory of every conv → ReLU network's capture.
    derive: Callable[[torch.Tensor], torch.Tensor] | None = None

    @property
    def output(self) -> torch.Tensor:
        """The module's output, batch dimension kept."""
        return self.recorded if self.derive is None else self.derive(self.recorded)

    @property
    def is_spatial(self) -> bool:
        return self.recorded.dim() == 4

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.recorded.shape[1:])

    @property
    def maps(self) -> torch.Tensor:
        """[C, H, W] for a spatial layer (first image of the batch)."""
        return self.output[0]

    def label(self) -> str:
        return f"{self.name} · {self.type_name} · {shape_text(self.shape)}"


@dataclass
class Capture:
    """Every recorded layer of one forward pass, in execution order, and the logits."""

    records: list[LayerRecord]
    logits: torch.Tensor  # [num_classes] for the first image
    input_hw: tuple[int, int] = (0, 0)
    _by_name: dict[str, LayerRecord] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_name = {r.name: r for r in self.records}

    def __getitem__(self, name: str) -> LayerRecord:
        return self._by_name[name]

    @property
    def nbytes(self) -> int:
        """Memory held by the recorded tensors (what keeping this capture costs)."""
        kept = [r.recorded for r in self.records] + [self.logits]
        kept += [a for r in self.records for a in r.inputs or () if isinstance(a, torch.Tensor)]
        return tensor_bytes(kept)

    def names(self, spatial_only: bool = True) -> list[str]:
        return [r.name for r in self.records if r.is_spatial or not spatial_only]

    def overview(self, every_layer: bool = False) -> list[LayerRecord]:
        """Spatial layers for the strip: all of them, or conv, pooling and real blocks.

        Plain containers (Sequential, ModuleList) only repeat their last child's output, so
        they are left out unless `every_layer`.
        """
        out = []
        for r in self.records:
            if not r.is_spatial:
                continue
            if r.type_name in ("Sequential", "ModuleList", "ModuleDict") and not every_layer:
                continue
            if every_layer or r.kind in ("conv", "pooling", "block"):
                out.append(r)
        return out

    def cam_layers(self) -> list[str]:
        """The layers Grad-CAM can explain: spatial convs, blocks and ReLUs (not the plain
        Sequential containers, which repeat their last child)."""
        return [r.name for r in self.records
                if r.is_spatial and (r.kind in ("conv", "block") or r.type_name == "ReLU")
                and r.type_name != "Sequential"]


@dataclass(frozen=True)
class Analysis:
    """One image through one network: the preprocessing's stages and every layer's output."""

    prepared: Prepared
    capture: Capture

    @property
    def nbytes(self) -> int:
        return self.capture.nbytes + tensor_bytes([self.prepared.tensor])


def analyse(model: nn.Module, image: Image.Image, pre: Preprocessing) -> Analysis:
    """Preprocess `image` with `pre` and capture every layer of `model` on it."""
    prepared = prepare(image, pre)
    return Analysis(prepared, capture(model, as_input(prepared.tensor)))


def _clone(value: object) -> object:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, list | tuple):  # DenseNet layers take a list of tensors
        return type(value)(_clone(v) for v in value)
    return value


def capture(model: nn.Module, x: torch.Tensor, keep_inputs: bool = False) -> Capture:
    """Run `model(x)` once with hooks on every module; record each leaf and block output.

    Outputs are cloned as they appear, so later in-place operations (`ReLU(inplace=True)`,
    `out += identity`) cannot change what was recorded. Two kinds of output are not cloned
    again: a block's that is its last child's untouched output, and a ReLU's whose input is
    an untouched recorded output (it is derived from that clone when asked for, exactly). With
    `keep_inputs`, each call's inputs are cloned too, so a layer can be re-run on exactly what
    it received.
    """
    records: list[LayerRecord] = []
    calls: dict[str, int] = {}
    pending_inputs: dict[int, list[tuple[object, ...]]] = {}
    rf_of: dict[int, ReceptiveField | None] = {id(x): ReceptiveField()}
    alive: list[torch.Tensor] = [x]  # keeps ids unique while the pass runs
    rf_by_hw: dict[tuple[int, int], list[ReceptiveField]] = {}
    input_hw = (int(x.shape[-2]), int(x.shape[-1]))
    # id(live tensor) -> (the tensor, its _version when recorded, the clone, how the
    # recorded output follows from the clone)
    recorded: dict[int, tuple[torch.Tensor, int, torch.Tensor, Callable | None]] = {}

    def relu_of_recorded(module: nn.Module, args: tuple, output: torch.Tensor
                         ) -> tuple[torch.Tensor, int, torch.Tensor, Callable | None] | None:
        """The record a ReLU's output can be derived from: its input as recorded, untouched
        since but for this ReLU's own in-place write."""
        if not isinstance(module, nn.ReLU) or not args or not isinstance(args[0], torch.Tensor):
            return None
        source = recorded.get(id(args[0]))
        if source is None or source[0] is not args[0] or source[3] is not None:
            return None
        writes = 1 if output is args[0] else 0  # inplace=True bumps the version once
        return source if args[0]._version == source[1] + writes else None

    def rf_of_input(t: torch.Tensor) -> ReceptiveField | None:
        if id(t) in rf_of:
            return rf_of[id(t)]
        if t.dim() != 4:
            return None
        hw = (int(t.shape[-2]), int(t.shape[-1]))
        # Made by a non-module op (residual add, concatenation): union of what fed it, which
        # for centred regions is the largest field seen at this size.
        seen = rf_by_hw.get(hw)
        if seen:
            return max(seen, key=lambda f: f.size[0] * f.size[1])
        return ReceptiveField() if hw == input_hw else None

    def pre_hook(name: str):
        def hook(module: nn.Module, args: tuple) -> None:
            pending_inputs.setdefault(id(module), []).append(tuple(_clone(a) for a in args))
        return hook

    def post_hook(name: str):
        def hook(module: nn.Module, args: tuple, output: object) -> None:
            inputs = pending_inputs[id(module)].pop() if keep_inputs else None
            if not isinstance(output, torch.Tensor):
                return
            calls[name] = calls.get(name, 0) + 1
            label = name if calls[name] == 1 else f"{name}#{calls[name]}"
            rf: ReceptiveField | None = None
            if output.dim() == 4:
                first = next((a for a in args if isinstance(a, torch.Tensor)), None)
                if not is_leaf(module):
                    rf = rf_of_input(output)  # its children already placed this tensor
                elif first is not None and first.dim() == 4:
                    rf_in = rf_of_input(first)
                    if rf_in is not None:
                        rf = layer_rf(module, rf_in, tuple(first.shape[-2:]),
                                       tuple(output.shape[-2:]))
                rf_of[id(output)] = rf
                alive.append(output)
                if rf is not None:
                    rf_by_hw.setdefault(tuple(output.shape[-2:]), []).append(rf)
            last = recorded.get(id(output))
            source = relu_of_recorded(module, args, output)
            if last is not None and last[0] is output and last[1] == output._version:
                saved, derive = last[2], last[3]  # a block handing on its last child's output
            elif source is not None:
                saved, derive = source[2], torch.relu
                recorded[id(output)] = (output, output._version, saved, derive)
            else:
                saved, derive = output.detach().clone(), None
                recorded[id(output)] = (output, output._version, saved, None)
            records.append(LayerRecord(label, layer_kind(module), type(module).__name__,
                                       saved, inputs, rf, derive))
        return hook

    with exclusive(model):
        handles = []
        for name, module in model.named_modules():
            if not name:
                continue
            if keep_inputs:
                handles.append(module.register_forward_pre_hook(pre_hook(name)))
            handles.append(module.register_forward_hook(post_hook(name)))
        try:
            with torch.no_grad():  # not inference_mode: the clone reuse above needs `_version`
                logits = model(x)
        finally:
            for h in handles:
                h.remove()
    return Capture(records, logits[0].detach().float(), input_hw)


# --- statistics -------------------------------------------------------------------------------


def channel_stats(maps: torch.Tensor) -> dict[str, list[float]]:
    """Per channel of [C, H, W]: min, max, mean, fraction of exact zeros, fraction below zero."""
    flat = maps.reshape(maps.shape[0], -1).float()
    return {
        "min": flat.amin(1).tolist(),
        "max": flat.amax(1).tolist(),
        "mean": flat.mean(1).tolist(),
        "zeros": (flat == 0).float().mean(1).tolist(),
        "negative": (flat < 0).float().mean(1).tolist(),
    }


def channel_order(maps: torch.Tensor, sort: str = "network") -> list[int]:
    """Channel indices in network order, or by mean activation ("mean-desc", "mean-asc")."""
    if sort == "network":
        return list(range(maps.shape[0]))
    means = maps.reshape(maps.shape[0], -1).float().mean(1)
    return torch.argsort(means, descending=sort == "mean-desc", stable=True).tolist()


def strongest_channel(maps: torch.Tensor) -> int:
    """The channel with the highest mean activation: the strip's representative map."""
    return int(maps.reshape(maps.shape[0], -1).float().mean(1).argmax())


def top_k(logits: torch.Tensor, class_names: Sequence[str], k: int = 5
          ) -> list[tuple[int, str, float]]:
    """(index, name, probability) of the k most likely classes under softmax."""
    probs = torch.softmax(logits.float(), dim=-1)
    values, indices = probs.topk(min(k, probs.numel()))
    return [(int(i), class_names[int(i)] if int(i) < len(class_names) else f"class {int(i)}",
             float(v)) for v, i in zip(values, indices, strict=True)]


def default_class_names(variant: str, num_classes: int) -> list[str]:
    """Names for a random-weights model: digits for MNIST, CIFAR-10 names, else 'class i'."""
    if variant == "mnist" and num_classes == 10:
        return [str(i) for i in range(10)]
    if variant == "cifar" and num_classes == 10:
        return list(CIFAR10_CLASSES)
    return [_("class {i}").format(i=i) for i in range(num_classes)]


def class_names_for(variant: str, num_classes: int, config: RunConfig | None = None
                    ) -> list[str]:
    """A network's class names: a training run's own (`config`), ImageNet's for the ImageNet
    variant, else `default_class_names`."""
    if config is not None:
        return run_class_names(config)
    if variant == "imagenet":
        return zoo.imagenet_class_names()
    return default_class_names(variant, num_classes)


# --- first-layer filters ------------------------------------------------------------------


@dataclass(frozen=True)
class FirstLayer:
    """A network's first-layer weights copied out of it, sized for a byte-bounded cache (an
    MLP's first Linear at 224 px is 147 MB; a conv's a few KB)."""

    name: str
    weight: torch.Tensor | None  # None: the first weighted layer cannot be drawn as images

    @property
    def nbytes(self) -> int:
        return 0 if self.weight is None else tensor_bytes([self.weight])

    @classmethod
    def of(cls, model: nn.Module, in_shape: tuple[int, int, int]) -> FirstLayer:
        first = first_layer_weights(model, in_shape)
        return cls("", None) if first is None else cls(first[0], first[1].clone())


def first_layer_weights(model: nn.Module, in_shape: tuple[int, int, int] | None = None
                        ) -> tuple[str, torch.Tensor] | None:
    """(name, [out, in, kh, kw]) of the first conv, or of a first Linear reshaped to the input."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module.weight.detach().float().cpu()
        if isinstance(module, nn.Linear):
            if in_shape is not None and module.in_features == math.prod(in_shape):
                return name, module.weight.detach().float().cpu().reshape(-1, *in_shape)
            return None
    return None


def filter_summary(weight: torch.Tensor) -> dict[str, float]:
    """Numbers that tell learned filters from random ones.

    `std`: spread of the weights; `smoothness`: mean correlation between horizontally and
    vertically neighbouring weights (near 0 for random noise, higher for learned edge and
    blob detectors).
    """
    w = weight.float()
    out = {"std": float(w.std()), "mean |w|": float(w.abs().mean())}
    if w.shape[-1] > 1 and w.shape[-2] > 1:
        pairs = [(w[..., :, :-1], w[..., :, 1:]), (w[..., :-1, :], w[..., 1:, :])]
        a = torch.cat([p[0].reshape(-1) for p in pairs])
        b = torch.cat([p[1].reshape(-1) for p in pairs])
        out["smoothness"] = float(torch.corrcoef(torch.stack([a, b]))[0, 1])
    return out


@dataclass(frozen=True)
class FilterChange:
    """What training did to the first layer: `filter_summary` before and after, and how far
    the weights moved, as a fraction of their initial norm."""

    trained: dict[str, float]
    initial: dict[str, float]
    moved: float

    @property
    def change(self) -> dict[str, float]:
        return {k: self.trained[k] - self.initial[k] for k in self.trained}


def filter_change(weight: torch.Tensor, initial: torch.Tensor) -> FilterChange:
    """Compare trained first-layer filters with the same filters at initialisation."""
    return FilterChange(filter_summary(weight), filter_summary(initial),
                        float((weight - initial).norm() / initial.norm()))


# --- models -----------------------------------------------------------------------------------


def for_inference(model: nn.Module) -> nn.Module:
    """Eval mode and channels-last memory, the faster layout for CPU convolutions."""
    return model.eval().to(memory_format=torch.channels_last)


def as_input(tensor: torch.Tensor) -> torch.Tensor:
    """The preprocessed tensor in the layout `for_inference` models run fastest on."""
    return tensor.contiguous(memory_format=torch.channels_last)


def run_class_names(config: RunConfig) -> list[str]:
    """The class names a run trained on (its config), else generic ones."""
    if len(config.class_names) == config.num_classes:
        return [str(c) for c in config.class_names]
    return default_class_names(config.variant, config.num_classes)
