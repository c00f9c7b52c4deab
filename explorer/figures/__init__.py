"""Figure builders: Plotly figures and images drawn from numbers the lesson modules compute.

Drawing lives here, math in the lesson modules; a figure builder takes plain values or tensors
and returns a `go.Figure` or an image, and never computes a lesson's result itself.
`frozen` and `PrebuiltFigure` let a page keep figures in a cache keyed by small values.
"""

from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go


class PrebuiltFigure(go.Figure):
    """A figure Streamlit serialises straight from a prebuilt plain dict.

    plotly validates every object on construction (~0.3 s for a 64-frame animation), and
    `st.plotly_chart` deep-copies a figure's dict before sending it; a prebuilt dict skips
    both. Build it from a validated figure (`PrebuiltFigure(fig.to_dict())`) or validate the
    dict in a unit test (`go.Figure(fig.to_dict())`). Treat the dict as read-only.
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__()
        self._spec = spec

    def to_dict(self) -> dict[str, Any]:
        return self._spec


def frozen(values: Any) -> Any:
    """Nested lists, tensors or arrays as nested tuples (NaN as None): a hashable cache key."""
    if hasattr(values, "tolist"):
        values = values.tolist()
    if isinstance(values, (list, tuple)):
        return tuple(frozen(v) for v in values)
    if isinstance(values, float) and math.isnan(values):
        return None
    return values
