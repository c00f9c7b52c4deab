"""Real-browser harness: a live `streamlit run` server driven by Playwright in Chromium.

Every browser test takes the `app` fixture, an `AppDriver` over a fresh browser page of one
session-wide server. Screenshots land in tests/e2e/screenshots/ (git-ignored): open them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from explorer import i18n
from explorer.ui.widgets import GUARD_SENTENCE

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]
TIMEOUT_MS = 60_000

# Every page of every browser context records each exception box, and each guarded section
# that gave up, the moment it appears (a MutationObserver), so a crash that a later rerun
# hides still fails the test: AppDriver.wait() checks after each action, and
# pytest_runtest_call checks once more at the end of every test.
_WATCH_JS = """(() => {
  const seen = window.__explorerProblems = [], marked = new WeakSet();
  const report = (el, kind) => {
    if (marked.has(el)) return;
    marked.add(el);
    const text = `${kind} on ${location.pathname}: ${(el.innerText || "").slice(0, 1500)}`;
    seen.push(text);
    if (window.__explorerProblem) window.__explorerProblem(text);
  };
  const look = () => {
    document.querySelectorAll('[data-testid="stException"]').forEach(
      el => report(el, "exception box"));
    document.querySelectorAll('[data-testid="stAlert"]').forEach(el => {
      if (GUARDS.some(g => (el.innerText || "").includes(g))) {
        report(el, "guarded section gave up");
      }
    });
  };
  new MutationObserver(look).observe(document, {childList: true, subtree: true});
})();"""
_GUARDS = sorted({i18n.translations(lang).gettext(GUARD_SENTENCE) for lang in i18n.LANGUAGES})
_PROBLEMS: list[str] = []  # what watched pages reported during the current test
_CONTEXTS: list[BrowserContext] = []  # the watched contexts still open


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


def chromium_path() -> str | None:
    """Debian's chromium (or $CHROMIUM_PATH); None lets Playwright use its own download."""
    candidates = [os.environ.get("CHROMIUM_PATH"), shutil.which("chromium"),
                  shutil.which("chromium-browser"), "/usr/bin/chromium"]
    return next((c for c in candidates if c and Path(c).exists()), None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_app(extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Run `streamlit run explorer/app.py` on a free localhost port (with `extra_env` on top
    of this process's environment); yield its URL, stop it on exit."""
    port = _free_port()
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 -- must outlive this block
        "w+", suffix=".log", prefix="streamlit-", delete=False
    )
    env = dict(os.environ, PYTHONUNBUFFERED="1", **(extra_env or {}))
    env.setdefault("EXPLORER_RUNS_DIR", tempfile.mkdtemp(prefix="explorer-runs-"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "explorer/app.py",
         "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false", "--server.runOnSave", "false"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.read() == b"ok":
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.seek(0)
            pytest.fail(f"streamlit did not start:\n{log.read()[-3000:]}")
        time.sleep(0.5)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.seek(0)
        server_log = log.read()
        if "Traceback" in server_log:
            print(f"--- streamlit server log (has a traceback) ---\n{server_log[-5000:]}")


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """The app served for the whole test session; yields its URL."""
    with running_app() as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        new_context = browser.new_context

        def watched_context(*args, **kwargs) -> BrowserContext:
            context = new_context(*args, **kwargs)
            context.expose_binding("__explorerProblem",
                                   lambda _source, text: _PROBLEMS.append(text))
            context.add_init_script(_WATCH_JS.replace("GUARDS", json.dumps(_GUARDS)))
            _CONTEXTS.append(context)
            context.on("close", lambda closed: _CONTEXTS.remove(closed))
            return context

        browser.new_context = watched_context  # every context, the fixtures' and the tests'
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _problems_of_this_test() -> Iterator[None]:
    _PROBLEMS.clear()
    yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """After the test body (before its pages close): fail if any page ever showed a problem."""
    result = yield
    for context in list(_CONTEXTS):
        for page in context.pages:
            with contextlib.suppress(Exception):  # a page mid-navigation: its binding reported
                for text in page.evaluate("() => window.__explorerProblems || []"):
                    if text not in _PROBLEMS:
                        _PROBLEMS.append(text)
    if _PROBLEMS:
        pytest.fail("a page showed a problem during this test:\n" + "\n".join(_PROBLEMS),
                    pytrace=False)
    return result


class AppDriver:
    """Drives one browser tab of the app the way a student would."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    # navigation and waiting -------------------------------------------------------------
    def open(self, url_path: str = "", query: str = "") -> AppDriver:
        """Load a page by its url path ('' is home) and wait for its script to finish."""
        self.page.goto(f"{self.base_url}/{url_path}{'?' + query if query else ''}")
        self.page.locator("[data-testid='stMain'] h1").first.wait_for(timeout=TIMEOUT_MS)
        self.wait()
        return self

    def wait(self, settle_ms: int = 300) -> None:
        """Wait until Streamlit says the script has finished its rerun."""
        self.page.wait_for_timeout(250)
        app = self.page.locator("[data-testid='stApp']")
        expect(app).to_have_attribute("data-test-connection-state", "CONNECTED",
                                      timeout=TIMEOUT_MS)
        expect(app).to_have_attribute("data-test-script-state", "notRunning",
                                      timeout=TIMEOUT_MS)
        expect(self.page.locator("[data-stale='true']")).to_have_count(0, timeout=TIMEOUT_MS)
        expect(self.page.locator("[data-testid='stSkeleton']")).to_have_count(0,
                                                                             timeout=TIMEOUT_MS)
        self.page.wait_for_timeout(settle_ms)
        if problems := self.page.evaluate("() => window.__explorerProblems || []"):
            pytest.fail("\n".join(problems), pytrace=False)

    def nav_links(self) -> list[tuple[str, str]]:
        """(label, href) of every page in the sidebar navigation."""
        links = self.page.locator("[data-testid='stSidebarNav'] a")
        if not links.count():  # Streamlit hides the navigation while there is only one page
            return [("Home", self.base_url + "/")]
        return [(links.nth(i).inner_text().strip().splitlines()[-1],
                 links.nth(i).get_attribute("href") or "")
                for i in range(links.count())]

    # checks ------------------------------------------------------------------------------
    def assert_healthy(self) -> None:
        """No exception box on the page and the server still answers."""
        exceptions = self.page.locator("[data-testid='stException']")
        if exceptions.count():
            pytest.fail(f"exception on page: {exceptions.first.inner_text()[:2000]}")
        body = self.page.locator("body").inner_text()
        assert "Traceback (most recent call last)" not in body

    def text(self) -> str:
        return self.page.locator("[data-testid='stMain']").inner_text()

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
        # Streamlit scrolls inside its main container, so a "full page" shot is only the
        # viewport: grow the viewport to the content's height for the shot, then restore it.
        viewport = self.page.viewport_size or {"width": 1440, "height": 1000}
        height = self.page.evaluate(
            "() => Math.max(...['stMain', 'stSidebarContent'].map(id =>"
            " document.querySelector(`[data-testid='${id}']`)?.scrollHeight ?? 0))"
        )
        self.page.set_viewport_size({"width": viewport["width"],
                                     "height": max(viewport["height"], min(height, 8000))})
        self.page.wait_for_timeout(300)
        self.page.screenshot(path=str(path), full_page=True)
        self.page.set_viewport_size(viewport)
        return path

    # widgets -----------------------------------------------------------------------------
    def upload_image(self, path: Path | str) -> None:
        """Upload a file through the shared image uploader in the sidebar."""
        uploader = self.page.locator("[data-testid='stSidebar'] [data-testid='stFileUploader']")
        uploader.locator("input[type='file']").set_input_files(str(path))
        self.wait(settle_ms=800)

    def button(self, label: str) -> None:
        self.page.get_by_role("button", name=label, exact=True).first.click()
        self.wait()

    def widget(self, label: str, testid: str | None = None) -> Locator:
        """The widget container whose label is exactly `label`."""
        sel = f"[data-testid='{testid}']" if testid else "[data-testid^='st']"
        return self.page.locator(sel).filter(
            has=self.page.locator("[data-testid='stWidgetLabel']").get_by_text(label, exact=True)
        ).last

    def select(self, label: str, option: str) -> None:
        """Choose `option` in the selectbox labelled `label`."""
        box = self.widget(label, "stSelectbox")
        # Streamlit 1.67 draws a react-aria combobox; older versions a baseweb select.
        wanted = self.page.get_by_role("option", name=option, exact=True)
        for _attempt in range(3):
            box.locator("[role='combobox'], [data-baseweb='select']").first.click()
            with contextlib.suppress(PlaywrightTimeoutError):
                wanted.wait_for(state="visible", timeout=1000)
                break
            # long lists are virtualised: type to filter the option into view
            self.page.keyboard.type(option)
            with contextlib.suppress(PlaywrightTimeoutError):
                wanted.wait_for(state="visible", timeout=10_000)
                break
            # on a loaded machine the keys can land before the box has the focus: again
            self.page.keyboard.press("Escape")
        wanted.click()
        self.wait()

    def radio(self, label: str, option: str) -> None:
        group = self.widget(label, "stRadio")
        group.locator("label").filter(has_text=re.compile(f"^{re.escape(option)}$")).click()
        self.wait()

    def toggle(self, label: str) -> None:
        self.page.get_by_text(label, exact=True).first.click()
        self.wait()

    def set_number(self, label: str, value: float) -> None:
        box = self.widget(label, "stNumberInput").locator("input")
        box.fill(str(value))
        box.press("Enter")
        self.wait()

    def set_text(self, label: str, value: str) -> None:
        box = self.widget(label, "stTextInput").locator("input")
        box.fill(value)
        box.press("Enter")
        self.wait()

    def set_slider(self, label: str, value: float, thumb: int = 0) -> None:
        """Move a slider's thumb with the keyboard until it shows `value`."""
        handle = self.widget(label, "stSlider").get_by_role("slider").nth(thumb)
        handle.focus()
        for _ in range(500):
            now = float(handle.evaluate("e => e.value ?? e.getAttribute('aria-valuenow')"))
            if now == value:
                break
            handle.press("ArrowRight" if now < value else "ArrowLeft")
        else:
            pytest.fail(f"slider {label!r} never reached {value}")
        self.wait()


@pytest.fixture
def app(browser: Browser, app_url: str) -> Iterator[AppDriver]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield AppDriver(page, app_url)
    context.close()
