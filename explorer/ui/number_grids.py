"""Small grids of numbers on a page (`figures.grids`), each figure built once and reused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from explorer.figures import frozen, grids
from explorer.ui import charts


def show(values: object, key: str, cell_px: int = 44, show_indices: bool = True, *,
         caption: str | None = None, where: Any = None, **figure_args: Any) -> None:
    """A static grid figure of `values` (cells `cell_px` wide, not clickable), under
    `caption` if given, in container `where`; `figure_args` go to
    `grids.number_grid_figure`."""
    where = st if where is None else where
    if caption is not None:
        where.caption(caption)
    charts.plotly(
        where,
        grids.cached_number_grid(frozen(values), cell_px=cell_px, show_indices=show_indices,
                                 **{k: frozen(v) for k, v in figure_args.items()}),
        key=key, width="content",
        config={"displayModeBar": False, "staticPlot": True})


def picker(values: object, key: str, on_pick: Callable[[], None], cell_px: int = 44,
           **figure_args: Any) -> None:
    """A grid figure whose cells can be clicked: `on_pick` runs on a click, and
    `clicked(key)` then says which cell it was."""
    charts.plotly(
        st,
        grids.cached_number_grid(frozen(values), cell_px=cell_px, clickable=True,
                                 **{k: frozen(v) for k, v in figure_args.items()}),
        key=key, on_select=on_pick, selection_mode="points", width="content",
        config={"displayModeBar": False})


def clicked(key: str) -> tuple[int, int] | None:
    """(row, col) of the cell last clicked in the picker `key`, or None."""
    return grids.clicked_cell(st.session_state[key].get("selection"))
