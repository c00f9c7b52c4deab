"""The "Predict first" panel: a question, the student's answer, then torch's answer and why.

Shared by five lesson pages, hence here rather than in a page script. A page passes a
generator from `explorer.predict_first` (seed → question); the session keeps only the seed
and the score, and questions are rebuilt from seeds through a bounded cache. The panel is a
fragment: answering reruns it alone.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import streamlit as st

from explorer import i18n, predict_first
from explorer.i18n import _
from explorer.ui import class_results, widgets

_SCORES = "predict_first_scores"  # topic -> [right, answered], for the whole session


@st.cache_data(max_entries=512, ttl=3600, show_spinner=False)
def _generated(topic: str, seed: int, lang: str) -> predict_first.Question:
    """A question of one of `predict_first.GENERATORS`, shared by every session that draws it
    in the same language."""
    with i18n.use_language(lang):
        return predict_first.GENERATORS[topic](seed)


def question(topic: str, seed: int) -> predict_first.Question:
    """`topic`'s question of `seed` in this session's language (a class poll's, too)."""
    return _generated(topic, seed, i18n.language())


def _score_line(topic: str) -> str:
    scores: dict[str, list[int]] = st.session_state.get(_SCORES, {})
    right, asked = scores.get(topic, [0, 0])
    total_right = sum(s[0] for s in scores.values())
    total = sum(s[1] for s in scores.values())
    line = _("Score on this page: **{right} of {asked}**").format(right=right, asked=asked)
    return line + (_(" · on every page this session: {right} of {total}").format(
        right=total_right, total=total) if total != asked else "")


def inputs(question: predict_first.Question, key: str) -> tuple:
    """One input per field, empty until the student types; returns the values."""
    if question.kind == "choice":
        index = st.radio(_("Your answer"), range(len(question.fields)), index=None,
                         horizontal=True, format_func=lambda i: question.fields[i],
                         key=f"{key}_choice")
        return (index,)
    columns = st.columns(max(len(question.fields), 2))
    values = []
    for column, name in zip(columns, question.fields, strict=False):
        if question.kind == "float":
            values.append(column.number_input(name, value=None, step=0.01, format="%.4f",
                                              key=f"{key}_{name}"))
        else:
            values.append(column.number_input(name, value=None, step=1, key=f"{key}_{name}"))
    return tuple(values)


def reveal(question: predict_first.Question, given: tuple, right: bool) -> None:
    if right:
        st.success(_("Right: {answer}.").format(answer=question.answer_text()),
                   icon=":material/check_circle:")
    else:
        shown = (question.fields[int(given[0])] if question.kind == "choice"
                 else ", ".join(f"{v:g}" for v in given))
        st.error(_("Not this time: you said {given}; PyTorch says {answer}.").format(
            given=shown, answer=question.answer_text()), icon=":material/cancel:")
    st.markdown(question.working)
    if question.options_pictures:
        columns = st.columns(len(question.options_pictures))
        for column, (label, picture) in zip(columns, question.options_pictures, strict=True):
            widgets.picture(picture, caption=label, where=column)


def _next_question(topic: str) -> None:
    st.session_state[f"pf_{topic}_seed"] = secrets.randbelow(2**31)
    st.session_state.pop(f"pf_{topic}_answered", None)


@st.fragment
@widgets.guarded("predict first")
def panel(topic: str, make: Callable[[int], predict_first.Question] | None = None, *,
          what: str = "the answer") -> None:
    """The "Predict first" toggle and, when on, the current question of `topic`.

    `make` builds a question from a seed; by default `predict_first.GENERATORS[topic]`.
    """
    if not st.toggle(_("Predict first"), key=f"pf_{topic}_on",
                     help=_("Answer a question about a random setting before seeing {what}; "
                            "your score is kept for this session.").format(what=what)):
        return
    seed_key = f"pf_{topic}_seed"
    if seed_key not in st.session_state:
        st.session_state[seed_key] = secrets.randbelow(2**31)
    seed = st.session_state[seed_key]
    try:
        question = make(seed) if make is not None else _generated(topic, seed, i18n.language())
    except ValueError as err:  # no question fits this input (a photo smaller than the kernels)
        st.info(str(err), icon=":material/info:")
        return
    answered = st.session_state.get(f"pf_{topic}_answered")
    with st.container(border=True):
        st.markdown(_("**Predict first:** {question}").format(question=question.prompt))
        if question.picture is not None:
            c1, c2 = st.columns([1, 1])
            widgets.picture(question.picture, caption=_("The output"), where=c1)
            c2.code(question.code, language=None)
        else:
            st.code(question.code, language="python")
        key = f"pf_{topic}_{seed}"
        with st.form(f"{key}_form", border=False):
            given = inputs(question, key)
            submitted = st.form_submit_button(_("Check my answer"), type="primary",
                                              disabled=answered is not None)
        if submitted and answered is None:
            if any(v is None for v in given):
                st.warning(_("Fill in every box first; nothing was counted."))
            else:
                right = predict_first.check(question, given)
                score = st.session_state.setdefault(_SCORES, {}).setdefault(topic, [0, 0])
                score[0] += right
                score[1] += 1
                answered = st.session_state[f"pf_{topic}_answered"] = (given, right)
        if answered is not None:
            reveal(question, *answered)
            st.button(_("Next question"), key=f"{key}_next", icon=":material/arrow_forward:",
                      on_click=_next_question, args=(topic,))
        st.caption(_score_line(topic))
    if make is None:  # a question the whole class can be given from its seed alone
        class_results.ask_controls(topic, seed, question)
