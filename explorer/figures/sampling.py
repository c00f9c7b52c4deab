"""Figures of the pooling and upsampling lesson: pooling windows, pixel maps, histograms, memory.

Each builder draws values `explorer.sampling` computed; none runs a torch op of the lesson.
"""

from __future__ import annotations

import plotly.graph_objects as go
import torch

from explorer.figures.grids import number_heatmap
from explorer.i18n import _
from explorer.sampling import InplaceReport, PoolFrame, SharedHistograms

HISTOGRAM_COLORS = ("#1f77b4", "#ff7f0e")


def pool_frame_figure(frame: PoolFrame, highlight: tuple[int, int] = (0, 0),
                      height: int = 300) -> go.Figure:
    """Input numbers (left) with one window outlined and its max circled, output (right)."""
    i, j = highlight
    fmt = ".0f" if frame.winners is not None else ".2f"
    cells = frame.windows[i][j]
    data = [
        number_heatmap(frame.x, "x", "y", "Blues", ".0f"),
        number_heatmap(frame.out, "x2", "y2", "Oranges", fmt),
        {"type": "scatter", "mode": "markers", "x": [c for _r, c in cells],
         "y": [r for r, _c in cells], "marker": {"symbol": "square-open", "size": 34,
                                                 "color": "#ff7f0e", "line": {"width": 3}},
         "xaxis": "x", "yaxis": "y", "hoverinfo": "skip", "name": _("window")},
        {"type": "scatter", "mode": "markers", "x": [j], "y": [i], "xaxis": "x2", "yaxis": "y2",
         "marker": {"symbol": "square-open", "size": 34, "color": "#ff7f0e",
                    "line": {"width": 3}}, "hoverinfo": "skip", "name": _("output")},
    ]
    if frame.winners is not None:
        wins = [cell for row in frame.winners for cell in row]
        data.append({"type": "scatter", "mode": "markers", "x": [c for _r, c in wins],
                     "y": [r for r, _c in wins], "xaxis": "x", "yaxis": "y", "name": _("max"),
                     "marker": {"symbol": "circle-open", "size": 26, "color": "#c0392b",
                                "line": {"width": 3}}, "hoverinfo": "skip"})
    axis = {"showgrid": False, "zeroline": False, "tickmode": "linear", "tick0": 0, "dtick": 1,
            "constrain": "domain"}
    (in_h, in_w), (out_h, out_w) = frame.x.shape, frame.out.shape
    layout = {
        "height": height, "margin": {"l": 10, "r": 10, "t": 30, "b": 10}, "showlegend": False,
        "plot_bgcolor": "white",
        "xaxis": {**axis, "domain": [0, 0.55], "side": "top", "range": [-0.5, in_w - 0.5]},
        "yaxis": {**axis, "range": [in_h - 0.5, -0.5], "scaleanchor": "x"},
        "xaxis2": {**axis, "domain": [0.65, 1], "side": "top", "range": [-0.5, out_w - 0.5]},
        "yaxis2": {**axis, "range": [out_h - 0.5, -0.5], "scaleanchor": "x2", "anchor": "x2"},
    }
    return go.Figure({"data": data, "layout": layout})


def pixels_figure(x: torch.Tensor, title: str, zrange: tuple[float, float] = (0.0, 1.0),
                  colorscale: str = "gray", height: int = 260) -> go.Figure:
    """A map drawn cell by cell (no browser smoothing), so every pixel is visible."""
    z = x.detach().reshape(x.shape[-2], x.shape[-1]).tolist()
    layout = {"height": height, "margin": {"l": 0, "r": 0, "t": 30, "b": 0},
              "title": {"text": title, "font": {"size": 13}},
              "xaxis": {"visible": False}, "yaxis": {"visible": False, "autorange": "reversed",
                                                     "scaleanchor": "x"}}
    return go.Figure({"data": [{"type": "heatmap", "z": z, "colorscale": colorscale,
                                "zmin": zrange[0], "zmax": zrange[1], "showscale": False,
                                "hovertemplate": "(%{y}, %{x}): %{z:.3f}<extra></extra>"}],
                      "layout": layout})


def activation_histogram_figure(hist: SharedHistograms, height: int = 280) -> go.Figure:
    """Overlaid bars of each map's counts on shared bins, a log count axis."""
    data = [{"type": "bar", "x": hist.centres, "y": counts, "name": label, "opacity": 0.6,
             "marker": {"color": HISTOGRAM_COLORS[i % len(HISTOGRAM_COLORS)]},
             "width": hist.width}
            for i, (label, counts) in enumerate(hist.counts.items())]
    layout = {"height": height, "barmode": "overlay", "margin": {"l": 10, "r": 10, "t": 30,
                                                                  "b": 10},
              "yaxis": {"type": "log", "title": {"text": _("pixels (log)")}},
              "xaxis": {"title": {"text": _("value")}}, "legend": {"orientation": "h", "y": 1.12}}
    return go.Figure({"data": data, "layout": layout})


def inplace_figure(report: InplaceReport, height: int = 240) -> go.Figure:
    """Memory held by the input and the output map, without and with inplace=True."""
    kib = report.map_bytes / 1024
    out_kib = 0.0 if report.inplace_shares_memory else kib
    data = [
        {"type": "bar", "name": _("input map"), "y": ["nn.ReLU()", "nn.ReLU(inplace=True)"],
         "x": [kib, kib], "orientation": "h", "marker": {"color": "#1f77b4"}},
        {"type": "bar", "name": _("new output map"), "orientation": "h",
         "y": ["nn.ReLU()", "nn.ReLU(inplace=True)"], "x": [kib, out_kib],
         "marker": {"color": "#ff7f0e"}},
    ]
    layout = {"height": height, "barmode": "stack", "margin": {"l": 10, "r": 10, "t": 30,
                                                                "b": 10},
              "xaxis": {"title": {"text": _("KiB held after the call")}},
              "legend": {"orientation": "h", "y": 1.2}}
    return go.Figure({"data": data, "layout": layout})
