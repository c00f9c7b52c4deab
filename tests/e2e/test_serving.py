"""`make serve` in Chromium: two Streamlit processes behind HAProxy, run by supervisord.

Started through the same generated configs and foreground supervisord that `make serve` uses,
on free loopback ports. Shows that a student's upload reaches the process that holds their
session (the photo shows on the page that uses it), and that killing one process leaves the
other process's students working while supervisord starts a new one.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest
from PIL import Image
from playwright.sync_api import Browser, expect

from explorer import images, serving
from tests.e2e.conftest import TIMEOUT_MS, AppDriver, _free_port

PHOTO_PAGE = "Convolution"  # the lesson that works on the shared photo

pytestmark = pytest.mark.skipif(
    not (serving.find_binary("haproxy") and serving.find_binary("supervisord")),
    reason="haproxy and supervisord are not installed and could not be (`make serve-tools` "
           "installs them with apt-get as root, or supervisor with pip)",
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[serving.ServeConfig]:
    tmp = tmp_path_factory.mktemp("serve")
    ports = set()
    while len(ports) < 3:
        ports.add(_free_port())
    port, *backends = sorted(ports)
    cfg = serving.ServeConfig(
        port=port, replicas=2, backend_ports=tuple(backends), bind="127.0.0.1",
        run_dir=tmp / "run", runs_dir=tmp / "runs", haproxy=serving.find_binary("haproxy"),
        check_interval="1s", prepare=False)  # its VGGs are not what this test is about
    proc = serving.start(cfg)
    try:
        serving.wait_healthy(cfg, proc, timeout=90)
        yield cfg
    finally:
        status = serving.stop(proc)
        left = [p for p in serving.replica_pids(cfg).values() if os.path.exists(f"/proc/{p}")]
        assert status == 0 and not left, f"supervisord status {status}; left running: {left}"


def _student(browser: Browser, cfg: serving.ServeConfig, server: str | None = None):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    base = f"http://127.0.0.1:{cfg.port}"
    if server:  # what HAProxy would have set on a first visit that landed there
        context.add_cookies([{"name": serving.COOKIE_NAME, "value": server, "url": base}])
    return context, AppDriver(context.new_page(), base)


def _server_of(app: AppDriver) -> str:
    cookies = {c["name"]: c["value"] for c in app.page.context.cookies()}
    return cookies[serving.COOKIE_NAME]


def test_upload_stays_on_one_process_and_a_dead_process_spares_the_others(
        browser: Browser, stack: serving.ServeConfig, tmp_path):
    cfg = stack
    ctx_a, a = _student(browser, cfg)
    a.open()
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
