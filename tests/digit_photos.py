"""Photographs of handwritten digits, made for the tests: pen strokes on textured grey paper,
rotated a few degrees, blurred and noisy, in three styles (a ballpoint, a marker, a pencil),
each in a photo of its own shape (square, landscape, portrait). Nobody drew them: every stroke
is an arc or a line below, so the tests need no photo files."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Point = tuple[float, float]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> list[Point]:
    """Points along an ellipse, angles in degrees, y pointing down (90 is the bottom)."""
    steps = max(8, int(abs(end - start) / 8))
    return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in np.linspace(start, end, steps)]


def strokes(digit: int, variant: int = 0) -> list[list[Point]]:
    """The pen strokes of `digit` in a unit box (x right, y down); `variant` 2 draws the
    continental 1 and 7 and an open 4."""
    shapes: dict[int, list[list[Point]]] = {
        0: [_arc(0.5, 0.5, 0.28, 0.45, -90, 275)],
        1: [[(0.52, 0.05), (0.48, 0.95)]],
        2: [[*_arc(0.5, 0.3, 0.27, 0.25, 190, 390), (0.2, 0.95), (0.82, 0.95)]],
        3: [_arc(0.5, 0.27, 0.25, 0.22, 200, 450) + _arc(0.5, 0.71, 0.28, 0.24, 270, 520)],
        4: [[(0.62, 0.95), (0.62, 0.05), (0.18, 0.66), (0.85, 0.66)]],
        5: [[(0.78, 0.05), (0.32, 0.05), (0.28, 0.45), *_arc(0.5, 0.66, 0.28, 0.28, 220, 500)]],
        6: [[(0.72, 0.06), (0.45, 0.3), *_arc(0.5, 0.7, 0.23, 0.24, 200, 560)]],
        7: [[(0.18, 0.08), (0.82, 0.08), (0.45, 0.95)]],
        8: [_arc(0.5, 0.27, 0.21, 0.21, 90, 450), _arc(0.5, 0.72, 0.26, 0.24, -90, 270)],
        9: [_arc(0.5, 0.3, 0.25, 0.23, 0, 360), [(0.75, 0.3), (0.72, 0.95)]],
    }
    if variant == 2:
        shapes[1] = [[(0.32, 0.22), (0.52, 0.05), (0.48, 0.95)]]
        shapes[7] = [*shapes[7], [(0.38, 0.52), (0.72, 0.52)]]
        shapes[4] = [[(0.25, 0.05), (0.2, 0.62), (0.85, 0.62)], [(0.65, 0.3), (0.65, 0.95)]]
    return shapes[digit]


@dataclass(frozen=True)
class Style:
    """How one writer's photo looks."""

    name: str
    size: tuple[int, int]  # the photo's (width, height)
    paper: float  # paper brightness, 0..255
    ink: float
    pen: float  # stroke width, in digit heights
    tilt: float  # degrees
    slant: float  # horizontal shear, in digit heights
    blur: float
    noise: float  # per-pixel noise, grey levels
    centre: tuple[float, float]  # where the digit sits, as fractions of the photo
    variant: int


STYLES = (
    Style("ballpoint", (180, 180), 185, 35, 0.07, 4, 0.0, 1.0, 8, (0.5, 0.5), 0),
    Style("marker", (240, 170), 165, 20, 0.13, -5, 0.18, 1.6, 10, (0.42, 0.55), 1),
    Style("pencil", (160, 220), 215, 95, 0.08, 3, -0.08, 0.8, 12, (0.52, 0.46), 2),
)


def photo(digit: int, style: Style, seed: int = 0) -> Image.Image:
    """A grey photo of `digit` written in `style` (dark ink on lighter, textured paper)."""
    rng = np.random.default_rng(seed * 100 + digit)
    width, height = style.size
    scale = 4  # drawn large, then shrunk: smooth strokes
    digit_h = 0.62 * min(width, height) * scale
    cx, cy = style.centre[0] * width * scale, style.centre[1] * height * scale
    mask = Image.new("L", (width * scale, height * scale), 0)
    draw = ImageDraw.Draw(mask)
    pen = max(2, round(style.pen * digit_h))
    for stroke in strokes(digit, style.variant):
        points = []
        for x, y in stroke:
            x += rng.normal(0, 0.012) + style.slant * (0.5 - y)
            y += rng.normal(0, 0.012)
            points.append((cx + (x - 0.5) * digit_h, cy + (y - 0.5) * digit_h))
        draw.line(points, fill=255, width=pen, joint="curve")
        for x, y in (points[0], points[-1]):  # round pen ends
            draw.ellipse([x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2], fill=255)
    mask = mask.rotate(style.tilt, resample=Image.Resampling.BILINEAR, center=(cx, cy))
    mask = mask.resize((width, height), Image.Resampling.BOX)
    ink = np.asarray(mask, dtype=np.float32) / 255
    texture = rng.normal(0, 1, (height // 8 + 2, width // 8 + 2)).astype(np.float32)
    fibre = np.asarray(Image.fromarray(texture).resize((width, height),
                                                       Image.Resampling.BICUBIC))
    shade = np.linspace(-12, 12, width, dtype=np.float32)[None, :]  # light from one side
    paper = style.paper + 6 * fibre + shade
    picture = paper * (1 - ink) + style.ink * ink
    blurred = Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(style.blur))
    noisy = np.asarray(blurred, dtype=np.float32) + rng.normal(0, style.noise, (height, width))
    return Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8))


def every_photo(seed: int = 0) -> list[tuple[int, Style, Image.Image]]:
    """(digit, style, photo) for 10 digits × 3 styles."""
    return [(d, s, photo(d, s, seed)) for s in STYLES for d in range(10)]
