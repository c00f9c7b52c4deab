"""axe-core on every page: no serious or critical WCAG 2.x A/AA violation beyond the ones
docs/accessibility.md lists as Streamlit's own markup, each with its reason.

One browser tab per language walks every page once and checks it: English at 1440 px, Chinese
on a 390 px phone. Every page is so checked at both widths and in both languages, in a minute
or so, where the full matrix (each page in each language at each width) took two and a half.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from explorer.ui import navigation
from tests.e2e.conftest import TIMEOUT_MS, AppDriver

REPO_ROOT = Path(__file__).resolve().parents[2]
AXE = REPO_ROOT / "build" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
DOC = REPO_ROOT / "docs" / "accessibility.md"
PAGES = ["", *(spec.url_path for spec in navigation.LESSONS)]  # "": home
WIDTH = {"en": 1440, "zh": 390}
RULES = {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}

# Each violation's nodes come back with the data-testids of their ancestors (Streamlit marks
# its elements with them), and whether they sit in a disabled widget.
_RUN = """async (runOnly) => {
  const result = await axe.run(document, {runOnly, resultTypes: ['violations'],
                                          elementRef: true});
  return result.violations.filter(v => ['serious', 'critical'].includes(v.impact)).map(v => ({
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
    })}));
}"""


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


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `make axe` (needs Node.js's npm)")
    return AXE.read_text()


@pytest.mark.parametrize("lang", list(WIDTH))
def test_every_page_passes_axe(browser: Browser, app_url: str, axe_source: str,
                               lang: str) -> None:
    allowed = listed()
    assert allowed, "docs/accessibility.md lists nothing: the table's format changed?"
    context = browser.new_context(viewport={"width": WIDTH[lang], "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    app = AppDriver(context.new_page(), app_url)
    found: list[str] = []
    try:
        for page in PAGES:
            app.open(page, f"lang={lang}")
            app.page.evaluate(axe_source)
            found += [f"{page or 'home'}: {line}"
                      for line in unlisted(app.page.evaluate(_RUN, RULES), allowed)]
    finally:
        context.close()
    assert not found, (f"serious or critical axe violations at {WIDTH[lang]} px, not in "
                       "docs/accessibility.md:\n" + "\n".join(found))
