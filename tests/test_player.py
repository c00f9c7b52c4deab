"""player.Player in AppTest: Play draws every frame and the section stays on the last one;
a position held by a widget follows on the next run, unless the student moved it."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _counter_page() -> None:
    """A position 0..4 that only buttons move, drawn as text."""
    import streamlit as st

    from explorer.ui import player

    @st.fragment
    def section() -> None:
        play = player.Player("pos", frame_s=0, button_key="pos_play")
        step = play.step_buttons(4, "pos")
        play.show(step, range(step + 1, 5), lambda s: st.markdown(f"frame {s}"))
        st.session_state.setdefault("runs", []).append(step)

    section()


def _slider_page() -> None:
    """A position held by a select_slider above the frames, as on a timeline."""
    import streamlit as st

    from explorer.ui import player

    @st.fragment
    def section() -> None:
        play = player.Player("slide", frame_s=0, widget=True)
        st.session_state["resumed"] = play.resume()
        playing = play.button()
        step = st.select_slider("Snapshot", options=[10, 20, 30, 40], key="slide")
        frame = st.empty()
        st.caption("under the frames")
        play.show(step, [10, 20, 30, 40], lambda s: st.markdown(f"snapshot {s} {playing}"),
                  slot=frame)

    section()


def _open(page) -> AppTest:
    return AppTest.from_function(page, default_timeout=60).run()


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_step_buttons_move_within_the_range():
    at = _open(_counter_page)
    assert [m.value for m in at.markdown] == ["frame 0"]
    assert _button(at, "Back").disabled and not _button(at, "Step").disabled
    _button(at, "Step").click().run()
    _button(at, "Step").click().run()
    assert at.session_state["pos"] == 2 and at.markdown[0].value == "frame 2"
    _button(at, "End").click().run()
    assert at.session_state["pos"] == 4
    assert _button(at, "Step").disabled and _button(at, "Play").disabled
    _button(at, "Back").click().run()
    _button(at, "Start").click().run()
    assert at.session_state["pos"] == 0


def test_play_ends_on_the_last_frame():
    at = _open(_counter_page)
    _button(at, "Step").click().run()
    _button(at, "Play").click().run()
    assert not at.exception
    assert at.session_state["pos"] == 4
    assert [m.value for m in at.markdown] == ["frame 4"]
    assert at.session_state["runs"][-1] == 4, "the fragment ran again from the last frame"
    _button(at, "Back").click().run()
    assert at.session_state["pos"] == 3


def test_out_of_range_position_is_brought_back():
    at = AppTest.from_function(_counter_page, default_timeout=60)
    at.session_state["pos"] = 99
    at.run()
    assert at.session_state["pos"] == 4 and at.markdown[0].value == "frame 4"


def test_a_widgets_position_follows_play_on_the_next_run():
    at = _open(_slider_page)
    assert at.select_slider(key="slide").value == 10 and at.session_state["resumed"] is None
    at.select_slider(key="slide").set_value(20).run()
    _button(at, "Play").click().run()
    assert not at.exception
    assert at.select_slider(key="slide").value == 40
    assert at.session_state["resumed"] == 40
    assert [m.value for m in at.markdown] == ["snapshot 40 False"]
    assert at.caption[0].value == "under the frames"


def test_a_widget_the_student_moved_during_play_keeps_their_choice():
    at = _open(_slider_page)
    at.session_state["slide_pending"] = (30, 10)  # Play, started at 10, was on 30 ...
    at.select_slider(key="slide").set_value(20).run()  # ... when the student chose 20
    assert at.session_state["resumed"] is None
    assert at.select_slider(key="slide").value == 20
    at.session_state["slide_pending"] = (30, 20)  # interrupted by some other click
    at.run()
    assert at.session_state["resumed"] == 30 and at.select_slider(key="slide").value == 30
