"""The server's secret: one random key shared by every process that serves the class.

It signs students' identities (`identity`). It lives in `<runs>/.secrets/identity.key`
(mode 0600), beside the runs that every replica of `make serve` already shares, so a restart
or another replica verifies the same cookies; `$EXPLORER_SECRET_KEY_FILE` names another file.
The first process to need it creates it; several creating it at once agree on one (the file is
linked into place only if none exists yet).
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
from pathlib import Path

KEY_BYTES = 32


def key_path(runs_root: Path) -> Path:
    """Where the key is kept: `$EXPLORER_SECRET_KEY_FILE`, else `<runs>/.secrets/identity.key`."""
    named = os.environ.get("EXPLORER_SECRET_KEY_FILE")
    return Path(named) if named else Path(runs_root) / ".secrets" / "identity.key"


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if another process made the key first: theirs wins
    except FileExistsError:
        pass
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


@functools.cache
def _load(path: Path) -> bytes:
    if not path.exists():
        _create(path)
    key = path.read_bytes()
    if len(key) < KEY_BYTES:
        raise ValueError(f"the secret key file {path.name} is shorter than {KEY_BYTES} bytes")
    return key


def load(runs_root: Path) -> bytes:
    """The key (created on first use), read once per process."""
    return _load(key_path(runs_root).resolve())
