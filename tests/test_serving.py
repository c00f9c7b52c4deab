"""Config generation for `make serve`: HAProxy and supervisord files from explorer/serving/,
the certificate HAProxy serves, and the per-client limits enforced by a real HAProxy."""

from __future__ import annotations

import configparser
import http.client
import ipaddress
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from explorer import serving

needs_openssl = pytest.mark.skipif(
    not serving.find_binary("openssl"), reason="openssl is not installed (apt-get install "
    "openssl; `make serve-tools` does): no certificate to make or check")
PLACEHOLDER = re.compile(r"\$\{?[A-Za-z_]")  # a string.Template name left unfilled
needs_haproxy = pytest.mark.skipif(
    not serving.find_binary("haproxy"), reason="haproxy is not installed (`make serve-tools`)")


def _cfg(tmp_path: Path, **over) -> serving.ServeConfig:
    base = dict(port=8501, replicas=3, run_dir=tmp_path / "serve", runs_dir=tmp_path / "runs",
                python="/venv/bin/python", cwd=tmp_path, haproxy="/usr/sbin/haproxy")
    return serving.ServeConfig(**{**base, **over})


def _supervisord(cfg: serving.ServeConfig) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.read_string(serving.render_supervisord(cfg, "s3cret"))
    return parser


def test_backend_ports_default_to_the_ports_after_the_public_one(tmp_path):
    assert _cfg(tmp_path).ports() == (8502, 8503, 8504)
    assert _cfg(tmp_path, replicas=2, backend_ports=(9001, 9005)).ports() == (9001, 9005)


@pytest.mark.parametrize("over", [
    {"replicas": 0},
    {"replicas": 2, "backend_ports": (9001,)},
    {"replicas": 2, "backend_ports": (8501, 9001)},
    {"replicas": 2, "backend_ports": (9001, 9001)},
    {"port": 70000},
])
def test_bad_port_layouts_are_refused(tmp_path, over):
    with pytest.raises(ValueError):
        _cfg(tmp_path, **over).ports()


def _section(text: str, header: str) -> list[str]:
    """The stripped lines of one haproxy.cfg section, comments left out."""
    lines = text.splitlines()
    start = lines.index(header) + 1
    end = next((i for i in range(start, len(lines)) if lines[i] and not lines[i][0].isspace()),
               len(lines))
    return [line.strip() for line in lines[start:end]
            if line.strip() and not line.strip().startswith("#")]


def test_haproxy_is_sticky_by_cookie_health_checked_and_lists_every_replica(tmp_path):
    text = serving.render_haproxy(_cfg(tmp_path, bind="127.0.0.1"))
    lines = [line.strip() for line in text.splitlines()]
    backend = _section(text, "backend streamlit")
    assert f"cookie {serving.COOKIE_NAME} insert indirect nocache httponly secure" in backend
    assert "option httpchk GET /_stcore/health" in backend
    assert "option redispatch" in lines
    assert "balance leastconn" in backend
    # Source addresses count for the limits only, never for choosing a process.
    assert not any(line.startswith(("balance source", "stick")) for line in backend)
    servers = [line for line in lines if line.startswith("server ")]
    assert servers == [f"server streamlit-{i} 127.0.0.1:{8501 + i} cookie streamlit-{i}"
                       for i in (1, 2, 3)]
    assert not PLACEHOLDER.search(text), "every template placeholder is filled"


def test_https_on_the_port_with_secure_cookies_and_a_redirect_from_plain_http(tmp_path):
    cfg = _cfg(tmp_path, bind="127.0.0.1", http_port=8080)
    text = serving.render_haproxy(cfg)
    front = _section(text, "frontend classroom")
    assert front[0] == f'bind 127.0.0.1:8501 ssl crt "{cfg.run_dir.resolve()}/tls.pem"'
    # Streamlit's own cookies get Secure here (it sets it only when it serves TLS itself).
    assert any(line.startswith("http-response replace-header Set-Cookie") and
               line.endswith("'\\1; Secure'") for line in front)
    redirect = _section(text, "frontend http_redirect")
    assert redirect[0] == "bind 127.0.0.1:8080"
    assert any(line.startswith("http-request redirect location https://%[var(txn.host)]:8501"
                               "%[pathq] code 301") for line in redirect)
    assert "Strict-Transport-Security" not in text  # see docs/serving.md: no HSTS
    assert not PLACEHOLDER.search(text)


