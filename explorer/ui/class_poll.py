"""The students' side of "Ask the class": the teacher's question on whatever page a student is
on, answered once, then torch's answer and whether they were right when the teacher reveals it.

Drawn by the class's one timed fragment (`class_banner`) from the store's per-process summary
(`ClassStore.live`); the student's own answer is read once per poll (kept in the session after
that), so an idle class costs the database almost nothing.
The question is rebuilt from the poll's topic and seed in the student's language, and the
answer checked on the server (`polls.answer`).
"""

from __future__ import annotations

import streamlit as st

from explorer.classroom import class_store, polls
from explorer.i18n import _
from explorer.ui import class_session, predict_panel

_MINE = "_class_poll_answers"  # poll id -> the student's Answer, or None: not answered yet


def _my_answer(poll: class_store.Poll, tag: str) -> class_store.Answer | None:
    """The student's answer to `poll`: read from the store once per session (a session that
    began after a server restart finds the answer given before it), then from the session."""
    known: dict[int, class_store.Answer | None] = st.session_state.setdefault(_MINE, {})
    if poll.id not in known:
        known[poll.id] = class_session.store().answer_of(poll.id, tag)
    return known[poll.id]


def draw(poll: class_store.Poll | None) -> None:
    """The class's current question, if the teacher asked one (nothing for the teacher)."""
    if poll is None:
        return
    actor = class_session.actor()
    if actor.teacher:
        return
    try:
        question = predict_panel.question(poll.topic, poll.seed)
    except ValueError:
        return
    mine = _my_answer(poll, actor.owner)
    with st.container(border=True, key="class_poll"):
        st.markdown(_("**Your teacher asks the class:** {question}").format(
            question=question.prompt))
        if mine is None and poll.open:
            slot = st.empty()
            with slot.container():
                st.code(question.code, language="python")
                key = f"class_poll_{poll.id}"
                with st.form(f"{key}_form", border=False):
                    given = predict_panel.inputs(question, key)
                    sent = st.form_submit_button(_("Send my answer"), type="primary")
            if not sent or (mine := _send(poll, actor, given)) is None:
                return
            slot.empty()  # the form gives way to the answer given
        if mine is None:
            st.info(_("You did not answer this one. PyTorch says {answer}.").format(
                answer=question.answer_text()), icon=":material/info:")
            st.markdown(question.working)
        elif poll.revealed is None:
            st.info(_("Your answer is in: {answer}. Your teacher reveals the right one to "
                      "everybody.").format(answer=polls.answer_label(question, mine.given)),
                    icon=":material/hourglass_top:")
        else:
            predict_panel.reveal(question, mine.given, mine.right)


def _send(poll: class_store.Poll, actor, given: tuple) -> class_store.Answer | None:
    """Count the answer; the stored one (this one, or an earlier one of this browser in another
    tab), or None with a sentence when the boxes are not all filled."""
    try:
        if any(v is None for v in given):
            raise ValueError("an empty box")
        polls.answer(class_session.store(), actor, poll, given)
    except ValueError:
        st.warning(_("Fill in every box first; nothing was counted."))
        return None
    mine = st.session_state.setdefault(_MINE, {})[poll.id] = class_session.store().answer_of(
        poll.id, actor.owner)
    return mine
