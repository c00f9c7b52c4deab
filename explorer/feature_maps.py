"""What every layer of a CNN makes of one image: preprocessing, activation capture, statistics.

One forward pass with forward hooks on every module records the output of each leaf layer
(conv, BatchNorm, activation, pooling, ...) and of each block (a module with children, such as
a ResNet BasicBlock). The same hooks track the receptive field of every output, layer by
layer, with the usual arithmetic (size r, jump j between neighbouring cells, centre `start`
of the first cell, all in input pixels). The rest of the module turns captured tensors into
pictures (channel grids, the overview strip, first-layer filters) and numbers (per-channel
statistics, top-5). No streamlit here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image, ImageDraw, ImageFont, ImageOps
from torch import nn

from explorer.training.config import RunConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
MNIST_MEAN = (0.1307,)
MNIST_STD = (0.3081,)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
COLORMAPS = ("Viridis", "Gray", "Magma", "Inferno", "RdBu_r", "Cividis")


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

    @property
    def grayscale(self) -> bool:
        return self.in_channels == 1

    def steps(self) -> list[str]:
        """The pipeline in words, in the order it runs."""
        out = [f"resize the shorter side to {self.resize} px",
               f"centre-crop to {self.height}×{self.width}"]
        if self.grayscale:
            out.insert(0, "convert to grayscale")
            if self.invert:
                out.append("invert (MNIST digits are light on dark)")
        mean = ", ".join(f"{m:.4f}" for m in self.mean)
        std = ", ".join(f"{s:.4f}" for s in self.std)
        out += ["scale pixels to [0, 1]", f"normalise: (x − mean) / std, mean ({mean}), "
                f"std ({std})"]
        return out


def preprocessing_for(variant: str, *, invert: bool = False,
                      config: RunConfig | None = None) -> Preprocessing:
    """The preprocessing of a zoo variant ("mnist", "cifar", "imagenet") or of a training run.

    A run's config (runs contract) fixes channels, size, mean and std; otherwise the variant's
    dataset statistics are used.
    """
    if config is not None:
        variant = config.variant
    if variant == "imagenet":
        pre = Preprocessing(3, 224, 224, 256, IMAGENET_MEAN, IMAGENET_STD)
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
    if invert and pre.grayscale:
        pre = Preprocessing(pre.in_channels, pre.height, pre.width, pre.resize, pre.mean,
                            pre.std, invert=True)
    return pre


@dataclass(frozen=True)
class Prepared:
    """Each stage of the preprocessing, for display, and the tensor that goes in."""

    resized: Image.Image
    pixels: Image.Image  # cropped (and grayscale/inverted): exactly the model's view, 0..255
    tensor: torch.Tensor  # [1, C, H, W], normalised


def prepare(image: Image.Image, pre: Preprocessing) -> Prepared:
    """Run `pre` on a PIL image."""
    image = image.convert("L" if pre.grayscale else "RGB")
    resized = TF.resize(image, [pre.resize], antialias=True)
    if min(resized.size) < min(pre.height, pre.width):  # very thin images: stretch instead
        resized = resized.resize((max(resized.width, pre.width),
                                  max(resized.height, pre.height)))
    pixels = TF.center_crop(resized, [pre.height, pre.width])
    if pre.invert:
        pixels = ImageOps.invert(pixels)
    tensor = TF.normalize(TF.to_tensor(pixels), list(pre.mean), list(pre.std)).unsqueeze(0)
    return Prepared(resized, pixels, tensor)


def looks_dark_on_light(image: Image.Image) -> bool:
    """True when most of the image is bright: a digit on paper, which MNIST models see inverted."""
    return float(np.asarray(image.convert("L"), dtype=np.float32).mean()) > 127.5


# --- receptive fields ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReceptiveField:
    """Per axis (rows, cols): region size r, jump j between cells and centre of cell 0.

    Cell (i, k) of the layer sees input rows centred on `start[0] + i * jump[0]`,
    `size[0]` pixels tall (likewise for columns); pixel centres are at 0, 1, 2, ...
    """

    size: tuple[float, float] = (1.0, 1.0)
    jump: tuple[float, float] = (1.0, 1.0)
    start: tuple[float, float] = (0.0, 0.0)
    approximate: bool = False

    def then(self, kernel: Sequence[int], stride: Sequence[int], padding: Sequence[int],
             dilation: Sequence[int] = (1, 1), approximate: bool = False) -> ReceptiveField:
        """The field after one more conv/pool layer with these (per-axis) settings."""
        size, jump, start = [], [], []
        for ax in range(2):
            k_eff = dilation[ax] * (kernel[ax] - 1) + 1
            size.append(self.size[ax] + (k_eff - 1) * self.jump[ax])
            start.append(self.start[ax] + ((k_eff - 1) / 2 - padding[ax]) * self.jump[ax])
            jump.append(self.jump[ax] * stride[ax])
        return ReceptiveField(tuple(size), tuple(jump), tuple(start),  # type: ignore[arg-type]
                              self.approximate or approximate)

    def box(self, row: int, col: int) -> tuple[float, float, float, float]:
        """(top, left, bottom, right) in input pixel coordinates, edges inclusive of pixels."""
        cy = self.start[0] + row * self.jump[0]
        cx = self.start[1] + col * self.jump[1]
        return (cy - self.size[0] / 2 + 0.5, cx - self.size[1] / 2 + 0.5,
                cy + self.size[0] / 2 - 0.5, cx + self.size[1] / 2 - 0.5)


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[-1]))


_POINTWISE = (nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.GELU,
              nn.SiLU, nn.ELU, nn.Hardswish, nn.Dropout, nn.Dropout2d, nn.Identity,
              nn.LocalResponseNorm, nn.GroupNorm, nn.InstanceNorm2d)


def _layer_rf(module: nn.Module, rf: ReceptiveField, in_hw: tuple[int, int],
              out_hw: tuple[int, int]) -> ReceptiveField | None:
    """The receptive field after `module`, or None when this module's geometry is unknown."""
    if isinstance(module, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):
        dilation = getattr(module, "dilation", 1)
        return rf.then(_pair(module.kernel_size), _pair(module.stride or module.kernel_size),
                       _pair(module.padding), _pair(dilation))
    if isinstance(module, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
        stride, kernel, approx = [], [], False
        for n_in, n_out in zip(in_hw, out_hw, strict=True):
            s = n_in // n_out
            approx |= n_in % n_out != 0
            stride.append(max(s, 1))
            kernel.append(n_in - (n_out - 1) * max(s, 1))
        return rf.then(kernel, stride, (0, 0), approximate=approx)
    if isinstance(module, _POINTWISE) and in_hw == out_hw:
        return rf
    return None


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
    return "block" if any(True for _ in module.children()) else "other"


@dataclass
class LayerRecord:
    """One call of one module during the forward pass."""

    name: str  # dotted module name, plus "#2", "#3" for a module called again (ReLU reuse)
    kind: str
    type_name: str
    output: torch.Tensor  # a clone of the module's output, batch dimension kept
    inputs: tuple[object, ...] | None = None  # clones of the call's arguments, with keep_inputs
    rf: ReceptiveField | None = None

    @property
    def is_block(self) -> bool:
        return self.kind == "block"

    @property
    def is_spatial(self) -> bool:
        return self.output.dim() == 4

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.output.shape[1:])

    @property
    def maps(self) -> torch.Tensor:
        """[C, H, W] for a spatial layer (first image of the batch)."""
        return self.output[0]

    def label(self) -> str:
        return f"{self.name} · {self.type_name} · {shape_text(self.shape)}"


