"""What does this channel look for? Three views of one channel of a conv layer.

1. **Feature visualisation** (Olah, Mordvintsev & Schubert, "Feature Visualization", Distill
   2017; the method of Lucid): an input optimised with Adam to excite the channel. The image
   is not optimised pixel by pixel, which gives high-frequency noise that excites a network
   just as well: it is a spectrum (`FourierImage`), each frequency scaled by 1/frequency so
   that all of them learn at a similar rate, turned into pixels by an inverse FFT, its
   colours decorrelated by the square root of the dataset's colour covariance, and squashed
   into [0, 1] by a sigmoid. Each step sees it randomly shifted, scaled and rotated
   ("transformation robustness"), so only patterns that excite the channel wherever they
   sit survive.
2. **Dataset examples**: the images of a dataset whose strongest response in the channel is
   the largest, and the smallest, each with the patch of input that the strongest cell sees
   (its receptive field).
3. The channel's map on the student's own photo is Feature maps' own view.

Everything runs on whatever device the model is on and never imports the web app: the
training workers run it as a job (explorer.training), the page shows the frames.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from explorer.feature_maps import capture
from explorer.receptive_field import ReceptiveField


@dataclass(frozen=True)
class Settings:
    """How an optimised image is made (Lucid's defaults, scaled to small inputs)."""

    steps: int = 256
    lr: float = 0.05
    frames: int = 8  # snapshots of the image as it grows, the last one the result
    jitter: float = 1 / 16  # largest random shift, as a share of the image side
    scale: tuple[float, float] = (0.95, 1.05)
    rotation: float = 5.0  # largest random rotation, in degrees
    decay_power: float = 1.0  # the spectrum's scaling: 1 / frequency ** decay_power
    seed: int = 0
    #: "channel": the channel's mean over every position (a texture of what it looks for);
    #: "neuron": its centre cell alone (one instance of it, in the middle)
    objective: str = "channel"


@dataclass(frozen=True)
class Frame:
    """The image after `step` optimisation steps: pixels in [0, 1], [C, H, W], and the
    channel's mean response to it."""

    step: int
    image: torch.Tensor
    activation: float


def colour_basis(images: torch.Tensor) -> torch.Tensor:
    """[C, C]: the square root of the images' colour covariance (by SVD), scaled so its
    largest column has norm 1. Mixing decorrelated noise with it gives the data's colours
    (Lucid's colour decorrelation); a single channel gets [[1]]."""
    c = images.shape[1]
    if c == 1:
        return torch.ones(1, 1)
    pixels = images.float().transpose(0, 1).reshape(c, -1)
    pixels = pixels - pixels.mean(1, keepdim=True)
    u, s, _ = torch.linalg.svd(pixels @ pixels.T / pixels.shape[1])
    root = u * s.sqrt()
    return root / root.norm(dim=0).max()


class FourierImage(nn.Module):
    """An image parametrised by its (scaled) spectrum; `forward` gives pixels in [0, 1]."""

    def __init__(self, channels: int, height: int, width: int, basis: torch.Tensor,
                 decay_power: float = 1.0, generator: torch.Generator | None = None) -> None:
        super().__init__()
        fy = torch.fft.fftfreq(height)[:, None]
        fx = torch.fft.rfftfreq(width)[None, :]
        frequency = (fx ** 2 + fy ** 2).sqrt().clamp_min(1.0 / max(height, width))
        self.register_buffer("scale", frequency ** -decay_power)
        self.register_buffer("basis", basis.float())
        self.size = (height, width)
        self.spectrum = nn.Parameter(
            0.01 * torch.randn(channels, height, width // 2 + 1, 2, generator=generator))

    def forward(self) -> torch.Tensor:
        spectrum = torch.view_as_complex(self.spectrum) * self.scale
        image = torch.fft.irfft2(spectrum, s=self.size, norm="ortho") / 4  # Lucid's range
        image = torch.einsum("ij,jhw->ihw", self.basis, image)
        return torch.sigmoid(image)


def _random_views(image: torch.Tensor, settings: Settings,
                  generator: torch.Generator) -> torch.Tensor:
    """A batch of one randomly shifted, scaled and rotated copy of [C, H, W] (differentiable:
    one affine grid_sample, the edges reflected)."""
    rand = torch.rand(4, generator=generator).tolist()
    angle = math.radians((2 * rand[0] - 1) * settings.rotation)
    zoom = settings.scale[0] + rand[1] * (settings.scale[1] - settings.scale[0])
    shift = [(2 * r - 1) * 2 * settings.jitter for r in rand[2:]]  # grid units: 2 = the side
    cos, sin = math.cos(angle) / zoom, math.sin(angle) / zoom
    theta = torch.tensor([[cos, -sin, shift[0]], [sin, cos, shift[1]]],
                         device=image.device).unsqueeze(0)
    grid = nn.functional.affine_grid(theta, [1, *image.shape], align_corners=False)
    return nn.functional.grid_sample(image.unsqueeze(0), grid, padding_mode="reflection",
                                     align_corners=False)


class _Reached(Exception):
    """Raised by the hook once the layer's output is kept: the layers after it are not run."""


class _Hooked:
    """The output of one module of `model`, kept by a forward hook while in a `with`;
    `run(x)` runs the network only up to that module (a first layer of VGG-16 need not pay
    for the other twelve, nor for their backward pass)."""

    def __init__(self, model: nn.Module, layer: str) -> None:
        modules = dict(model.named_modules())
        if layer not in modules:
            raise ValueError(f"{layer!r} is not a layer of this network")
        self.model, self.module, self.output = model, modules[layer], None

    def __enter__(self) -> _Hooked:
        self.handle = self.module.register_forward_hook(self._keep)
        return self

    def _keep(self, _module, _inputs, output) -> None:
        self.output = output
        raise _Reached

    def run(self, x: torch.Tensor) -> torch.Tensor:
        """The layer's output for input `x`."""
        with contextlib.suppress(_Reached):
            self.model(x)
        return self.output

    def __exit__(self, *exc: object) -> None:
        self.handle.remove()


def _excitation(maps: torch.Tensor, objective: str, slope: float = 0.0) -> torch.Tensor:
    """[N] from one channel's maps [N, H, W]: after a (leaky) ReLU, the mean over positions
    ("channel") or the centre cell ("neuron")."""
    maps = nn.functional.leaky_relu(maps, slope) if slope else maps.relu()
    if objective == "neuron":
        return maps[:, maps.shape[1] // 2, maps.shape[2] // 2]
    return maps.flatten(1).mean(1)


def channel_response(model: nn.Module, layer: str, channel: int, x: torch.Tensor,
                     objective: str = "channel") -> torch.Tensor:
    """[N]: how strongly each input `x` excites `channel` of `layer` (see `Settings.objective`)."""
    with _Hooked(model, layer) as hooked, torch.no_grad():
        maps = hooked.run(x)
    return _excitation(maps[:, channel], objective)


def visualise(model: nn.Module, layer: str, channel: int, shape: tuple[int, int, int],
              mean: tuple[float, ...], std: tuple[float, ...], basis: torch.Tensor,
              settings: Settings = Settings(),
              should_stop: Callable[[], bool] = lambda: False) -> Iterator[Frame]:
    """Optimise an image to excite `channel` of `layer`: yields `settings.frames` frames, the
    first before any step, the last the result (fewer when `should_stop` says so).

    The objective is the channel's mean response after a ReLU, as `channel_response` measures
    it: a conv is linear, so the mean of its raw output over all positions depends only on
    the image's mean brightness (an edge detector's weights sum to about 0), while the ReLU
    rewards a pattern that matches the filter in many places. `model` is used in eval mode
    and its weights are not changed.
    """
    model = model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(settings.seed)
    image = FourierImage(*shape, basis, settings.decay_power, generator).to(device)
    optimizer = torch.optim.Adam(image.parameters(), lr=settings.lr)
    m = torch.tensor(mean, device=device).view(-1, 1, 1)
    s = torch.tensor(std, device=device).view(-1, 1, 1)
    shown = {round(i * settings.steps / max(1, settings.frames - 1))
             for i in range(settings.frames)}
    params = [p.requires_grad_(False) for p in model.parameters()]
    try:
        with _Hooked(model, layer) as hooked:
            for step in range(settings.steps + 1):
                if step in shown or should_stop():
                    with torch.no_grad():  # as `channel_response` measures it
                        pixels = image()
                        seen = hooked.run(((pixels - m) / s).unsqueeze(0))
                        response = float(_excitation(seen[:, channel], settings.objective)[0])
                    yield Frame(step, pixels.cpu(), response)
                    if should_stop():
                        return
                if step == settings.steps:
                    return
                maps = hooked.run((_random_views(image(), settings, generator) - m) / s)
                # leaky: a channel that nothing excites yet still gets a gradient
                loss = -_excitation(maps[:, channel], settings.objective, 0.1).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    finally:
        for p in params:
            p.requires_grad_(True)


@dataclass(frozen=True)
class Example:
    """One dataset image and how it excites the channel: its strongest cell's response and
    the input patch (top, left, bottom, right; pixels, inclusive) that cell sees."""

    index: int
    response: float
    patch: tuple[int, int, int, int]


def receptive_field(model: nn.Module, layer: str, x: torch.Tensor) -> ReceptiveField | None:
    """The receptive field of `layer`'s cells for inputs shaped like `x` (None: unknown)."""
    with torch.no_grad():
        return capture(model, x[:1])[layer].rf


def dataset_examples(model: nn.Module, layer: str, channel: int, images: torch.Tensor,
                     normalise: Callable[[torch.Tensor], torch.Tensor], count: int = 8,
                     batch_size: int = 256) -> tuple[list[Example], list[Example]]:
    """The `count` images (uint8 [N, C, H, W]) whose strongest cell in `channel` responds the
    most, and the `count` that respond the least: (most, least), strongest first."""
    model = model.eval()
    device = next(model.parameters()).device
    best, where = [], []
    with _Hooked(model, layer) as hooked, torch.no_grad():
        for i in range(0, len(images), batch_size):
            maps = hooked.run(normalise(images[i:i + batch_size].to(device)))[:, channel]
            maps = maps.flatten(1)
            value, position = maps.max(1)
            best.append(value.cpu())
            where.append(position.cpu())
        width = hooked.output.shape[-1]
    best_t, where_t = torch.cat(best), torch.cat(where)
    rf = receptive_field(model, layer, normalise(images[:1].to(device)))
    h, w = images.shape[-2:]

    def example(i: int) -> Example:
        row, col = divmod(int(where_t[i]), width)
        box = rf.box(row, col) if rf is not None else (0, 0, h - 1, w - 1)
        top, left = max(0, math.floor(box[0])), max(0, math.floor(box[1]))
        bottom, right = min(h - 1, math.ceil(box[2])), min(w - 1, math.ceil(box[3]))
        return Example(i, float(best_t[i]), (top, left, bottom, right))

    k = min(count, len(best_t))
    most = best_t.topk(k).indices.tolist()
    least = (-best_t).topk(k).indices.tolist()
    return [example(i) for i in most], [example(i) for i in least]


def filter_match(image: torch.Tensor, weight: torch.Tensor) -> float:
    """The largest normalised cross-correlation between a first-layer filter [C, k, k] and the
    k×k patches of an image [C, H, W]: 1 where some patch is the filter's pattern exactly."""
    patches = nn.functional.unfold(image.unsqueeze(0).float(), weight.shape[-2:])[0]  # Ck², L
    patches = patches - patches.mean(0, keepdim=True)
    kernel = weight.flatten().float()
    kernel = kernel - kernel.mean()
    scores = kernel @ patches / (kernel.norm() * patches.norm(dim=0)).clamp_min(1e-12)
    return float(scores.max())
