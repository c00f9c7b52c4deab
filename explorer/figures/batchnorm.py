"""Figures of the BatchNorm lab: running statistics, histograms, the averaged axes, feature maps.

Every builder draws numbers `explorer.batchnorm` computed (read from a real BatchNorm layer).
The side-by-side panels take their axes from plotly's `make_subplots`, built once per layout
and reused as a plain dict: each rerun then only fills in the traces. The builders return
`PrebuiltFigure`s (plain dicts Streamlit sends as they are); the unit tests validate them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from explorer import batchnorm as bn
from explorer.figures import PrebuiltFigure, palettes
from explorer.i18n import _

COLORS = palettes.CATEGORICAL  # colour-blind safe; the channels' lines also differ by marker
STATS = (("running_mean", "target_mean"), ("running_var", "target_var"))


@lru_cache(maxsize=16)
def _subplots(cols: int, titles: tuple[str, ...], **kwargs: Any) -> dict[str, Any]:
    return make_subplots(1, cols, subplot_titles=titles, **kwargs).to_dict()["layout"]


def _layout(cols: int, titles: tuple[str, ...], **kwargs: Any) -> dict[str, Any]:
    """A fresh copy of the layout of `cols` side-by-side subplots, two levels deep (the axes
    and the title annotations), which is as deep as the builders below write."""
    def fresh(value: Any) -> Any:
        if isinstance(value, dict):
            return dict(value)
        return [fresh(v) for v in value] if isinstance(value, list) else value
    return {key: fresh(value) for key, value in _subplots(cols, titles, **kwargs).items()}


def _axes(i: int) -> dict[str, str]:
    suffix = "" if i == 1 else str(i)
    return {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}


def _eval_spans(steps: list[int], training: list[bool]) -> list[tuple[int, int]]:
    """(first, last) step of each run of eval-mode steps."""
    spans: list[tuple[int, int]] = []
    for step, train in zip(steps, training, strict=True):
        if train:
            continue
        if spans and spans[-1][1] == steps[steps.index(step) - 1]:
            spans[-1] = (spans[-1][0], step)
        else:
            spans.append((step, step))
    return spans


def history_figure(steps: list[int], series: dict[str, np.ndarray], channels: list[int],
                   training: list[bool] | None = None) -> go.Figure:
    """running_mean and running_var of `channels` per step (solid) against the data's (dashed).

    `series` maps running_mean, running_var, target_mean and target_var to [steps, C] arrays;
    `training`, each step's mode: the steps taken in eval mode are shaded and labelled.
    """
    layout = _layout(2, ("running_mean", "running_var"), horizontal_spacing=0.08)
    data = []
    for col, (name, target) in enumerate(STATS, start=1):
        for k, c in enumerate(channels):
            color, symbol, _dash = palettes.series_style(k)
            data.append({"type": "scatter", "x": steps, "y": series[name][:, c].tolist(),
                         "name": _("channel {c}").format(c=c), "legendgroup": str(c),
                         "showlegend": col == 1, "line": {"color": color}, **_axes(col),
                         "mode": "lines+markers",
                         "marker": {"symbol": symbol, "size": 7, "maxdisplayed": 12}})
            data.append({"type": "scatter", "x": steps, "y": series[target][:, c].tolist(),
                         "name": _("data, channel {c}").format(c=c), "legendgroup": str(c),
                         "showlegend": False, **_axes(col), "connectgaps": True,
                         "mode": "lines+markers",  # one step's value is a mark, not a dot
                         "marker": {"size": 6, "symbol": "line-ew-open", "color": color},
                         "line": {"color": color, "dash": "dash", "width": 1.5}})
    shapes, notes = [], []
    for first, last in _eval_spans(steps, training or [True] * len(steps)):
        for col in (1, 2):
            x, y = _axes(col)["xaxis"], _axes(col)["yaxis"]
            shapes.append({"type": "rect", "xref": x, "yref": f"{y} domain", "x0": first - 0.5,
                           "x1": last + 0.5, "y0": 0, "y1": 1, "line": {"width": 0},
                           "fillcolor": "rgba(120, 120, 120, 0.15)", "layer": "below"})
            notes.append({"xref": x, "yref": f"{y} domain", "x": first - 0.5, "y": 1,
                          "xanchor": "left", "yanchor": "top", "showarrow": False,
                          "text": _("eval()"), "font": {"size": 11, "color": "#555555"}})
    layout.update(shapes=shapes, annotations=[*layout.get("annotations", ()), *notes])
    for axis in ("xaxis", "xaxis2"):
        layout[axis]["title"] = {"text": _("step")}
    layout.update(height=380, margin={"t": 40, "b": 40, "l": 40, "r": 10},
                  legend={"orientation": "h", "y": -0.2})
    return PrebuiltFigure({"data": data, "layout": layout})


def channels_figure(running: dict[str, np.ndarray], targets: dict[str, np.ndarray]
                    ) -> go.Figure:
    """Bars of the last running_mean and running_var per channel, the data's value marked.

    `running` maps running_mean and running_var to [C] arrays; `targets` maps target_mean and
    target_var to [C] arrays (all NaN when the data's value is not known).
    """
    layout = _layout(2, (_("running_mean per channel"), _("running_var per channel")))
    chans = list(range(len(running["running_mean"])))
    data = []
    for col, (name, target) in enumerate(STATS, start=1):
        data.append({"type": "bar", "x": chans, "y": running[name].tolist(), "name": name,
                     "marker": {"color": COLORS[0] if col == 1 else COLORS[1]}, **_axes(col)})
        tgt = targets[target]
        if not np.isnan(tgt).all():
            data.append({"type": "scatter", "x": chans, "y": tgt.tolist(), "mode": "markers",
                         "name": _("the data's value"), "showlegend": col == 1, **_axes(col),
                         "marker": {"symbol": "line-ew-open", "size": 18, "color": "black",
                                    "line": {"width": 2}}})
    for axis in ("xaxis", "xaxis2"):
        layout[axis]["title"] = {"text": _("channel")}
        if len(chans) <= 32:
            layout[axis]["dtick"] = 1
    layout.update(height=300, margin={"t": 40, "b": 40, "l": 40, "r": 10}, bargap=0.25,
                  legend={"orientation": "h", "y": -0.3})
    return PrebuiltFigure({"data": data, "layout": layout})


def _bins(*arrays: np.ndarray, count: int = 30) -> dict[str, float]:
    lo = min(float(a.min()) for a in arrays)
    hi = max(float(a.max()) for a in arrays)
    return {"start": lo, "end": hi + 1e-9, "size": max(hi - lo, 1e-6) / count}


def histograms_figure(panels: dict[str, np.ndarray], height: int = 280) -> go.Figure:
    """One histogram per panel, side by side on shared bins and a shared count axis."""
    layout = _layout(len(panels), tuple(panels), shared_yaxes=True)
    bins = _bins(*panels.values())
    data = [{"type": "histogram", "x": values.tolist(), "xbins": bins,
             "marker": {"color": COLORS[i - 1]}, "showlegend": False, **_axes(i)}
            for i, values in enumerate(panels.values(), start=1)]
    layout.update(height=height, margin={"t": 40, "b": 30, "l": 40, "r": 10}, bargap=0.05)
    return PrebuiltFigure({"data": data, "layout": layout})


def overlay_figure(before: np.ndarray, after: np.ndarray, names: tuple[str, str]) -> go.Figure:
    """Two histograms overlaid on shared bins (a channel before and after the layer)."""
    bins = _bins(before, after, count=40)
    data = [{"type": "histogram", "x": values.tolist(), "name": name, "xbins": bins,
             "opacity": 0.6, "marker": {"color": color}}
            for values, name, color in zip((before, after), names, COLORS, strict=False)]
    layout = {"barmode": "overlay", "height": 280,
              "margin": {"t": 20, "b": 30, "l": 40, "r": 10},
              "legend": {"orientation": "h", "y": 1.12}}
    return PrebuiltFigure({"data": data, "layout": layout})


def axes_figure(shape: tuple[int, int, int, int], groups: dict[str, torch.Tensor]
                ) -> go.Figure:
    """For each norm in `groups` (kind -> [N, C, H, W] bool), the values averaged together."""
    n, c, h, w = shape
    titles = []
    for kind, group in groups.items():
        size = int(group.sum())
        titles.append(_("<b>{kind}</b>: averages over {axes}<br>{size} values per μ, σ² · "
                        "{pairs} pairs in all").format(kind=kind, axes=bn.NORM_AXES[kind],
                                                       size=size, pairs=group.numel() // size))
    layout = _layout(len(groups), tuple(titles), horizontal_spacing=0.06)
    data = []
    for i, group in enumerate(groups.values(), start=1):
        suffix = "" if i == 1 else str(i)
        data.append({"type": "heatmap", "z": bn.tile(group.double()).tolist(),
                     "colorscale": [[0, "#e5e7eb"], [1, "#2563eb"]], "zmin": 0, "zmax": 1,
                     "showscale": False, "xgap": 1, "ygap": 1, **_axes(i),
                     "hovertemplate": _("averaged together: %{z}") + "<extra></extra>"})
        layout[f"xaxis{suffix}"].update(
            tickvals=[j * (w + 1) + (w - 1) / 2 for j in range(n)],
            ticktext=[f"n={j}" for j in range(n)], title={"text": _("N (samples) →")},
            showgrid=False, zeroline=False)
        layout[f"yaxis{suffix}"].update(
            tickvals=[j * (h + 1) + (h - 1) / 2 for j in range(c)],
            ticktext=[f"c={j}" for j in range(c)], autorange="reversed", showgrid=False,
            zeroline=False, scaleanchor=f"x{suffix}")
        if i == 1:
            layout["yaxis"]["title"] = {"text": _("C (channels) ↓")}
    layout.update(height=440, margin={"t": 70, "b": 50, "l": 60, "r": 10})
    for note in layout["annotations"]:
        note["font"] = {"size": 13}
    return PrebuiltFigure({"data": data, "layout": layout})


def maps_figure(result: bn.FeatureMapsNorm) -> go.Figure:
    """The batch of feature maps tiled (channels down, crops across), before and after."""
    layout = _layout(2, (_("before BatchNorm2d"), _("after BatchNorm2d")),
                     horizontal_spacing=0.12)
    n, c, h, w = result.before.shape
    data = []
    for i, maps in enumerate((result.before, result.after), start=1):
        suffix = "" if i == 1 else str(i)
        tiled = np.round(bn.tile(maps, gap=2), 3)  # as the hover shows them: half the JSON
        data.append({"type": "heatmap",
                     "z": [[None if v != v else v for v in row] for row in tiled.tolist()],
                     "colorscale": palettes.SIGNED, "zmid": 0, "showscale": True,
                     "colorbar": {"x": 0.43 if i == 1 else 1.0, "len": 0.9}, **_axes(i),
                     "hovertemplate": "%{z:.3f}<extra></extra>"})
        layout[f"xaxis{suffix}"].update(
            tickvals=[j * (w + 2) + w / 2 for j in range(n)],
            ticktext=[_("crop {j}").format(j=j) for j in range(n)], showgrid=False, zeroline=False)
        layout[f"yaxis{suffix}"].update(
            tickvals=[j * (h + 2) + h / 2 for j in range(c)],
            ticktext=[_(name) for name in result.names],
            autorange="reversed", showgrid=False, showticklabels=i == 1, zeroline=False,
            scaleanchor=f"x{suffix}")
    layout.update(height=460, margin={"t": 40, "b": 10, "l": 110, "r": 10})
    return PrebuiltFigure({"data": data, "layout": layout})
