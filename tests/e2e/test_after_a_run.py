"""After a run, in Chromium: scrub and play the training timeline, filter the predictions
gallery, and draw a digit with the mouse for the trained LeNet (Training and Feature maps)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from explorer.training import runs, timeline


@pytest.fixture(scope="module")
def run_id(lenet_run) -> str:
    return lenet_run.name


def _draw(app, strokes: list[list[tuple[float, float]]], index: int = 0) -> None:
    """Draw polylines (fractions of the canvas) with the mouse on the `index`-th canvas."""
    canvas = app.page.locator("canvas.upper-canvas").nth(index)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    for stroke in strokes:
        x, y = stroke[0]
        app.page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
        app.page.mouse.down()
        for x, y in stroke[1:]:
            app.page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"],
                                steps=8)
        app.page.mouse.up()
    app.wait(settle_ms=500)


ONE = [[(0.5, 0.15), (0.5, 0.85)]]
SEVEN = [[(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]]


def _reads(app) -> str:
    metric = app.page.locator("[data-testid='stMetric']").filter(has_text="The network reads")
    expect(metric).to_have_count(1)
    return metric.locator("[data-testid='stMetricValue']").inner_text().strip()


def test_timeline_scrubs_and_plays(app, run_id):
    app.open("training", f"run={run_id}")
    app.assert_healthy()
    line = timeline.read(runs.runs_dir() / run_id)
    last = line.steps[-1]
    expect(app.page.get_by_text("Timeline: how the filters")).to_be_visible()
    plot = app.page.locator("[data-testid='stPlotlyChart']").filter(
        has_text=re.compile(r"step \d+ · epoch"))
    expect(plot).to_contain_text(f"step {last} · epoch 2.00")
    slider = app.widget("Snapshot", "stSlider").get_by_role("slider")
    slider.focus()
    slider.press("Home")
    app.wait()
    expect(plot).to_contain_text("step 0 · epoch 0.00")
    for _ in range(10):
        slider.press("ArrowRight")
    app.wait()
    tenth = line.steps[10]
    expect(plot).to_contain_text(f"step {tenth} · epoch {tenth / line.meta['steps_per_epoch']:.2f}")
    filters = app.page.get_by_text("features.0: first-layer filters")
    expect(filters).to_be_visible()
    app.screenshot("timeline_scrubbed")
    app.assert_healthy()

    app.button("Play")  # steps through every snapshot, then rests on the last
    expect(plot).to_contain_text(f"step {last} · epoch 2.00", timeout=60_000)
    app.assert_healthy()


def test_predictions_gallery_filters_by_class(app, run_id):
    app.open("training", f"run={run_id}")
    expect(app.page.get_by_text("Predictions on random test images")).to_be_visible()
    app.select("True class", "3")
    app.radio("Show", "right")
    captions = app.page.locator("[data-testid='stImage']").filter(has_text="✓")
    assert captions.count() >= 12
    for text in captions.all_inner_texts()[:24]:
        assert text.startswith("3 ("), text
    app.radio("Show", "wrong")
    wrong = app.page.locator("[data-testid='stImage']").filter(has_text="✗ true 3")
    assert wrong.count() >= 1
    app.assert_healthy()


def test_drawing_a_digit_on_the_training_page(app, run_id):
    app.open("training", f"run={run_id}")
    expect(app.page.get_by_text("Draw a digit on the canvas")).to_be_visible()
    _draw(app, ONE)
    assert _reads(app) == "1"
    expect(app.page.get_by_text("Prepared the way MNIST was made", exact=True)).to_be_visible()
    expect(app.page.get_by_text("features.3 · Conv2d · 16 × 10 × 10")).to_be_visible()
    assert "ink found in rows" in app.text()
    app.screenshot("canvas_one")
    app.assert_healthy()


def test_feature_maps_warns_about_photos_and_takes_a_drawing(app, run_id):
    app.open("feature-maps")
    app.radio("Weights", "Training run")
    app.select("Training run", f"{run_id} (finished)")
    warning = app.page.locator("[data-testid='stAlert']").filter(
        has_text="trained on 28×28 handwritten digits")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("confidence means nothing here")
    _draw(app, SEVEN)
    assert _reads(app) == "7"
    app.screenshot("feature_maps_drawing")
    app.assert_healthy()
