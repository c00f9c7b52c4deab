"""The class's answers to one question as bars, big enough to project: one bar per distinct
answer, most given first; once the answer is revealed the right ones are green and marked ✓,
the others vermillion and ✗ (not by colour alone)."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from explorer.figures import palettes
from explorer.i18n import _

RIGHT, OTHER, HIDDEN = palettes.RIGHT, palettes.WRONG, palettes.CATEGORICAL[0]


def answer_bars(labels: Sequence[str], counts: Sequence[int], right: Sequence[bool],
                revealed: bool) -> go.Figure:
    """Horizontal bars of `counts` per answer `labels`; coloured by `right` once `revealed`."""
    colours = [(RIGHT if ok else OTHER) if revealed else HIDDEN for ok in right]
    text = [f"{'✓' if ok else '✗'} {n}" if revealed else str(n)
            for n, ok in zip(counts, right, strict=True)]
    fig = go.Figure(go.Bar(x=list(counts), y=list(labels), orientation="h", text=text,
                           textposition="auto", marker_color=colours,
                           hovertemplate="%{y}: %{x}<extra></extra>"))
    fig.update_layout(
        height=max(180, 70 + 46 * len(labels)), margin={"t": 10, "b": 40, "l": 10, "r": 10},
        xaxis={"title": _("students"), "dtick": 1, "rangemode": "tozero"},
        yaxis={"autorange": "reversed", "type": "category", "automargin": True,
               "tickfont": {"size": 18}},
        font={"size": 16}, bargap=0.25)
    return fig
