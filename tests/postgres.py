"""A real PostgreSQL server for the tests, from the Debian archive (`make db-tools`), started with
`initdb` and `pg_ctl` in a temporary folder on a free loopback port, stopped and removed after.

PostgreSQL refuses to run as root, so as root (the CI's user) the cluster belongs to the
`postgres` user the package creates, and its commands run through `runuser`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def binaries() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                     key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit()
                     else 0)
    return next((Path(f) for f in reversed(folders) if (Path(f) / "initdb").exists()), None)


def unavailable() -> str | None:
    """Why no server can be started here, or None."""
    if binaries() is None:
        return ("PostgreSQL is not installed and could not be (`make db-tools` installs it "
                "with apt-get as root)")
    if os.geteuid() == 0 and not (shutil.which("runuser") and _has_user("postgres")):
        return "running as root without a `postgres` user to run PostgreSQL as"
    return None


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_owner(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextlib.contextmanager
def running() -> Iterator[str]:
    """Start a throwaway server; yield its URL (user `explorer`, database `postgres`)."""
    bin_dir = binaries()
    assert bin_dir is not None
    folder = Path(tempfile.mkdtemp(prefix="explorer-postgres-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    port = _free_port()
    subprocess.run(_as_owner([str(bin_dir / "initdb"), "-D", str(data), "-U", "explorer",
                              "--auth=trust", "--no-sync", "-E", "UTF8"]),
                   check=True, capture_output=True, cwd=folder)
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off"
    subprocess.run(_as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-l",
                              str(folder / "server.log"), "-o", options, "-w", "start"]),
                   check=True, capture_output=True, cwd=folder)
    url = f"postgresql://explorer@127.0.0.1:{port}/postgres"
    try:
        yield url
    finally:
        subprocess.run(_as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast",
                                  "-w", "stop"]), capture_output=True, cwd=folder, check=False)
        shutil.rmtree(folder, ignore_errors=True)

