"""Data augmentation and normalisation, batched on the training device.

The course augments one PIL image at a time in DataLoader workers. Here a whole batch is
augmented with one `affine_grid` + `grid_sample` call on the device that trains: every sample
draws its own flip, rotation, zoom and shift, so the randomness is per sample while the work is
one tensor operation. Images stay in [0, 1] until `normalise` subtracts the dataset mean.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from explorer.i18n import _


@dataclass(frozen=True)
class AugmentConfig:
    """Which random transforms each training image gets (all off by default)."""

    hflip: bool = False  # mirror left-right with probability 1/2
    vflip: bool = False  # mirror top-bottom with probability 1/2
    rotation: float = 0.0  # rotate by a uniform angle in [-rotation, +rotation] degrees
    rot90: bool = False  # rotate by a random multiple of 90°
    scale_min: float = 1.0  # zoom by a uniform factor in [scale_min, scale_max] (>1 zooms in)
    scale_max: float = 1.0
    crop_padding: int = 0  # random crop: shift by up to this many whole pixels, zero fill
    noise: float = 0.0  # std of additive Gaussian noise, in units of the [0, 1] pixel range

    @property
    def enabled(self) -> bool:
        return self != AugmentConfig()

    @property
    def geometric(self) -> bool:
        return bool(self.hflip or self.vflip or self.rotation or self.rot90
                    or self.scale_min != 1.0 or self.scale_max != 1.0 or self.crop_padding)

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """One line for run lists: what is on."""
        parts = [name for name, on in ((_("h-flip"), self.hflip), (_("v-flip"), self.vflip),
                                       ("rot90", self.rot90)) if on]
        if self.rotation:
            parts.append(f"±{self.rotation:g}°")
        if (self.scale_min, self.scale_max) != (1.0, 1.0):
            parts.append(_("zoom {low:g}–{high:g}").format(low=self.scale_min,
                                                           high=self.scale_max))
        if self.crop_padding:
            parts.append(_("crop ±{n}px").format(n=self.crop_padding))
        if self.noise:
            parts.append(_("noise σ={s:g}").format(s=self.noise))
        return _(", ").join(parts) or _("none")


def _uniform(n: int, low: float, high: float, g: torch.Generator | None,
             device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=g, device=device) * (high - low) + low


def _coin(n: int, g: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """±1 per sample with probability 1/2 each."""
    return torch.randint(0, 2, (n,), generator=g, device=device).float() * 2 - 1


def affine_matrices(n: int, height: int, width: int, cfg: AugmentConfig,
                    g: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """[n, 2, 3] matrices mapping output to input coordinates in `affine_grid`'s [-1, 1] frame."""
    angle = torch.zeros(n, device=device)
    if cfg.rotation:
        angle = angle + _uniform(n, -cfg.rotation, cfg.rotation, g, device)
    if cfg.rot90:
        angle = angle + 90.0 * torch.randint(0, 4, (n,), generator=g, device=device).float()
    rad = angle * (math.pi / 180.0)
    cos, sin = torch.cos(rad), torch.sin(rad)
    zoom = (_uniform(n, cfg.scale_min, cfg.scale_max, g, device)
            if (cfg.scale_min, cfg.scale_max) != (1.0, 1.0) else torch.ones(n, device=device))
    fx = _coin(n, g, device) if cfg.hflip else torch.ones(n, device=device)
    fy = _coin(n, g, device) if cfg.vflip else torch.ones(n, device=device)
    # Rotate in pixel units (so non-square images keep their aspect), then back to [-1, 1].
    ax, ay = width / 2.0, height / 2.0
    theta = torch.zeros(n, 2, 3, device=device)
    theta[:, 0, 0] = cos * fx / zoom
    theta[:, 0, 1] = -sin * fy / zoom * (ay / ax)
    theta[:, 1, 0] = sin * fx / zoom * (ax / ay)
    theta[:, 1, 1] = cos * fy / zoom
    if cfg.crop_padding:
        p = cfg.crop_padding
        shift = torch.randint(-p, p + 1, (n, 2), generator=g, device=device).float()
        theta[:, 0, 2] = shift[:, 0] * 2.0 / width
        theta[:, 1, 2] = shift[:, 1] * 2.0 / height
    return theta


def augment(x: torch.Tensor, cfg: AugmentConfig,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Augment a float batch [N, C, H, W] in [0, 1]; each sample gets its own random draw."""
    if not cfg.enabled or x.shape[0] == 0:
        return x
    n, _c, h, w = x.shape
    if cfg.geometric:
        theta = affine_matrices(n, h, w, cfg, generator, x.device).to(x.dtype)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if cfg.noise:
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        x = (x + cfg.noise * noise).clamp_(0.0, 1.0)
    return x


def to_float(x_uint8: torch.Tensor, size: int | None = None) -> torch.Tensor:
    """uint8 [N, C, H, W] → float in [0, 1], resized to size×size when `size` is given."""
    x = x_uint8.float().div_(255.0)
    if size and (x.shape[-2], x.shape[-1]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                          antialias=size < x.shape[-1])
    return x


def normalise(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """(x − mean) / std per channel; mean and std are [C] tensors on x's device."""
    return (x - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)


class BatchPipeline:
    """uint8 batch on the device → resized, augmented (training only), normalised floats."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...], cfg: AugmentConfig,
                 device: torch.device, size: int | None = None, seed: int = 0) -> None:
        self.mean = torch.tensor(mean, device=device)
        self.std = torch.tensor(std, device=device)
        # (x / 255 − mean) / std as one multiply and one add, in place on the float copy
        self.scale = (1.0 / (255.0 * self.std)).view(1, -1, 1, 1)
        self.shift = (-self.mean / self.std).view(1, -1, 1, 1)
        self.cfg = cfg
        self.size = size
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)

    def __call__(self, x_uint8: torch.Tensor, train: bool = True) -> torch.Tensor:
        resize = self.size and tuple(x_uint8.shape[-2:]) != (self.size, self.size)
        if not resize and not (train and self.cfg.enabled):  # the common case: 2 passes, not 4
            return x_uint8.float().mul_(self.scale).add_(self.shift)
        x = to_float(x_uint8, self.size)
        if train:
            x = augment(x, self.cfg, self.generator)
        return normalise(x, self.mean, self.std)


def preview(x_uint8: torch.Tensor, cfg: AugmentConfig, copies: int = 4,
            seed: int = 0) -> torch.Tensor:
    """`copies` augmented versions of each image, as [len(x) * copies, C, H, W] in [0, 1].

    Row i of the grid is image i: first the original, then its augmented copies.
    """
    g = torch.Generator().manual_seed(seed)
    x = to_float(x_uint8)
    rows = []
    for img in x:
        batch = img.unsqueeze(0).expand(copies - 1, -1, -1, -1).contiguous()
        rows += [img.unsqueeze(0), augment(batch, cfg, g)]
    return torch.cat(rows)


def grid_image(x: torch.Tensor, nrow: int, upscale: int = 3) -> torch.Tensor:
    """A float batch in [0, 1] tiled into one uint8 HWC image (nearest-upscaled for display)."""
    from torchvision.utils import make_grid

    if upscale > 1:
        x = F.interpolate(x, scale_factor=upscale, mode="nearest")
    grid = make_grid(x, nrow=nrow, padding=2, pad_value=1.0)
    return (grid.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0)
