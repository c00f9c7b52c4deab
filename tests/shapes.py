"""Generated pictures of three classes, for the own-classes tests and benchmark: a circle, a
square or a triangle at a random place, size and colour on pale paper."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ("circle", "square", "triangle")


def shape_png(kind: str, rng: np.random.Generator, side: int = 64) -> bytes:
    """One `side`×`side` PNG of `kind` (one of CLASSES)."""
    image = Image.new("RGB", (side, side), tuple(int(v) for v in rng.integers(220, 256, 3)))
    colour = tuple(int(v) for v in rng.integers(0, 170, 3))
    r = int(rng.integers(side // 6, side // 3 + 1))
    cx, cy = (int(v) for v in rng.integers(r, side - r, 2))
    draw = ImageDraw.Draw(image)
    if kind == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    elif kind == "square":
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=colour)
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
