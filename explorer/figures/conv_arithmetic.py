"""The conv-arithmetic grid picture: input and output cells side by side in Plotly.

Padding cells are shaded, cells the floor drops are red, the chosen output cell's window
lights up in the input (dilation holes stay unlit), the chosen input cell lights up the
output cells it feeds, and a play button crawls the window across the output.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from explorer import conv_arithmetic as ca
from explorer.figures import PrebuiltFigure
from explorer.i18n import _, language_cache

COLORS = {
    "input": "#dce8f5", "padding": "#a9a9a9", "dropped": "#f08a8a", "skipped": "#fbd7b0",
    "output": "#d9f0d3", "window": "#ff7f0e", "selected": "#7b3fbf",
}
#: The same hues dark enough for text on white (WCAG AA 4.5:1): the legend's words.
TEXT_COLORS = {"padding": "#6b6b6b", "window": "#b35900"}
INPUT_CATEGORIES = ("input", "padding", "dropped", "skipped")
MAX_FRAMES_ALL_CELLS = 144  # crawl every output cell up to this many, else the chosen row


def _stepped_scale(names: tuple[str, ...]) -> list[list[Any]]:
    n = len(names)
    scale: list[list[Any]] = []
    for i, name in enumerate(names):
        scale += [[i / n, COLORS[name]], [(i + 1) / n, COLORS[name]]]
    return scale


def _cells(cells: list[tuple[int, int]]) -> dict[str, list[int]]:
    """x, y of square markers centred on (row, col) cells."""
    return {"x": [c for _r, c in cells], "y": [r for r, _c in cells]}


def _box(rows: list[int], cols: list[int]) -> dict[str, list[float]]:
    """x, y of the outline around the window's span (holes included)."""
    if not rows or not cols:
        return {"x": [], "y": []}
    r0, r1, c0, c1 = min(rows) - 0.5, max(rows) + 0.5, min(cols) - 0.5, max(cols) + 0.5
    return {"x": [c0, c1, c1, c0, c0], "y": [r0, r0, r1, r1, r0]}


def input_categories(layer: ca.Layer) -> tuple[list[int], list[int], list[list[int]]]:
    """Row indices, column indices and category codes (see INPUT_CATEGORIES) of the input.

    For conv and pooling the grid includes the padding; index 0 is the first real row.
    """
    h, w = layer.axes()
    transposed = layer.kind == "transposed"
    rows = list(range(h.size)) if transposed else list(range(-h.pad_before, h.size + h.pad_after))
    cols = list(range(w.size)) if transposed else list(range(-w.pad_before, w.size + w.pad_after))
    drop_r, drop_c = set(ca.dropped(layer.kind, h)), set(ca.dropped(layer.kind, w))
    skip_r, skip_c = set(ca.skipped(layer.kind, h)), set(ca.skipped(layer.kind, w))
    z = []
    for r in rows:
        line = []
        for c in cols:
            if r in drop_r or c in drop_c:
                line.append(2)
            elif not (0 <= r < h.size and 0 <= c < w.size):
                line.append(1)
            elif r in skip_r or c in skip_c:
                line.append(3)
            else:
                line.append(0)
        z.append(line)
    return rows, cols, z


def crawl_order(out_shape: tuple[int, int], out_cell: tuple[int, int]) -> list[tuple[int, int]]:
    """The output cells the play button visits: all of them, or the chosen row if too many."""
    oh, ow = out_shape
    if oh * ow <= MAX_FRAMES_ALL_CELLS:
        return [(i, j) for i in range(oh) for j in range(ow)]
    return [(out_cell[0], j) for j in range(ow)]


def _window_traces(layer: ca.Layer, cell: tuple[int, int]) -> list[dict[str, Any]]:
    h, w = layer.axes()
    rows, cols = ca.window(layer.kind, h, cell[0]), ca.window(layer.kind, w, cell[1])
    box = _box(rows, cols) if layer.kind != "transposed" else {"x": [], "y": []}
    return [_cells([(r, c) for r in rows for c in cols]), box, _cells([cell])]


def _cell_px(width_px: float, height_px: float, n_rows: int, n_cols: int) -> float:
    """Side of one square cell in pixels when the axes keep a 1:1 ratio."""
    return min(width_px / max(n_cols, 1), height_px / max(n_rows, 1))


