"""Plotly figures of small numeric grids: one coloured cell per number, its text written inside.

Used for kernels, image patches, products, pooling grids and feature maps. Any page can draw
a grid with `number_grid_figure(values, text=..., highlight=..., boxes=...)`; with
`clickable=True` a click on a cell comes back through
`st.plotly_chart(fig, on_select="rerun", selection_mode="points")` and
`clicked_cell(event.selection)` turns it into (row, col). Row 0 is drawn at the top.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go

from explorer.figures import PrebuiltFigure, palettes
from explorer.kernels import format_number

HIGHLIGHT = "#d9480f"  # the app's primary colour
MIN_WIDTH = 180  # px
Cell = tuple[int, int]
Box = tuple[int, int, int, int]  # (row, col, height, width)


def _array(values: object) -> np.ndarray:
    raw = values.tolist() if hasattr(values, "tolist") else values
    array = np.array(raw, dtype=float)  # None (a frozen NaN) becomes NaN
    if array.ndim != 2:
        raise ValueError(f"number_grid_figure needs a 2-D grid, got shape {array.shape}")
    return array


def number_grid_figure(
    values: object,
    *,
    text: Sequence[Sequence[str]] | None = None,
    highlight: Iterable[Cell] = (),
    boxes: Iterable[Box] = (),
    title: str | None = None,
    colorscale: str | None = None,
    zmin: float | None = None,
    zmax: float | None = None,
    cell_px: int = 44,
    font_size: int = 13,
    clickable: bool = False,
    show_indices: bool = True,
    origin: tuple[int, int] = (0, 0),
) -> go.Figure:
    """A heatmap of `values` (2-D; NaN cells stay blank) with each cell's number written in it.

    text: per-cell labels (default: the value, shortly formatted; blank for NaN).
    highlight: cells outlined in the highlight colour. boxes: (row, col, height, width)
    rectangles outlined around blocks of cells (e.g. a kernel window).
    colorscale: default grey for non-negative grids, blue–orange centred on 0 for signed ones.
    clickable: add an invisible marker on every cell so a click selects it (heatmaps
    themselves do not report selections).
    origin: the (row, col) that cell (0, 0) is in a larger image: the axes and the hover
    count from there, so a crop of a photo is labelled in the photo's coordinates.
    """
    z = _array(values)
    rows, cols = z.shape
    finite = z[np.isfinite(z)]
    signed = finite.size > 0 and finite.min() < 0
    if text is None:
        text = [["" if math.isnan(v) else format_number(v) for v in row] for row in z]
    if colorscale is None:
        colorscale = palettes.SIGNED if signed else "Greys"
    # Strings keep plotly from reformatting the labels; None marks the blank (NaN) cells.
    z_list = [[None if math.isnan(v) else v for v in row] for row in z]
    heat = {
        "type": "heatmap", "z": z_list, "text": text, "texttemplate": "%{text}",
        "textfont": {"size": font_size}, "colorscale": colorscale, "showscale": False,
        "xgap": 1, "ygap": 1,
        "zmin": zmin if zmin is not None else (min(finite.min(), -finite.max(), -1)
                                               if signed else (0 if finite.size else None)),
        "zmax": zmax if zmax is not None else (max(finite.max(), -finite.min(), 1)
                                               if signed else (max(finite.max(), 1)
                                                               if finite.size else None)),
        "hovertemplate": "row %{y}, col %{x}: %{text}<extra></extra>",
    }
    top, left = origin
    if origin != (0, 0):
        heat["customdata"] = [[f"row {top + r}, col {left + c}" for c in range(cols)]
                              for r in range(rows)]
        heat["hovertemplate"] = "%{customdata}: %{text}<extra></extra>"
    traces = [heat]
    if clickable:
        grid_r, grid_c = np.mgrid[0:rows, 0:cols]
        traces.append({
            "type": "scatter", "x": grid_c.ravel().tolist(), "y": grid_r.ravel().tolist(),
            "mode": "markers", "showlegend": False,
            "marker": {"size": cell_px * 0.9, "symbol": "square", "color": "rgba(0,0,0,0)"},
            "hovertemplate": "row %{y}, col %{x}: click to inspect<extra></extra>",
        })
        if origin != (0, 0):
            traces[-1]["customdata"] = [f"row {top + r}, col {left + c}"
                                        for r, c in zip(grid_r.ravel(), grid_c.ravel(),
                                                        strict=True)]
            traces[-1]["hovertemplate"] = "%{customdata}: click to inspect<extra></extra>"
    shapes = [
        {"type": "rect", "x0": c - 0.5, "x1": c + w - 0.5, "y0": r - 0.5, "y1": r + h - 0.5,
         "line": {"color": HIGHLIGHT, "width": 3}}
        for r, c, h, w in [*boxes, *((r, c, 1, 1) for r, c in highlight)]
    ]
    margin_top = 30 if title else 8
    axis = {"showgrid": False, "zeroline": False, "showticklabels": show_indices,
            "tickmode": "linear", "dtick": 1, "fixedrange": True, "ticks": "",
            "constrain": "domain"}
    width = grid_width(z, cell_px, show_indices)
    layout = {
        "width": width,
        "height": rows * cell_px + margin_top + (24 if show_indices else 8),
        # Very narrow charts get clipped by Streamlit: small grids pad on the right instead.
        "margin": {"l": 28 if show_indices else 4, "r": 4 + width - (cols * cell_px + (
            32 if show_indices else 8)), "t": margin_top, "b": 4},
        "plot_bgcolor": "rgba(0,0,0,0)", "paper_bgcolor": "rgba(0,0,0,0)",
        "clickmode": "event+select", "dragmode": False, "shapes": shapes,
        "xaxis": {**axis, "side": "top", "range": [-0.5, cols - 0.5]},
        "yaxis": {**axis, "autorange": False, "range": [rows - 0.5, -0.5], "scaleanchor": "x"},
    }
    if origin != (0, 0):  # every other index, so three-digit labels do not collide
        for name, n, start in (("xaxis", cols, left), ("yaxis", rows, top)):
            shown = [i for i in range(n) if (start + i) % 2 == 0]
            layout[name] |= {"tickmode": "array", "tickvals": shown,
                             "ticktext": [str(start + i) for i in shown]}
    if title:
        layout["title"] = {"text": title, "font": {"size": 14}}
    # One Figure(dict) call validates everything at once: several times faster than
    # building the figure up with add_trace/add_shape/update_layout.
    fig = go.Figure({"data": traces, "layout": layout})
    return fig


@lru_cache(maxsize=512)
def cached_number_grid(values: tuple, **kwargs) -> PrebuiltFigure:
    """`number_grid_figure` built once per distinct grid and settings and then reused.

    Pass every argument hashable: `values` and `text` through `figures.frozen`, highlight
    and boxes as tuples. 512 small grids at most stay in memory (a few MB).
    """
    return PrebuiltFigure(number_grid_figure(values, **kwargs).to_dict())


def grid_width(values: object, cell_px: int = 44, show_indices: bool = True) -> int:
    """Pixel width of `number_grid_figure` at `cell_px` (the figure sets it; draw it with
    `width="content"`)."""
    return max(MIN_WIDTH, _array(values).shape[1] * cell_px + (32 if show_indices else 8))


def number_heatmap(values: object, xaxis: str = "x", yaxis: str = "y",
                   colorscale: str = "Blues", fmt: str = ".0f", font_size: int = 16) -> dict:
    """One heatmap trace of a 2-D grid with each value written in its cell (`fmt`), for
    figures that put several grids side by side on their own axes."""
    v = _array(values).tolist()
    return {"type": "heatmap", "z": v, "text": [[format(a, fmt) for a in row] for row in v],
            "texttemplate": "%{text}", "textfont": {"size": font_size},
            "colorscale": colorscale, "showscale": False, "xgap": 2, "ygap": 2,
            "xaxis": xaxis, "yaxis": yaxis,
            "hovertemplate": "row %{y}, column %{x}: %{text}<extra></extra>"}


def clicked_cell(selection: Mapping | None) -> Cell | None:
    """(row, col) of the last clicked cell in a plotly selection, or None."""
    points = (selection or {}).get("points") or []
    for point in reversed(points):
        x, y = point.get("x"), point.get("y")
        if isinstance(x, (int, float)) and isinstance(y, (int, float)):
            return round(y), round(x)
    return None
