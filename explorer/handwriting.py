"""Your own handwriting, prepared the way MNIST's digits were.

LeCun, Cortes and Burges describe it: the NIST digits "were size normalized to fit in a 20x20
pixel box while preserving their aspect ratio" (anti-aliased, hence the grey levels), then
"centered in a 28x28 image by computing the center of mass of the pixels, and translating
the image so as to position this point at the center of the 28x28 field". Measured on the
bundled digits: the ink's bounding box has a longer side of exactly 20 pixels, and the centre
of mass lies within half a pixel of (14, 14) in row/column index coordinates (whole-pixel
shifts). A drawing that skips these steps (a small digit in a corner of a big canvas) is
something the network never saw, so a trained LeNet misreads it.

A photo of a digit on paper (`prepare_photo`) first becomes such a drawing: dark ink on light
paper is inverted, the contrast stretched from the paper's level to the ink's, and a soft
threshold clears the paper's grain; then the canvas's own steps run on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image, ImageFilter

from explorer.i18n import _

if TYPE_CHECKING:  # a run's settings, read by attribute: the lesson does not import training
    from explorer.training.config import RunConfig

FIELD = 28  # the MNIST image
BOX = 20  # the box the ink is scaled into
CENTRE = 14.0  # where the centre of mass goes, in row/column index coordinates
INK_THRESHOLD = 8  # 0..255: fainter pixels (anti-aliasing dust) do not count as ink
PHOTO_SIDE = 280  # a photo is shrunk to the canvas's size first: the box is 20 px anyway
INK_PERCENTILE = 99.5  # the ink's level: strokes cover a few percent of a digit's photo
SOFT_THRESHOLD = (0.25, 0.6)  # of the stretched range: below is paper, above is ink


@dataclass(frozen=True)
class Steps:
    """Every stage of the preprocessing, for display, and its numbers."""

    ink: np.ndarray  # [H, W] uint8: the canvas as light ink on black
    box: tuple[int, int, int, int]  # (top, left, bottom, right) of the ink, inclusive
    cropped: np.ndarray  # the ink's bounding box
    fitted: np.ndarray  # scaled so its longer side is 20 px, aspect ratio kept
    centred: np.ndarray  # [28, 28] uint8: the digit as MNIST would have it
    centre_of_mass: tuple[float, float]  # of `centred`, (row, column)
    offset: tuple[int, int]  # where `fitted`'s top-left corner went in the 28×28 field

    def describe(self, photo: bool = False) -> list[str]:
        """The steps in words, with this drawing's (or this `photo`'s) numbers."""
        top, left, bottom, right = self.box
        h, w = self.fitted.shape
        cy, cx = self.centre_of_mass
        found = (_("ink found in rows {top}–{bottom} and columns {left}–{right} of the photo "
                   "({ch} rows × {cw} columns): crop to that bounding box") if photo else
                 _("ink found in rows {top}–{bottom} and columns {left}–{right} of the {ch}×{cw} "
                   "canvas: crop to that bounding box"))
        return [
            found.format(top=top, bottom=bottom, left=left, right=right, ch=self.ink.shape[0],
                         cw=self.ink.shape[1]),
            _("scale it so its longer side is {box} px, keeping its aspect ratio: {h}×{w} "
              "(anti-aliased, hence the grey edges)").format(box=BOX, h=h, w=w),
            _("place it in a {n}×{n} field so its centre of mass falls on the centre: top-left "
              "corner at row {row}, column {col}; centre of mass ({cy:.2f}, {cx:.2f})").format(
                n=FIELD, row=self.offset[0], col=self.offset[1], cy=cy, cx=cx),
        ]


def ink(picture: np.ndarray) -> np.ndarray:
    """Light-on-dark ink, uint8 [H, W], from a canvas picture: RGBA, RGB or grayscale.

    Transparent pixels are no ink (their colour is ignored); otherwise brightness is ink.
    """
    array = np.asarray(picture)
    if array.ndim == 2:
        return array.astype(np.uint8)
    rgb = array[..., :3].astype(np.float32)
    light = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if array.shape[-1] == 4:
        light = light * (array[..., 3].astype(np.float32) / 255)
    return np.clip(np.rint(light), 0, 255).astype(np.uint8)


def bounding_box(ink_image: np.ndarray, threshold: int = INK_THRESHOLD
                 ) -> tuple[int, int, int, int] | None:
    """(top, left, bottom, right), inclusive, of the pixels above `threshold`; None: no ink."""
    rows = np.flatnonzero((ink_image > threshold).any(axis=1))
    cols = np.flatnonzero((ink_image > threshold).any(axis=0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1])


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, column) of the intensity-weighted mean position; the middle for a blank image."""
    weights = image.astype(np.float64)
    total = weights.sum()
    if total == 0:
        return (image.shape[0] - 1) / 2, (image.shape[1] - 1) / 2
    rows, cols = np.indices(image.shape)
    return float((weights * rows).sum() / total), float((weights * cols).sum() / total)


