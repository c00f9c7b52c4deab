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


def _boxes_overlap(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] - 1 and b["x"] < a["x"] + a["width"] - 1
            and a["y"] < b["y"] + b["height"] - 1 and b["y"] < a["y"] + a["height"] - 1)


def _assert_panel_does_not_overlap(app) -> int:
    """The preprocessing panel's pictures and captions: none overlaps another, each inside
    its column. Returns how many pictures it has."""
    panel = app.page.locator("[data-testid='stExpander']").filter(has_text="Preprocessing:")
    pictures = panel.locator("[data-testid='stImage'] img")
    captions = panel.locator("[data-testid='stImageCaption']")
    expect(pictures.first).to_be_visible()
    boxes = [pictures.nth(i).bounding_box() for i in range(pictures.count())]
    boxes += [captions.nth(i).bounding_box() for i in range(captions.count())]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not _boxes_overlap(a, b), (a, b)
    columns = panel.locator("[data-testid='stColumn']")
    for i in range(columns.count()):
        column = columns.nth(i).bounding_box()
        for picture in columns.nth(i).locator("img").all():
            box = picture.bounding_box()
            assert box["x"] >= column["x"] - 1
            assert box["x"] + box["width"] <= column["x"] + column["width"] + 1
    return pictures.count()


def test_photos_of_digits_and_grad_cam_that_follows_the_prediction(app, run_id, lenet_run,
                                                                   tmp_path):
    """Photos of a handwritten 3 and an upright 7 are read right, prepared as MNIST was; the
    panel's pictures never overlap; Grad-CAM explains each new top prediction, and a class the
    student picks stays picked (and says so) until the input changes."""
    import torch

    from explorer import feature_maps as fm
    from explorer.training import checkpoints
    from tests.digit_photos import STYLES, photo

    three, seven = tmp_path / "three.png", tmp_path / "seven.png"
    photo(3, STYLES[0]).save(three)
    photo(7, STYLES[2]).save(seven)  # the pencil's photo is upright: 160×220
    app.open("feature-maps", query="fm_view=Prediction+%26+Grad-CAM")
    app.radio("Weights", "Training run")
    app.select("Training run", f"{run_id} (finished)")
    app.upload_image(three)
    expect(app.page.get_by_text(re.compile("Grad-CAM for “3”"))).to_be_visible()
    app.upload_image(seven)
    expect(app.page.get_by_text(re.compile("Grad-CAM for “7”"))).to_be_visible()
    assert _assert_panel_does_not_overlap(app) == 8
    assert "the ink is darker than the paper" in app.text()
    app.screenshot("feature_maps_digit_photo")

    app.select("Explain class", app.widget("Explain class", "stSelectbox").locator(
        "[role='combobox']").first.input_value())  # the same: still following
    combo = app.widget("Explain class", "stSelectbox").locator("[role='combobox']").first
    combo.click()
    app.page.keyboard.press("ArrowDown")
    app.page.keyboard.press("Enter")
    app.wait()
    expect(app.page.get_by_text(re.compile("You picked “"))).to_be_visible()
    picked = combo.input_value().split(" (#")[0]
    expect(app.page.get_by_text(re.compile(f"Grad-CAM for “{re.escape(picked)}”"))).to_be_visible()

    model, config = checkpoints.model_from_checkpoint(lenet_run)
    upright = photo(7, STYLES[2])
    plain_path = fm.preprocessing_for("mnist", config=config,  # the Invert toggle's default
                                      invert=fm.looks_dark_on_light(upright))
    with torch.no_grad():
        plain = int(model.eval()(fm.prepare(upright, plain_path).tensor).argmax())
    app.toggle("Prepare the photo as MNIST was made (a photo of a handwritten digit)")
    expect(app.page.get_by_text(re.compile(f"Grad-CAM for “{plain}”"))).to_be_visible()
    assert "You picked" not in app.text()
    assert _assert_panel_does_not_overlap(app) == 4
    app.screenshot("feature_maps_digit_photo_plain")
    app.assert_healthy()
