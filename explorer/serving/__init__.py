"""Serving a class: HAProxy on one port in front of N Streamlit processes, all run by supervisord.

Plain Python (never imports streamlit). It writes two config files from the templates beside it
and, for HTTPS, the certificate HAProxy serves; the real work is done by Debian's `haproxy` (TLS,
cookie-sticky balancing, health checks, per-client limits), `openssl` (a self-signed certificate
when the operator gives none) and `supervisor` (starts everything, restarts a process that dies,
stops all on Ctrl-C):

    python -m explorer.serving --port 8501 --replicas 4      # writes build/serve/*.conf
    supervisord -n -c build/serve/supervisord.conf           # what `make serve` runs next
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import ssl
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
DEFAULT_PORT = 8501  # HTTPS (plain HTTP with tls=False)
DEFAULT_HTTP_PORT = 8080  # plain HTTP, answered with a redirect to HTTPS on the port above
# Per client address, at the balancer (see docs/serving.md, "One machine", for the figures):
# a class behind one router shares one address, so these sit far above what a class opens
# and sends, and stop a script that opens connections or requests in a loop.
DEFAULT_CLIENT_CONNS = 1000  # connections open at once
DEFAULT_CLIENT_RATE = 3000  # requests in 10 s, not counting the app's files under /static/
DEFAULT_CLIENT_ALL_RATE = 20000  # requests in 10 s, /static/ included
CERT_DAYS = 365
SELF_SIGNED_CERT, SELF_SIGNED_KEY = "selfsigned.crt", "selfsigned.key"
TLS_PEM = "tls.pem"  # certificate chain + key in one file, as HAProxy's `crt` wants
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
    port: int = DEFAULT_PORT
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
    tls: bool = True  # HTTPS on `port`; False: plain HTTP there and no redirector
    http_port: int = DEFAULT_HTTP_PORT  # plain-HTTP redirector to HTTPS; 0: none
    tls_cert: Path | None = None  # the operator's certificate chain (default: self-signed)
    tls_key: Path | None = None  # its private key (default: in tls_cert)
    tls_dir: Path | None = None  # where the self-signed certificate lives (default: run_dir)
    client_conns: int = DEFAULT_CLIENT_CONNS
    client_rate: int = DEFAULT_CLIENT_RATE
    client_all_rate: int = DEFAULT_CLIENT_ALL_RATE

    def redirect_port(self) -> int | None:
        """The plain-HTTP port that redirects to HTTPS, if there is one."""
        return self.http_port if self.tls and self.http_port else None

    def url(self, host: str = "127.0.0.1") -> str:
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def pem(self) -> Path:
        return self.run_dir / TLS_PEM

    def cert_dir(self) -> Path:
        return self.tls_dir or self.run_dir

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
        redirect = (self.redirect_port(),) if self.redirect_port() else ()
        everything = (self.port, *redirect, *ports)
        if len(set(everything)) != len(everything):
            raise ValueError(f"ports must all differ: public {self.port}, redirect {redirect}, "
                             f"backends {ports}")
        if not all(0 < p < 65536 for p in everything):
            raise ValueError(f"ports must be within 1..65535: {everything}")
        if min(self.client_conns, self.client_rate, self.client_all_rate) < 1:
            raise ValueError("per-client limits must be at least 1")
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


# --- the certificate HAProxy serves ------------------------------------------------------------

_HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")


def _openssl(*args: object, **kwargs) -> subprocess.CompletedProcess:
    exe = find_binary("openssl")
    if exe is None:
        raise RuntimeError("openssl is needed for HTTPS (apt-get install openssl), "
                           "or serve plain HTTP (make serve TLS=0)")
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, **kwargs)


def local_addresses() -> tuple[list[str], list[str]]:
    """(host names, IP addresses) by which a classroom LAN may reach this machine, found
    without the network: localhost, the hostname (and hostname.local, mDNS's name for it),
    loopback, and the addresses of the machine's interfaces (`hostname -I`; else those the
    hostname resolves to locally). Link-local IPv6 addresses are left out: they need a zone."""
    host = socket.gethostname()
    names = ["localhost"]
    if _HOSTNAME.fullmatch(host) and host.lower() != "localhost":
        names += [host] + ([f"{host}.local"] if "." not in host else [])
    found: list[str] = []
    if exe := find_binary("hostname"):
        out = subprocess.run([exe, "-I"], capture_output=True, text=True, check=False)
        found = out.stdout.split() if out.returncode == 0 else []
    if not found:
        try:
            found = [info[4][0] for info in socket.getaddrinfo(host, None)]
        except OSError:
            found = []
    ips = [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
    for text in found:
        try:
            ip = ipaddress.ip_address(text.split("%")[0])
        except ValueError:
            continue
        if ip not in ips and not ip.is_link_local:
            ips.append(ip)
    return names, [str(ip) for ip in ips]


def certificate_names(cert: Path) -> set[str]:
    """The DNS names (lower case) and IP addresses in a certificate's subjectAltName."""
    out = _openssl("x509", "-in", cert, "-noout", "-ext", "subjectAltName").stdout
    names = set()
    for entry in " ".join(out.splitlines()[1:]).split(","):
        kind, _, value = entry.strip().partition(":")
        if kind == "DNS":
            names.add(value.lower())
        elif kind == "IP Address":
            names.add(str(ipaddress.ip_address(value)))
    return names