def shape_text(shape: Sequence[int]) -> str:
    return "×".join(str(s) for s in shape)


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


def _clone(value: object) -> object:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, list | tuple):  # DenseNet layers take a list of tensors
        return type(value)(_clone(v) for v in value)
    return value


def capture(model: nn.Module, x: torch.Tensor, keep_inputs: bool = False) -> Capture:
    """Run `model(x)` once with hooks on every module; record each leaf and block output.

    Outputs are cloned as they appear, so later in-place operations (`ReLU(inplace=True)`,
    `out += identity`) cannot change what was recorded. With `keep_inputs`, each call's
    inputs are cloned too, so a layer can be re-run on exactly what it received.
    """
    records: list[LayerRecord] = []
    calls: dict[str, int] = {}
    pending_inputs: dict[int, list[tuple[object, ...]]] = {}
    rf_of: dict[int, ReceptiveField | None] = {id(x): ReceptiveField()}
    alive: list[torch.Tensor] = [x]  # keeps ids unique while the pass runs
    rf_by_hw: dict[tuple[int, int], list[ReceptiveField]] = {}
    input_hw = (int(x.shape[-2]), int(x.shape[-1]))
    recorded: dict[int, tuple[torch.Tensor, int, torch.Tensor]] = {}

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
                if any(True for _ in module.children()):
                    rf = rf_of_input(output)  # its children already placed this tensor
                elif first is not None and first.dim() == 4:
                    rf_in = rf_of_input(first)
                    if rf_in is not None:
                        rf = _layer_rf(module, rf_in, tuple(first.shape[-2:]),
                                       tuple(output.shape[-2:]))
                rf_of[id(output)] = rf
                alive.append(output)
                if rf is not None:
                    rf_by_hw.setdefault(tuple(output.shape[-2:]), []).append(rf)
            last = recorded.get(id(output))
            if last is not None and last[0] is output and last[1] == output._version:
                saved = last[2]  # a block handing on its last child's untouched output
            else:
                saved = output.detach().clone()
                recorded[id(output)] = (output, output._version, saved)
            records.append(LayerRecord(label, layer_kind(module), type(module).__name__,
                                       saved, inputs, rf))
        return hook

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
    return [f"class {i}" for i in range(num_classes)]