@pytest.mark.parametrize("tls", [True, False])
def test_the_app_hears_the_clients_address_from_haproxy_only(tmp_path, tls):
    """Streamlit's st.context.headers gives the first X-Forwarded-For: appending one
    (`option forwardfor`) would leave a client's own first; set-header replaces them all."""
    front = _section(serving.render_haproxy(_cfg(tmp_path, tls=tls)), "frontend classroom")
    assert "http-request set-header X-Forwarded-For %[src]" in front
    assert not any("forwardfor" in line for line in front)


def test_tls_off_serves_plain_http_on_the_port_and_nothing_else(tmp_path):
    text = serving.render_haproxy(_cfg(tmp_path, tls=False, http_port=8080))
    front = _section(text, "frontend classroom")
    assert front[0] == "bind 0.0.0.0:8501"
    assert not any("Set-Cookie" in line for line in front)
    assert "frontend http_redirect" not in text and "ssl crt" not in text
    assert f"cookie {serving.COOKIE_NAME} insert indirect nocache httponly" in _section(
        text, "backend streamlit")
    assert _cfg(tmp_path, tls=False).url("h") == "http://h:8501"
    assert _cfg(tmp_path).url("h") == "https://h:8501"


def test_both_frontends_track_every_client_address_and_answer_429_beyond_the_limits(tmp_path):
    cfg = _cfg(tmp_path, client_conns=7, client_rate=11, client_all_rate=13)
    text = serving.render_haproxy(cfg)
    table = _section(text, "backend per_client")
    assert table == ["stick-table type ipv6 size 100k expire 60s "
                     "store conn_cur,gpc0_rate(10s),http_req_rate(10s)"]
    for header in ("frontend classroom", "frontend http_redirect"):
        lines = _section(text, header)
        assert "tcp-request connection track-sc0 src table per_client" in lines
        assert "http-request sc-inc-gpc0(0) unless { path_beg /static/ }" in lines
        deny = "http-request deny deny_status 429 hdr Retry-After 10 if "
        assert deny + "{ sc_conn_cur(0) gt 7 }" in lines
        assert deny + "{ sc_gpc0_rate(0) gt 11 }" in lines
        assert deny + "{ sc_http_req_rate(0) gt 13 }" in lines
        # The limits come before anything is answered or forwarded.
        assert lines.index(deny + "{ sc_http_req_rate(0) gt 13 }") < min(
            i for i, line in enumerate(lines)
            if line.startswith(("default_backend", "http-request redirect")))
    defaults = serving.ServeConfig()
    assert (defaults.client_conns, defaults.client_rate, defaults.client_all_rate) == (
        1000, 3000, 20000)  # docs/serving.md's figures


@pytest.mark.parametrize("over", [
    {"http_port": 8502},  # a replica's port
    {"http_port": 8501},
    {"client_rate": 0},
])
def test_bad_redirect_ports_and_limits_are_refused(tmp_path, over):
    with pytest.raises(ValueError):
        _cfg(tmp_path, **over).ports()


def test_the_redirect_port_is_free_to_clash_when_there_is_no_redirector(tmp_path):
    assert _cfg(tmp_path, tls=False, http_port=8502).ports() == (8502, 8503, 8504)
    cfg = _cfg(tmp_path, http_port=0)
    assert cfg.redirect_port() is None
    assert "frontend http_redirect" not in serving.render_haproxy(cfg)


