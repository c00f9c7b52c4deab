"""The course with the keyboard alone: Tab to a control, then Enter, the arrows or typing, never
a click. Convolution: choose a preset, inspect a pixel, step the moving window; Training: set
up a run and start it. Every control reached shows where the focus is (an outline or a ring).
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from explorer.training import runs
from tests.conftest import until
from tests.e2e.conftest import AppDriver

# What has the focus: its role, its own words and the label of the widget it belongs to.
_FOCUSED = r"""() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const box = el.closest('[data-testid="stElementContainer"]');
  const label = box && box.querySelector('[data-testid="stWidgetLabel"]');
  // the ring: an outline, a shadow, or a border in the theme's orange primary hue, on the
  // control or on the frame around it (Streamlit colours a select's or a number box's frame)
  const orange = c => { const v = (c.match(/[\d.]+/g) || []).map(Number);
                        return v.length >= 3 && v[0] > v[1] + 80 && v[0] > v[2] + 80; };
  let ring = false;
  for (let e = el, up = 0; e && up < 5 && !ring; e = e.parentElement, up++) {
    const s = getComputedStyle(e);
    ring = (s.outlineStyle !== 'none' && s.outlineWidth !== '0px') || s.boxShadow !== 'none'
      || orange(s.borderTopColor) || orange(s.borderBottomColor);
  }
  return {role: el.getAttribute('role') || el.tagName.toLowerCase(),
          // a button's last line: the line before it is its icon's ligature name
          text: (el.innerText || el.getAttribute('aria-label') || '').trim().split('\n').pop(),
          label: label ? label.innerText.trim() : '', ring};
}"""


def tab_to(app: AppDriver, wanted, what: str, limit: int = 250) -> dict:
    """Press Tab until the focused control is `wanted` (a predicate on `_FOCUSED`'s dict)."""
    for _ in range(limit):
        app.page.keyboard.press("Tab")
        focused = app.page.evaluate(_FOCUSED)
        if focused and wanted(focused):
            app.page.wait_for_timeout(400)  # the ring fades in (a CSS transition)
            focused = app.page.evaluate(_FOCUSED)
            assert focused["ring"], f"{what} has the focus but shows no focus ring: {focused}"
            return focused
    raise AssertionError(f"{limit} presses of Tab never reached {what}")


def labelled(label: str):
    return lambda f: f["label"] == label and f["role"] in ("input", "combobox", "slider")


def named(role: str, text: str):
    return lambda f: f["role"] == role and f["text"] == text


def test_convolution_with_the_keyboard(app: AppDriver) -> None:
    app.open("convolution")
    tab_to(app, labelled("Kernel"), "the Kernel choice")
    app.page.keyboard.press("Enter")  # opens the list
    app.page.keyboard.type("Box blur")
    app.page.keyboard.press("Enter")
    app.wait()
    expect(app.widget("Kernel", "stSelectbox").locator("input")).to_have_value("Box blur 3x3")

    tab_to(app, labelled("x (column)"), "the pixel's x")
    app.page.keyboard.press("Control+A")
    app.page.keyboard.type("10")
    app.page.keyboard.press("Enter")
    app.wait()
    until(lambda: "Input around (10, 256)" in app.text(), 30, "the inspector at x = 10")

    app.page.evaluate("() => document.activeElement.blur()")
    tab_to(app, named("tab", "Kernels on a photo"), "the lesson's tabs")
    app.page.keyboard.press("ArrowRight")  # tabs: the arrows move between them
    app.page.keyboard.press("Enter")
    app.wait()
    tab_to(app, named("button", "Step"), "the Step button")
    app.page.keyboard.press("Enter")
    app.wait()
    assert "out[0, 0] = 1×1 + 1×0 + 1×1 + 0×0 + 1×1 + 1×0 + 0×1 + 0×0 + 1×1 = 4" in app.text()


def test_training_with_the_keyboard(app: AppDriver) -> None:
    app.open("training")
    tab_to(app, labelled("Epochs"), "the Epochs box")
    app.page.keyboard.press("Control+A")
    app.page.keyboard.type("1")
    app.page.keyboard.press("Enter")
    app.wait()
    tab_to(app, named("button", "Train"), "the Train button")
    app.page.keyboard.press("Enter")
    until(lambda: re.search(r"Run \d{8}-\d{6}-[\w-]+", app.text()), 60, "the run to start")
    # one epoch of mnist-mini: let it end, so that no later test finds another run going
    until(lambda: not [r for r in runs.list_runs() if r.state in runs.ACTIVE_STATES], 180,
          "the one-epoch run to finish")
