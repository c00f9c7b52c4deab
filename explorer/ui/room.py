"""The room: the signed-in teacher's page of the class. Who is here and on which page, the
class's runs with Stop, a leaderboard of finished runs, the question the class is answering,
and the lesson's questions with their results, the before/after check and a CSV export.

Students appear by the nickname they chose or as "student 7", never by an owner id. Every
action is checked again where it acts (`run_queue.request_stop`, `polls.*`).
"""

from __future__ import annotations

import streamlit as st

from explorer.classroom import class_store, polls, presence
from explorer.i18n import _
from explorer.training import access, run_queue, runs
from explorer.ui import class_results, class_session, identity, navigation, predict_panel

ROOM_EVERY_S = 5.0
RUNS_EVERY_S = 3.0


def teacher_only() -> access.Actor:
    """The teacher's actor; for anyone else one sentence, and the page stops."""
    actor = identity.actor()
    if not actor.teacher:
        st.info(_("This page is for the signed-in teacher (sidebar, “Teacher”)."),
                icon=":material/lock:")
        st.stop()
    return actor


def _names(tags: list[str]) -> dict[str, str]:
    numbers = class_session.store().student_numbers(t for t in tags if t != access.OPERATOR)
    names = {tag: polls.student_name(*numbers[tag]) for tag in numbers}
    return {**names, access.OPERATOR: _("the teacher")}


def _page_title(page: str) -> str:
    spec = navigation.HOME if page == "" else navigation.by_url_path(page)
    return _(spec.title) if spec is not None else page


@st.fragment(run_every=ROOM_EVERY_S)
def who_is_here() -> None:
    """How many students are here, and who is on which page."""
    room = presence.room(class_session.store())
    names = _names(sorted(room.students))
    latest = {r.tag: r.page for r in reversed(class_session.store().present())
              if r.tag in room.students}
    st.metric(_("Students here now"), room.count,
              help=_("Each student's page reports itself every 15 s; a page silent for a "
                     "minute drops out."))
    if not room.count:
        st.caption(_("Nobody yet: students appear here as soon as they open the app."))
        return
    rows = [{_("page"): _page_title(page), _("students"): count,
             _("who"): ", ".join(sorted(names[t] for t, p in latest.items() if p == page))}
            for page, count in sorted(room.pages.items(), key=lambda kv: -kv[1])]
    st.dataframe(rows, hide_index=True, width="stretch")


def _stop(paths: tuple) -> None:
    """Stop's callback: `request_stop` checks again who asks, for each run."""
    actor = identity.actor()
    for path in paths:
        try:
            run_queue.request_stop(path, actor)
        except (access.AccessDenied, ValueError):  # not the teacher's, or gone meanwhile
            continue


@st.fragment(run_every=RUNS_EVERY_S)
def class_runs(actor: access.Actor) -> None:
    """The class's queued and running runs, each with its progress and a Stop; Stop all."""
    live = [r for r in access.visible_runs(actor) if r.state in runs.ACTIVE_STATES]
    if not live:
        st.caption(_("No run is queued or training."))
        return
    names = _names([r.config.owner for r in live])
    st.button(_("Stop all {n} runs").format(n=len(live)), key="room_stop_all",
              icon=":material/stop_circle:", on_click=_stop,
              args=(tuple(info.path for info in live),))
    for info in live:
        with st.container(border=True):
            who, bar, stop = st.columns([2, 5, 1], vertical_alignment="center")
            who.markdown(f"**{names.get(info.config.owner, '?')}**  \n{info.label}")
            p = info.status.progress
            bar.progress(p.fraction, text=_("{state} · epoch {epoch} of {epochs}").format(
                state=runs.state_label(info.state), epoch=min(p.epoch + 1, max(p.epochs, 1)),
                epochs=p.epochs or info.config.settings.epochs))
            stop.button(_("Stop"), key=f"room_stop_{info.run_id}", on_click=_stop,
                        args=((info.path,),), disabled=run_queue.stop_requested(info.path))


