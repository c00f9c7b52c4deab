"""The training timeline: loss and accuracy curves with a marker at a snapshot's step, and
the snapshot's filters and feature maps as pictures (`explorer.training.timeline`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch

from explorer.figures import PrebuiltFigure
from explorer.figures.feature_maps import channel_grid, filter_grid
from explorer.i18n import _

MARKER_COLOUR = "#ef553b"


def curves_spec(steps: Sequence[int], loss_smooth: Sequence[float], epochs: Sequence[dict],
                steps_per_epoch: int, total_steps: int) -> dict[str, Any]:
    """Smoothed training loss per step (left axis) and train/test accuracy at each epoch's
    last step (right axis, 0–100%), as a validated plain dict to add a marker to."""
    fig = go.Figure()
    fig.add_scatter(x=list(steps), y=list(loss_smooth), mode="lines", name=_("training loss"),
                    line={"width": 2, "color": "#636efa"})
    at = [e["epoch"] * steps_per_epoch for e in epochs]
    fig.add_scatter(x=at, y=[e["train_acc"] for e in epochs], mode="lines+markers",
                    name=_("train accuracy"), yaxis="y2", line={"color": "#00cc96"})
    fig.add_scatter(x=at, y=[e["test_acc"] for e in epochs], mode="lines+markers",
                    name=_("test accuracy"), yaxis="y2", line={"color": "#ab63fa"})
    fig.update_layout(
        height=300, margin={"t": 30, "b": 40, "l": 50, "r": 50},
        xaxis={"title": _("step"), "range": [0, max(1, total_steps)]},
        yaxis={"title": _("loss"), "rangemode": "tozero"},
        yaxis2={"title": _("accuracy"), "overlaying": "y", "side": "right", "range": [0, 1.02],
                "tickformat": ".0%", "dtick": 0.2, "showgrid": False},
        legend={"orientation": "h", "y": -0.3}, uirevision="timeline",
    )
    return fig.to_dict()


def with_marker(spec: dict[str, Any], step: int, epoch: float) -> PrebuiltFigure:
    """`spec` with a vertical line at `step` (the dict is shared: only the layout is copied)."""
    marker = {"type": "line", "x0": step, "x1": step, "yref": "paper", "y0": 0, "y1": 1,
              "line": {"color": MARKER_COLOUR, "width": 2, "dash": "dot"}}
    label = {"x": step, "y": 1, "yref": "paper", "yanchor": "bottom", "showarrow": False,
             "text": _("step {step} · epoch {epoch:.2f}").format(step=step, epoch=epoch),
             "font": {"color": MARKER_COLOUR}}
    layout = {**spec["layout"], "shapes": [marker], "annotations": [label]}
    return PrebuiltFigure({"data": spec["data"], "layout": layout})


def probe_picture(pixels: torch.Tensor, size: int = 112) -> np.ndarray:
    """The probe test image, uint8 [C, H, W], enlarged with sharp pixels as RGB."""
    image = pixels.expand(3, *pixels.shape[-2:]) if pixels.shape[0] == 1 else pixels[:3]
    scale = max(1, size // max(image.shape[-2:]))
    return image.permute(1, 2, 0).repeat_interleave(scale, 0).repeat_interleave(scale, 1).numpy()


def filters_picture(filters: torch.Tensor) -> np.ndarray:
    """A snapshot's first-layer filters (float16) as one picture, grey/white = 0."""
    return filter_grid(filters.float(), tile=36)


def maps_picture(maps: torch.Tensor, cmap: str = "Viridis") -> np.ndarray:
    """A snapshot's maps of one layer (float16 [C, H, W]), each channel on its own scale."""
    return channel_grid(maps.float(), cmap=cmap, per_channel=True, tile=48)
