"""The teacher's side of "Ask the class": the button on a predict-first question, then the count
of answers and their bars, live, with Reveal and Close; also drawn on the room page.

`explorer.classroom.polls` decides and checks (the teacher only asks, reveals, closes); this
module draws. The results are a small fragment that reruns itself every `RESULTS_EVERY_S`.
"""

from __future__ import annotations

import streamlit as st

from explorer import predict_first
from explorer.classroom import class_store, polls, presence
from explorer.figures import class_poll as figures
from explorer.i18n import _
from explorer.training import access
from explorer.ui import charts, class_session, identity

RESULTS_EVERY_S = 2.0
_REFUSED = "_class_refused"  # a refused action's sentence, shown on the next draw


def _act(act, poll_id: int) -> None:
    """A button's callback (it runs before the rerun draws, so the page shows the result):
    `act` is checked by `polls` itself, whoever clicked."""
    try:
        act(class_session.store(), identity.actor(), class_session.store().poll(poll_id))
    except access.AccessDenied as err:
        st.session_state[_REFUSED] = str(err)


def _ask(topic: str, seed: int, check_key: str) -> None:
    try:
        polls.ask(class_session.store(), identity.actor(), topic, seed, class_session.page(),
                  "before" if st.session_state.get(check_key) else "")
    except access.AccessDenied as err:
        st.session_state[_REFUSED] = str(err)


def _refusal() -> None:
    if refused := st.session_state.pop(_REFUSED, None):
        st.error(refused, icon=":material/lock:")


def ask_controls(topic: str, seed: int, question: predict_first.Question) -> None:
    """Under a predict-first question, for the signed-in teacher: "Ask the class" (optionally
    as part of the before/after check) and, while it is the class's question, its results."""
    actor = identity.actor()
    if not actor.teacher or topic not in polls.topics():
        return
    _refusal()
    current = class_session.store().live(max_age_s=0).poll
    if current is not None and (current.topic, current.seed) == (topic, seed):
        results(current.id, question)
        return
    c1, c2 = st.columns([1, 2], vertical_alignment="center")
    check_key = f"class_check_{topic}"
    c2.checkbox(_("Part of the before/after check"), key=check_key,
                help=_("Ask it again after the lesson from the class page: it shows the "
                       "class's share of right answers before and after."))
    c1.button(_("Ask the class"), key=f"class_ask_{topic}_{seed}", icon=":material/groups:",
              type="primary", on_click=_ask, args=(topic, seed, check_key))


def bars(poll: class_store.Poll, question: predict_first.Question,
         answers: list[class_store.Answer]) -> None:
    """The bars of `poll`'s answers (green where right, once revealed)."""
    tally = polls.tally(answers, lambda given: polls.answer_label(question, given))
    if not tally:
        return
    charts.plotly(st, figures.answer_bars([b.label for b in tally], [b.count for b in tally],
                                         [b.right for b in tally], poll.revealed is not None),
                  key=f"class_bars_{poll.id}_{len(answers)}_{poll.revealed is not None}",
                  config={"displayModeBar": False})


@st.fragment(run_every=RESULTS_EVERY_S)
def results(poll_id: int, question: predict_first.Question) -> None:
    """The live count and bars of a poll, and the teacher's Reveal and Close."""
    poll = class_session.store().poll(poll_id)
    if poll is None:
        return
    answers = class_session.store().answers(poll_id)
    present = presence.room(class_session.store()).count
    with st.container(border=True, key=f"class_results_{poll_id}"):
        state = (_("revealed") if poll.revealed is not None else
                 _("closed") if poll.closed is not None else _("taking answers"))
        st.markdown(_("**The class's answers:** {n} of {present} students present · {state}")
                    .format(n=len(answers), present=present, state=state))
        bars(poll, question, answers)
        if poll.revealed is not None:
            right = polls.share(answers)
            st.success(_("PyTorch says {answer}: {right} of {n} right.").format(
                answer=question.answer_text(), right=right.right, n=right.answered),
                icon=":material/check_circle:")
        with st.container(horizontal=True):
            if poll.revealed is None and poll.closed is None:
                st.button(_("Reveal"), key=f"class_reveal_{poll_id}", type="primary",
                          icon=":material/visibility:", on_click=_act,
                          args=(polls.reveal, poll_id))
            if poll.closed is None:
                st.button(_("Close"), key=f"class_close_{poll_id}", icon=":material/close:",
                          on_click=_act, args=(polls.close, poll_id))