def leaderboard(actor: access.Actor) -> None:
    """The best finished run of each network on each dataset, and who trained it."""
    best: dict[tuple[str, str], runs.RunInfo] = {}
    for info in access.visible_runs(actor):
        acc = info.status.test_acc
        key = (info.config.model, info.config.settings.dataset)
        if info.state == "finished" and acc is not None and (
                key not in best or acc > best[key].status.test_acc):
            best[key] = info
    if not best:
        st.caption(_("No run has finished yet."))
        return
    names = _names([r.config.owner for r in best.values()])
    accuracy = _("best test accuracy")
    rows = [{_("network"): model, _("dataset"): dataset, accuracy: info.status.test_acc,
             _("student"): names.get(info.config.owner, "?"), _("run"): info.run_id}
            for (model, dataset), info in sorted(best.items(),
                                                 key=lambda kv: -kv[1].status.test_acc)]
    st.dataframe(rows, hide_index=True, width="stretch",
                 column_config={accuracy: st.column_config.NumberColumn(format="percent")})


def _question(poll: class_store.Poll):
    return predict_panel.question(poll.topic, poll.seed)


def current_question() -> None:
    """The question the class is answering now, with its live results."""
    poll = class_session.store().live(max_age_s=0).poll
    if poll is None:
        st.caption(_("No question is up. Press “Ask the class” under a predict-first question "
                     "of Conv arithmetic, Pooling, BatchNorm or the Model zoo."))
        return
    question = _question(poll)
    st.markdown(_("**{page}:** {question}").format(page=_page_title(poll.page),
                                                    question=question.prompt))
    class_results.results(poll.id, question)


def _percent(share: polls.Share | None) -> str:
    if share is None or share.fraction is None:
        return "–"
    return _("{p:.0%} of {n}").format(p=share.fraction, n=share.answered)


def lesson_record(actor: access.Actor) -> None:
    """A lesson's questions and results, its before/after check, and the CSV export."""
    store = class_session.store()
    lessons = store.lessons()
    if not lessons:
        st.caption(_("No question has been asked yet."))
        return
    lesson = st.selectbox(_("Lesson"), lessons, key="room_lesson")
    asked = store.polls(lesson)
    answers = store.answers_of([p.id for p in asked])
    st.dataframe([{
        "#": i, _("page"): _page_title(p.page), _("question"): _question(p).prompt,
        _("asked as"): _(polls.PHASE_NAMES[p.phase]),
        _("answers"): len(answers[p.id]), _("right"): _percent(polls.share(answers[p.id])),
    } for i, p in enumerate(asked, start=1)], hide_index=True, width="stretch")
    st.download_button(_("Download the answers (CSV)"), polls.csv_export(store, lesson),
                       file_name=f"class-answers-{lesson}.csv", mime="text/csv",
                       icon=":material/download:", key="room_csv")
    check = polls.check_rows(store, lesson)
    st.markdown(_("**Did the lesson work?** The same questions before and after: the class's "
                  "share of right answers, and how many students answered each."))
    if not check:
        st.caption(_("No question of this lesson was asked as part of the before/after check "
                     "(tick “Part of the before/after check” before pressing “Ask the class”)."))
        return
    st.dataframe([{
        _("question"): _question(row.before).prompt, _("before"): _percent(row.before_share),
        _("after"): _percent(row.after_share),
        _("gain"): "–" if row.gain is None else f"{row.gain:+.0%}",
    } for row in check], hide_index=True, width="stretch")
    for i, row in enumerate(check, start=1):
        if row.after is None and st.button(
                _("Ask question {i} again, after the lesson").format(i=i),
                key=f"room_after_{row.before.id}", icon=":material/replay:"):
            polls.ask_after(store, actor, row.before)
            st.rerun()
