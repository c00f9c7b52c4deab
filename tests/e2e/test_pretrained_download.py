"""The ImageNet download in Chromium: a progress bar while a school's mirror (a slow local
HTTP server on 127.0.0.1) sends the file, then the hash check refuses a wrong file in one
sentence and leaves nothing in the torch hub cache; a wrong file already in the cache is
refused in one sentence too. Neither names a folder of the server's. Nothing here reaches the
internet."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import TIMEOUT_MS, AppDriver, running_app

FILE = "resnet18-f37072fd.pth"  # the name torchvision publishes; our bytes will not match it
SIZE = 3 * 2**20


class _SlowMirror(http.server.BaseHTTPRequestHandler):
    """Sends SIZE bytes of zeros for any file, 64 kB every 50 ms (about 2.5 s in all)."""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(SIZE))
        self.end_headers()
        chunk = bytes(2**16)
        for _ in range(SIZE // len(chunk)):
            self.wfile.write(chunk)
            time.sleep(0.05)


@pytest.fixture(scope="module")
def mirror_app(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """The app with its own torch hub folder and $EXPLORER_WEIGHTS_URL at the slow mirror."""
    torch_home = tmp_path_factory.mktemp("torch-home")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowMirror)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {"TORCH_HOME": str(torch_home),
           "EXPLORER_WEIGHTS_URL": f"http://127.0.0.1:{server.server_port}/models"}
    try:
        with running_app(env) as url:
            yield url, torch_home / "hub" / "checkpoints"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def mirror_page(browser: Browser, mirror_app) -> Iterator[AppDriver]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    yield AppDriver(context.new_page(), mirror_app[0])
    context.close()


def test_download_shows_progress_and_refuses_a_wrong_file(mirror_page, mirror_app):
    app, checkpoints = mirror_page, mirror_app[1]
    app.open("feature-maps")  # the page's default settings: ResNet-18, random weights
    app.assert_healthy()
    button = app.page.get_by_role("button", name="Download ImageNet weights (45 MB)")
    expect(button).to_be_visible()
    assert "Random weights: this network has learned nothing" in app.text()
    button.click()
    app.page.mouse.move(1400, 980)  # off the button: its tooltip would cover the choices
    progress = app.page.locator("[data-testid='stProgress']").filter(
        has_text=f"Downloading {FILE}:")
    expect(progress).to_contain_text(" of 3.0 MB", timeout=20_000)
    app.page.wait_for_timeout(800)
    app.screenshot("download_progress")
    error = app.page.locator("[data-testid='stAlert']").filter(has_text="refused and removed")
    expect(error).to_be_visible(timeout=30_000)
    app.wait()
    message = error.inner_text()
    assert f"Downloading {FILE} from http://127.0.0.1:" in message
    assert "copy the file into the checkpoints folder of the server's torch hub cache" in message
    assert str(checkpoints.parent) not in message, "students never see the server's folders"
    app.screenshot("download_refused")
    assert not checkpoints.exists() or not any(checkpoints.iterdir()), \
        "neither the refused file nor a partial one is left behind"
    assert "Random weights: this network has learned nothing" in app.text()
    app.assert_healthy()


def test_a_wrong_file_in_the_cache_is_refused_in_one_sentence(mirror_page, mirror_app):
    app, checkpoints = mirror_page, mirror_app[1]
    checkpoints.mkdir(parents=True, exist_ok=True)
    (checkpoints / FILE).write_bytes(b"not the published weights")  # swapped in by hand
    try:
        app.open("feature-maps")
        app.assert_healthy()
        warning = app.page.locator("[data-testid='stAlert']").filter(has_text="was not loaded")
        expect(warning).to_be_visible()
        message = warning.inner_text()
        assert f"The weights file {FILE} on this server does not match its SHA-256" in message
        assert "press the download button to fetch it again" in message
        assert str(checkpoints.parent) not in message
        expect(app.page.get_by_role("button", name="Download ImageNet weights (45 MB)")
               ).to_be_visible()
        assert "Random weights: this network has learned nothing" in app.text()
        app.screenshot("cached_file_refused")
    finally:
        (checkpoints / FILE).unlink()
