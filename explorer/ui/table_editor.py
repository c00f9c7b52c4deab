"""A square grid of numbers the student types: a size input over an `st.data_editor`.

The grid is kept as text cells in session state (so "1/9" or a half-typed "-" survives until
it is parsed; `kernels.parse_kernel` reads them). The editor's key carries a version that
every change of the cells bumps: a new key makes the table draw from the stored cells
instead of replaying the edits it remembers. `fix_grid_typing` makes fast typing land.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from explorer import kernels
from explorer.ui import widgets


@dataclass(frozen=True)
class SquareGrid:
    """A square grid held under session key `key`, its side in `size_key` (the size input),
    between `sizes` = (smallest, largest)."""

    key: str
    size_key: str
    sizes: tuple[int, int]

    @property
    def cells(self) -> list[list[str]]:
        """The grid's cells as typed."""
        return st.session_state[self.key]

    def seed(self, cells: Sequence[Sequence[str]]) -> None:
        """Start the grid with `cells` unless this session already has one; the size follows
        the cells (Streamlit forgets a widget's value on another page, the cells it keeps)."""
        st.session_state.setdefault(self.key, [list(row) for row in cells])
        st.session_state.setdefault(self.size_key, len(self.cells))
        st.session_state.setdefault(self._version, 0)

    def set(self, cells: Sequence[Sequence[str]]) -> None:
        """Replace the cells (and the size to match): the table redraws from them."""
        st.session_state[self.key] = [list(row) for row in cells]
        st.session_state[self.size_key] = len(cells)
        st.session_state[self._version] = st.session_state.get(self._version, 0) + 1

    @property
    def _version(self) -> str:
        return f"{self.key}_v"

    @property
    def _editor_key(self) -> str:
        return f"{self.key}_editor_{st.session_state[self._version]}"

    def editor(self, size_label: str, *, on_change: Callable[[], None] | None = None,
               column_px: int | None = None, size_help: str | None = None) -> None:
        """The size input and the table; `on_change` runs after every edit or resize."""
        low, high = self.sizes
        widgets.number_input(size_label, low, high, step=1, key=self.size_key,
                             on_change=self._resized, args=(on_change,), help=size_help)
        cells = self.cells
        fix_grid_typing()
        table = pd.DataFrame(cells, columns=[str(i) for i in range(len(cells[0]))],
                             dtype="string")
        config = {str(i): st.column_config.TextColumn(str(i), width=column_px)
                  for i in range(len(cells))} if column_px else None
        for attempt in range(2):
            try:
                st.data_editor(table, key=self._editor_key, on_change=self._edited,
                               args=(self._editor_key, on_change), hide_index=True,
                               width="content",
                               column_config=config)
                return
            except (IndexError, KeyError, ValueError, TypeError):
                # Streamlit replays edits outside the table (only a client that forges
                # widget state sends them) and raises: a new key draws the stored cells.
                if attempt:
                    raise
                st.session_state[self._version] += 1

    def _edited(self, editor_key: str, then: Callable[[], None] | None) -> None:
        # its own key: a resize in the same rerun has already moved self._editor_key on
        edits = st.session_state.get(editor_key, {}).get("edited_rows", {})
        self._changed(kernels.apply_edits(self.cells, edits), then)

    def _resized(self, then: Callable[[], None] | None) -> None:
        self._changed(kernels.resize_cells(self.cells, st.session_state[self.size_key],
                                           max_size=self.sizes[1]), then)

    def _changed(self, cells: list[list[str]], then: Callable[[], None] | None) -> None:
        # A report that changes nothing (a grid drawn for the last preset, sending its state
        # late on a loaded machine) must not make a just-chosen preset "Custom".
        if cells == self.cells:
            st.session_state[self.size_key] = len(cells)  # a size past the range, put back
            return
        self.set(cells)
        if then is not None:
            then()


# Glide Data Grid (st.data_editor) opens a cell's editor on the first key typed into a selected
# cell, and opens it again on every key that arrives before that editor is on screen: "-8"
# typed quickly became "8". This holds such keys and types them into the editor once it is
# there (or hands them back to the grid if no editor appears).
_GRID_TYPING_JS = """<script>
(() => {
  if (window.__explorerGridTyping) return;
  window.__explorerGridTyping = true;
  let opened = 0, held = [], origin = null;
  const editor = () => document.querySelector("textarea.gdg-input, input.gdg-input");
  const printable = e => e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey;
  const type = (box, keys) => {
    let text = box.value;
    for (const k of keys) {
      text = k === "Backspace" ? text.slice(0, -1) : k.length === 1 ? text + k : text;
    }
    const proto = box instanceof HTMLTextAreaElement ? HTMLTextAreaElement : HTMLInputElement;
    Object.getOwnPropertyDescriptor(proto.prototype, "value").set.call(box, text);
    box.dispatchEvent(new Event("input", {bubbles: true}));
  };
  const release = () => {
    const box = editor(), keys = held;
    held = []; opened = 0;
    if (box) {
      type(box, keys);
      keys.filter(k => k === "Enter" || k === "Tab").forEach(k => box.dispatchEvent(
        new KeyboardEvent("keydown", {key: k, bubbles: true, cancelable: true})));
    } else {  // no editor came: the grid gets its keys after all
      keys.forEach(k => origin.dispatchEvent(
        new KeyboardEvent("keydown", {key: k, bubbles: true, cancelable: true})));
    }
  };
  const watch = () => {
    if (editor() || performance.now() - opened > 3000) release();
    else requestAnimationFrame(watch);
  };
  document.addEventListener("keydown", e => {
    if (!e.isTrusted || !(e.target instanceof Element)) return;
    if (!e.target.closest('[data-testid="stDataFrame"]')) return;
    if (opened) {  // an editor is on its way: hold what it should receive
      if (printable(e) || ["Enter", "Tab", "Backspace"].includes(e.key)) {
        held.push(e.key);
        e.preventDefault(); e.stopImmediatePropagation();
      }
    } else if (printable(e) && !editor()) {
      opened = performance.now(); origin = e.target;
      requestAnimationFrame(watch);
    }
  }, true);
})();
</script>"""


def fix_grid_typing() -> None:
    """Call on a page with `st.data_editor`: keys typed quickly into a selected cell all land."""
    st.html(_GRID_TYPING_JS, unsafe_allow_javascript=True, width="content")
