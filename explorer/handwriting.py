"""Your own handwriting, prepared the way MNIST's digits were.

LeCun, Cortes and Burges describe it: the NIST digits "were size normalized to fit in a 20x20
pixel box while preserving their aspect ratio" (anti-aliased, hence the grey levels), then
"centered in a 28x28 image by computing the center of mass of the pixels, and translating
the image so as to position this point at the center of the 28x28 field". Measured on the
bundled digits: the ink's bounding box has a longer side of exactly 20 pixels, and the centre
of mass lies within half a pixel of (14, 14) in row/column index coordinates (whole-pixel
shifts). A drawing that skips these steps (a small digit in a corner of a big canvas) is
something the network never saw, so a trained LeNet misreads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from explorer.i18n import _

if TYPE_CHECKING:  # a run's settings, read by attribute: the lesson does not import training
    from explorer.training.config import RunConfig

FIELD = 28  # the MNIST image
BOX = 20  # the box the ink is scaled into
CENTRE = 14.0  # where the centre of mass goes, in row/column index coordinates
INK_THRESHOLD = 8  # 0..255: fainter pixels (anti-aliasing dust) do not count as ink


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

    def describe(self) -> list[str]:
        """The steps in words, with this drawing's numbers."""
        top, left, bottom, right = self.box
        h, w = self.fitted.shape
        cy, cx = self.centre_of_mass
        return [
            _("ink found in rows {top}–{bottom} and columns {left}–{right} of the {ch}×{cw} "
              "canvas: crop to that bounding box").format(
                top=top, bottom=bottom, left=left, right=right, ch=self.ink.shape[0],
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