def fit_into_box(cropped: np.ndarray, box: int = BOX) -> np.ndarray:
    """Scale so the longer side is `box` px, aspect ratio kept, with anti-aliasing."""
    h, w = cropped.shape
    factor = box / max(h, w)
    size = (max(1, round(w * factor)), max(1, round(h * factor)))  # PIL: (width, height)
    return np.asarray(Image.fromarray(cropped).resize(size, Image.Resampling.LANCZOS))


def centre_by_mass(fitted: np.ndarray, field: int = FIELD, centre: float = CENTRE
                   ) -> tuple[np.ndarray, tuple[int, int]]:
    """Paste `fitted` into a field×field black image, shifted by whole pixels so that its
    centre of mass lands within half a pixel of (centre, centre); returns (image, offset)."""
    h, w = fitted.shape
    cy, cx = centre_of_mass(fitted)
    top = int(np.clip(round(centre - cy), 0, field - h))
    left = int(np.clip(round(centre - cx), 0, field - w))
    out = np.zeros((field, field), dtype=np.uint8)
    out[top:top + h, left:left + w] = fitted
    return out, (top, left)


def prepare(picture: np.ndarray) -> Steps | None:
    """Run the MNIST preprocessing on a canvas picture; None when nothing is drawn."""
    light = ink(picture)
    box = bounding_box(light)
    if box is None:
        return None
    top, left, bottom, right = box
    cropped = light[top:bottom + 1, left:right + 1]
    fitted = fit_into_box(cropped)
    centred, offset = centre_by_mass(fitted)
    return Steps(light, box, cropped, fitted, centred, centre_of_mass(centred), offset)


@dataclass(frozen=True)
class PhotoSteps:
    """A photo of a handwritten digit made into a canvas drawing, then the canvas's steps."""

    grey: np.ndarray  # [H, W] uint8: the photo in grey, at most PHOTO_SIDE px
    dark_ink: bool  # the ink is darker than the paper, so the photo was inverted
    light: np.ndarray  # light ink on dark paper
    paper: float  # the paper's level once its local level is off (the median), 0..255
    ink_level: float  # the ink's level then (its INK_PERCENTILE)
    stretched: np.ndarray  # paper at 0, ink at 255
    soft: np.ndarray  # after the soft threshold: the drawing the canvas steps start from
    steps: Steps | None  # the canvas's steps on `soft`; None: no ink stood out of the paper

    def describe(self) -> list[str]:
        """The photo's own steps in words, with its numbers (the canvas's follow)."""
        low, high = SOFT_THRESHOLD
        return [
            _("in grey, shrunk to at most {side} px, a 3×3 median against the paper's grain"
              ).format(side=PHOTO_SIDE),
            (_("the ink is darker than the paper (most pixels are paper, and the darkest "
               "stand further from them than the brightest): inverted, as MNIST's digits "
               "are light on black") if self.dark_ink else
             _("the ink is lighter than the paper already: not inverted")),
            _("contrast stretched: the paper's own level around each place (uneven light, "
              "shadows) taken off, then the paper's median {paper:.0f} to 0 and the ink's "
              "{ink:.0f} (the {pct}th percentile) to 255").format(
                paper=self.paper, ink=self.ink_level, pct=INK_PERCENTILE),
            _("soft threshold: under {low:.0%} of that range is paper (0), over {high:.0%} is "
              "ink (255), smoothly in between; specks narrower than 3 px (noise) removed"
              ).format(low=low, high=high),
        ]


