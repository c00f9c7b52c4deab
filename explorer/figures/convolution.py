"""Figures of the convolution lesson drawn beside the photo (the number grids are `grids`):
the photo with the inspected window outlined, and the histogram of raw output values."""

from __future__ import annotations

import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageOps

from explorer.figures.grids import HIGHLIGHT
from explorer.i18n import _
from explorer.kernels import OutputHistogram, same_padding

#: Longest side of a photo sent to the browser: the page's columns are narrower than this.
SHOWN_MAX_SIDE = 720


def to_image(pixels: np.ndarray) -> Image.Image:
    """uint8 pixels from `kernels.to_display` as a PIL image."""
    return Image.fromarray(pixels, mode="L" if pixels.ndim == 2 else "RGB")


def outline_window(image: Image.Image, row: int, col: int, size: int) -> Image.Image:
    """A copy of `image` with a red square around the k x k window centred on (row, col).

    The square is at least 2% of the image wide so it stays visible on a downscaled photo.
    """
    marked = image.convert("RGB")
    draw = ImageDraw.Draw(marked)
    before, after = same_padding(size)[:2]
    grow = max(0, (max(image.size) // 50 - size) // 2)
    line = max(1, max(image.size) // 300)
    draw.rectangle((col - before - grow - line, row - before - grow - line,
                    col + after + grow + line, row + after + grow + line),
                   outline=(255, 40, 0), width=line)
    return marked


def photo_jpeg(pixels: np.ndarray, window: tuple[int, int, int] | None = None,
               max_side: int = SHOWN_MAX_SIDE) -> bytes:
    """`pixels` as JPEG bytes at most `max_side` px on a side, with the k x k window
    (row, col, k) outlined when given, in a thin grey frame (an all-white output on a white
    page would look missing). A small image is enlarged by a whole factor, each pixel a sharp
    block: the browser would blur it, and its pixel grid is the lesson."""
    marked = to_image(pixels).convert("RGB")
    if window is not None:
        marked = outline_window(marked, *window)
    if max(marked.size) > max_side:
        marked.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    elif (factor := (max_side // 2) // max(marked.size)) > 1:
        marked = marked.resize((marked.width * factor, marked.height * factor),
                               Image.Resampling.NEAREST)
    marked = ImageOps.expand(marked, border=1, fill=(170, 170, 170))
    out = io.BytesIO()
    marked.save(out, format="JPEG", quality=90)
    return out.getvalue()


def output_histogram_figure(hist: OutputHistogram) -> go.Figure:
    """Bars of the raw conv output's values, with the 0..255 a screen can show marked."""
    centres = (hist.edges[:-1] + hist.edges[1:]) / 2
    edge = {"type": "line", "yref": "paper", "y0": 0, "y1": 1,
            "line": {"color": HIGHLIGHT, "dash": "dash"}}
    return go.Figure({
        "data": [{"type": "bar", "x": centres.tolist(), "y": hist.counts.tolist(),
                  "width": np.diff(hist.edges).tolist(), "marker": {"color": "#5c7cfa"},
                  "hovertemplate": _("%{x:.1f}: %{y} values") + "<extra></extra>"}],
        "layout": {
            "height": 230, "margin": {"l": 8, "r": 8, "t": 24, "b": 8}, "bargap": 0,
            "xaxis": {"title": {"text": _("raw output value")}},
            "yaxis": {"title": {"text": _("pixels")}},
            "shapes": [{**edge, "x0": 0, "x1": 0}, {**edge, "x0": 255, "x1": 255},
                       {"type": "rect", "yref": "paper", "y0": 0, "y1": 1, "x0": 0, "x1": 255,
                        "fillcolor": "#c3fae8", "opacity": 0.35, "line": {"width": 0},
                        "layer": "below"}],
            "annotations": [{"x": 127.5, "y": 1, "yref": "paper", "showarrow": False,
                             "text": _("0..255: shown as is by “clip”"), "yanchor": "bottom"}],
        },
    })
