"""Every Plotly chart of the app goes through `plotly`: the chart, and before it its text
summary (`explorer.figures.summaries`) for a screen reader, in the session's language.

The summary is visually hidden (clipped to a pixel, the usual "screen-reader only" style), not
removed: screen readers read it where the chart begins, a sighted student sees the chart.
"""

from __future__ import annotations

import html
from typing import Any

from explorer.figures import summaries


def plotly(where: Any, figure: Any, **kwargs: Any) -> Any:
    """`where.plotly_chart(figure, **kwargs)` (`where`: st, a column, a placeholder) with the
    figure's summary before it; returns what `plotly_chart` returns (a selection event)."""
    box = where.container(gap=None)
    box.markdown('<div class="explorer-chart-summary">'
                 f"{html.escape(summaries.summary(figure))}</div>", unsafe_allow_html=True)
    return box.plotly_chart(figure, **kwargs)
