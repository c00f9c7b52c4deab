"""Which pixel of the photo (and which colour channel) the student inspects: typed
coordinates, a click in the zoomed neighbourhood, or a shared link.

Its state is `{prefix}_x`, `{prefix}_y` and `{prefix}_channel`, all three in the address bar,
always kept inside the photo shown (a smaller photo or an old link moves it in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from explorer import kernels
from explorer.i18n import _
from explorer.ui import number_grids, widgets


@dataclass(frozen=True)
class PixelChoice:
    """One pixel choice, keyed by `prefix`."""

    prefix: str

    def seed(self, width: int, height: int, photo: str = "") -> None:
        """The pixel a shared link names, else the centre of a `width` x `height` photo; a
        new photo (`photo` names it) starts at its centre, not at the old photo's pixel
        pressed into a corner of it."""
        shown = (photo, width, height)
        if st.session_state.get(f"{self.prefix}_photo", shown) != shown:
            st.session_state[f"{self.prefix}_x"], st.session_state[f"{self.prefix}_y"] = (
                width // 2, height // 2)
        st.session_state[f"{self.prefix}_photo"] = shown
        widgets.url_state(f"{self.prefix}_x", width // 2, bounds=(0, width - 1))
        widgets.url_state(f"{self.prefix}_y", height // 2, bounds=(0, height - 1))
        widgets.url_state(f"{self.prefix}_channel", kernels.CHANNELS[0],
                          choices=kernels.CHANNELS)

    def at(self, height: int, width: int) -> tuple[int, int]:
        """The chosen (row, col), inside a `height` x `width` photo."""
        state = st.session_state
        return kernels.clamp_pixel(state.get(f"{self.prefix}_y", height // 2),
                                   state.get(f"{self.prefix}_x", width // 2), height, width)

    def inputs(self, height: int, width: int, channels: int) -> tuple[int, int, int]:
        """Number inputs for x and y and, for a colour photo, a channel select, side by side;
        returns (row, col, channel)."""
        x_key, y_key, channel_key = (f"{self.prefix}_{n}" for n in ("x", "y", "channel"))
        st.session_state[y_key], st.session_state[x_key] = self.at(height, width)
        c1, c2, c3 = st.columns(3)
        col = widgets.number_input(_("x (column)"), 0, width - 1, step=1, key=x_key, where=c1)
        row = widgets.number_input(_("y (row)"), 0, height - 1, step=1, key=y_key, where=c2)
        channel = 0
        if channels == 3:
            channel = kernels.CHANNELS.index(c3.selectbox(
                _("Channel"), kernels.CHANNELS, key=channel_key,
                format_func=lambda c: _(kernels.CHANNEL_NAMES[c])))
        widgets.sync_url(x_key, y_key, channel_key)
        return row, col, channel

    def picker(self, view: kernels.Neighbourhood, cell_px: int, **figure_args: Any) -> None:
        """The neighbourhood `view` as a grid (the chosen pixel and the kernel's reach
        outlined); a click on a cell chooses that pixel."""
        st.session_state[f"{self.prefix}_view"] = view
        number_grids.picker(view.pixels, f"{self.prefix}_picker", self._picked, cell_px,
                            highlight=(view.centre,), boxes=(view.window,),
                            origin=(view.top, view.left), **figure_args)

    def _picked(self) -> None:
        if (cell := number_grids.clicked(f"{self.prefix}_picker")) is not None:
            row, col = st.session_state[f"{self.prefix}_view"].pixel(cell)
            st.session_state[f"{self.prefix}_y"], st.session_state[f"{self.prefix}_x"] = row, col