def certificate_valid_for(cert: Path, seconds: int = 0) -> bool:
    """Whether `cert` is still valid `seconds` from now (`openssl x509 -checkend`)."""
    return _openssl("x509", "-in", cert, "-noout", "-checkend", seconds).returncode == 0


def _public_key(path: Path, what: str) -> str:
    """The public key of a PEM certificate or private key, as openssl prints it."""
    args = ("x509", "-in", path, "-noout", "-pubkey") if what == "certificate" else (
        "pkey", "-in", path, "-pubout")
    out = _openssl(*args)
    if out.returncode != 0:
        raise ValueError(f"{path}: not a PEM {what}: {out.stderr.strip()}")
    return out.stdout


def _check_pair(cert: Path, key: Path) -> None:
    if _public_key(cert, "certificate") != _public_key(key, "private key"):
        raise ValueError(f"the private key {key} is not the key of the certificate {cert}")


def self_signed_certificate(folder: Path, days: int = CERT_DAYS) -> Path:
    """A self-signed certificate for this machine's names and addresses, made by openssl in
    `folder` (key beside it, mode 0600) and reused while it is valid for another day and still
    names every current address; returns the certificate's path."""
    names, ips = local_addresses()
    cert, key = folder / SELF_SIGNED_CERT, folder / SELF_SIGNED_KEY
    if (cert.exists() and key.exists() and certificate_valid_for(cert, 86400)
            and {n.lower() for n in names} | set(ips) <= certificate_names(cert)):
        return cert
    folder.mkdir(parents=True, exist_ok=True)
    tmp_cert, tmp_key = cert.with_suffix(".crt.tmp"), key.with_suffix(".key.tmp")
    san = ",".join([f"DNS:{n}" for n in names] + [f"IP:{ip}" for ip in ips])
    common_name = names[1] if len(names) > 1 else names[0]
    made = _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-sha256", "-days", days, "-subj", f"/O=CNN Explorer classroom/CN={common_name}",
        "-keyout", tmp_key, "-out", tmp_cert, "-addext", f"subjectAltName={san}",
        "-addext", "basicConstraints=critical,CA:FALSE",
        "-addext", "keyUsage=critical,digitalSignature",
        "-addext", "extendedKeyUsage=serverAuth", umask=0o077)
    if made.returncode != 0:
        raise RuntimeError(f"openssl could not make a certificate:\n{made.stderr}")
    tmp_cert.chmod(0o644)  # public: students may install it as trusted
    os.replace(tmp_key, key)
    os.replace(tmp_cert, cert)
    return cert


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` with mode 0600, replacing it in one step."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def tls_pem(cfg: ServeConfig) -> Path:
    """Build cfg.pem() (mode 0600): the operator's certificate chain and key if given, checked
    to belong together and to be valid, else the self-signed certificate and its key."""
    if cfg.tls_cert is None and cfg.tls_key is not None:
        raise ValueError("a TLS key needs its certificate (TLS_CERT) too")
    if cfg.tls_cert is not None:
        cert, key = Path(cfg.tls_cert), Path(cfg.tls_key or cfg.tls_cert)
        for path in {cert, key}:
            if not path.is_file():
                raise ValueError(f"no such file: {path}")
        _check_pair(cert, key)
        if not certificate_valid_for(cert):
            raise ValueError(f"the certificate {cert} has expired")
    else:
        cert = self_signed_certificate(cfg.cert_dir())
        key = cert.with_name(SELF_SIGNED_KEY)
    parts = [cert.read_text()] + ([key.read_text()] if key != cert else [])
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    _write_private(cfg.pem(), "\n".join(part.strip() for part in parts) + "\n")
    return cfg.pem()


def certificate_summary(cert: Path) -> str:
    """'SHA-256 fingerprint …, valid until …' of the first certificate in `cert`."""
    out = _openssl("x509", "-in", cert, "-noout", "-fingerprint", "-sha256", "-enddate").stdout
    fields = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    fingerprint = next((v for k, v in fields.items() if "Fingerprint" in k), "?")
    return f"SHA-256 fingerprint {fingerprint}, valid until {fields.get('notAfter', '?')}"


def _template(name: str) -> string.Template:
    return string.Template((TEMPLATES / name).read_text())


# Pieces of haproxy.cfg that depend on the settings (the rest is haproxy.cfg.in).
# Every browser fetches 110-140 files under /static/ as it opens the app (then caches them):
# counted apart (gpc0 counts the others), a class arriving together is not taken for a flood.
_LIMITS = """\
    tcp-request connection track-sc0 src table per_client
    http-request sc-inc-gpc0(0) unless { path_beg /static/ }
    http-request deny deny_status 429 hdr Retry-After 10 if { sc_conn_cur(0) gt $conns }
    http-request deny deny_status 429 hdr Retry-After 10 if { sc_gpc0_rate(0) gt $rate }
    http-request deny deny_status 429 hdr Retry-After 10 if { sc_http_req_rate(0) gt $all_rate }
"""
# Streamlit marks its cookies (_streamlit_xsrf, st.login's) Secure only when it serves TLS
# itself; HAProxy serves it here, so it adds Secure to each Set-Cookie that lacks it.
_SECURE_COOKIES = (
    r"    http-response replace-header Set-Cookie '(?i)^((?:(?!;\s*secure\s*(;|$)).)*)$'"
    r" '\1; Secure'" "\n")
_REDIRECT = """
frontend http_redirect
    # Plain HTTP: the same limits, then the same host and path on the HTTPS port.
    bind $bind:$http_port
${limits}    http-request set-var(txn.host) req.hdr(host),regsub(:[0-9]+$$,)
    acl has_host var(txn.host) -m found
    http-request redirect location https://%[var(txn.host)]:$port%[pathq] code 301 if has_host
    http-request deny deny_status 400
"""


def _haproxy_quoted(name: str, value: object) -> str:
    """A path for haproxy.cfg, in double quotes (spaces allowed; quotes and newlines refused)."""
    return f'"{_check_value(name, str(value))}"'


def render_haproxy(cfg: ServeConfig) -> str:
    """haproxy.cfg for `cfg`: TLS (or plain HTTP), the redirector, per-client limits, replicas."""
    servers = "\n".join(
        f"    server {program_name(i)} 127.0.0.1:{p} cookie {program_name(i)}"
        for i, p in enumerate(cfg.ports(), start=1))
    bind = _check_value("bind", cfg.bind)
    limits = string.Template(_LIMITS).substitute(
        conns=cfg.client_conns, rate=cfg.client_rate, all_rate=cfg.client_all_rate)
    redirect = string.Template(_REDIRECT).substitute(
        bind=bind, http_port=cfg.redirect_port(), port=cfg.port,
        limits=limits) if cfg.redirect_port() else ""
    return _template("haproxy.cfg.in").substitute(
        replicas=cfg.replicas, bind=bind, port=cfg.port,
        tls_bind=f" ssl crt {_haproxy_quoted('pem', cfg.pem().resolve())}" if cfg.tls else "",
        limits=limits, secure_cookies=_SECURE_COOKIES if cfg.tls else "", redirect=redirect,
        cookie_secure=" secure" if cfg.tls else "",
        run_dir=_check_value("run_dir", str(cfg.run_dir.resolve())),
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
    """Write haproxy.cfg, supervisord.conf and (with TLS) tls.pem into cfg.run_dir; return
    their paths."""
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    cfg.runs_dir.mkdir(parents=True, exist_ok=True)
    paths = {"haproxy": cfg.run_dir / "haproxy.cfg",
             "supervisord": cfg.run_dir / "supervisord.conf"}
    if cfg.tls:
        paths["pem"] = tls_pem(cfg)
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


def loopback_tls() -> ssl.SSLContext:
    """TLS for probes on 127.0.0.1, which check that the server answers, not who it is (an
    operator's certificate names the public host, not the loopback address)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    return ctx


def healthy(port: int, timeout: float = 2.0, tls: bool = False) -> bool:
    """Whether 127.0.0.1:port answers /_stcore/health with ok (over HTTPS when `tls`)."""
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}/_stcore/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout,
                                    context=loopback_tls() if tls else None) as resp:
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
    return _wait(cfg, proc, lambda: all(healthy(p) for p in cfg.ports())
                 and healthy(cfg.port, tls=cfg.tls), timeout, "not healthy", 0.5)


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


def client_counters(cfg: ServeConfig) -> dict[str, dict[str, int]]:
    """{client address: its counters} from HAProxy's per-client table, through the stats socket
    (`show table per_client`): conn_cur, gpc0_rate (requests in 10 s besides /static/) and
    http_req_rate (all requests in 10 s)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(str(cfg.run_dir / "haproxy.sock"))
        sock.sendall(b"show table per_client\n")
        out = b"".join(iter(lambda: sock.recv(65536), b"")).decode()
    table = {}
    for line in out.splitlines():
        if match := re.search(r"key=(\S+)", line):
            address = match[1].removeprefix("::ffff:")
            table[address] = {k: int(v) for k, v in re.findall(r"(\w+)(?:\(\d+\))?=(\d+)", line)
                              if k in ("conn_cur", "gpc0_rate", "http_req_rate")}
    return table


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
    ap.add_argument("--port", type=int, default=DEFAULT_PORT,
                    help="the public port: HTTPS, or plain HTTP with --no-tls")
    ap.add_argument("--replicas", type=int, default=os.cpu_count() or 1,
                    help="Streamlit processes (default: the number of cores)")
    ap.add_argument("--backend-port", type=int, default=0,
                    help="first loopback port of the replicas (default: port+1)")
    ap.add_argument("--bind", default="0.0.0.0", help="address HAProxy listens on")
    ap.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR,
                    help="where the configs, logs and sockets go")
    ap.add_argument("--no-prepare", action="store_true",
                    help="do not build the large networks' default weights at start")
    ap.add_argument("--tls", action=argparse.BooleanOptionalAction, default=True,
                    help="HTTPS on --port (default); --no-tls: plain HTTP, no redirector")
    ap.add_argument("--http-port", type=int, default=DEFAULT_HTTP_PORT,
                    help="plain-HTTP port that redirects to HTTPS (0: none)")
    ap.add_argument("--tls-cert", type=Path, default=None,
                    help="the operator's certificate chain, PEM (default: self-signed)")
    ap.add_argument("--tls-key", type=Path, default=None,
                    help="its private key, PEM (default: in --tls-cert)")
    ap.add_argument("--tls-dir", type=Path, default=None,
                    help="folder of the self-signed certificate (default: --run-dir)")
    ap.add_argument("--client-conns", type=int, default=DEFAULT_CLIENT_CONNS,
                    help="connections one client address may hold open; beyond: 429")
    ap.add_argument("--client-rate", type=int, default=DEFAULT_CLIENT_RATE,
                    help="requests one client address may send in 10 s, not counting the app's"
                         " files under /static/; beyond: 429")
    ap.add_argument("--client-all-rate", type=int, default=DEFAULT_CLIENT_ALL_RATE,
                    help="requests one client address may send in 10 s, /static/ included")
    args = ap.parse_args(argv)
    haproxy = find_binary("haproxy")
    if haproxy is None or find_binary("supervisord") is None:
        sys.exit("haproxy and supervisord are needed: `make serve-tools` installs them")
    first = args.backend_port or args.port + 1
    cfg = ServeConfig(port=args.port, replicas=args.replicas, bind=args.bind,
                      backend_ports=tuple(range(first, first + args.replicas)),
                      run_dir=args.run_dir, haproxy=haproxy, prepare=not args.no_prepare,
                      tls=args.tls, http_port=args.http_port, tls_cert=args.tls_cert,
                      tls_key=args.tls_key, tls_dir=args.tls_dir,
                      client_conns=args.client_conns, client_rate=args.client_rate,
                      client_all_rate=args.client_all_rate)
    try:
        paths = write(cfg)
    except (ValueError, RuntimeError) as err:
        sys.exit(f"make serve: {err}")
    print(f"serving {cfg.replicas} Streamlit processes (loopback ports "
          f"{', '.join(map(str, cfg.ports()))}) on {cfg.url(cfg.bind)} through HAProxy; "
          f"runs in {cfg.runs_dir}; logs in {cfg.run_dir}; config {paths['supervisord']}")
    if cfg.tls:
        names, ips = local_addresses()
        hosts = ([*names[1:2], *(f"[{ip}]" if ":" in ip else ip for ip in ips[2:])]
                 if cfg.bind in ("0.0.0.0", "::") else [cfg.bind])
        redirect = (f"; http://…:{cfg.redirect_port()} redirects there"
                    if cfg.redirect_port() else "")
        print(f"students open {' or '.join(cfg.url(h) for h in hosts or ['localhost'])}{redirect}")
        print(f"certificate {cfg.tls_cert or cfg.cert_dir() / SELF_SIGNED_CERT}: "
              f"{certificate_summary(paths['pem'])}")
    print(f"limits per client address: {cfg.client_conns} open connections, "
          f"{cfg.client_rate} requests in 10 s besides /static/ files, {cfg.client_all_rate} "
          f"with them (beyond: 429)")
