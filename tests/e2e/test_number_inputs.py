"""Number inputs in Chromium: a value past the range gets a sentence, the hint never covers it."""

from __future__ import annotations


def test_a_learning_rate_past_its_range_is_said_and_kept_at_the_end(app):
    app.open("training")
    app.set_number("Learning rate", 500)
    assert ("Learning rate goes from 1e-06 to 100; 500 is outside that, so it is now 100."
            in app.text())
    box = app.widget("Learning rate", "stNumberInput").locator("input")
    assert float(box.input_value()) == 100


def test_press_enter_sits_under_the_value_not_over_it(app):
    for width in (1440, 1100):
        app.page.set_viewport_size({"width": width, "height": 1000})
        app.open("training")
        widget = app.widget("Learning rate", "stNumberInput")
        box = widget.locator("input")
        box.click()
        box.fill("0.000125")  # typed, not applied: Streamlit shows "Press Enter to apply"
        hint = widget.locator("[data-testid='InputInstructions']")
        hint.filter(has_text="Press Enter to apply").wait_for(state="attached")
        app.page.wait_for_timeout(300)
        # Where the hint's text is drawn (its box itself can be zero-sized).
        text_top = hint.evaluate("e => { const r = document.createRange(); r.selectNodeContents(e);"
                                 " return r.getBoundingClientRect().top; }")
        bottom = box.bounding_box()["y"] + box.bounding_box()["height"]
        assert text_top >= bottom - 1, f"the hint covers the value at {width}px"
        app.screenshot(f"training_learning_rate_hint_{width}")
        box.press("Enter")
        app.wait()
