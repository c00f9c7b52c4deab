"""Experiments page in Chromium: one experiment end to end at the quick-check size."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from explorer.training import runs


def _card(app, title: str):
    """The bordered card whose heading is `title`."""
    return app.page.locator("[data-testid='stVerticalBlock']").filter(
        has=app.page.get_by_role("heading", name=title, exact=True)).last


def test_quick_activation_experiment_runs_both_arms_and_gives_a_verdict(app):
    app.open("experiments")
    app.assert_healthy()
    text = app.text()
    for title in ("BatchNorm: faster training, larger learning rates",
                  "Deep plain networks against residual ones",
                  "Three 3×3 convolutions against one 7×7"):
        assert title in text
    assert "27C²" in text and "The claim holds." in text  # the kernel card computes at once
    app.radio("Size", "Quick check: 256 images, 1 epoch; runs in seconds but is too small to "
                      "judge the claim")
    card = _card(app, "Sigmoid + average pooling against ReLU + max pooling")
    card.get_by_role("button", name="Run (2 runs)").click()
    app.wait()

    deadline = time.monotonic() + 120
    while "The claim holds on this run" not in card.inner_text() and \
            "the claim does not hold" not in card.inner_text():
        assert time.monotonic() < deadline, card.inner_text()[-1500:]
        time.sleep(0.5)
    app.wait()
    app.assert_healthy()
    body = card.inner_text()
    assert "ReLU + max pool: finished" in body and "sigmoid + average pool (d2l): finished" in body
    assert re.search(r"After 1 epoch\(s\): ReLU \+ max pool \d+\.\d%", body)
    assert "A quick check" in body  # the verdict says the size cannot judge the claim
    assert "identical initial weights" in body and "the same batches in the same order" in body
    assert card.locator("[data-testid='stPlotlyChart']").count() == 2
    # the runs are ordinary runs of the queue, marked with their experiment
    mine = [r for r in runs.list_runs() if r.config.experiment.startswith("activation-")]
    assert {r.config.model for r in mine} == {"lenet5", "lenet5-classic"}
    assert all(r.state == "finished" for r in mine)
    expect(card.get_by_role("button", name="Run (2 runs)")).to_be_enabled()
    picker = card.locator("[data-testid='stSelectbox'] input").first
    expect(picker).to_have_value(re.compile(r"\d{8}-\d{6}-[0-9a-f]{4} · quick check · yours"))
    app.screenshot("experiments_activation_quick")
