""""Ask the class": a predict-first question put to every student, their answers counted live,
the torch answer revealed to all; and the lesson's before/after check.

A poll is a generator's topic and the teacher's seed (`predict_first.GENERATORS`): every
student's page rebuilds the same question from them in the student's language, and `answer`
rebuilds it here to check what was given, so whether an answer is right is decided on the
server by the torch answer, never taken from the page. One answer per student (owner tag) per
poll; none after the reveal. The teacher alone asks, reveals and closes.

A lesson's check: questions asked with phase "before" at the start, then each asked again
with phase "after" (the same topic and seed); `check_rows` gives the class's share of right
answers on each before and after, with the number of students behind each, and the gain.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from explorer import i18n, predict_first
from explorer.classroom.class_store import Answer, ClassStore, Poll
from explorer.i18n import N_, _
from explorer.training.access import AccessDenied, Actor

PHASES = ("", "before", "after")
PHASE_NAMES = {"": N_("question"), "before": N_("before the lesson"),
               "after": N_("after the lesson")}
MAX_ANSWER = 1e12


def lesson_today(now: float | None = None) -> str:
    """The lesson a poll belongs to: the day it is asked ('2026-12-01', the server's time)."""
    return time.strftime("%Y-%m-%d", time.localtime(now))


def topics() -> tuple[str, ...]:
    """The topics a class can be asked: those whose question comes from a seed alone."""
    return tuple(predict_first.GENERATORS)


@functools.lru_cache(maxsize=64)
def _question(topic: str, seed: int) -> predict_first.Question:
    with i18n.use_language("en"):  # one language for every process's cache: the export's
        return predict_first.GENERATORS[topic](seed)


def _teacher_only(actor: Actor) -> None:
    if not actor.teacher:
        raise AccessDenied(_("Only the signed-in teacher may ask the class, reveal or close a "
                             "question."))


def ask(store: ClassStore, actor: Actor, topic: str, seed: int, page: str, phase: str = "",
        pair_of: int | None = None) -> int:
    """Put `topic`'s question of `seed` to the class (the teacher only); returns the poll id."""
    _teacher_only(actor)
    if topic not in predict_first.GENERATORS or phase not in PHASES:
        raise ValueError(f"no such question: {topic!r} ({phase!r})")
    return store.ask(lesson_today(), topic, int(seed), page, phase, pair_of)


def ask_after(store: ClassStore, actor: Actor, before: Poll) -> int:
    """Ask a "before" question again, as its "after" (the same question)."""
    if before.phase != "before":
        raise ValueError("only a question of the before check is asked again after")
    return ask(store, actor, before.topic, before.seed, before.page, "after", before.id)


def reveal(store: ClassStore, actor: Actor, poll: Poll) -> None:
    _teacher_only(actor)
    store.reveal(poll.id)


def close(store: ClassStore, actor: Actor, poll: Poll) -> None:
    _teacher_only(actor)
    store.close_poll(poll.id)


def answer(store: ClassStore, actor: Actor, poll: Poll, given: Sequence[object]) -> bool:
    """Count `actor`'s answer to `poll`, checked against torch's; True if it was counted (a
    second answer, or one after the reveal, is not). ValueError for an answer of the wrong
    shape."""
    question = _question(poll.topic, poll.seed)
    try:
        values = tuple(float(v) for v in given)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError("an answer is numbers") from None
    if len(values) != len(question.answer) or not all(
            math.isfinite(v) and abs(v) <= MAX_ANSWER for v in values):
        raise ValueError("an answer has one finite number per box")
    return store.answer(poll.id, actor.owner, values, predict_first.check(question, values))


def question_of(poll: Poll) -> predict_first.Question:
    """The poll's question in English, for checking and the export."""
    return _question(poll.topic, poll.seed)


def answer_label(question: predict_first.Question, given: Sequence[float]) -> str:
    """An answer as a bar's label: whole numbers as they are, decimals to two places (the
    questions' tolerance is ±0.01, so nearby decimals share a bar)."""
    if question.kind == "float":
        return ", ".join(f"{v:.2f}" for v in given)
    if question.kind == "choice":
        return question.fields[int(given[0])] if 0 <= int(given[0]) < len(question.fields) \
            else "?"
    return " × ".join(f"{int(v):,}" for v in given)


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    right: bool


def tally(answers: Sequence[Answer], label: Callable[[Sequence[float]], str]) -> list[Bar]:
    """One bar per distinct answer (by its label), most given first."""
    counts: Counter[str] = Counter()
    right: dict[str, bool] = {}
    for a in answers:
        text = label(a.given)
        counts[text] += 1
        right[text] = right.get(text, False) or a.right
    return [Bar(text, n, right[text]) for text, n in counts.most_common()]


@dataclass(frozen=True)
class Share:
    right: int
    answered: int

    @property
    def fraction(self) -> float | None:
        return self.right / self.answered if self.answered else None


def share(answers: Sequence[Answer]) -> Share:
    return Share(sum(a.right for a in answers), len(answers))


@dataclass(frozen=True)
class CheckRow:
    """One question of the lesson's check: the class before and after, and the gain."""

    before: Poll
    after: Poll | None
    before_share: Share
    after_share: Share | None

    @property
    def gain(self) -> float | None:
        """After minus before, as a fraction (None until both have answers)."""
        if self.after_share is None:
            return None
        a, b = self.after_share.fraction, self.before_share.fraction
        return None if a is None or b is None else a - b


def check_rows(store: ClassStore, lesson: str) -> list[CheckRow]:
    """Each "before" question of `lesson` with its latest "after"."""
    polls = store.polls(lesson)
    answers = store.answers_of([p.id for p in polls])
    rows = []
    for before in (p for p in polls if p.phase == "before"):
        afters = [p for p in polls if p.phase == "after" and p.pair_of == before.id]
        after = afters[-1] if afters else None
        rows.append(CheckRow(before, after, share(answers[before.id]),
                             share(answers[after.id]) if after else None))
    return rows


def student_name(number: int, nickname: str) -> str:
    """How the teacher's screens name a student: their nickname, else 'student 7'."""
    return nickname or _("student {n}").format(n=number)


def _cell(text: str) -> str:
    """A cell a spreadsheet will not run: a nickname such as '=HYPERLINK(…)' is kept as text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_export(store: ClassStore, lesson: str | None = None) -> str:
    """Every answer of `lesson` (of every lesson when None), one row each: the lesson, the
    question, its phase, the student (by name, never by id), the answer, whether right."""
    polls = store.polls(lesson)
    answers = store.answers_of([p.id for p in polls])
    names = store.student_numbers(a.tag for found in answers.values() for a in found)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["lesson", "poll", "asked", "topic", "seed", "phase", "question",
                     "torch answer", "student", "answer", "right"])
    for poll in polls:
        question = question_of(poll)
        asked = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(poll.asked))
        for a in answers[poll.id]:
            writer.writerow([poll.lesson, poll.id, asked, poll.topic, poll.seed, poll.phase,
                             question.prompt, question.answer_text(),
                             _cell(student_name(*names[a.tag])),
                             answer_label(question, a.given),
                             int(a.right)])
    return out.getvalue()
