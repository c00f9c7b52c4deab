"""Training curves and results: loss per step, accuracy per epoch, comparisons, evaluation.

Every chart has an honest frame before it has data: a loss axis from 0 and an accuracy axis
of 0–100%, never Plotly's default −1…4 range.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from explorer.figures import palettes
from explorer.i18n import _

_MARGIN = {"t": 40, "b": 40, "l": 50, "r": 10}


def _empty_epochs_frame(fig: go.Figure, epochs: int) -> None:
    fig.update_xaxes(range=[0.5, max(1, epochs) + 0.5])


def loss_figure(steps: Sequence[int], loss: Sequence[float], smooth: Sequence[float],
                run_id: str, total_steps: int = 0) -> go.Figure:
    """Training loss per optimiser step, raw and smoothed; keeps the zoom across updates."""
    fig = go.Figure()
    fig.add_scatter(x=list(steps), y=list(loss), mode="lines", name=_("loss per step"),
                    line={"width": 1, "color": "rgba(99,110,250,0.35)"})
    fig.add_scatter(x=list(steps), y=list(smooth), mode="lines", name=_("smoothed"),
                    line={"width": 2, "color": "#636efa"})
    fig.update_layout(title=_("Training loss per step"), xaxis_title=_("step"),
                      yaxis_title=_("loss"),
                      height=320, margin=_MARGIN, uirevision=run_id,
                      legend={"orientation": "h", "y": -0.25})
    if not steps:  # nothing logged yet: an empty frame from 0, not −1…4
        fig.update_layout(yaxis_range=[0, 2.5], xaxis_range=[0, max(1, total_steps)])
    return fig


def accuracy_figure(epochs: Sequence[dict], run_id: str, planned_epochs: int = 1) -> go.Figure:
    """Train and test accuracy per epoch on a 0–100% axis."""
    fig = go.Figure()
    x = [e["epoch"] for e in epochs]
    fig.add_scatter(x=x, y=[e["train_acc"] for e in epochs], mode="lines+markers",
                    name=_("train"))
    fig.add_scatter(x=x, y=[e["test_acc"] for e in epochs], mode="lines+markers",
                    name=_("test"))
    fig.update_layout(title=_("Accuracy per epoch"), xaxis_title=_("epoch"),
                      yaxis_title=_("accuracy"),
                      yaxis_tickformat=".0%", yaxis_range=[0, 1.02], height=320,
                      uirevision=run_id, xaxis_dtick=1, margin=_MARGIN,
                      legend={"orientation": "h", "y": -0.25})
    if not epochs:
        _empty_epochs_frame(fig, planned_epochs)
    return fig


def compare_figures(series: Sequence[tuple[str, Sequence[dict]]]) -> tuple[go.Figure, go.Figure]:
    """Test accuracy and training loss per epoch of several runs, overlaid: (accuracy, loss)."""
    acc, loss = go.Figure(), go.Figure()
    for i, (label, epochs) in enumerate(series):
        x = [e["epoch"] for e in epochs]
        color, symbol, _dash = palettes.series_style(i)  # not by colour alone
        style = {"mode": "lines+markers", "name": label, "line": {"color": color},
                 "marker": {"symbol": symbol}}
        acc.add_scatter(x=x, y=[e["test_acc"] for e in epochs], **style)
        loss.add_scatter(x=x, y=[e["train_loss"] for e in epochs], **style)
    longest = max((len(e) for _label, e in series), default=0)
    acc.update_layout(title=_("Test accuracy per epoch"), yaxis_tickformat=".0%", height=360,
                      yaxis_range=[0, 1.02], xaxis_title=_("epoch"), xaxis_dtick=1,
                      uirevision="compare", legend={"orientation": "h", "y": -0.3})
    loss.update_layout(title=_("Training loss per epoch"), height=360, xaxis_title=_("epoch"),
                       xaxis_dtick=1, uirevision="compare",
                       legend={"orientation": "h", "y": -0.3})
    if longest == 0:
        for fig in (acc, loss):
            _empty_epochs_frame(fig, 1)
        loss.update_layout(yaxis_range=[0, 2.5])
    return acc, loss


def confusion_figure(confusion: Sequence[Sequence[int]], names: Sequence[str]) -> go.Figure:
    """The confusion matrix: rows are the true class, columns the predicted one."""
    fig = go.Figure(go.Heatmap(z=confusion, x=list(names), y=list(names), colorscale="Blues",
                               texttemplate="%{z}",
                               hovertemplate=_("true %{y} → predicted %{x}: %{z}")
                               + "<extra></extra>"))
    fig.update_layout(title=_("Confusion matrix"), xaxis_title=_("predicted"),
                      yaxis_title=_("true"),
                      yaxis_autorange="reversed", height=420, xaxis_type="category",
                      yaxis_type="category", margin={"t": 40, "b": 40, "l": 60, "r": 10})
    return fig


def per_class_figure(accuracy: Sequence[float], names: Sequence[str]) -> go.Figure:
    """Accuracy of each class on a 0–100% axis."""
    fig = go.Figure(go.Bar(x=list(names), y=list(accuracy),
                           text=[f"{a:.1%}" for a in accuracy]))
    fig.update_layout(title=_("Accuracy per class"), yaxis_tickformat=".0%", height=420,
                      yaxis_range=[0, 1.05], xaxis_type="category", margin=_MARGIN)
    return fig
