"""Serving a class: HAProxy on one port in front of N Streamlit processes, all run by supervisord.

Plain Python (never imports streamlit). It only writes two config files from the templates
beside it; the real work is done by Debian's `haproxy` (cookie-sticky balancing, health checks)
and `supervisor` (starts everything, restarts a process that dies, stops all on Ctrl-C):

    python -m explorer.serving --port 8501 --replicas 4      # writes build/serve/*.conf
    supervisord -n -c build/serve/supervisord.conf           # what `make serve` runs next
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import shutil
import signal
import string
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = Path(__file__).resolve().parent
DEFAULT_RUN_DIR = REPO_ROOT / "build" / "serve"
COOKIE_NAME = "EXPLORER_SERVER"
# Debian installs haproxy in /usr/sbin, which a non-root PATH often lacks.
EXTRA_BIN_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin")


def find_binary(name: str) -> str | None:
    """`name` on PATH, in the sbin folders, or next to this interpreter (a venv's supervisord)."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *EXTRA_BIN_DIRS,
                              str(Path(sys.executable).parent)])
    return shutil.which(name, path=search)


def program_name(i: int) -> str:
    """supervisord program, HAProxy server and cookie value of replica i (1-based)."""
    return f"streamlit-{i}"


@dataclass(frozen=True)
class ServeConfig:
    port: int = 8501
    replicas: int = 2
    backend_ports: tuple[int, ...] = ()  # default: port+1 .. port+replicas
    bind: str = "0.0.0.0"
    run_dir: Path = DEFAULT_RUN_DIR
    runs_dir: Path = field(default_factory=lambda: Path(
        os.environ.get("EXPLORER_RUNS_DIR") or REPO_ROOT / "runs"))
    python: str = sys.executable
    app: str = "explorer/app.py"
    cwd: Path = REPO_ROOT
    haproxy: str = "haproxy"
    check_interval: str = "2s"
    torch_threads: int = 0  # per Streamlit process; 0: the cores shared out among the replicas
    prepare: bool = True  # build the large networks' default weights into the store at start

    def threads(self) -> int:
        """Torch threads per replica. Each process defaults to one per core, so N replicas on
        N cores would run N² threads that preempt one another mid-op; one core each keeps a
        small rerun's convolutions from waiting on a spinning peer."""
        return self.torch_threads or max(1, (os.cpu_count() or 1) // self.replicas)

    def ports(self) -> tuple[int, ...]:
        ports = self.backend_ports or tuple(self.port + i for i in range(1, self.replicas + 1))
        if self.replicas < 1:
            raise ValueError("replicas must be at least 1")
        if len(ports) != self.replicas:
            raise ValueError(f"{self.replicas} replicas need {self.replicas} backend ports, "
                             f"got {len(ports)}")
        everything = (self.port, *ports)
        if len(set(everything)) != len(everything):
            raise ValueError(f"ports must all differ: public {self.port}, backends {ports}")
        if not all(0 < p < 65536 for p in everything):
            raise ValueError(f"ports must be within 1..65535: {everything}")
        return ports


def _check_value(name: str, value: str) -> str:
    """Refuse values that would break out of their config line or quotes."""
    if any(c in value for c in '\n\r"'):
        raise ValueError(f"{name} must not contain newlines or double quotes: {value!r}")
    return value


def _supervisor_safe(value: str) -> str:
    """supervisord expands %(name)s in commands, paths and environment: keep a '%' literal."""
    return value.replace("%", "%%")


def cookie_secret(run_dir: Path) -> str:
    """One secret shared by every replica (Streamlit signs its cookies with it); kept in the
    run folder so a restart of `make serve` keeps sessions' cookies valid."""
    path = run_dir / "cookie_secret"
    if path.exists():
        return path.read_text().strip()
    run_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def _template(name: str) -> string.Template:
    return string.Template((TEMPLATES / name).read_text())


def render_haproxy(cfg: ServeConfig) -> str:
    servers = "\n".join(
        f"    server {program_name(i)} 127.0.0.1:{p} cookie {program_name(i)}"
        for i, p in enumerate(cfg.ports(), start=1))
    return _template("haproxy.cfg.in").substitute(
        replicas=cfg.replicas, bind=_check_value("bind", cfg.bind), port=cfg.port,
        cookie_name=COOKIE_NAME, check_interval=cfg.check_interval, servers=servers)


def render_supervisord(cfg: ServeConfig, secret: str) -> str:
    def q(name: str, value: object) -> str:
        return _supervisor_safe(_check_value(name, str(value)))

    run_dir = q("run_dir", cfg.run_dir.resolve())
    program = _template("streamlit-program.conf.in")
    names = [program_name(i) for i in range(1, cfg.replicas + 1)]
    programs = "".join(
        program.substitute(
            name=name, backend_port=port, python=q("python", shlex.quote(cfg.python)),
            app=q("app", shlex.quote(cfg.app)), cwd=q("cwd", cfg.cwd.resolve()),
            runs_dir=q("runs_dir", cfg.runs_dir.resolve()), cookie_secret=q("secret", secret),
            run_dir=run_dir, threads=cfg.threads())
        for name, port in zip(names, cfg.ports(), strict=True))
    prepare = _template("prepare-program.conf.in").substitute(
        python=q("python", shlex.quote(cfg.python)), cwd=q("cwd", cfg.cwd.resolve()),
        runs_dir=q("runs_dir", cfg.runs_dir.resolve()), run_dir=run_dir) if cfg.prepare else ""
    return _template("supervisord.conf.in").substitute(
        replicas=cfg.replicas, run_dir=run_dir, haproxy=q("haproxy", shlex.quote(cfg.haproxy)),
        program_names=",".join(names), programs=programs, prepare=prepare)


def write(cfg: ServeConfig) -> dict[str, Path]:
    """Write haproxy.cfg and supervisord.conf into cfg.run_dir; return their paths."""
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    cfg.runs_dir.mkdir(parents=True, exist_ok=True)
    paths = {"haproxy": cfg.run_dir / "haproxy.cfg",
             "supervisord": cfg.run_dir / "supervisord.conf"}
    paths["haproxy"].write_text(render_haproxy(cfg))
    paths["supervisord"].write_text(render_supervisord(cfg, cookie_secret(cfg.run_dir)))
    return paths


def supervisord_command(run_dir: Path, supervisord: str | None = None) -> list[str]:
    """The foreground supervisord that runs what `write` configured."""
    exe = supervisord or find_binary("supervisord") or "supervisord"
    return [exe, "-n", "-c", str(run_dir / "supervisord.conf")]


# --- running it from Python (the browser test and bench/classroom.py) -------------------------


def start(cfg: ServeConfig, log: Path | None = None) -> subprocess.Popen:
    """Write the configs and start the same foreground supervisord that `make serve` runs."""
    write(cfg)
    out = open(log or cfg.run_dir / "supervisord.out", "ab")  # noqa: SIM115 -- child owns it
    with out:
        return subprocess.Popen(supervisord_command(cfg.run_dir), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def healthy(port: int, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                    timeout=timeout) as resp:
            return resp.read() == b"ok"
    except OSError:
        return False


def _wait(cfg: ServeConfig, proc: subprocess.Popen, done: Callable[[], bool], timeout: float,
          what: str, every: float) -> float:
    """Poll `done()` until it holds while supervisord runs; return the seconds it took."""
    t0 = time.monotonic()
    while not done():
        if proc.poll() is not None:
            raise RuntimeError(f"supervisord exited with {proc.returncode}; see {cfg.run_dir}")
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"{what} after {timeout:.0f} s; see logs in {cfg.run_dir}")
        time.sleep(every)
    return time.monotonic() - t0


def wait_healthy(cfg: ServeConfig, proc: subprocess.Popen, timeout: float = 120.0) -> float:
    """Wait until every replica and the balancer answer /_stcore/health; return the seconds."""
    return _wait(cfg, proc, lambda: all(healthy(p) for p in (*cfg.ports(), cfg.port)),
                 timeout, "not healthy", 0.5)


def _supervisorctl(cfg: ServeConfig, *args: str) -> str:
    ctl = find_binary("supervisorctl") or "supervisorctl"
    return subprocess.run([ctl, "-c", str(cfg.run_dir / "supervisord.conf"), *args],
                          capture_output=True, text=True).stdout


def replica_pids(cfg: ServeConfig) -> dict[str, int]:
    """{program name: pid} of the running Streamlit replicas, as supervisord reports them."""
    pids = {}
    for i in range(1, cfg.replicas + 1):
        name = program_name(i)
        out = _supervisorctl(cfg, "pid", f"streamlit:{name}")
        if out.strip().isdigit() and int(out) > 0:
            pids[name] = int(out)
    return pids


def wait_prepared(cfg: ServeConfig, proc: subprocess.Popen, timeout: float = 600.0) -> float:
    """Wait until the store's preparation (`explorer.serving.prepare`) has exited; return the
    seconds. A class may come earlier (the servers work meanwhile); a benchmark waits."""
    def exited() -> bool:
        if not cfg.prepare:
            return True
        state = _supervisorctl(cfg, "status", "prepare").split()
        return len(state) > 1 and state[1] in ("EXITED", "FATAL")

    return _wait(cfg, proc, exited, timeout, "still preparing", 1.0)


def stop(proc: subprocess.Popen, timeout: float = 30.0) -> int:
    """SIGTERM supervisord (it stops everything it started, like Ctrl-C); return its status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=8501, help="the one public port")
    ap.add_argument("--replicas", type=int, default=os.cpu_count() or 1,
                    help="Streamlit processes (default: the number of cores)")
    ap.add_argument("--backend-port", type=int, default=0,
                    help="first loopback port of the replicas (default: port+1)")
    ap.add_argument("--bind", default="0.0.0.0", help="address HAProxy listens on")
    ap.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR,
                    help="where the configs, logs and sockets go")
    ap.add_argument("--no-prepare", action="store_true",
                    help="do not build the large networks' default weights at start")
    args = ap.parse_args(argv)
    haproxy = find_binary("haproxy")
    if haproxy is None or find_binary("supervisord") is None:
        sys.exit("haproxy and supervisord are needed: `make serve-tools` installs them")
    first = args.backend_port or args.port + 1
    cfg = ServeConfig(port=args.port, replicas=args.replicas, bind=args.bind,
                      backend_ports=tuple(range(first, first + args.replicas)),
                      run_dir=args.run_dir, haproxy=haproxy, prepare=not args.no_prepare)
    paths = write(cfg)
    print(f"serving {cfg.replicas} Streamlit processes (loopback ports "
          f"{', '.join(map(str, cfg.ports()))}) on http://{cfg.bind}:{cfg.port} through HAProxy; "
          f"runs in {cfg.runs_dir}; logs in {cfg.run_dir}; config {paths['supervisord']}")