# --- pictures ---------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def colormap_lut(name: str) -> np.ndarray:
    """A [256, 3] uint8 lookup table for a plotly colour scale name."""
    if name == "Gray":
        ramp = np.arange(256, dtype=np.uint8)
        return np.stack([ramp] * 3, axis=1)
    import plotly.colors as pc

    scale = pc.get_colorscale(name)
    colours = pc.sample_colorscale(scale, np.linspace(0, 1, 256).tolist(), colortype="tuple")
    return np.clip(np.rint(np.asarray(colours) * (255 if max(map(max, colours)) <= 1 else 1)),
                   0, 255).astype(np.uint8)


def normalise(maps: torch.Tensor, per_channel: bool = True) -> torch.Tensor:
    """Scale [C, H, W] to [0, 1] per channel, or with one range for the whole layer."""
    flat = maps.reshape(maps.shape[0], -1).float()
    if per_channel:
        lo, hi = flat.amin(1, keepdim=True), flat.amax(1, keepdim=True)
    else:
        lo, hi = flat.amin(), flat.amax()
    out = (flat - lo) / torch.clamp(hi - lo, min=1e-12)
    return out.reshape(maps.shape)


def colourise(unit: torch.Tensor, cmap: str) -> np.ndarray:
    """[..., H, W] values in [0, 1] to [..., H, W, 3] uint8 through a colour map."""
    lut = torch.from_numpy(colormap_lut(cmap))
    idx = torch.clamp((unit * 255).round().long(), 0, 255)
    return lut[idx].numpy()


