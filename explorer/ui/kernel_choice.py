"""The kernel a student chooses: one of the course's presets or a grid of their own numbers,
and the switches that decide what conv2d does with it and how its output is shown.

The choice lives in session state under `{prefix}_...` keys and travels in shared links
(all but the grid). Choosing a preset fills the grid with its weights and sets Normalise as
the preset is meant to be seen; editing the grid makes the kernel "Custom".
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from explorer import kernels
from explorer.i18n import _
from explorer.ui import table_editor, widgets

PRESET_OPTIONS = [*kernels.PRESETS, kernels.CUSTOM]


@dataclass(frozen=True)
class Choice:
    """What the student chose: the grid as typed and the switches."""

    cells: list[list[str]]
    normalise: bool
    flip: bool
    colour: kernels.ColourMode
    padding: kernels.PaddingMode
    display: kernels.DisplayMode


@dataclass(frozen=True)
class KernelChoice:
    """The widgets and state of one kernel choice, keyed `{prefix}_preset`, `{prefix}_cells`,
    `{prefix}_size`, `{prefix}_normalise`, `{prefix}_flip`, `{prefix}_colour`,
    `{prefix}_padding` and `{prefix}_display`."""

    prefix: str

    @property
    def grid(self) -> table_editor.SquareGrid:
        return table_editor.SquareGrid(f"{self.prefix}_cells", f"{self.prefix}_size",
                                       kernels.SIZES)

    def _key(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    def _seed(self) -> None:
        """The choice a shared link names, else the first preset (once per session)."""
        widgets.url_state(self._key("preset"), PRESET_OPTIONS[0], choices=PRESET_OPTIONS)
        widgets.url_state(self._key("colour"), "rgb", choices=kernels.COLOUR_MODES)
        widgets.url_state(self._key("padding"), "zeros", choices=kernels.PADDING_MODES)
        widgets.url_state(self._key("display"), "clip", choices=kernels.DISPLAY_MODES)
        widgets.url_state(self._key("flip"), False)
        first = kernels.preset_or_first(st.session_state[self._key("preset")])
        self.grid.seed(kernels.kernel_cells(first.weights))
        widgets.url_state(self._key("normalise"), first.normalise)

    def _load_preset(self) -> None:
        preset = kernels.PRESETS.get(st.session_state[self._key("preset")])
        if preset is None:  # "Custom" keeps whatever kernel is in the grid
            return
        self.grid.set(kernels.kernel_cells(preset.weights))
        st.session_state[self._key("normalise")] = preset.normalise

    def _now_custom(self) -> None:
        st.session_state[self._key("preset")] = kernels.CUSTOM

    def controls(self) -> Choice:
        """The preset picker, the grid, the switches and the radios; returns the choice."""
        self._seed()
        preset_key = self._key("preset")
        st.selectbox(_("Kernel"), PRESET_OPTIONS, key=preset_key, on_change=self._load_preset,
                     format_func=lambda name: _(kernels.PRESET_NAMES.get(name, name)))
        preset = kernels.PRESETS.get(st.session_state[preset_key])
        st.caption(_(preset.about) if preset else _(
            "Your own kernel: type any numbers (or fractions such as 1/9) into the grid "
            "below."))
        self.grid.editor(_("Kernel size"), on_change=self._now_custom, column_px=52, size_help=_(
            "Changing the size crops the kernel or adds a border of zeros."))
        st.caption(_("Edit any cell and the kernel becomes “Custom”."))
        st.toggle(_("Normalise (÷ sum of weights)"), key=self._key("normalise"))
        st.toggle(_("Flip the kernel (true convolution)"), key=self._key("flip"))
        for label, name, modes, names in (
                (_("Colour"), "colour", kernels.COLOUR_MODES, kernels.COLOUR_NAMES),
                (_("Padding at the border"), "padding", kernels.PADDING_MODES,
                 kernels.PADDING_NAMES),
                (_("Show negative and large values by"), "display", kernels.DISPLAY_MODES,
                 kernels.DISPLAY_NAMES)):
            st.radio(label, modes, key=self._key(name), horizontal=True,
                     format_func=lambda mode, names=names: _(names[mode]))
        settings = ("preset", "colour", "padding", "display", "flip", "normalise")
        widgets.sync_url(*map(self._key, settings))
        state = st.session_state
        return Choice(self.grid.cells, state[self._key("normalise")], state[self._key("flip")],
                      state[self._key("colour")], state[self._key("padding")],
                      state[self._key("display")])
