"""axe-core on every page: no serious or critical WCAG 2.x A/AA violation beyond the ones
docs/accessibility.md lists as Streamlit's own markup, each with its reason.

Every page, the teacher's room included, in English and in Chinese, at 1440 px and on a 390 px
phone: all four combinations. One server and one browser; one tab per language (the language
is the session's, from `?lang=`). Each page is loaded once per tab and checked at the width the
tab has, then the tab is resized (`set_viewport_size`) and checked again, so the next page
loads at the other width: half the pages open fresh on a phone, as a phone opens them. The
tabs take turns: while axe reads one tab's page, the server draws the other's next one.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from explorer import i18n
from explorer.ui import navigation
from tests.conftest import TEACHER_PASSPHRASE
from tests.e2e.conftest import TIMEOUT_MS, AppDriver

REPO_ROOT = Path(__file__).resolve().parents[2]
AXE = REPO_ROOT / "build" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
DOC = REPO_ROOT / "docs" / "accessibility.md"
PAGES = ["", *(spec.url_path for spec in navigation.LESSONS)]  # "": home
TEACHER_PAGES = [spec.url_path for spec in navigation.TEACHER_PAGES]
LANGUAGES = ("en", "zh")
WIDTHS = (1440, 390)
HEIGHT = 1000
RULES = {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}

# Each violation's nodes come back with the data-testids of their ancestors (Streamlit marks
# its elements with them), and whether they sit in a disabled widget.
# Started on the page's next task (`_START` returns at once), `_RESULT` waits for it.
_START = """(runOnly) => { window.__axeRun = new Promise(go => setTimeout(go, 0)).then(
  () => axe.run(document, {runOnly, resultTypes: ['violations'], elementRef: true})
).then(result => result.violations
  .filter(v => ['serious', 'critical'].includes(v.impact)).map(v => ({
    id: v.id, impact: v.impact,
    nodes: v.nodes.map(n => {
      const el = n.element;
      const ids = [];
      for (let e = el; e; e = e.parentElement) {
        if (e.dataset && e.dataset.testid) ids.push(e.dataset.testid);
      }
      const widget = el && el.closest('[data-testid="stElementContainer"]');
      const disabled = !!(widget && widget.querySelector('[disabled], [aria-disabled="true"]'));
      return {html: n.html.slice(0, 200), ids, disabled};
    })}))); }"""
_RESULT = "() => window.__axeRun"
# After a resize: two frames laid out; then whether the sidebar is open (has a width).
_LAID_OUT = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
_SIDEBAR_OPEN = """() => (document.querySelector('[data-testid="stSidebar"]')
                          ?.getBoundingClientRect().width ?? 0) > 0"""


def listed() -> set[tuple[str, str]]:
    """(rule, data-testid it sits inside) of every row of the doc's table of Streamlit's own."""
    return set(re.findall(r"^\| `([\w-]+)` \| `(\w+)` \|", DOC.read_text(), re.M))


def unlisted(violations: list[dict], allowed: set[tuple[str, str]]) -> list[str]:
    """One line per node that no listed row covers."""
    lines = []
    for v in violations:
        for node in v["nodes"]:
            if any((v["id"], testid) in allowed for testid in node["ids"]):
                continue
            if v["id"] == "color-contrast" and node["disabled"]:  # WCAG 1.4.3: inactive control
                continue
            lines.append(f"{v['id']} ({v['impact']}): {node['html']}")
    return lines


class Tab:
    """One language's browser tab: loads pages, checks them at both widths."""

    def __init__(self, context: BrowserContext, base_url: str, lang: str,
                 allowed: set[tuple[str, str]]) -> None:
        self.app = AppDriver(context.new_page(), base_url)
        self.lang, self.allowed, self.width = lang, allowed, WIDTHS[0]
        self.found: list[str] = []
        self.checked: set[tuple[str, int]] = set()

    def load(self, page: str) -> None:
        """Start loading `page` (its script runs on the server while we look elsewhere)."""
        self.app.page.goto(f"{self.app.base_url}/{page}?lang={self.lang}", wait_until="commit")
        self.page_name = page or "home"

    def ready(self) -> None:
        """Wait until the loaded page has drawn."""
        self.app.page.locator("[data-testid='stMain'] h1").first.wait_for(timeout=TIMEOUT_MS)
        self.app.wait()

    def resize(self, width: int | None = None) -> None:
        """To `width`, or else to the other of WIDTHS."""
        self.width = width or (WIDTHS[1] if self.width == WIDTHS[0] else WIDTHS[0])
        self.app.page.set_viewport_size({"width": self.width, "height": HEIGHT})
        self.app.page.evaluate(_LAID_OUT)  # no rerun comes: laid out is enough
        self.app.page.wait_for_timeout(150)  # the charts' resize observers redraw them
        if self.width >= 1000:  # grown from a phone the sidebar may stay shut
            button = self.app.page.get_by_test_id("stExpandSidebarButton")
            if button.is_visible():
                with contextlib.suppress(PlaywrightTimeoutError):  # it may open by itself
                    button.click(timeout=2_000)
                    self.app.page.wait_for_timeout(300)  # it slides in
            self.app.page.wait_for_function(_SIDEBAR_OPEN)

    def start(self) -> None:
        """Start axe on what the tab shows now."""
        self.app.page.evaluate(_START, RULES)

    def collect(self, where: str = "") -> None:
        """axe's findings that no listed row covers go to `found`."""
        violations = self.app.page.evaluate(_RESULT)
        self.checked.add((self.page_name, self.width))
        self.found += [f"{self.page_name}{where} ({self.lang}, {self.width} px): {line}"
                       for line in unlisted(violations, self.allowed)]

    def check(self, where: str = "") -> None:
        self.start()
        self.collect(where)

    def check_open_sidebar_on_a_phone(self) -> None:
        """The phone's sidebar, opened over the page (the photo picker lives there)."""
        if self.width != WIDTHS[1]:
            self.resize(WIDTHS[1])
        self.app.page.get_by_test_id("stExpandSidebarButton").click()
        self.app.wait(settle_ms=400)  # it slides in
        self.check(" with the sidebar open")
        self.app.page.get_by_test_id("stSidebarCollapseButton").click()

    def sign_in_as_teacher(self) -> None:
        if self.width != WIDTHS[0]:
            self.resize(WIDTHS[0])
        words = i18n.translations(self.lang).gettext
        sidebar = self.app.page.get_by_test_id("stSidebar")
        sidebar.get_by_text(words("Teacher"), exact=True).click()
        sidebar.get_by_label(words("Teacher passphrase")).fill(TEACHER_PASSPHRASE)
        sidebar.get_by_role("button", name=words("Sign in as the teacher")).click()
        self.app.wait()


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `make axe` (needs Node.js's npm)")
    return AXE.read_text()


def test_every_page_passes_axe_in_both_languages_at_both_widths(
        browser: Browser, app_url: str, axe_source: str) -> None:
    allowed = listed()
    assert allowed, "docs/accessibility.md lists nothing: the table's format changed?"
    contexts, tabs = [], []
    try:
        for lang in LANGUAGES:
            context = browser.new_context(viewport={"width": WIDTHS[0], "height": HEIGHT})
            context.set_default_timeout(TIMEOUT_MS)
            context.add_init_script(axe_source)  # in every document the tab loads
            contexts.append(context)
            tabs.append(Tab(context, app_url, lang, allowed))
        walk = PAGES + TEACHER_PAGES
        for tab in tabs:
            tab.load(walk[0])
        for i, page in enumerate(walk):
            for tab in tabs:  # while one tab is checked, the server draws the other's page
                tab.ready()
                tab.check()
                tab.resize()
                tab.check()
                if page == "":
                    tab.check_open_sidebar_on_a_phone()
                if i + 1 == len(walk):
                    continue
                if walk[i + 1] in TEACHER_PAGES and page not in TEACHER_PAGES:
                    tab.sign_in_as_teacher()  # last: a teacher's sidebar differs
                tab.load(walk[i + 1])
    finally:
        for context in contexts:
            context.close()
    every = {(page or "home", width) for page in PAGES + TEACHER_PAGES for width in WIDTHS}
    for tab in tabs:
        assert tab.checked == every, f"{tab.lang}: not checked: {every - tab.checked}"
    found = [line for tab in tabs for line in tab.found]
    assert not found, ("serious or critical axe violations not in docs/accessibility.md:\n"
                       + "\n".join(found))
