"""Pictures of a drawing's preprocessing and of what the network makes of it, and the tiles of
the predictions gallery."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw

from explorer.figures import palettes
from explorer.handwriting import BOX, FIELD, PhotoSteps, Steps

# the frames' colours as RGB (a caption says ✓ or ✗ too)
RIGHT, WRONG = (tuple(int(c[i:i + 2], 16) for i in (1, 3, 5))
                for c in (palettes.RIGHT, palettes.WRONG))


def _gray(image: np.ndarray, size: int) -> Image.Image:
    """A uint8 [H, W] image scaled so its longer side is about `size`, pixels kept sharp, and
    centred on a black square (a thin "1" would otherwise be a sliver on the page)."""
    h, w = image.shape
    if max(h, w) > size:  # a big crop of the canvas: shrink it smoothly
        factor = size / max(h, w)
        picture = Image.fromarray(image).resize((max(1, round(w * factor)),
                                                 max(1, round(h * factor))),
                                                Image.Resampling.BILINEAR)
    else:
        scale = size // max(h, w)
        picture = Image.fromarray(image).resize((w * scale, h * scale),
                                                Image.Resampling.NEAREST)
    side = max(picture.size)
    square = Image.new("L", (side, side), 0)
    square.paste(picture, ((side - picture.width) // 2, (side - picture.height) // 2))
    return square


def steps_pictures(steps: Steps, size: int = 168) -> list[Image.Image]:
    """The stages, each about `size` px: the ink with its bounding box, the crop, the 20-px
    fit, and the 28×28 result with its 20×20 box and the centre of mass marked."""
    box_top, box_left, box_bottom, box_right = steps.box
    canvas = Image.fromarray(steps.ink).convert("RGB")
    ImageDraw.Draw(canvas).rectangle([box_left, box_top, box_right, box_bottom],
                                     outline=(255, 80, 80),
                                     width=max(1, canvas.width // 140))
    canvas = canvas.resize((size, round(size * canvas.height / canvas.width)),
                           Image.Resampling.BILINEAR)
    scale = size // FIELD
    final = _gray(steps.centred, FIELD * scale).convert("RGB")
    draw = ImageDraw.Draw(final)
    top, left = steps.offset
    h, w = steps.fitted.shape
    draw.rectangle([left * scale, top * scale, (left + w) * scale - 1, (top + h) * scale - 1],
                   outline=(90, 160, 255))
    cy, cx = steps.centre_of_mass
    y, x = (cy + 0.5) * scale, (cx + 0.5) * scale  # index coordinates to pixel centres
    draw.line([x - 6, y, x + 6, y], fill=(255, 80, 80), width=2)
    draw.line([x, y - 6, x, y + 6], fill=(255, 80, 80), width=2)
    return [canvas, _gray(steps.cropped, size), _gray(steps.fitted, BOX * (size // BOX)),
            final]


def square(picture: Image.Image, fill: int = 240) -> Image.Image:
    """`picture` in the middle of a square of `fill` (the page's light grey, so the picture's
    own edges show): an upright photo drawn at its column's width would be taller than the
    pictures beside it, or overflow them."""
    side = max(picture.size)
    if picture.width == picture.height:
        return picture
    out = Image.new(picture.mode, (side, side), fill if picture.mode == "L" else (fill,) * 3)
    out.paste(picture, ((side - picture.width) // 2, (side - picture.height) // 2))
    return out


def photo_pictures(photo: PhotoSteps, size: int = 168) -> list[Image.Image]:
    """A digit photo's stages, each about `size` px square: grey, light ink on dark, the
    contrast stretched, then the canvas's four (`steps_pictures`, from the soft threshold)."""
    stages = [Image.fromarray(a) for a in (photo.grey, photo.light, photo.stretched)]
    stages = [square(p.resize((size, round(size * p.height / p.width)) if p.width >= p.height
                              else (round(size * p.width / p.height), size),
                              Image.Resampling.BILINEAR)) for p in stages]
    first, *rest = steps_pictures(photo.steps, size)
    return [*stages, square(first), *rest]


def probabilities_figure(probabilities: Sequence[float], names: Sequence[str]) -> go.Figure:
    """Every class's softmax probability as a bar, the predicted one highlighted."""
    best = int(np.argmax(probabilities))
    colours = ["#ef553b" if i == best else "#636efa" for i in range(len(probabilities))]
    fig = go.Figure(go.Bar(x=[str(n) for n in names], y=list(probabilities),
                           marker_color=colours, text=[f"{p:.1%}" for p in probabilities],
                           textposition="outside", cliponaxis=False,
                           hovertemplate="%{x}: %{y:.2%}<extra></extra>"))
    fig.update_layout(height=300, yaxis={"range": [0, 1.12], "tickformat": ".0%",
                                         "title": "probability"},
                      xaxis={"type": "category", "title": "class"},
                      margin={"t": 20, "b": 40, "l": 50, "r": 10})
    return fig


def gallery_tile(image: np.ndarray, right: bool, size: int = 84, border: int = 4) -> np.ndarray:
    """A test image (uint8 [C, H, W]) enlarged inside a green (right) or red (wrong) frame."""
    pixels = image[0] if image.shape[0] == 1 else image[:3].transpose(1, 2, 0)
    picture = Image.fromarray(pixels).convert("RGB")
    scale = max(1, size // max(picture.size))
    picture = picture.resize((picture.width * scale, picture.height * scale),
                             Image.Resampling.NEAREST)
    framed = Image.new("RGB", (picture.width + 2 * border, picture.height + 2 * border),
                       RIGHT if right else WRONG)
    framed.paste(picture, (border, border))
    return np.asarray(framed)
