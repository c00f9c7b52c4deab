"""The Experiments page's charts: the arms of one experiment overlaid, one colour per arm.

An arm keeps its colour in every chart of its card; a second measure of the same arm (the
training images beside the test images) is drawn dashed in that colour.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.figures import palettes
from explorer.i18n import _

PALETTE = palettes.CATEGORICAL  # colour-blind safe; each arm also has its own marker or dash
_LAYOUT = {"height": 330, "margin": {"t": 40, "b": 40, "l": 55, "r": 10},
           "legend": {"orientation": "h", "y": -0.28}}


def epoch_figure(series: Sequence[tuple[str, Sequence[dict]]], key: str, title: str, *,
                 percent: bool = False, full_range: bool = True,
                 dashed_key: str | None = None, dashed_name: str = "", planned_epochs: int = 1,
                 uirevision: str = "") -> go.Figure:
    """`key` of every epoch record per arm, overlaid; `dashed_key` beside it, dashed.

    Percentages span 0–100% unless `full_range` is False (for small differences, e.g. gaps).
    """
    fig = go.Figure()
    for i, (label, epochs) in enumerate(series):
        color, symbol, _dash = palettes.series_style(i)
        x = [e["epoch"] for e in epochs]
        fig.add_scatter(x=x, y=[e.get(key) for e in epochs], mode="lines+markers",
                        name=label, line={"color": color}, marker={"symbol": symbol})
        if dashed_key:
            fig.add_scatter(x=x, y=[e.get(dashed_key) for e in epochs], mode="lines+markers",
                            name=f"{label} · {dashed_name}", line={"color": color, "dash": "dash"},
                            marker={"symbol": f"{symbol}-open"})
    longest = max((len(e) for _label, e in series), default=0)
    fig.update_layout(title=title, xaxis_title=_("epoch"), xaxis_dtick=1,
                      xaxis_range=[0.5, max(longest, planned_epochs, 1) + 0.5],
                      uirevision=uirevision or title, **_LAYOUT)
    if percent:
        fig.update_layout(yaxis_tickformat=".0%" if full_range else ".1%")
        if full_range:
            fig.update_layout(yaxis_range=[0, 1.02])
    elif not longest:
        fig.update_layout(yaxis_range=[0, 2.5])
    return fig


def step_loss_figure(series: Sequence[tuple[str, Sequence[int], Sequence[float]]],
                     uirevision: str = "") -> go.Figure:
    """The smoothed training loss per step of every arm, overlaid."""
    fig = go.Figure()
    for i, (label, steps, loss) in enumerate(series):
        color, _symbol, dash = palettes.series_style(i)
        fig.add_scatter(x=list(steps), y=list(loss), mode="lines", name=label,
                        line={"color": color, "width": 2, "dash": dash})
    fig.update_layout(title=_("Training loss per step (smoothed)"), xaxis_title=_("step"),
                      yaxis_title=_("loss"), uirevision=uirevision or "steps", **_LAYOUT)
    if not any(steps for _label, steps, _loss in series):
        fig.update_layout(yaxis_range=[0, 2.5], xaxis_range=[0, 1])
    return fig


def cost_figure(labels: Sequence[str], weights: Sequence[int], macs: Sequence[int],
                footprints: Sequence[Sequence[Sequence[int]]]) -> go.Figure:
    """Weights and multiply-adds per design, then each design's receptive field as the number
    of paths from every input pixel to one output pixel."""
    # two rows of two (the costs, then the footprints), not one row of four: on a 390 px
    # phone four panels left their titles running into each other
    cols = max(2, len(footprints))
    titles = [_("weights"), _("multiply-adds"), *[""] * (cols - 2),
              *(_("{design}: paths to one output").format(design=label) for label in labels)]
    fig = make_subplots(rows=2, cols=cols, subplot_titles=titles, horizontal_spacing=0.12,
                        vertical_spacing=0.16)
    for col, values in ((1, weights), (2, macs)):
        fig.add_bar(x=list(labels), y=list(values), text=[f"{v:,}" for v in values],
                    marker_color=PALETTE[:len(labels)], showlegend=False, row=1, col=col)
    for i, paths in enumerate(footprints):
        fig.add_heatmap(z=[list(r) for r in paths], text=[list(r) for r in paths],
                        texttemplate="%{text}", colorscale="Blues", showscale=False,
                        hovertemplate=_("%{z} path(s)") + "<extra></extra>", row=2, col=1 + i)
        axis = cols + 1 + i
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{axis}", showticklabels=False,
                         row=2, col=1 + i)
        fig.update_xaxes(showticklabels=False, row=2, col=1 + i)
    fig.update_layout(height=560, margin={"t": 50, "b": 30, "l": 40, "r": 10})
    return fig
