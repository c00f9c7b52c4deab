"""Model zoo's layer-stack builder in Chromium: break a stack, read PyTorch's error and the fix,
fix it, add, move and remove a layer, then train it for one epoch on the Training page."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from explorer.training import runs


def _number(app, label: str, nth: int = 0):
    boxes = app.page.locator("[data-testid='stNumberInput']").filter(
        has=app.page.locator("[data-testid='stWidgetLabel']").get_by_text(label, exact=True))
    return boxes.nth(nth).locator("input")


def _set(app, label: str, value: int, nth: int = 0) -> None:
    box = _number(app, label, nth)
    box.fill(str(value))
    box.press("Enter")
    app.wait()


def _wait_for(predicate, what: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def test_break_a_stack_fix_it_and_train_it_for_one_epoch(app):
    app.open("zoo")
    app.page.get_by_text("Build your own network", exact=True).click()
    app.wait()
    assert "Output 10 per image" in app.text()  # LeNet-5 to start with

    _set(app, "out_channels", 8)  # the first conv now makes 8 maps; the second expects 6
    text = app.text()
    assert "PyTorch refuses it" in text
    assert "expected input[1, 8, 14, 14] to have 6 channels, but got 8 channels" in text
    assert "Conv2d expects 6 input channels but gets 8: set in_channels to 8." in text
    expect(app.page.get_by_role("button", name="Train this network")).to_be_disabled()
    app.screenshot("builder_broken")

    _set(app, "in_channels", 8, nth=1)  # the fix the sentence asks for
    text = app.text()
    assert "PyTorch refuses it" not in text and "Output 10 per image" in text
    assert "nn.Conv2d(8, 16, kernel_size=5)" in text

    # add a layer at the end, move it up one place, then remove it
    app.select("Layer to add at the end", "Dropout")
    app.button("Add layer")
    assert "13. Dropout" in app.text()
    app.page.locator("[class*='st-key-zoo_stack_up_']").last.locator("button").first.click()
    app.wait()
    assert "12. Dropout" in app.text() and "13. Linear" in app.text()
    app.page.locator("[class*='st-key-zoo_stack_del_']").nth(11).locator("button").first.click()
    app.wait()
    assert "Dropout" not in app.page.locator("[data-testid='stExpander']").first.inner_text()
    assert re.search(r"stack=conv-1-8-5-1-2_relu_maxpool_conv-8-16-5", app.page.url)
    app.screenshot("builder_fixed")

    app.button("Train this network")
    _wait_for(lambda: "/training" in app.page.url, "the Training page")
    app.wait()
    assert "The layer stack you built on the Model zoo page" in app.text()
    app.set_number("Epochs", 1)
    app.page.get_by_role("button", name="Train", exact=True).first.click()
    _wait_for(lambda: any(r.config.model == "custom" and r.state == "finished"
                          for r in runs.list_runs()), "the run to finish")
    (run,) = [r for r in runs.list_runs() if r.config.model == "custom"]
    assert run.config.settings.layers.startswith("conv-1-8-5-1-2_relu_maxpool_conv-8-16-5")
    assert run.status.epochs_done == 1 and run.status.test_acc > 0.5
    _wait_for(lambda: "finished" in app.text(), "the page to show the finished run")
    app.wait()
    app.assert_healthy()
    app.screenshot("builder_trained")


def test_a_shared_link_opens_the_same_stack_and_input(app):
    from explorer.models import layer_stack

    app.open("zoo", f"stack={layer_stack.LENET5}&stack_in=1x32x32")
    text = app.text()  # the builder opens by itself for a link that carries a stack
    assert "gets a 576 input and PyTorch refuses it" in text
    assert "mat1 and mat2 shapes cannot be multiplied (1x576 and 400x120)" in text
    assert ("Linear expects 400 inputs but gets 576: set in_features to 576 or resize the "
            "input to 28×28.") in text
    assert _number(app, "Input height").input_value() == "32"
    app.assert_healthy()