def test_supervisord_runs_haproxy_and_every_replica_with_the_same_environment(tmp_path):
    cfg = _cfg(tmp_path)
    conf = _supervisord(cfg)
    assert conf.get("supervisord", "nodaemon") == "true"
    assert conf.get("program:haproxy", "command") == (
        f"/usr/sbin/haproxy -db -f {cfg.run_dir.resolve()}/haproxy.cfg")
    assert conf.get("group:streamlit", "programs") == "streamlit-1,streamlit-2,streamlit-3"
    for i, port in enumerate(cfg.ports(), start=1):
        section = f"program:streamlit-{i}"
        command = conf.get(section, "command").split()
        assert command[:5] == ["/venv/bin/python", "-m", "streamlit", "run", "explorer/app.py"]
        flags = dict(zip(command[5::2], command[6::2], strict=True))
        assert flags == {"--server.headless": "true", "--server.address": "127.0.0.1",
                         "--server.port": str(port), "--server.fileWatcherType": "none",
                         "--browser.gatherUsageStats": "false"}
        assert conf.get(section, "autorestart") == "true"
        assert conf.get(section, "stopasgroup") == "true"
        env = conf.get(section, "environment")
        assert f'EXPLORER_RUNS_DIR="{(tmp_path / "runs").resolve()}"' in env
        assert 'STREAMLIT_SERVER_COOKIE_SECRET="s3cret"' in env
        assert f'OMP_NUM_THREADS="{cfg.threads()}"' in env
        assert 'MALLOC_ARENA_MAX="2"' in env
    assert not PLACEHOLDER.search(serving.render_supervisord(cfg, "s3cret"))


def test_the_store_is_prepared_once_at_start_unless_asked_not_to(tmp_path):
    cfg = _cfg(tmp_path)
    conf = _supervisord(cfg)
    assert conf.get("program:prepare", "command") == "/venv/bin/python -m explorer.serving.prepare"
    assert conf.get("program:prepare", "autorestart") == "false"  # it exits when done
    assert conf.get("program:prepare", "startsecs") == "0"  # a quick exit is a success
    env = conf.get("program:prepare", "environment")
    assert f'EXPLORER_RUNS_DIR="{(tmp_path / "runs").resolve()}"' in env  # the replicas' store
    assert 'OMP_NUM_THREADS="1"' in env
    assert not _supervisord(_cfg(tmp_path, prepare=False)).has_section("program:prepare")
    assert not PLACEHOLDER.search(serving.render_supervisord(_cfg(tmp_path, prepare=False), "x"))