def _tile_scale(h: int, w: int, target: int) -> int:
    return max(1, target // max(h, w))


def channel_grid(maps: torch.Tensor, order: Sequence[int] | None = None, cmap: str = "Viridis",
                 per_channel: bool = True, tile: int = 56, gap: int = 2,
                 columns: int | None = None) -> np.ndarray:
    """All channel maps of one layer as one RGB picture, in `order`, nearest-upscaled."""
    order = list(range(maps.shape[0])) if order is None else list(order)
    c, h, w = len(order), maps.shape[1], maps.shape[2]
    scale = _tile_scale(h, w, tile)
    rgb = torch.from_numpy(colourise(normalise(maps, per_channel)[order], cmap))  # c,h,w,3
    rgb = rgb.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    th, tw = h * scale, w * scale
    cols = columns or max(1, math.ceil(math.sqrt(c * th / tw)))
    rows = math.ceil(c / cols)
    canvas = torch.full((rows * (th + gap) - gap, cols * (tw + gap) - gap, 3), 255,
                        dtype=torch.uint8)
    padded = torch.full((rows * cols, th + gap, tw + gap, 3), 255, dtype=torch.uint8)
    padded[:c, :th, :tw] = rgb
    grid = padded.reshape(rows, cols, th + gap, tw + gap, 3).permute(0, 2, 1, 3, 4)
    grid = grid.reshape(rows * (th + gap), cols * (tw + gap), 3)
    canvas[:] = grid[: canvas.shape[0], : canvas.shape[1]]
    return canvas.numpy()


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def overview_strip(records: Sequence[LayerRecord], cmap: str = "Viridis",
                   max_tile: int = 112, min_tile: int = 14) -> Image.Image:
    """One row through the network: the strongest channel of each layer, its shape under it.

    Tiles are drawn at a size proportional to the map's height, so the pyramid of shrinking
    maps is visible; the label gives channels × height × width.
    """
    font, small = _font(13), _font(11)
    biggest = max(r.maps.shape[-2] for r in records)
    tiles, labels = [], []
    for r in records:
        maps = r.maps
        ch = strongest_channel(maps)
        side = max(min_tile, round(max_tile * maps.shape[-2] / biggest))
        rgb = Image.fromarray(colourise(normalise(maps[ch:ch + 1])[0], cmap))
        aspect = maps.shape[-1] / maps.shape[-2]
        tiles.append(rgb.resize((max(1, round(side * aspect)), side), Image.Resampling.NEAREST))
        labels.append((r.name, " x ".join(map(str, r.shape)), f"ch {ch}"))
    pad, label_h = 10, 50
    widths = [max(t.width, 8 + max(int(font.getlength(a)), int(small.getlength(b)),
                                   int(small.getlength(c)))) for t, (a, b, c) in
              zip(tiles, labels, strict=True)]
    strip = Image.new("RGB", (sum(widths) + pad * (len(tiles) + 1), max_tile + label_h + 2 * pad),
                      "white")
    draw = ImageDraw.Draw(strip)
    x = pad
    for tile, (name, shape, ch), w in zip(tiles, labels, widths, strict=True):
        left = x + (w - tile.width) // 2
        strip.paste(tile, (left, pad + max_tile - tile.height))
        y = pad + max_tile + 4
        draw.text((x + w / 2, y), name, fill=(20, 20, 20), font=font, anchor="ma")
        draw.text((x + w / 2, y + 17), shape, fill=(60, 60, 60), font=small, anchor="ma")
        draw.text((x + w / 2, y + 31), ch, fill=(120, 120, 120), font=small, anchor="ma")
        x += w + pad
    return strip


def overlay(base: Image.Image, unit_map: torch.Tensor, cmap: str = "Viridis",
            alpha: float = 0.5) -> Image.Image:
    """A [h, w] map in [0, 1], upsampled to `base`'s size and blended over it."""
    up = torch.nn.functional.interpolate(unit_map[None, None].float(),
                                         size=(base.height, base.width), mode="bilinear",
                                         align_corners=False)[0, 0].clamp(0, 1)
    heat = Image.fromarray(colourise(up, cmap))
    return Image.blend(base.convert("RGB"), heat, alpha)


def enlarge(unit_map: torch.Tensor, cmap: str, size: int = 224) -> Image.Image:
    """One channel map in [0, 1] as a picture about `size` px wide, pixels kept sharp."""
    h, w = unit_map.shape
    scale = _tile_scale(h, w, size)
    return Image.fromarray(colourise(unit_map, cmap)).resize((w * scale, h * scale),
                                                             Image.Resampling.NEAREST)


def draw_box(image: Image.Image, box: tuple[float, float, float, float],
             colour: tuple[int, int, int] = (255, 40, 40), scale: int = 1) -> Image.Image:
    """`image` (upscaled by `scale`) with a rectangle (top, left, bottom, right), clipped."""
    img = image.convert("RGB").resize((image.width * scale, image.height * scale),
                                      Image.Resampling.NEAREST)
    top, left, bottom, right = box
    top, left = max(top, 0), max(left, 0)
    bottom, right = min(bottom, image.height - 1), min(right, image.width - 1)
    draw = ImageDraw.Draw(img)
    draw.rectangle([left * scale, top * scale, (right + 1) * scale - 1, (bottom + 1) * scale - 1],
                   outline=colour, width=max(2, scale))
    return img


# --- first-layer filters ------------------------------------------------------------------


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


def filter_grid(weight: torch.Tensor, tile: int = 40, gap: int = 3, limit: int = 96,
                cmap: str = "RdBu_r") -> np.ndarray:
    """Filters as small images: RGB kernels in colour, single-channel ones through `cmap`.

    Each filter is scaled symmetrically around zero, so mid-grey (or white) means 0.
    """
    w = weight[:limit].float()
    peak = w.reshape(w.shape[0], -1).abs().amax(1).clamp(min=1e-12)
    unit = (w / peak[:, None, None, None] + 1) / 2  # [-peak, peak] -> [0, 1]
    if w.shape[1] == 3:
        rgb = (unit.permute(0, 2, 3, 1) * 255).round().to(torch.uint8)
    else:
        rgb = torch.from_numpy(colourise(unit.mean(1), cmap))
    n, kh, kw = rgb.shape[0], rgb.shape[1], rgb.shape[2]
    scale = _tile_scale(kh, kw, tile)
    rgb = rgb.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    cols = min(n, 16)
    rows = math.ceil(n / cols)
    th, tw = kh * scale, kw * scale
    padded = torch.full((rows * cols, th + gap, tw + gap, 3), 255, dtype=torch.uint8)
    padded[:n, :th, :tw] = rgb
    grid = padded.reshape(rows, cols, th + gap, tw + gap, 3).permute(0, 2, 1, 3, 4)
    return grid.reshape(rows * (th + gap), cols * (tw + gap), 3)[:-gap, :-gap].numpy()


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
