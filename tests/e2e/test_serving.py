"""`make serve` in Chromium: two Streamlit processes behind HAProxy, run by supervisord.

Started through the same generated configs and foreground supervisord that `make serve` uses,
on free loopback ports, over HTTPS with the self-signed certificate `make serve` makes. Shows
that the page and its websocket work through TLS, that plain HTTP is redirected there, that a
student's upload reaches the process that holds their session (the photo shows on the page
that uses it), that killing one process leaves the other process's students working while
supervisord starts a new one, and that one client hammering the server is answered 429 while
the others are not.
"""

from __future__ import annotations

import http.client
import os
import signal
import ssl
import time
from collections.abc import Iterator

import pytest
from PIL import Image
from playwright.sync_api import Browser, expect

from explorer import images, serving
from tests.e2e.conftest import TIMEOUT_MS, AppDriver, _free_port

PHOTO_PAGE = "Convolution"  # the lesson that works on the shared photo

pytestmark = pytest.mark.skipif(
    not (serving.find_binary("haproxy") and serving.find_binary("supervisord")
         and serving.find_binary("openssl")),
    reason="haproxy, supervisord and openssl are not all installed and could not be "
           "(`make serve-tools` installs them with apt-get as root, or supervisor with pip)",
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[serving.ServeConfig]:
    tmp = tmp_path_factory.mktemp("serve")
    ports = set()
    while len(ports) < 4:
        ports.add(_free_port())
    port, http_port, *backends = sorted(ports)
    cfg = serving.ServeConfig(
        port=port, http_port=http_port, replicas=2, backend_ports=tuple(backends),
        bind="127.0.0.1", run_dir=tmp / "run", runs_dir=tmp / "runs",
        haproxy=serving.find_binary("haproxy"), check_interval="1s",
        prepare=False)  # its VGGs are not what this test is about
    proc = serving.start(cfg)
    try:
        serving.wait_healthy(cfg, proc, timeout=90)
        yield cfg
    finally:
        status = serving.stop(proc)
        left = [p for p in serving.replica_pids(cfg).values() if os.path.exists(f"/proc/{p}")]
        assert status == 0 and not left, f"supervisord status {status}; left running: {left}"


def _student(browser: Browser, cfg: serving.ServeConfig, server: str | None = None):
    # A student's browser warns about the self-signed certificate once and is told to go on.
    context = browser.new_context(viewport={"width": 1440, "height": 1000},
                                  ignore_https_errors=True)
    context.set_default_timeout(TIMEOUT_MS)
    base = cfg.url()
    if server:  # what HAProxy would have set on a first visit that landed there
        context.add_cookies([{"name": serving.COOKIE_NAME, "value": server, "url": base,
                              "secure": True, "httpOnly": True}])
    return context, AppDriver(context.new_page(), base)


def _server_of(app: AppDriver) -> str:
    cookies = {c["name"]: c["value"] for c in app.page.context.cookies()}
    return cookies[serving.COOKIE_NAME]


def _trusting(cfg: serving.ServeConfig) -> ssl.SSLContext:
    """TLS that trusts the stack's self-signed certificate and checks the names in it."""
    return ssl.create_default_context(cafile=str(cfg.cert_dir() / serving.SELF_SIGNED_CERT))


def _get(port: int, path: str, context: ssl.SSLContext | None = None, host: str = "127.0.0.1",
         source: str = "127.0.0.1") -> http.client.HTTPResponse:
    conn = (http.client.HTTPSConnection(host, port, context=context, timeout=10,
                                        source_address=(source, 0)) if context
            else http.client.HTTPConnection(host, port, timeout=10, source_address=(source, 0)))
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp
    finally:
        conn.close()


def test_https_answers_with_its_certificate_and_plain_http_is_sent_there(stack):
    cfg = stack
    for host in ("localhost", "127.0.0.1"):  # both are named in the certificate
        resp = _get(cfg.port, "/_stcore/health", _trusting(cfg), host)
        assert resp.status == 200
    resp = _get(cfg.port, "/", _trusting(cfg))
    assert resp.status == 200
    cookies = resp.headers.get_all("Set-Cookie") or []
    assert any(c.startswith(f"{serving.COOKIE_NAME}=") for c in cookies)
    health = _get(cfg.port, "/_stcore/health", _trusting(cfg)).headers.get_all("Set-Cookie")
    every = cookies + (health or [])
    assert any(c.startswith("_streamlit_xsrf=") for c in every), every
    for cookie in every:  # Streamlit's own and HAProxy's, each Secure exactly once
        attrs = [a.strip().lower() for a in cookie.split(";")]
        assert attrs.count("secure") == 1, cookie
    # A client that does not trust it refuses the certificate (a browser warns instead) ...
    with pytest.raises(ssl.SSLCertVerificationError):
        _get(cfg.port, "/", ssl.create_default_context())
    with pytest.raises((http.client.HTTPException, OSError)):  # ... and the port is TLS only
        _get(cfg.port, "/")
    resp = _get(cfg.redirect_port(), "/convolution?size=32")
    assert resp.status == 301
    assert resp.headers["Location"] == f"https://127.0.0.1:{cfg.port}/convolution?size=32"


def test_upload_stays_on_one_process_and_a_dead_process_spares_the_others(
        browser: Browser, stack: serving.ServeConfig, tmp_path):
    cfg = stack
    ctx_a, a = _student(browser, cfg)
    a.open()  # through TLS: the page renders only once its websocket has spoken
    assert a.page.url.startswith("https://")
    assert a.page.title() == "CNN Explorer"
    assert a.page.locator("[data-testid='stApp']").get_attribute(
        "data-test-connection-state") == "CONNECTED"
    cookies = {c["name"]: c for c in ctx_a.cookies()}
    assert cookies[serving.COOKIE_NAME]["secure"] and cookies["_streamlit_xsrf"]["secure"]
    server_a = _server_of(a)  # HAProxy chose a process and said so in the cookie
    photo = tmp_path / "my_cat.jpg"
    Image.open(images.sample_images()["Chelsea"]).save(photo, quality=90)
    # The upload is a separate HTTP PUT: without stickiness it would reach a process that
    # does not know this session ("Invalid session_id") and the photo would never show.
    a.upload_image(photo)
    sidebar = a.page.locator("[data-testid='stSidebar']")
    assert "my_cat.jpg · 451×300" in sidebar.inner_text()
    a.page.locator("[data-testid='stSidebarNav'] a").filter(has_text=PHOTO_PAGE).click()
    a.wait()
    a.assert_healthy()
    assert PHOTO_PAGE.split()[0] in a.page.locator("h1").first.inner_text()
    assert "my_cat.jpg · 451×300" in sidebar.inner_text(), "the upload survived navigation"
    assert "my_cat.jpg" in a.text(), "the lesson works on the uploaded photo"
    expect(a.page.locator("[data-testid='stMain'] [data-testid='stImage'] img").first
           ).to_be_visible()
    assert _server_of(a) == server_a
    a.screenshot("serving_upload_on_one_process")

    other = next(serving.program_name(i) for i in (1, 2)
                 if serving.program_name(i) != server_a)
    ctx_b, b = _student(browser, cfg, server=other)
    b.open("", query="size=32&kernel=5&stride=2&padding=2")
    assert _server_of(b) == other
    assert "output [1, 1, 16, 16]" in b.text()

    pids = serving.replica_pids(cfg)
    os.kill(pids[server_a], signal.SIGKILL)  # a crash, not a polite stop

    b.set_slider("Stride", 1)  # B's process never noticed: the page still reruns
    assert "stride=1" in b.page.url
    b.assert_healthy()
    assert _server_of(b) == other
    b.screenshot("serving_other_process_after_a_crash")

    deadline = time.monotonic() + 45  # supervisord starts a new process on the same port
    while time.monotonic() < deadline:
        new_pid = serving.replica_pids(cfg).get(server_a)
        if new_pid and new_pid != pids[server_a] and serving.healthy(
                cfg.ports()[int(server_a.rsplit("-", 1)[1]) - 1]):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"{server_a} was not restarted; see {cfg.run_dir}")
    ctx_a.close()
    ctx_b.close()