def test_replicas_share_the_cores_out_as_torch_threads(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert [_cfg(tmp_path, replicas=n).threads() for n in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    assert _cfg(tmp_path, replicas=2, torch_threads=3).threads() == 3


def test_percent_signs_stay_literal_for_supervisord_and_quotes_are_refused(tmp_path):
    conf = _supervisord(_cfg(tmp_path, runs_dir=tmp_path / "100%runs"))
    assert "100%%runs" in conf.get("program:streamlit-1", "environment")
    with pytest.raises(ValueError):
        serving.render_supervisord(_cfg(tmp_path, runs_dir=tmp_path / 'a"b'), "x")
    with pytest.raises(ValueError):
        serving.render_haproxy(_cfg(tmp_path, bind="0.0.0.0\n    server evil 1.2.3.4:80"))


@needs_openssl
def test_write_keeps_one_private_cookie_secret_across_restarts(tmp_path):
    cfg = _cfg(tmp_path)
    paths = serving.write(cfg)
    assert paths["haproxy"].read_text() == serving.render_haproxy(cfg)
    secret = (cfg.run_dir / "cookie_secret").read_text().strip()
    assert len(secret) == 64
    assert (cfg.run_dir / "cookie_secret").stat().st_mode & 0o077 == 0
    serving.write(cfg)
    assert (cfg.run_dir / "cookie_secret").read_text().strip() == secret
    assert secret in paths["supervisord"].read_text()
    assert (tmp_path / "runs").is_dir()


@needs_haproxy
@needs_openssl
@pytest.mark.parametrize("tls", [True, False])
def test_haproxy_accepts_the_generated_config(tmp_path, tls):
    cfg = _cfg(tmp_path, haproxy=serving.find_binary("haproxy"), tls=tls)
    path = serving.write(cfg)["haproxy"]
    check = subprocess.run([cfg.haproxy, "-c", "-f", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "WARNING" not in check.stdout + check.stderr, check.stdout + check.stderr


# --- the certificate ----------------------------------------------------------------------------


def _openssl(*args: object, cwd: Path | None = None) -> None:
    subprocess.run([serving.find_binary("openssl"), *map(str, args)], check=True, cwd=cwd,
                   capture_output=True)


def _operator_pair(folder: Path, name: str = "op") -> tuple[Path, Path]:
    """A certificate and key such as an operator would bring (here: self-signed by openssl)."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", 30, "-subj", "/CN=explorer.school.example", "-keyout", key,
             "-out", cert)
    return cert, key


def _expired_pair(folder: Path) -> tuple[Path, Path]:
    """A certificate valid only on 1-2 January 2020 (`openssl ca` accepts such dates)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.txt").touch()
    (folder / "serial").write_text("01\n")
    (folder / "ca.cnf").write_text(
        "[ca]\ndefault_ca = old\n[old]\ndatabase = index.txt\nnew_certs_dir = .\n"
        "serial = serial\ndefault_md = sha256\npolicy = any\n[any]\ncommonName = supplied\n")
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-subj", "/CN=old", "-keyout", "old.key", "-out", "old.csr", cwd=folder)
    _openssl("ca", "-config", "ca.cnf", "-selfsign", "-keyfile", "old.key", "-in", "old.csr",
             "-out", "old.crt", "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
             "-batch", "-notext", cwd=folder)
    return folder / "old.crt", folder / "old.key"


def test_local_addresses_are_this_machines_names_without_link_local_ones():
    names, ips = serving.local_addresses()
    assert names[0] == "localhost"
    host = socket.gethostname()
    if host != "localhost" and "_" not in host:
        assert host in names
    assert ips[:2] == ["127.0.0.1", "::1"]
    parsed = [ipaddress.ip_address(ip) for ip in ips]
    assert not any(ip.is_link_local for ip in parsed)
    assert len(set(parsed)) == len(parsed)


@needs_openssl
def test_a_self_signed_certificate_names_this_machine_and_is_kept_across_restarts(tmp_path):
    cfg = _cfg(tmp_path)
    pem = serving.write(cfg)["pem"]
    cert = cfg.run_dir / serving.SELF_SIGNED_CERT
    key = cfg.run_dir / serving.SELF_SIGNED_KEY
    names, ips = serving.local_addresses()
    assert {"localhost", "127.0.0.1", *names, *ips} <= serving.certificate_names(cert)
    assert serving.certificate_valid_for(cert, 300 * 86400)
    assert key.stat().st_mode & 0o077 == 0 and pem.stat().st_mode & 0o077 == 0
    assert pem.read_text() == cert.read_text().strip() + "\n" + key.read_text().strip() + "\n"
    # Python's ssl (OpenSSL) accepts it as its own trust anchor for the names it lists.
    ssl.create_default_context(cafile=str(cert))
    before = cert.read_bytes()
    serving.write(cfg)
    assert cert.read_bytes() == before, "a restart reuses the certificate students accepted"


@needs_openssl
def test_the_self_signed_certificate_is_made_again_when_missing_expiring_or_outdated(
        tmp_path, monkeypatch):
    cfg = _cfg(tmp_path, tls_dir=tmp_path / "certs")
    serving.write(cfg)
    cert = tmp_path / "certs" / serving.SELF_SIGNED_CERT
    assert cert.exists() and not (cfg.run_dir / serving.SELF_SIGNED_CERT).exists()
    first = cert.read_bytes()
    (tmp_path / "certs" / serving.SELF_SIGNED_KEY).unlink()
    serving.write(cfg)
    second = cert.read_bytes()
    assert second != first
    # One valid for less than a day is replaced before it lapses in the middle of a lesson.
    short, short_key = _operator_pair(tmp_path / "short")
    _openssl("req", "-x509", "-key", short_key, "-days", 1, "-subj", "/CN=localhost",
             "-out", short)
    shutil.copy(short, cert)
    shutil.copy(short_key, tmp_path / "certs" / serving.SELF_SIGNED_KEY)
    serving.write(cfg)
    assert serving.certificate_valid_for(cert, 300 * 86400)
    third = cert.read_bytes()
    # The machine got a new address (a classroom's DHCP): the certificate must name it.
    names, ips = serving.local_addresses()
    monkeypatch.setattr(serving, "local_addresses", lambda: (names, [*ips, "10.11.12.13"]))
    serving.write(cfg)
    assert cert.read_bytes() != third
    assert "10.11.12.13" in serving.certificate_names(cert)


@needs_openssl
def test_an_operators_certificate_and_key_become_one_private_pem(tmp_path):
    cert, key = _operator_pair(tmp_path / "op")
    cfg = _cfg(tmp_path, tls_cert=cert, tls_key=key)
    pem = serving.write(cfg)["pem"]
    assert pem.read_text() == cert.read_text().strip() + "\n" + key.read_text().strip() + "\n"
    assert pem.stat().st_mode & 0o077 == 0
    assert not (cfg.run_dir / serving.SELF_SIGNED_CERT).exists()
    # A PEM that already holds both is taken as it is.
    both = tmp_path / "both.pem"
    both.write_text(cert.read_text() + key.read_text())
    assert serving.write(_cfg(tmp_path, tls_cert=both))["pem"].read_text().count("BEGIN") == 2


@needs_openssl
def test_a_wrong_key_a_lone_key_a_missing_file_or_an_expired_certificate_is_refused(tmp_path):
    cert, _ = _operator_pair(tmp_path / "a")
    _, other_key = _operator_pair(tmp_path / "b")
    old_cert, old_key = _expired_pair(tmp_path / "old")
    for over, message in [({"tls_cert": cert, "tls_key": other_key}, "is not the key"),
                          ({"tls_key": other_key}, "needs its certificate"),
                          ({"tls_cert": tmp_path / "nope.pem"}, "no such file"),
                          ({"tls_cert": cert}, "not a PEM private key"),
                          ({"tls_cert": old_cert, "tls_key": old_key}, "has expired")]:
        with pytest.raises(ValueError, match=message):
            serving.write(_cfg(tmp_path, **over))


# --- the limits, enforced by a real HAProxy ----------------------------------------------------


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def _get(port: int, path: str, tls: bool, source: str = "127.0.0.1"
         ) -> tuple[int, dict[str, str]]:
    """GET 127.0.0.1:port/path from the loopback address `source` -> (status, headers)."""
    kwargs = {"timeout": 5, "source_address": (source, 0)}
    conn = (http.client.HTTPSConnection("127.0.0.1", port, context=serving.loopback_tls(),
                                        **kwargs)
            if tls else http.client.HTTPConnection("127.0.0.1", port, **kwargs))
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def loopback_clients() -> None:
    """Skip unless this machine can speak from 127.0.0.2 and 127.0.0.3 (Linux routes all of
    127/8 to loopback), the distinct client addresses these tests need."""
    for address in ("127.0.0.2", "127.0.0.3"):
        with socket.socket() as sock:
            try:
                sock.bind((address, 0))
            except OSError as err:
                pytest.skip(f"cannot send from {address} ({err}): one client address only")


def wait_for(predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@needs_haproxy
@needs_openssl
def test_haproxy_answers_429_past_each_limit_for_that_client_only(tmp_path):
    """HAProxy alone, with the generated config and tiny limits, in front of replicas that do
    not run (under the limits it answers 503, or 301 on the plain-HTTP port); three loopback
    addresses play three clients."""
    loopback_clients()
    port, http_port, *backends = _free_ports(4)
    cfg = _cfg(tmp_path, port=port, http_port=http_port, backend_ports=tuple(backends),
               replicas=2, bind="127.0.0.1", haproxy=serving.find_binary("haproxy"),
               client_conns=3, client_rate=5, client_all_rate=12)
    serving.write(cfg)
    proc = subprocess.Popen([cfg.haproxy, "-db", "-f", str(cfg.run_dir / "haproxy.cfg")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    socks: list[socket.socket] = []
    try:
        def up() -> bool:
            assert proc.poll() is None, proc.stdout.read().decode()
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", port)) == 0

        wait_for(up, "haproxy did not start")
        # 127.0.0.1: static files are not in the count of 5 requests in 10 s; other requests
        # are, over HTTPS and plain HTTP together; the 6th is answered 429.
        assert [_get(port, "/static/app.js", tls=True)[0] for _ in range(4)] == [503] * 4
        statuses = [_get(port, "/", tls=True)[0] for _ in range(3)]
        statuses += [_get(http_port, "/x", tls=False)[0] for _ in range(2)]
        assert statuses == [503, 503, 503, 301, 301]
        status, headers = _get(port, "/", tls=True)
        assert (status, headers.get("retry-after")) == (429, "10")
        assert _get(http_port, "/x", tls=False)[0] == 429
        counters = serving.client_counters(cfg)["127.0.0.1"]
        assert (counters["gpc0_rate"], counters["http_req_rate"]) == (7, 11)
        # 127.0.0.2 is not held back by 127.0.0.1, and has 12 requests of any kind.
        assert [_get(port, "/static/a.js", True, "127.0.0.2")[0] for _ in range(12)] == [503] * 12
        assert _get(port, "/static/a.js", True, "127.0.0.2")[0] == 429
        # 127.0.0.3 holds 3 connections open; a 4th gets 429 until one closes.
        for _ in range(3):
            sock = socket.socket()
            sock.bind(("127.0.0.3", 0))
            sock.connect(("127.0.0.1", http_port))
            socks.append(sock)
        wait_for(lambda: serving.client_counters(cfg).get("127.0.0.3", {}).get("conn_cur") == 3,
                 "HAProxy did not count 127.0.0.3's connections")
        assert _get(http_port, "/x", False, "127.0.0.3")[0] == 429
        socks.pop().close()
        wait_for(lambda: serving.client_counters(cfg)["127.0.0.3"]["conn_cur"] == 2,
                 "HAProxy did not see the connection close")
        assert _get(http_port, "/x", False, "127.0.0.3")[0] == 301
    finally:
        for sock in socks:
            sock.close()
        proc.terminate()
        proc.wait(10)


@needs_openssl
def test_cli_writes_the_configs(tmp_path):
    if not (serving.find_binary("haproxy") and serving.find_binary("supervisord")):
        pytest.skip("haproxy / supervisord not installed (make serve-tools)")
    run = [sys.executable, "-m", "explorer.serving", "--port", "9100", "--replicas", "2",
           "--run-dir", str(tmp_path), "--no-prepare", "--http-port", "9080",
           "--client-rate", "1234"]
    env = {**os.environ, "EXPLORER_RUNS_DIR": str(tmp_path / "runs")}
    out = subprocess.run(run, capture_output=True, text=True, check=True, env=env).stdout
    assert "9101, 9102" in out
    assert "https://" in out and "redirects there" in out and "SHA-256 fingerprint" in out
    assert "1234 requests in 10 s" in out
    assert (tmp_path / "supervisord.conf").exists() and (tmp_path / "haproxy.cfg").exists()
    conf = (tmp_path / "supervisord.conf").read_text()
    assert f'EXPLORER_RUNS_DIR="{tmp_path / "runs"}"' in conf
    assert "[program:prepare]" not in conf
    assert "bind 0.0.0.0:9080" in (tmp_path / "haproxy.cfg").read_text()
    out = subprocess.run([*run, "--no-tls"], capture_output=True, text=True, check=True,
                         env=env).stdout
    assert "on http://0.0.0.0:9100" in out and "ssl crt" not in (
        tmp_path / "haproxy.cfg").read_text()
    bad = subprocess.run([*run, "--tls-key", str(tmp_path / "k.pem")], capture_output=True,
                         text=True, env=env)
    assert bad.returncode != 0 and "needs its certificate" in bad.stderr


@pytest.mark.skipif(not shutil.which("make"), reason="make is not installed")
def test_make_run_listens_on_loopback_unless_asked():
    def command(*args: str) -> str:
        out = subprocess.run(["make", "-n", "run", *args], capture_output=True, text=True,
                             cwd=serving.REPO_ROOT, check=True).stdout
        return " ".join(out.replace("\\\n", " ").split())

    assert "streamlit run explorer/app.py --server.port 8501 --server.address 127.0.0.1" in (
        command())
    assert "--server.address 0.0.0.0" in command("ADDRESS=0.0.0.0")
