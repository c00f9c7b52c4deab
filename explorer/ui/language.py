"""The session's language: seeded from `?lang=` or the browser's locale, picked in the sidebar.

The plain module `explorer.i18n` does the translating; this module tells it which language the
session running now has chosen.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from explorer import i18n

KEY = "lang"


def _session_language() -> str | None:
    if get_script_run_ctx() is None:  # outside a session (a test, a worker): no opinion
        return None
    return st.session_state.get(KEY)


i18n.set_language_provider(_session_language)


_PICKER = "lang_picker"  # the radio's own key; it holds the language's name, not its code
_CODES = {name: code for code, name in i18n.LANGUAGES.items()}


def init() -> str:
    """Settle the session's language (the picker, else `?lang=`, else the browser's locale).

    Call at the top of every run, before anything is translated: a click on the picker has
    already changed its value when the run starts.
    """
    picked = _CODES.get(st.session_state.get(_PICKER))
    if picked is not None:
        st.session_state[KEY] = picked
    elif KEY not in st.session_state:
        raw = st.query_params.get(KEY)
        st.session_state[KEY] = (raw if raw in i18n.LANGUAGES
                                 else i18n.language_from_locale(st.context.locale))
    return i18n.language()


def picker() -> None:
    """The sidebar's language switch, mirrored in the address bar as `?lang=`."""
    st.session_state[_PICKER] = i18n.LANGUAGES[i18n.language()]
    st.sidebar.radio("Language · 语言", list(i18n.LANGUAGES.values()), key=_PICKER,
                     horizontal=True)
    st.query_params[KEY] = i18n.language()
