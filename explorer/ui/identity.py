"""Who is this browser, and is its session the teacher's: the pages' side of `explorer.classroom`.

`actor()` is what every page passes to the functions that act on runs. The browser's id comes
from its signed cookie (`identity.verify`), or is issued here and written into a cookie on the
first visit; the teacher's role is a server-side row for that browser (`teacher.TeacherSessions`,
written by a passphrase sign-in) or a verified OpenID Connect sign-in whose e-mail the operator
listed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import streamlit as st

from explorer.classroom import identity, secret_key, teacher
from explorer.i18n import _
from explorer.training import access, runs

COOKIE = "explorer_id"
_BROWSER_ID = "_explorer_browser_id"
_COOKIE_WRITTEN = "_explorer_id_cookie_written"
#: How long a failed passphrase holds its session before answering: slows a script down.
FAILED_ATTEMPT_DELAY_S = 1.0


def _key() -> bytes:
    return secret_key.load(runs.runs_dir())


def _write_cookie(value: str) -> None:
    # The value is the server's own hex and dots: nothing from the browser goes into the script.
    with st.sidebar:
        st.html(f"<script>document.cookie = '{COOKIE}={value}; path=/; max-age=31536000; "
                "SameSite=Strict' + (location.protocol === 'https:' ? '; Secure' : '');"
                "</script>", unsafe_allow_javascript=True, width="content")


def browser_id() -> str:
    """This browser's id, verified from its cookie; a new one (and its cookie) otherwise."""
    key = _key()
    verified = identity.verify(st.context.cookies.get(COOKIE), key)
    if verified is not None:
        st.session_state[_BROWSER_ID] = verified
        return verified
    if _BROWSER_ID not in st.session_state:
        st.session_state[_BROWSER_ID] = identity.new_id()
    if not st.session_state.get(_COOKIE_WRITTEN):
        _write_cookie(identity.sign(st.session_state[_BROWSER_ID], key))
        st.session_state[_COOKIE_WRITTEN] = True
    return st.session_state[_BROWSER_ID]


def _secrets() -> Mapping:
    try:
        return st.secrets.to_dict() if st.secrets.load_if_toml_exists() else {}
    except Exception:  # a broken secrets.toml: no sign-in, the page lives on
        return {}


def setup() -> teacher.SignInSetup:
    """How a teacher can sign in on this server."""
    return teacher.setup(_secrets(), runs.runs_dir())


def _user() -> Mapping:
    try:
        return st.user.to_dict()
    except Exception:  # no auth configured or an old cookie: nobody signed in
        return {}


def _tag() -> str:
    return identity.owner_tag(browser_id(), _key())


def is_teacher(sign_in: teacher.SignInSetup | None = None) -> bool:
    """Whether this browser is signed in as the teacher."""
    sign_in = sign_in or setup()
    if sign_in.passphrase_hash is not None and teacher.sessions(runs.runs_dir()).active(_tag()):
        return True
    return teacher.oidc_teacher(_user(), sign_in)


def actor() -> access.Actor:
    """This session as the run functions know it: owner tag and teacher role."""
    return access.Actor(_tag(), teacher=is_teacher())


def _client() -> str:
    """Whom the throttle counts: the peer's address, or behind HAProxy (the peer is loopback)
    the X-Forwarded-For that HAProxy sets, replacing whatever a client sent."""
    direct = st.context.ip_address  # None when the peer is loopback, i.e. HAProxy or a laptop
    if isinstance(direct, str) and direct:
        return direct
    forwarded = st.context.headers.get("X-Forwarded-For")
    forwarded = forwarded if isinstance(forwarded, str) else ""
    return forwarded.split(",")[-1].strip() or "local"


def _passphrase_form(sign_in: teacher.SignInSetup) -> str | None:
    """The form; returns the sentence for a refused attempt (shown outside the expander,
    which closes on the rerun)."""
    with st.form("teacher_sign_in", clear_on_submit=True, border=False):
        passphrase = st.text_input(_("Teacher passphrase"), type="password",
                                   key="teacher_passphrase", autocomplete="current-password")
        submitted = st.form_submit_button(_("Sign in as the teacher"),
                                          icon=":material/key:")
    if not submitted or not passphrase:
        return None
    throttle = teacher.throttle(runs.runs_dir())
    client = _client()
    wait = throttle.wait_s(client)
    if wait > 0:
        return _("Too many wrong passphrases from this device: try again in {s} s.").format(
            s=max(1, round(wait)))
    assert sign_in.passphrase_hash is not None
    if teacher.verify_passphrase(passphrase, sign_in.passphrase_hash):
        throttle.succeeded(client)
        teacher.sessions(runs.runs_dir()).sign_in(_tag())
        st.rerun()
    throttle.failed(client)
    time.sleep(FAILED_ATTEMPT_DELAY_S)
    return _("That is not the teacher's passphrase.")


def _sign_out() -> None:
    teacher.sessions(runs.runs_dir()).sign_out(_tag())
    if _user().get("is_logged_in"):
        st.logout()


def teacher_panel() -> None:
    """The sidebar's teacher section: sign in, who is signed in, sign out."""
    sign_in = setup()
    signed_in = is_teacher(sign_in)
    user = _user()
    if signed_in:  # in plain sight: the teacher should always know which hat is on
        st.sidebar.success(_("You are signed in as the teacher: you can see, stop, share and "
                             "delete every student's runs."), icon=":material/verified_user:")
        st.sidebar.button(_("Sign out"), key="teacher_sign_out", on_click=_sign_out,
                          icon=":material/logout:")
        return
    with st.sidebar.expander(_("Teacher"), icon=":material/school:", expanded=False):
        if not sign_in.configured:
            st.caption(_("No teacher is set up on this server, so nobody has teacher powers. "
                         "The person who runs the server sets one up with `python -m "
                         "explorer.classroom set-passphrase` or a sign-in provider "
                         "(docs/serving.md, “Running a class safely”)."))
            return
        if sign_in.oidc and sign_in.teacher_emails:
            if user.get("is_logged_in"):
                st.caption(_("Signed in as {email}, who is not one of this server's teachers."
                             ).format(email=user.get("email") or "?"))
                st.button(_("Sign out"), key="teacher_sign_out", on_click=_sign_out,
                          icon=":material/logout:")
            elif st.button(_("Sign in as the teacher (school account)"), key="teacher_login",
                           icon=":material/login:"):
                st.login(*([sign_in.provider] if sign_in.provider else []))
        refused = _passphrase_form(sign_in) if sign_in.passphrase_hash is not None else None
    if refused:
        st.sidebar.error(refused, icon=":material/lock:")
