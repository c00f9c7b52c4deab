"""The teacher's sign-in: OpenID Connect through Streamlit where configured, else a passphrase.

Nobody is the teacher by default. The operator chooses one of two ways (docs/serving.md, "Running a
class safely"):

- **An OpenID Connect provider** in `.streamlit/secrets.toml` (`[auth]`, Streamlit's own
  `st.login`), plus the teachers' addresses: `[explorer] teacher_emails = ["…"]`. A signed-in
  user is the teacher only if their verified e-mail is on that list.
- **A passphrase**, stored only as its scrypt hash (`hash_passphrase`), in secrets.toml as
  `[explorer] teacher_passphrase_hash = "scrypt$…"` or in the file
  `$EXPLORER_TEACHER_PASSPHRASE_FILE` (default `<runs>/.secrets/teacher-passphrase`), which
  `python -m explorer.classroom set-passphrase` writes. It is checked in constant time, and
  wrong attempts from one client are slowed down (`SignInThrottle`).

The role is kept on the server (`TeacherSessions`, by the browser's verified id), never in
anything the browser can write; signing out ends it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SCHEME = "scrypt"
# scrypt's cost: 2**15 × 8 × 128 bytes = 32 MiB and ~0.1 s per check on a 2-core server
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_MAXMEM = 64 * 2**20
MIN_PASSPHRASE = 8


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_passphrase(passphrase: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R,
                    p: int = SCRYPT_P) -> str:
    """`scrypt$n$r$p$salt$hash` (base64) of a passphrase, with a fresh random salt."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise ValueError(f"a teacher passphrase needs at least {MIN_PASSPHRASE} characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(passphrase.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM)
    return f"{SCHEME}${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_passphrase(passphrase: str, stored: str) -> bool:
    """Whether `passphrase` matches a `hash_passphrase` value (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.strip().split("$")
        if scheme != SCHEME:
            return False
        expected = base64.b64decode(digest, validate=True)
        actual = hashlib.scrypt(passphrase.encode(), salt=base64.b64decode(salt, validate=True),
                                n=int(n), r=int(r), p=int(p), maxmem=_MAXMEM,
                                dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def passphrase_file(runs_root: Path) -> Path:
    """`$EXPLORER_TEACHER_PASSPHRASE_FILE`, else `<runs>/.secrets/teacher-passphrase`."""
    named = os.environ.get("EXPLORER_TEACHER_PASSPHRASE_FILE")
    return Path(named) if named else Path(runs_root) / ".secrets" / "teacher-passphrase"


def write_passphrase_file(passphrase: str, runs_root: Path) -> Path:
    """Store the passphrase's hash (never the passphrase) in `passphrase_file`, mode 0600."""
    path = passphrase_file(runs_root)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (hash_passphrase(passphrase) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


@dataclass(frozen=True)
class SignInSetup:
    """How this server lets a teacher sign in: OIDC, a passphrase, both or neither."""

    oidc: bool
    teacher_emails: frozenset[str]
    passphrase_hash: str | None
    provider: str | None = None  # a named `[auth.NAME]` provider, for `st.login(NAME)`

    @property
    def configured(self) -> bool:
        return (self.oidc and bool(self.teacher_emails)) or self.passphrase_hash is not None


def _section(secrets_: Mapping, name: str) -> Mapping:
    try:
        value = secrets_.get(name)
    except Exception:  # a broken secrets.toml must not break the page
        return {}
    return value if isinstance(value, Mapping) else {}


def setup(secrets_: Mapping, runs_root: Path) -> SignInSetup:
    """Read the sign-in settings from secrets.toml (as a mapping) and the passphrase file."""
    auth = _section(secrets_, "auth")
    named = [k for k, v in auth.items() if isinstance(v, Mapping) and v.get("client_id")]
    oidc = bool(auth.get("client_id") or named)
    explorer = _section(secrets_, "explorer")
    emails = explorer.get("teacher_emails") or ()
    if isinstance(emails, str):
        emails = (emails,)
    stored = explorer.get("teacher_passphrase_hash")
    if not isinstance(stored, str) or not stored.strip():
        try:
            stored = passphrase_file(runs_root).read_text().strip() or None
        except OSError:
            stored = None
    return SignInSetup(oidc, frozenset(str(e).strip().lower() for e in emails), stored,
                       None if auth.get("client_id") or not named else named[0])


def oidc_teacher(user: Mapping, setup_: SignInSetup) -> bool:
    """Whether a signed-in OIDC user (Streamlit's `st.user`) is one of the teachers."""
    if not setup_.oidc or not user.get("is_logged_in"):
        return False
    email = str(user.get("email") or "").strip().lower()
    return (bool(email) and user.get("email_verified") is not False
            and email in setup_.teacher_emails)


def _connect(path: Path) -> sqlite3.Connection:
    """The sign-in database (shared by the server's processes), its tables made on first use."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    db = sqlite3.connect(path, timeout=10)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS failures (client TEXT NOT NULL, at REAL NOT NULL)")
    db.execute("CREATE INDEX IF NOT EXISTS failures_client ON failures (client, at)")
    db.execute("CREATE TABLE IF NOT EXISTS teacher_sessions (browser TEXT PRIMARY KEY, "
               "expires REAL NOT NULL)")
    return db


class SignInThrottle:
    """Wrong passphrases slow a client down, across every process of the server.

    Failures are rows of a small SQLite database in the runs folder (shared by the replicas of
    `make serve`). A client's first `free` failures in `window_s` cost nothing more than the
    scrypt check; after that each further attempt waits `2 ** (failures - free)` seconds after
    the last failure, at most `max_wait_s`. A class may share one address behind its router,
    so the wait is bounded: a student guessing cannot lock the teacher out for long, and a
    script guessing gets a few tries a minute.
    """

    def __init__(self, path: Path, *, free: int = 5, window_s: float = 900.0,
                 max_wait_s: float = 60.0) -> None:
        self.path, self.free, self.window_s, self.max_wait_s = path, free, window_s, max_wait_s
        self._lock = threading.Lock()

    def wait_s(self, client: str, now: float | None = None) -> float:
        """Seconds `client` must wait before its next attempt (0: it may try now)."""
        now = time.time() if now is None else now
        with self._lock, _connect(self.path) as db:
            count, last = db.execute(
                "SELECT COUNT(*), MAX(at) FROM failures WHERE client = ? AND at > ?",
                (client, now - self.window_s)).fetchone()
        if count < self.free or last is None:
            return 0.0
        return max(0.0, last + min(self.max_wait_s, 2.0 ** (count - self.free)) - now)

    def failed(self, client: str, now: float | None = None) -> None:
        """Record a wrong attempt (and forget failures older than the window)."""
        now = time.time() if now is None else now
        with self._lock, _connect(self.path) as db:
            db.execute("DELETE FROM failures WHERE at < ?", (now - self.window_s,))
            db.execute("INSERT INTO failures VALUES (?, ?)", (client, now))

    def succeeded(self, client: str) -> None:
        """A right passphrase clears the client's failures."""
        with self._lock, _connect(self.path) as db:
            db.execute("DELETE FROM failures WHERE client = ?", (client,))


class TeacherSessions:
    """Which browsers are signed in as the teacher: server-side rows, by browser tag.

    A passphrase sign-in records the browser (its owner tag, never its cookie) until it signs
    out or `hours` pass, so a reload or a second tab of the teacher's browser stays signed in;
    the browser itself holds nothing but its signed id, which it cannot turn into a teacher.
    """

    def __init__(self, path: Path, hours: float = 12.0) -> None:
        self.path, self.hours = path, hours

    def sign_in(self, browser: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with _connect(self.path) as db:
            db.execute("DELETE FROM teacher_sessions WHERE expires < ?", (now,))
            db.execute("INSERT OR REPLACE INTO teacher_sessions VALUES (?, ?)",
                       (browser, now + self.hours * 3600))

    def active(self, browser: str, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        with _connect(self.path) as db:
            row = db.execute("SELECT expires FROM teacher_sessions WHERE browser = ?",
                             (browser,)).fetchone()
        return row is not None and row[0] > now

    def sign_out(self, browser: str) -> None:
        with _connect(self.path) as db:
            db.execute("DELETE FROM teacher_sessions WHERE browser = ?", (browser,))


def database(runs_root: Path) -> Path:
    """The sign-in database: `<runs>/.secrets/sign-in.sqlite3`."""
    return Path(runs_root) / ".secrets" / "sign-in.sqlite3"


def throttle(runs_root: Path) -> SignInThrottle:
    """The server's throttle of wrong passphrases."""
    return SignInThrottle(database(runs_root))


def sessions(runs_root: Path) -> TeacherSessions:
    """The server's teacher sign-ins (`$EXPLORER_TEACHER_SESSION_HOURS`, default 12)."""
    return TeacherSessions(database(runs_root),
                           float(os.environ.get("EXPLORER_TEACHER_SESSION_HOURS") or 12))