def paper_level(light: np.ndarray) -> np.ndarray:
    """The paper's brightness around every pixel of light ink on dark paper: a grey-level
    opening (minimum, then maximum) wider than a pen stroke, on a 1:4 copy, smoothed back to
    full size. Subtracted, it takes uneven light and shadows off the paper."""
    small = Image.fromarray(np.clip(light, 0, 255).astype(np.uint8))
    quarter = small.resize((max(1, small.width // 4), max(1, small.height // 4)),
                           Image.Resampling.BOX)
    side = 2 * max(2, max(quarter.size) // 12) + 1  # a tenth of the photo: wider than a pen
    opened = quarter.filter(ImageFilter.MinFilter(side)).filter(ImageFilter.MaxFilter(side))
    smooth = opened.filter(ImageFilter.BoxBlur(side // 2)).resize(small.size,
                                                                  Image.Resampling.BILINEAR)
    return np.asarray(smooth, dtype=np.float32)


def prepare_photo(grey: np.ndarray) -> PhotoSteps:
    """Make a photo of a handwritten digit (uint8 [H, W] grey) into light ink on black the
    way the canvas draws, and run the canvas's steps (`prepare`) on it."""
    picture = Image.fromarray(np.asarray(grey, dtype=np.uint8))
    if max(picture.size) > PHOTO_SIDE:
        factor = PHOTO_SIDE / max(picture.size)
        picture = picture.resize((max(1, round(picture.width * factor)),
                                  max(1, round(picture.height * factor))),
                                 Image.Resampling.BOX)
    values = np.asarray(picture.filter(ImageFilter.MedianFilter(3)), dtype=np.float32)
    middle = float(np.median(values))
    darkest, brightest = np.percentile(values, [100 - INK_PERCENTILE, INK_PERCENTILE])
    dark_ink = bool(middle - darkest > brightest - middle)
    light = 255 - values if dark_ink else values
    flat = light - paper_level(light)
    paper = float(np.median(flat))
    ink_level = float(np.percentile(flat, INK_PERCENTILE))
    unit = np.clip((flat - paper) / max(ink_level - paper, 1e-6), 0, 1)
    low, high = SOFT_THRESHOLD
    t = np.clip((unit - low) / (high - low), 0, 1)
    soft = Image.fromarray(np.rint(255 * t * t * (3 - 2 * t)).astype(np.uint8))  # smoothstep
    # an opening: specks of noise narrower than 3 px go, strokes (wider) stay as they were
    soft = np.asarray(soft.filter(ImageFilter.MinFilter(3)).filter(ImageFilter.MaxFilter(3)))
    if ink_level - paper < 16:  # nothing stands out of the paper: a blank page
        soft = np.zeros_like(soft)
    return PhotoSteps(np.asarray(picture), dark_ink, np.rint(light).astype(np.uint8), paper,
                      ink_level, np.rint(255 * unit).astype(np.uint8), soft, prepare(soft))


def to_input(centred: np.ndarray, config: RunConfig) -> torch.Tensor:
    """The [1, C, H, W] tensor the run's network takes: scaled to [0, 1], resized to the run's
    input size if it differs, normalised with the run's mean and std (as its test set was)."""
    x = torch.from_numpy(centred.astype(np.float32) / 255)[None, None]
    c, h, w = config.input_shape
    if (h, w) != x.shape[-2:]:
        x = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", antialias=True,
                                            align_corners=False)
    mean, std = tuple(config.mean) or (0.0,), tuple(config.std) or (1.0,)
    if len(mean) != c or len(std) != c:
        mean, std = (mean[0],) * c, (std[0],) * c
    x = x.expand(1, c, h, w)
    return ((x - torch.tensor(mean).view(1, c, 1, 1))
            / torch.tensor(std).view(1, c, 1, 1)).contiguous()


DIGIT_DATASETS = ("mnist", "mnist-mini")


def trained_on(config: RunConfig) -> str:
    """What the run's network has seen, in words: "28×28 handwritten digits", …"""
    size = f"{config.height}×{config.width}"
    if config.settings.dataset in DIGIT_DATASETS:
        return _("{size} handwritten digits").format(size=size)
    return _("{size} images of {data}").format(
        size=size, data=config.dataset_title or config.settings.dataset)


def takes_drawings(config: RunConfig) -> bool:
    """Whether a drawing on the canvas is the kind of input the run's network was trained on:
    single-channel images (digits, letters, clothes), not colour photos."""
    return config.in_channels == 1
