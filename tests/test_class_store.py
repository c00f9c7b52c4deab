"""The class store (`explorer.classroom.class_store`) and what is built on it (presence, the sent
view, polls, the before/after check), each test run against SQLite and a real PostgreSQL started
for these tests (`tests/postgres.py`; skipped, with the reason, where it cannot be installed)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator

import pytest

from explorer import predict_first
from explorer.classroom import broadcast, class_store, polls, presence
from explorer.classroom.class_store import ClassStore
from explorer.training.access import AccessDenied, Actor
from tests import postgres

TEACHER = Actor("teacher-tag", teacher=True)
STUDENTS = [Actor(f"student-tag-{i}") for i in range(3)]


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[str]:
    reason = postgres.unavailable()
    if reason:
        pytest.skip(reason)
    with postgres.running() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path) -> Iterator[dict]:
    """How to open a fresh, empty database: {"path": …} or {"url": …}."""
    if request.param == "sqlite":
        yield {"path": tmp_path / "class.sqlite3"}
        return
    import psycopg

    server = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield {"url": server.rsplit("/", 1)[0] + f"/{name}"}


@pytest.fixture
def store(target) -> Iterator[ClassStore]:
    opened = ClassStore(**target)
    yield opened
    opened.close()


def test_the_app_makes_the_schema_and_migrates_it_once(target, monkeypatch):
    first = ClassStore(**target)
    assert first.schema_version() == len(class_store.MIGRATIONS)
    first.send_view("conv-arithmetic", {"ca_sh": "2"})
    first.close()
    # a later release adds a column: the next process to open the database adds it, once
    later = (*class_store.MIGRATIONS, ("ALTER TABLE broadcasts ADD COLUMN note TEXT",))
    monkeypatch.setattr(class_store, "MIGRATIONS", later)
    for _ in range(2):
        again = ClassStore(**target)
        assert again.schema_version() == len(later)
        assert again.current_view().params == {"ca_sh": "2"}  # the rows survived
        again.close()


def test_answers_from_several_processes_at_once_are_each_counted_once(target, store):
    poll_id = store.ask("2026-12-01", "conv", 7, "conv-arithmetic")
    # four processes, five students each, every student answering twice, all at once
    child = textwrap.dedent("""
        import json, sys
        from pathlib import Path
        from explorer.classroom.class_store import ClassStore
        target, poll, worker = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
        store = ClassStore(**{k: Path(v) if k == "path" else v for k, v in target.items()})
        sys.stdin.readline()  # the start line: every process is connected before it
        counted = [store.answer(poll, f"w{worker}-s{s}", [14, 14], s % 2 == 0)
                   for s in range(5) for _twice in range(2)]
        print(json.dumps(counted))
    """)
    spec = json.dumps({k: str(v) for k, v in target.items()})
    procs = [subprocess.Popen([sys.executable, "-c", child, spec, str(poll_id), str(w)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for w in range(4)]
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    counted = [json.loads(proc.communicate(timeout=60)[0]) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    assert [sum(c) for c in counted] == [5, 5, 5, 5]  # each student's second answer refused
    answers = store.answers(poll_id)
    assert len(answers) == 20 and len({a.tag for a in answers}) == 20
    assert sum(a.right for a in answers) == 12


def test_one_student_answering_twice_counts_once_and_nobody_after_the_reveal(store):
    poll = store.poll(polls.ask(store, TEACHER, "conv", 11, "conv-arithmetic"))
    question = polls.question_of(poll)
    assert polls.answer(store, STUDENTS[0], poll, question.answer)  # torch's answer: right
    assert not polls.answer(store, STUDENTS[0], poll, [1] * len(question.answer))
    assert polls.answer(store, STUDENTS[1], poll, [0] * len(question.answer))
    other = ClassStore(path=store.path) if store.path else ClassStore(url=store.url)
    assert not polls.answer(other, STUDENTS[1], poll, question.answer)  # another process
    mine = store.answer_of(poll.id, STUDENTS[0].owner)
    assert mine.right and mine.given == tuple(float(v) for v in question.answer)
    assert not store.answer_of(poll.id, STUDENTS[1].owner).right
    polls.reveal(store, TEACHER, poll)
    assert not polls.answer(store, STUDENTS[2], poll, question.answer)
    assert len(store.answers(poll.id)) == 2
    for bad in ([1], [float("nan")] * len(question.answer), ["x", "y"],
                [1e300] * len(question.answer)):
        with pytest.raises(ValueError):
            polls.answer(store, STUDENTS[2], poll, bad)


def test_only_the_teacher_asks_reveals_closes_and_sends_a_view(store):
    with pytest.raises(AccessDenied):
        polls.ask(store, STUDENTS[0], "conv", 1, "conv-arithmetic")
    poll = store.poll(polls.ask(store, TEACHER, "pooling", 1, "sampling"))
    for act in (polls.reveal, polls.close):
        with pytest.raises(AccessDenied):
            act(store, STUDENTS[0], poll)
    with pytest.raises(AccessDenied):
        broadcast.send(store, STUDENTS[0], "convolution", {})
    with pytest.raises(AccessDenied):
        broadcast.withdraw(store, STUDENTS[0])
    with pytest.raises(ValueError):
        polls.ask(store, TEACHER, "no such topic", 1, "sampling")
    assert store.current_poll().id == poll.id and store.current_view() is None


def test_a_new_question_closes_the_one_before_and_reveal_keeps_it_up(store):
    first = polls.ask(store, TEACHER, "conv", 1, "conv-arithmetic")
    second = polls.ask(store, TEACHER, "batchnorm", 2, "batchnorm")
    assert store.poll(first).closed is not None
    assert store.live(max_age_s=0).poll.id == second
    polls.reveal(store, TEACHER, store.poll(second))
    live = store.live(max_age_s=0).poll
    assert live.id == second and not live.open and live.revealed is not None
    polls.close(store, TEACHER, live)
    assert store.live(max_age_s=0).poll is None


def test_a_student_who_leaves_drops_out_of_the_room(store):
    reporter = presence.Reporter(store, flush_s=None)
    t0 = 1_000_000.0
    reporter.note("s1", "tag-a", "convolution", False, now=t0)
    reporter.note("s2", "tag-b", "conv-arithmetic", False, now=t0)
    reporter.note("s3", "tag-b", "convolution", False, now=t0 + 1)  # b's second tab, later
    reporter.note("s4", "teacher", "room", True, now=t0)
    writes = store.writes
    assert reporter.flush() == 4
    assert store.writes == writes + 1  # one transaction for the whole batch
    room = presence.room(store, now=t0 + 30)
    assert room.count == 2 and room.pages == {"convolution": 2}
    reporter.note("s1", "tag-a", "convolution", False, now=t0 + 5)  # not due yet: not queued
    assert reporter.flush() == 0
    reporter.note("s2", "tag-b", "zoo", False, now=t0 + 50)  # a page switch is queued at once
    reporter.flush()
    room = presence.room(store, now=t0 + 70)  # a left 70 s ago, b is on the zoo
    assert room.students == {"tag-b"} and room.pages == {"zoo": 1}
    assert presence.room(store, now=t0 + 200).count == 0


def test_the_sent_view_is_described_in_the_student_s_language(store):
    broadcast.send(store, TEACHER, "conv-arithmetic", {
        "ca_layer": "Conv2d", "ca_sh": "2", "ca_sw": "2", "ca_ph": "1", "ca_pw": "1",
        "lang": "zh", "bad key!": "x", "ca_h": ["28"]})
    view = store.live(max_age_s=0).broadcast
    assert "lang" not in view.params and "bad key!" not in view.params
    assert view.params["ca_h"] == "28"
    assert broadcast.describe(view, "Conv arithmetic") == \
        "Conv arithmetic — Conv2d, stride 2, padding 1"
    from explorer import i18n

    with i18n.use_language("zh"):
        text = broadcast.describe(view, "卷积算术")
    assert text.startswith("卷积算术 — Conv2d, ") and "stride" not in text
    assert broadcast.is_on(view, "conv-arithmetic", {**view.params, "lang": "en"})
    assert not broadcast.is_on(view, "conv-arithmetic", {**view.params, "ca_sh": "1"})
    broadcast.withdraw(store, TEACHER)
    assert store.live(max_age_s=0).broadcast is None


def test_the_before_after_check_and_the_export(store):
    before = store.poll(polls.ask(store, TEACHER, "conv", 5, "conv-arithmetic", "before"))
    right = polls.question_of(before).answer
    wrong = [0] * len(right)
    for student, given in zip(STUDENTS, (right, wrong, wrong), strict=True):
        polls.answer(store, student, before, given)
    after = store.poll(polls.ask_after(store, TEACHER, before))
    assert (after.topic, after.seed, after.pair_of) == ("conv", 5, before.id)
    for student, given in zip(STUDENTS[:2], (right, right), strict=True):
        polls.answer(store, student, after, given)
    store.set_nickname(STUDENTS[0].owner, "Ada")
    store.set_nickname(STUDENTS[1].owner, "=HYPERLINK(\"http://x\")")
    [row] = polls.check_rows(store, before.lesson)
    assert (row.before_share.right, row.before_share.answered) == (1, 3)
    assert (row.after_share.right, row.after_share.answered) == (2, 2)
    assert row.gain == pytest.approx(1.0 - 1 / 3)
    rows = list(csv.DictReader(io.StringIO(polls.csv_export(store, before.lesson))))
    assert len(rows) == 5 and {r["phase"] for r in rows} == {"before", "after"}
    names = {r["student"] for r in rows}
    assert "Ada" in names and any(n.startswith("student ") for n in names)
    assert "'=HYPERLINK(\"http://x\")" in names  # a spreadsheet shows it, never runs it
    assert not any(s.owner in polls.csv_export(store) for s in STUDENTS)  # never an owner id
    assert rows[0]["torch answer"] == predict_first.conv_output(5).answer_text()


def test_bars_group_answers_by_what_a_student_reads(store):
    poll = store.poll(polls.ask(store, TEACHER, "conv", 3, "conv-arithmetic"))
    question = polls.question_of(poll)
    right = [int(v) for v in question.answer]
    for i, given in enumerate((right, right, [right[0] + 1, right[1]])):
        polls.answer(store, Actor(f"t{i}"), poll, given)
    bars = polls.tally(store.answers(poll.id), lambda g: polls.answer_label(question, g))
    assert [(b.count, b.right) for b in bars] == [(2, True), (1, False)]
    assert bars[0].label == f"{right[0]} × {right[1]}"


def test_student_numbers_are_given_once_and_nicknames_kept(store):
    first = store.student_numbers(["a", "b"])
    assert store.student_numbers(["b", "a", "c"])["a"] == first["a"]
    store.set_nickname("c", "Lin")
    assert store.student_numbers(["c"])["c"][1] == "Lin"
    assert polls.student_name(7, "") == "student 7"