def test_one_client_hammering_gets_429_and_the_others_do_not(stack):
    """127.0.0.2 plays a runaway script on the classroom's network, hammering the plain-HTTP
    port (HAProxy answers it itself, so the replicas are not loaded) in a bounded loop; the
    count is per address over both ports, so it is then refused on HTTPS too, while the
    browser of the test above (127.0.0.1) is served."""
    cfg = stack
    try:
        statuses = [_get(cfg.redirect_port(), "/", source="127.0.0.2").status]
    except OSError as err:
        pytest.skip(f"cannot send from 127.0.0.2 ({err}): one loopback address only")
    for _ in range(3 * cfg.client_rate):  # a bound: the limit trips long before
        statuses.append(_get(cfg.redirect_port(), "/", source="127.0.0.2").status)
        if statuses[-1] == 429:
            break
    assert statuses[-1] == 429, f"no 429 after {len(statuses)} requests"
    assert len(statuses) > cfg.client_rate and set(statuses[:-1]) == {301}
    resp = _get(cfg.port, "/_stcore/health", serving.loopback_tls(), source="127.0.0.2")
    assert (resp.status, resp.headers["Retry-After"]) == (429, "10")
    assert _get(cfg.port, "/_stcore/health", serving.loopback_tls()).status == 200
    counters = serving.client_counters(cfg)
    assert counters["127.0.0.2"]["gpc0_rate"] > cfg.client_rate
    assert counters["127.0.0.1"]["gpc0_rate"] < cfg.client_rate
