"""Who is in the room: every session reports its page, and a process writes the reports of all
its sessions in one transaction every few seconds.

A session calls `Reporter.note` whenever its page runs (a page switch is known at once) and
from its small timed fragment (so that an idle page still says it is there); `note` only
remembers the latest report. A thread of the process flushes what changed every `flush_s` with
`ClassStore.report_presence`, so a class of sixty costs the database a write every few seconds,
not sixty. A session that stops reporting drops out of `room` after `class_store.PRESENT_S`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from dataclasses import dataclass

from explorer.classroom.class_store import PRESENT_S, ClassStore, Presence

#: How often a session reports when nothing changed, and how often a process writes.
REPORT_EVERY_S = 15.0
FLUSH_S = 5.0


class Reporter:
    """One process's batch of presence reports for `store`."""

    def __init__(self, store: ClassStore, flush_s: float | None = FLUSH_S,
                 report_every_s: float = REPORT_EVERY_S) -> None:
        """`flush_s=None`: no thread, the caller flushes."""
        self.store, self.flush_s, self.report_every_s = store, flush_s, report_every_s
        self._pending: dict[str, Presence] = {}
        self._last: dict[str, tuple[str, float]] = {}  # session -> (page, when it last reported)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def note(self, session_id: str, tag: str, page: str, teacher: bool,
             now: float | None = None) -> None:
        """This session is on `page`: queued when the page changed or a report is due."""
        now = time.time() if now is None else now
        with self._lock:
            last = self._last.get(session_id)
            if last is not None and last[0] == page and now - last[1] < self.report_every_s:
                return
            self._last[session_id] = (page, now)
            self._pending[session_id] = Presence(session_id, tag, page, teacher, now)
            if len(self._last) > 10_000:  # sessions long gone
                cutoff = now - 2 * PRESENT_S
                self._last = {s: v for s, v in self._last.items() if v[1] >= cutoff}
            if self.flush_s is not None and (self._thread is None
                                             or not self._thread.is_alive()):
                self._thread = threading.Thread(target=self._loop, name="presence-flush",
                                                daemon=True)
                self._thread.start()

    def flush(self) -> int:
        """Write what is queued now (one transaction); returns how many reports."""
        with self._lock:
            batch, self._pending = list(self._pending.values()), {}
        if batch:
            try:
                self.store.report_presence(batch)
            except Exception:  # the database is away: the next report of each session counts
                with self._lock:
                    for report in batch:
                        self._pending.setdefault(report.session_id, report)
                raise
        return len(batch)

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.flush_s)
            self._wake.clear()
            with contextlib.suppress(Exception):  # the database is away: tried at the next tick
                self.flush()


@dataclass(frozen=True)
class Room:
    """The students present (owner tags, teacher excluded) and how many are on each page."""

    students: frozenset[str]
    pages: dict[str, int]  # url path -> students whose latest report names it

    @property
    def count(self) -> int:
        return len(self.students)


def room(store: ClassStore, now: float | None = None) -> Room:
    """Who is here now: each student once (their latest report), the teacher not counted."""
    reports = store.present(now)
    teachers = {r.tag for r in reports if r.teacher}  # a browser that signed in, in any tab
    latest: dict[str, Presence] = {}
    for report in reports:
        if report.tag not in teachers and report.tag not in latest:  # newest first
            latest[report.tag] = report
    return Room(frozenset(latest), dict(Counter(r.page for r in latest.values())))


_REPORTERS: dict[int, Reporter] = {}
_REPORTERS_LOCK = threading.Lock()


def reporter(store: ClassStore) -> Reporter:
    """The process's reporter for `store`."""
    with _REPORTERS_LOCK:
        return _REPORTERS.setdefault(id(store), Reporter(store))
