"""Play: a button that steps a section's picture through its frames, one every few tenths
of a second, and leaves the section on the frame it stopped at.

A section draws its current frame with `Player.show`. In the run where Play was pressed,
`show` draws every frame in turn into the same place instead, then reruns the fragment the
section is in (call it inside a fragment), which goes on from the last frame; a student who
clicks something meanwhile interrupts the loop and the section stays on the frame on screen.

The position is a session-state key. When nothing but code writes it (a step counter that
buttons move), `show` writes every frame there. When it is a widget's value (a slider drawn
above the frames), Streamlit forbids writing it once the widget is drawn: then each frame is
written aside, and `resume`, called on the next run before the widget is drawn, moves the
widget there, unless the student moved the widget in the meantime.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import streamlit as st
from streamlit.errors import StreamlitInvalidLayoutContextError

from explorer.i18n import _

Frame = TypeVar("Frame")


@dataclass(frozen=True)
class Player:
    """Play for the position held in session state under `key`.

    frame_s: seconds each frame stays on screen. widget: `key` is a widget's value (see the
    module's docstring). button_key: the Play button's key, `{key}_play` by default.
    """

    key: str
    frame_s: float
    widget: bool = False
    button_key: str | None = None

    @property
    def _button(self) -> str:
        return self.button_key or f"{self.key}_play"

    @property
    def _pending(self) -> str:
        return f"{self.key}_pending"

    def resume(self) -> Any | None:
        """With `widget`, call before drawing the widget: set it to the frame the last Play
        stopped at and return that frame; None when there is none to resume (no Play since,
        or the student moved the widget while it played)."""
        pending = st.session_state.pop(self._pending, None)
        if pending is None:
            return None
        frame, started_from = pending
        if st.session_state.get(self.key) != started_from:
            return None
        st.session_state[self.key] = frame
        return frame

    def button(self, where: Any = None, **button_args: Any) -> bool:
        """The Play button (in container `where`); `button_args` go to `st.button` (disabled,
        help, width). True in the run it was pressed."""
        where = st if where is None else where
        return where.button(_("Play"), key=self._button, icon=":material/play_arrow:",
                            **button_args)

    def rewind(self) -> None:
        """Back to frame 0 (a position that only code writes); usable as a callback."""
        st.session_state[self.key] = 0

    def step_buttons(self, total: int, prefix: str) -> int:
        """Start, Back, Step, Play and End in a row of five, over a position that only code
        writes, counted 0..total; returns it, kept within that range. The buttons other than
        Play are keyed `{prefix}_start`, `_back`, `_next` and `_end`."""
        step = st.session_state[self.key] = min(max(int(st.session_state.get(self.key, 0)),
                                                    0), total)
        # A row that wraps, not five columns: on a phone columns stack, and five full-width
        # buttons pushed the frame they step a screen and a half below them.
        row = st.container(horizontal=True)

        def move(label: str, name: str, icon: str, delta: int, **extra: Any) -> None:
            row.button(label, key=f"{prefix}_{name}", icon=f":material/{icon}:",
                       on_click=self._move, args=(delta, total), width="stretch", **extra)

        move(_("Start"), "start", "first_page", -total)
        move(_("Back"), "back", "chevron_left", -1, disabled=step == 0)
        move(_("Step"), "next", "chevron_right", 1, disabled=step >= total, type="primary")
        self.button(where=row, width="stretch", disabled=step >= total)
        move(_("End"), "end", "last_page", total)
        return step

    def _move(self, delta: int, total: int) -> None:
        st.session_state[self.key] = min(max(st.session_state[self.key] + delta, 0), total)

    @property
    def playing(self) -> bool:
        """Whether this run plays (its Play button was just pressed)."""
        return bool(st.session_state.get(self._button))

    def show(self, current: Frame, frames: Iterable[Frame], draw: Callable[[Frame], None],
             *, slot: Any = None) -> None:
        """Draw `current` into `slot` (a new `st.empty()` by default), or, while playing,
        each of `frames` in turn, `frame_s` apart, and then rerun the fragment."""
        slot = st.empty() if slot is None else slot
        shown = list(frames) if self.playing else []
        if not shown:
            with slot.container():
                draw(current)
            return
        for i, frame in enumerate(shown):
            if i:
                time.sleep(self.frame_s)
            with slot.container():
                draw(frame)
            self._stopped_at(frame, current)
        try:
            st.rerun(scope="fragment")
        except StreamlitInvalidLayoutContextError:  # a click ran the whole page (AppTest's do)
            st.rerun()

    def _stopped_at(self, frame: Frame, started_from: Frame) -> None:
        if self.widget:
            st.session_state[self._pending] = (frame, started_from)
        else:
            st.session_state[self.key] = frame
