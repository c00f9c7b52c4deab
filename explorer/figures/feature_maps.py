"""Pictures of feature maps: colour maps, channel grids, the overview strip through the
network, overlays on the input, receptive-field boxes and first-layer filters.

Image builders: they take captured tensors (`explorer.feature_maps`) and return RGB arrays or
PIL images; tiles are laid out by `torchvision.utils.make_grid`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
from PIL import Image, ImageDraw
from torchvision.utils import make_grid

from explorer.feature_maps import LayerRecord, Prepared, Preprocessing, strongest_channel
from explorer.figures import fonts, palettes
from explorer.i18n import _

COLORMAPS = ("Viridis", "Cividis", "Gray", "Magma", "Inferno", palettes.SIGNED_NAME)


@lru_cache(maxsize=16)
def colormap_lut(name: str) -> np.ndarray:
    """A [256, 3] uint8 lookup table for a plotly colour scale name."""
    if name == "Gray":
        ramp = np.arange(256, dtype=np.uint8)
        return np.stack([ramp] * 3, axis=1)
    import plotly.colors as pc

    scale = palettes.SIGNED if name == palettes.SIGNED_NAME else pc.get_colorscale(name)
    colours = pc.sample_colorscale(scale, np.linspace(0, 1, 256).tolist(), colortype="tuple")
    return np.clip(np.rint(np.asarray(colours) * (255 if max(map(max, colours)) <= 1 else 1)),
                   0, 255).astype(np.uint8)


def scale_to_unit(maps: torch.Tensor, per_channel: bool = True) -> torch.Tensor:
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


def _tiled(rgb: torch.Tensor, columns: int, gap: int) -> np.ndarray:
    """[N, h, w, 3] uint8 tiles in rows of `columns`, `gap` white pixels between them (none
    around the outside), by `torchvision.utils.make_grid`."""
    if rgb.shape[0] == 1:  # make_grid hands a single image back unpadded
        return rgb[0].numpy()
    grid = make_grid(rgb.permute(0, 3, 1, 2), nrow=columns, padding=gap, pad_value=255)
    return grid[:, gap:grid.shape[1] - gap, gap:grid.shape[2] - gap].permute(1, 2, 0).numpy()


def channel_grid(maps: torch.Tensor, order: Sequence[int] | None = None, cmap: str = "Viridis",
                 per_channel: bool = True, tile: int = 56, gap: int = 2,
                 columns: int | None = None) -> np.ndarray:
    """All channel maps of one layer as one RGB picture, in `order`, nearest-upscaled."""
    order = list(range(maps.shape[0])) if order is None else list(order)
    c, h, w = len(order), maps.shape[1], maps.shape[2]
    scale = _tile_scale(h, w, tile)
    rgb = torch.from_numpy(colourise(scale_to_unit(maps, per_channel)[order], cmap))  # c,h,w,3
    rgb = rgb.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    cols = columns or max(1, math.ceil(math.sqrt(c * h / w)))
    return _tiled(rgb, cols, gap)


def overview_strip(records: Sequence[LayerRecord], cmap: str = "Viridis",
                   max_tile: int = 128, min_tile: int = 32) -> Image.Image:
    """One row through the network: the strongest channel of each layer, its shape under it.

    Tiles are drawn at a size proportional to the map's height, so the pyramid of shrinking
    maps is visible, but never under `min_tile` (a 7×7 map of ResNet's last stage is still a
    picture); the label gives channels × height × width.
    """
    font, small = fonts.font(14), fonts.font(12)
    biggest = max(r.maps.shape[-2] for r in records)
    tiles, labels = [], []
    for r in records:
        maps = r.maps
        ch = strongest_channel(maps)
        side = max(min_tile, round(max_tile * maps.shape[-2] / biggest))
        rgb = Image.fromarray(colourise(scale_to_unit(maps[ch:ch + 1])[0], cmap))
        aspect = maps.shape[-1] / maps.shape[-2]
        tiles.append(rgb.resize((max(1, round(side * aspect)), side), Image.Resampling.NEAREST))
        labels.append((r.name, " x ".join(map(str, r.shape)),
                       fonts.label(_("ch {n}").format(n=ch), f"ch {ch}")))
    pad, label_h = 10, 54
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
        draw.text((x + w / 2, y + 18), shape, fill=(60, 60, 60), font=small, anchor="ma")
        draw.text((x + w / 2, y + 33), ch, fill=(100, 100, 100), font=small, anchor="ma")
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


def preprocessing_stages(photo: Image.Image, prepared: Prepared, pre: Preprocessing
                         ) -> list[Image.Image | np.ndarray]:
    """The photo, resized, centre-cropped (224 px wide, pixels kept sharp) and as the
    normalised tensor's channels (blue < 0 < orange)."""
    crop = prepared.pixels.resize((224, round(224 * pre.height / pre.width)),
                                  Image.Resampling.NEAREST)
    channels = channel_grid(prepared.tensor[0], cmap=palettes.SIGNED_NAME, per_channel=True,
                            tile=112, columns=1 if pre.in_channels == 1 else 3)
    return [photo, prepared.resized, crop, channels]


def channel_views(maps: torch.Tensor, channel: int, pixels: Image.Image, cmap: str,
                  alpha: float) -> tuple[Image.Image, Image.Image]:
    """One channel of [C, H, W] maps enlarged, and over the 224×224 input."""
    unit = scale_to_unit(maps[channel:channel + 1], per_channel=True)[0]
    return enlarge(unit, cmap), overlay(pixels.resize((224, 224)), unit, cmap, alpha)


def grad_cam_views(pixels: Image.Image, cam: torch.Tensor) -> tuple[Image.Image, Image.Image]:
    """The 224×224 input, and a Grad-CAM map over it."""
    base = pixels.resize((224, 224))
    return base, overlay(base, cam, "Inferno", 0.5)


def receptive_field_box(pixels: Image.Image, box: tuple[float, float, float, float]
                        ) -> Image.Image:
    """The network's input with a cell's receptive field drawn on it, enlarged to about
    448 px (by a whole factor, pixels kept sharp)."""
    return draw_box(pixels, box, scale=max(1, 448 // max(pixels.height, pixels.width)))


def filter_grid(weight: torch.Tensor, tile: int = 40, gap: int = 3, limit: int = 96,
                cmap: str = palettes.SIGNED_NAME) -> np.ndarray:
    """Filters as small images, 16 to a row: RGB kernels in colour, others through `cmap`.

    Each filter is scaled symmetrically around zero, so mid-grey (or white) means 0.
    """
    w = weight[:limit].float()
    peak = w.reshape(w.shape[0], -1).abs().amax(1).clamp(min=1e-12)
    unit = (w / peak[:, None, None, None] + 1) / 2  # [-peak, peak] -> [0, 1]
    if w.shape[1] == 3:
        rgb = (unit.permute(0, 2, 3, 1) * 255).round().to(torch.uint8)
    else:
        rgb = torch.from_numpy(colourise(unit.mean(1), cmap))
    scale = _tile_scale(rgb.shape[1], rgb.shape[2], tile)
    rgb = rgb.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    return _tiled(rgb, 16, gap)
