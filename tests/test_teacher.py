"""The teacher's sign-in: scrypt hashes, the settings, OIDC's teacher list, the throttle."""

from __future__ import annotations

import pytest

from explorer.classroom import __main__ as classroom_cli
from explorer.classroom import teacher

FAST = {"n": 2**10, "r": 8, "p": 1}  # the tests' own cost; the server's default is 2**15


def test_a_passphrase_verifies_only_itself():
    stored = teacher.hash_passphrase("correct horse battery", **FAST)
    assert stored.startswith("scrypt$1024$8$1$") and "correct" not in stored
    assert teacher.verify_passphrase("correct horse battery", stored)
    assert not teacher.verify_passphrase("correct horse batterY", stored)
    assert not teacher.verify_passphrase("", stored)
    assert teacher.hash_passphrase("correct horse battery", **FAST) != stored  # fresh salt


@pytest.mark.parametrize("stored", ["", "plain text", "scrypt$x$8$1$AA==$AA==",
                                    "md5$1$1$1$AA==$AA==", "scrypt$1024$8$1$not base64$AA=="])
def test_a_malformed_hash_verifies_nothing(stored):
    assert not teacher.verify_passphrase("anything at all", stored)


def test_short_passphrases_are_refused():
    with pytest.raises(ValueError, match="at least"):
        teacher.hash_passphrase("short")


def test_nobody_is_the_teacher_without_a_setup(tmp_path, monkeypatch):
    monkeypatch.delenv("EXPLORER_TEACHER_PASSPHRASE_FILE", raising=False)
    setup = teacher.setup({}, tmp_path)
    assert not setup.configured and setup.passphrase_hash is None
    assert not teacher.oidc_teacher({"is_logged_in": True, "email": "t@school.org"}, setup)


def test_the_passphrase_file_is_written_hashed_and_read(tmp_path, monkeypatch):
    monkeypatch.delenv("EXPLORER_TEACHER_PASSPHRASE_FILE", raising=False)
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a long passphrase\n"))
    monkeypatch.setattr(classroom_cli.runs, "runs_dir", lambda: tmp_path)
    assert classroom_cli.main(["set-passphrase"]) == 0
    path = teacher.passphrase_file(tmp_path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert "a long passphrase" not in path.read_text()
    setup = teacher.setup({}, tmp_path)
    assert setup.configured and teacher.verify_passphrase("a long passphrase",
                                                          setup.passphrase_hash)


def test_secrets_take_precedence_over_the_file(tmp_path):
    stored = teacher.hash_passphrase("from the secrets file", **FAST)
    setup = teacher.setup({"explorer": {"teacher_passphrase_hash": stored}}, tmp_path)
    assert setup.passphrase_hash == stored


def test_oidc_teachers_are_the_listed_verified_addresses(tmp_path):
    secrets = {"auth": {"redirect_uri": "https://x/oauth2callback", "cookie_secret": "s",
                        "client_id": "id", "client_secret": "c",
                        "server_metadata_url": "https://idp/.well-known/openid-configuration"},
               "explorer": {"teacher_emails": ["Teacher@School.org"]}}
    setup = teacher.setup(secrets, tmp_path)
    assert setup.oidc and setup.configured and setup.provider is None
    assert teacher.oidc_teacher({"is_logged_in": True, "email": "teacher@school.org"}, setup)
    assert not teacher.oidc_teacher({"is_logged_in": True, "email": "student@school.org"},
                                    setup)
    assert not teacher.oidc_teacher({"is_logged_in": False, "email": "teacher@school.org"},
                                    setup)
    assert not teacher.oidc_teacher({"is_logged_in": True, "email": "teacher@school.org",
                                     "email_verified": False}, setup)


def test_a_named_provider_is_used_for_login(tmp_path):
    secrets = {"auth": {"redirect_uri": "r", "cookie_secret": "s",
                        "school": {"client_id": "id", "client_secret": "c",
                                   "server_metadata_url": "m"}},
               "explorer": {"teacher_emails": "t@school.org"}}
    setup = teacher.setup(secrets, tmp_path)
    assert setup.oidc and setup.provider == "school" and setup.teacher_emails == {"t@school.org"}


def test_oidc_without_a_teacher_list_makes_no_teacher(tmp_path, monkeypatch):
    monkeypatch.delenv("EXPLORER_TEACHER_PASSPHRASE_FILE", raising=False)
    setup = teacher.setup({"auth": {"client_id": "id"}}, tmp_path)
    assert setup.oidc and not setup.configured
    assert not teacher.oidc_teacher({"is_logged_in": True, "email": "anyone@x"}, setup)


def test_the_throttle_slows_a_guessing_client_and_spares_others(tmp_path):
    throttle = teacher.SignInThrottle(tmp_path / "t.sqlite3", free=3, max_wait_s=60)
    now = 1000.0
    for i in range(3):
        assert throttle.wait_s("10.0.0.7", now + i) == 0
        throttle.failed("10.0.0.7", now + i)
    assert throttle.wait_s("10.0.0.7", now + 2) == pytest.approx(1.0)  # 2 ** (3 - 3)
    throttle.failed("10.0.0.7", now + 3)
    assert throttle.wait_s("10.0.0.7", now + 3) == pytest.approx(2.0)
    assert throttle.wait_s("10.0.0.8", now + 3) == 0  # another client is not slowed
    for i in range(20):
        throttle.failed("10.0.0.7", now + 4 + i)
    assert throttle.wait_s("10.0.0.7", now + 23) == pytest.approx(60.0)  # capped
    # another process (a second server replica) sees the same failures
    assert teacher.SignInThrottle(tmp_path / "t.sqlite3", free=3).wait_s("10.0.0.7",
                                                                        now + 23) > 0
    throttle.succeeded("10.0.0.7")
    assert throttle.wait_s("10.0.0.7", now + 24) == 0


def test_old_failures_are_forgotten(tmp_path):
    throttle = teacher.SignInThrottle(tmp_path / "t.sqlite3", free=1, window_s=100)
    for i in range(5):
        throttle.failed("c", 1000.0 + i)
    assert throttle.wait_s("c", 1005.0) > 0
    assert throttle.wait_s("c", 1200.0) == 0
