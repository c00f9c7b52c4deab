"""The BatchNorm lab in Chromium: the course's experiment, eval mode and the batch of one."""

from __future__ import annotations

import pytest


def metric(app, label: str) -> float:
    """The number shown by the st.metric labelled exactly `label`."""
    box = app.page.locator("[data-testid='stMetric']").filter(
        has=app.page.locator("[data-testid='stMetricLabel']").get_by_text(label, exact=True)
    )
    return float(box.locator("[data-testid='stMetricValue']").inner_text())


def test_course_experiment_step_run_eval_and_batch_of_one(app):
    app.open("batchnorm")
    app.assert_healthy()
    app.button("Reset")
    assert metric(app, "Steps") == 0
    assert metric(app, "running_mean[0]") == 0.0

    app.button("Step 1")
    batch_mean = metric(app, "batch mean[0]")
    after_one = metric(app, "running_mean[0]")
    assert 0.2 < batch_mean < 0.8
    assert after_one == pytest.approx(batch_mean / 10, abs=1e-4)  # a tenth: about 0.05
    app.screenshot("batchnorm_step_1")

    app.button("Run 100")
    assert metric(app, "Steps") == 101
    assert metric(app, "running_mean[0]") == pytest.approx(batch_mean, abs=2e-4)
    assert metric(app, "running_var[0]") != 1.0
    assert metric(app, "Largest |hand − layer| over the whole output") < 1e-5
    app.assert_healthy()
    app.screenshot("batchnorm_run_100")

    app.radio("Mode", "layer.eval()")
    app.button("Step 10")
    assert metric(app, "Steps") == 111
    assert metric(app, "num_batches_tracked") == 101, "eval mode must not move the buffers"
    app.button("Predict one sample without model.eval()")
    text = app.text()
    assert "Expected more than 1 value per channel when training" in text
    assert "torch.Size([1, 16])" in text
    app.assert_healthy()
    app.screenshot("batchnorm_eval_batch_of_one")


def test_batchnorm2d_from_the_url_keras_convention_and_distribution_shift(app):
    app.open("batchnorm", query="bn_kind=2d&bn_channels=3&bn_batch=8&bn_momentum=0.2")
    app.assert_healthy()
    app.button("Step 10")
    assert metric(app, "num_batches_tracked") == 10
    app.toggle("Show the Keras convention beside PyTorch's")
    assert "momentum = 0.8" in app.text()
    app.button("Predict one sample without model.eval()")
    assert "No error: BatchNorm2d" in app.text()
    app.button("Shift the data mean by +1 and run 50 steps")
    text = app.text()
    assert "the mean shift went from 0.5 to 1.5" in text
    assert "measured 14 steps" in text.replace("**", "")
    assert "bn_shift=1.5" in app.page.url
    app.assert_healthy()
    app.screenshot("batchnorm_2d_shift")