def arithmetic_grid_figure(layer: ca.Layer, out_cell: tuple[int, int], in_cell: tuple[int, int],
                width: int = 1000, height: int = 480) -> go.Figure:
    """Input grid (left) and output grid (right) with the window and the fed cells lit.

    `layer` must be valid (`ca.problem(layer) is None`).
    """
    h, w = layer.axes()
    out_shape = (ca.axis_out(layer.kind, h), ca.axis_out(layer.kind, w))
    rows, cols, z = input_categories(layer)
    margin = {"l": 10, "r": 10, "t": 50, "b": 110}  # the buttons, then the slider under them
    split = 0.5 if layer.kind != "transposed" else 0.4
    plot_w, plot_h = width - margin["l"] - margin["r"], height - margin["t"] - margin["b"]
    in_px = _cell_px(plot_w * (split - 0.03), plot_h, len(rows), len(cols))
    out_px = _cell_px(plot_w * (1 - split - 0.03), plot_h, *out_shape)
    gap = 1 if min(in_px, out_px) >= 6 else 0
    fed = [(r, c) for r in ca.fed_by(layer.kind, h, in_cell[0])
           for c in ca.fed_by(layer.kind, w, in_cell[1])]
    moving = _window_traces(layer, out_cell)
    no_hover = {"hoverinfo": "skip", "showlegend": False}

    def squares(px: float, color: str, axes: str, filled: bool = True,
                opacity: float = 0.85) -> dict[str, Any]:
        marker = {"symbol": "square" if filled else "square-open", "size": max(px * 0.8, 2),
                  "color": color, "opacity": opacity, "line": {"width": 0 if filled else 3,
                                                               "color": color}}
        return {"type": "scatter", "mode": "markers", "marker": marker, "xaxis": f"x{axes}",
                "yaxis": f"y{axes}", **no_hover}

    # Not by colour alone: the hover names each cell's kind, and a dropped cell (red, beside
    # the orange of a skipped one) is marked × where the cells are big enough to hold it.
    kinds = {0: _("read"), 1: _("padding"), 2: _("dropped by the floor"), 3: _("never read")}
    marks = [["×" if v == 2 else "" for v in line] for line in z]
    data = [
        {"type": "heatmap", "x": cols, "y": rows, "z": z, "zmin": 0, "zmax": 3, "xgap": gap,
         "ygap": gap, "colorscale": _stepped_scale(INPUT_CATEGORIES), "showscale": False,
         "customdata": [[kinds[v] for v in line] for line in z],
         "text": marks, "texttemplate": "%{text}" if in_px >= 9 else "",
         "textfont": {"color": "#5a1010", "size": max(8, min(16, in_px * 0.7))},
         "hovertemplate": _("input row %{y}, column %{x}") + ": %{customdata}<extra></extra>",
         "xaxis": "x", "yaxis": "y"},
        {"type": "heatmap", "x": list(range(out_shape[1])), "y": list(range(out_shape[0])),
         "z": [[0] * out_shape[1] for _row in range(out_shape[0])], "zmin": 0, "zmax": 1,
         "xgap": gap, "ygap": gap, "showscale": False,
         "colorscale": [[0, COLORS["output"]], [1, COLORS["output"]]],
         "hovertemplate": _("output row %{y}, column %{x}") + "<extra></extra>", "xaxis": "x2",
         "yaxis": "y2"},
        {**squares(in_px, COLORS["window"], ""), **moving[0]},
        {"type": "scatter", "mode": "lines", "line": {"color": COLORS["window"], "width": 2},
         "xaxis": "x", "yaxis": "y", **moving[1], **no_hover},
        {**squares(out_px, COLORS["window"], "2"), **moving[2]},
        {**squares(in_px, COLORS["selected"], "", filled=False, opacity=1), **_cells([in_cell])},
        {**squares(out_px * 0.7, COLORS["selected"], "2", opacity=0.75), **_cells(fed)},
    ]
    order = crawl_order(out_shape, out_cell)
    frames = [{"name": f"{i},{j}", "traces": [2, 3, 4], "data": _window_traces(layer, (i, j))}
              for i, j in order]
    step_args = {"mode": "immediate", "frame": {"duration": 0, "redraw": True},
                 "transition": {"duration": 0}}
    play = {"frame": {"duration": 250, "redraw": True}, "fromcurrent": True,
            "transition": {"duration": 0}}
    axis = {"showgrid": False, "zeroline": False, "side": "top", "constrain": "domain",
            "tickmode": "linear", "tick0": 0}
    in_tick = max(1, max(len(rows), len(cols)) // 8)
    out_tick = max(1, max(out_shape) // 8)
    in_title = (_("input {h}×{w}, padded to {ph}×{pw}") if layer.kind != "transposed"
                else _("input {h}×{w}")).format(h=h.size, w=w.size, ph=len(rows), pw=len(cols))
    layout = {
        "width": width, "height": height, "margin": margin, "plot_bgcolor": "white",
        "showlegend": False,
        "xaxis": {**axis, "domain": [0, split - 0.03], "title": {"text": in_title},
                  "dtick": in_tick, "range": [cols[0] - 0.5, cols[-1] + 0.5]},
        "yaxis": {**axis, "range": [rows[-1] + 0.5, rows[0] - 0.5], "scaleanchor": "x",
                  "dtick": in_tick},
        "xaxis2": {**axis, "domain": [split + 0.03, 1], "dtick": out_tick,
                   "range": [-0.5, out_shape[1] - 0.5],
                   "title": {"text": _("output {h}×{w}").format(h=out_shape[0],
                                                                w=out_shape[1])}},
        "yaxis2": {**axis, "range": [out_shape[0] - 0.5, -0.5], "scaleanchor": "x2",
                   "anchor": "x2", "dtick": out_tick},
        "updatemenus": [{
            "type": "buttons", "direction": "left", "x": 0, "y": -0.02, "xanchor": "left",
            "yanchor": "top", "pad": {"t": 10},
            "buttons": [
                {"label": _("▶ Play"), "method": "animate", "args": [None, play]},
                {"label": _("❚❚ Pause"), "method": "animate", "args": [[None], step_args]},
            ],
        }],
        "sliders": [{
            "active": order.index(out_cell) if out_cell in order else 0,
            # under the buttons, not beside them: on a phone's narrow figure they overlapped
            "x": 0, "y": -0.02, "len": 1, "pad": {"t": 50},
            "currentvalue": {"prefix": _("output cell") + " ", "font": {"size": 12}},
            "steps": [{"label": f"({i}, {j})", "method": "animate",
                       "args": [[f"{i},{j}"], step_args]} for i, j in order],
        }],
    }
    return PrebuiltFigure({"data": data, "layout": layout, "frames": frames})


#: `arithmetic_grid_figure` built once per layer and picked cells (Layer is a frozen value).
cached_arithmetic_grid = language_cache(maxsize=256)(arithmetic_grid_figure)
