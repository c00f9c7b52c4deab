"""This session in the class: the server's class store, the page the session is on, and its
presence reports (batched per process by `explorer.classroom.presence`)."""

from __future__ import annotations

import secrets

import streamlit as st

from explorer.classroom import class_store, presence
from explorer.training import runs
from explorer.ui import identity

_SESSION = "_class_session_id"
_PAGE = "_class_page"


def store() -> class_store.ClassStore:
    """This server's class store (SQLite in the runs folder, or EXPLORER_DATABASE_URL's)."""
    return class_store.default(runs.runs_dir())


def page() -> str:
    """The url path of the page this session is on ("" is Home)."""
    return st.session_state.get(_PAGE, "")


def note(page_path: str | None = None) -> None:
    """Report this session on `page_path` (default: the page it is on); written in a batch."""
    if page_path is not None:
        st.session_state[_PAGE] = page_path
    if _SESSION not in st.session_state:
        st.session_state[_SESSION] = secrets.token_hex(12)
    actor = identity.actor()
    presence.reporter(store()).note(st.session_state[_SESSION], actor.owner, page(),
                                    actor.teacher)
