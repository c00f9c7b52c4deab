"""The harness itself: an exception box that appears at any step is recorded, even if it goes."""

from __future__ import annotations

from explorer.ui.widgets import GUARD_SENTENCE
from tests.e2e import conftest


def test_a_passing_exception_box_and_a_guarded_fallback_are_both_caught(app):
    app.open("")
    app.page.evaluate(
        """guard => {
            const box = document.createElement("div");
            box.dataset.testid = "stException";
            box.innerText = "ValueError: planted";
            document.body.append(box);
            const alert = document.createElement("div");
            alert.dataset.testid = "stAlert";
            alert.innerText = guard;
            document.body.append(alert);
            setTimeout(() => { box.remove(); alert.remove(); }, 50);
        }""",
        GUARD_SENTENCE,
    )
    app.page.wait_for_timeout(500)
    assert app.page.locator("[data-testid='stException']").count() == 0, "it went away"
    reported = app.page.evaluate("() => window.__explorerProblems")
    assert any("ValueError: planted" in r for r in reported), reported
    assert any("guarded section gave up" in r for r in reported), reported
    assert any("ValueError: planted" in r for r in conftest._PROBLEMS), conftest._PROBLEMS
    # Planted on purpose: forget them so that this test itself passes.
    conftest._PROBLEMS.clear()
    app.page.evaluate("() => window.__explorerProblems.length = 0")
