"""widgets.guarded: a failing section shows one sentence and logs; the rest of the page runs."""

from __future__ import annotations

import logging

import pytest
from streamlit.testing.v1 import AppTest

from explorer.ui import widgets

pytestmark = pytest.mark.guard_expected


def _page() -> None:
    import streamlit as st

    from explorer.ui import widgets

    @widgets.guarded("broken section")
    def broken(size: int) -> str:
        st.markdown("half drawn")
        raise ValueError(f"cannot draw size {size}")

    @widgets.guarded("working section")
    def working() -> str:
        st.markdown("still here")
        return "value"

    @st.fragment
    @widgets.guarded("fragment section")
    def fragment() -> None:
        if st.button("break the fragment"):
            raise RuntimeError("fragment broke")
        st.markdown("fragment fine")

    @widgets.guarded("stopping section")
    def stopping() -> None:
        if st.session_state.get("stop"):
            st.stop()

    st.session_state["returned"] = broken(7)
    st.session_state["worked"] = working()
    fragment()
    stopping()
    with widgets.section("inline block", size=3):
        st.markdown("inline start")
        if st.session_state.get("break_inline"):
            raise KeyError("inline")
        st.markdown("inline end")
    st.markdown("after the sections")


def _markdown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def _run(caplog, **state) -> AppTest:
    """The page in a fresh session with `state` set, the guard's log captured."""
    caplog.set_level(logging.ERROR, logger="explorer.guard")
    at = AppTest.from_function(_page)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def test_failing_section_is_replaced_by_one_sentence_and_logged(caplog):
    at = _run(caplog)
    assert not at.exception
    assert [w.value for w in at.warning] == [widgets.GUARD_SENTENCE]
    assert "half drawn" not in _markdown(at), "the broken section's partial output is cleared"
    assert {"still here", "fragment fine", "after the sections"} <= set(_markdown(at))
    assert at.session_state["returned"] is None
    assert at.session_state["worked"] == "value"
    (record,) = [r for r in caplog.records if r.name == "explorer.guard"]
    message = record.getMessage()
    assert "'broken section'" in message and "args=(7,)" in message
    assert record.exc_info and isinstance(record.exc_info[1], ValueError)


def test_fragment_rerun_is_guarded_too(caplog):
    at = _run(caplog)
    at.button[0].click().run()
    assert not at.exception
    assert [w.value for w in at.warning].count(widgets.GUARD_SENTENCE) == 2
    assert "after the sections" in _markdown(at)
    assert any("'fragment section'" in r.getMessage() for r in caplog.records)


def test_st_stop_passes_through_the_guard(caplog):
    at = _run(caplog, stop=True)
    assert not at.exception
    assert "after the sections" not in _markdown(at), "st.stop still stops the page"
    assert not any("'stopping section'" in r.getMessage() for r in caplog.records)


def test_a_with_block_is_guarded_the_same_way(caplog):
    at = _run(caplog, break_inline=True)
    assert not at.exception
    assert [w.value for w in at.warning].count(widgets.GUARD_SENTENCE) == 2
    assert "inline start" not in _markdown(at) and "after the sections" in _markdown(at)
    assert any("'inline block'" in r.getMessage() and "size=3" in r.getMessage()
               for r in caplog.records)
