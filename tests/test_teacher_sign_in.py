"""The sidebar's teacher sign-in in AppTest: wrong, right, slowed down, signed out."""

from __future__ import annotations

import pytest

from explorer.classroom import teacher
from explorer.training import runs
from explorer.ui import identity
from tests.conftest import TEACHER_PASSPHRASE


@pytest.fixture(autouse=True)
def _fresh_sign_in_state(monkeypatch):
    monkeypatch.setattr(identity, "FAILED_ATTEMPT_DELAY_S", 0.0)
    db = teacher.database(runs.runs_dir())
    db.unlink(missing_ok=True)
    yield
    db.unlink(missing_ok=True)


def _submit(at, passphrase: str):
    at.text_input(key="teacher_passphrase").input(passphrase)
    next(b for b in at.button if b.label == "Sign in as the teacher").click()
    return at.run()


def _sidebar_text(at) -> str:
    return " ".join(e.value for e in [*at.sidebar.error, *at.sidebar.success,
                                      *at.sidebar.caption])


def test_the_teacher_signs_in_and_out(open_page):
    at = open_page("pages/training.py")
    assert "signed in as the teacher" not in _sidebar_text(at)
    _submit(at, "a wrong passphrase")
    assert "That is not the teacher's passphrase." in _sidebar_text(at)
    _submit(at, TEACHER_PASSPHRASE)
    assert not at.exception
    assert "You are signed in as the teacher" in _sidebar_text(at)
    assert any("every student's runs are listed" in c.value for c in at.caption)
    next(b for b in at.sidebar.button if b.key == "teacher_sign_out").click()
    at.run()
    assert "signed in as the teacher" not in _sidebar_text(at)


def test_guessing_is_slowed_down_even_for_the_right_passphrase(open_page):
    at = open_page("pages/home.py")
    for _ in range(teacher.SignInThrottle(teacher.database(runs.runs_dir())).free):
        _submit(at, "a wrong passphrase")
    _submit(at, "another wrong one")
    assert "Too many wrong passphrases from this device" in _sidebar_text(at)
    _submit(at, TEACHER_PASSPHRASE)  # refused too while the client must wait
    assert "signed in as the teacher" not in _sidebar_text(at)


def test_without_a_teacher_the_sidebar_says_how_to_set_one_up(open_page, monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLORER_TEACHER_PASSPHRASE_FILE", str(tmp_path / "none"))
    at = open_page("pages/home.py")
    assert not at.exception
    assert "No teacher is set up on this server" in _sidebar_text(at)
    assert not [t for t in at.text_input if t.key == "teacher_passphrase"]


def test_with_an_oidc_provider_the_teacher_signs_in_with_streamlit_s_login():
    from streamlit.testing.v1 import AppTest

    from tests.conftest import APP

    at = AppTest.from_file(str(APP), default_timeout=120)
    at.secrets["auth"] = {"redirect_uri": "https://class.example/oauth2callback",
                          "cookie_secret": "x" * 32, "client_id": "id", "client_secret": "s",
                          "server_metadata_url": "https://idp.example/.well-known/"
                                                 "openid-configuration"}
    at.secrets["explorer"] = {"teacher_emails": ["teacher@school.example"]}
    at.run()
    assert not at.exception
    assert [b for b in at.sidebar.button if b.key == "teacher_login"]
    assert "signed in as the teacher" not in _sidebar_text(at)
