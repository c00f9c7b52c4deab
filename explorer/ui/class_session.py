"""This session in the class: the server's class store, the page the session is on, and its
presence reports (batched per process by `explorer.classroom.presence`)."""

from __future__ import annotations

import secrets

import streamlit as st

from explorer.classroom import class_store, presence
from explorer.training import access, runs
from explorer.ui import identity

_SESSION = "_class_session_id"
_PAGE = "_class_page"
_ACTOR = "_class_actor"


def store() -> class_store.ClassStore:
    """This server's class store (SQLite in the runs folder, or EXPLORER_DATABASE_URL's)."""
    return class_store.default(runs.runs_dir())


def page() -> str:
    """The url path of the page this session is on ("" is Home)."""
    return st.session_state.get(_PAGE, "")


def actor(refresh: bool = False) -> access.Actor:
    """This session's actor, as `identity.actor()` said at the page's last whole run: the
    class's timed fragment reuses it instead of verifying the cookie and the teacher's sign-in
    again every few seconds (a sign-in or sign-out reruns the whole page)."""
    if refresh or _ACTOR not in st.session_state:
        st.session_state[_ACTOR] = identity.actor()
    return st.session_state[_ACTOR]


def note(page_path: str | None = None) -> None:
    """Report this session on `page_path` (a whole run: its actor read afresh) or, from the
    timed fragment, on the page it is on; written in a batch."""
    if page_path is not None:
        st.session_state[_PAGE] = page_path
    if _SESSION not in st.session_state:
        st.session_state[_SESSION] = secrets.token_hex(12)
    who = actor(refresh=page_path is not None)
    presence.reporter(store()).note(st.session_state[_SESSION], who.owner, page(), who.teacher)
