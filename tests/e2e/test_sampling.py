"""Pooling & upsampling in Chromium: the controls move, PyTorch agrees, nothing raises."""

from __future__ import annotations


def test_pooling_controls_and_checks(app):
    app.open("sampling")
    app.assert_healthy()
    text = app.text()
    assert "they agree" in text
    assert "[1, 16, 21, 21]" in text and "[1, 16, 7, 7]" in text  # the course's trace, computed
    assert "reads 25.0% of the pixels" not in text  # default factor 4: one pixel in 16
    assert "reads 6.2% of the pixels" in text and "reads 100.0% of the pixels" in text
    app.screenshot("sampling_default")

    app.radio("Pooling", "AvgPool2d")
    app.set_slider("Pool kernel", 3)
    app.set_slider("Pool padding", 1)
    app.toggle("ceil_mode")
    app.assert_healthy()
    assert "nn.AvgPool2d(kernel_size=3, stride=2, padding=1, ceil_mode=True)" in app.text()
    assert "they agree" in app.text()
    assert "sp_k=3" in app.page.url


def test_strided_interpolate_and_activations(app):
    app.open("sampling", "sp_factor=2&sp_scale=3&sp_act=Tanh")
    assert "reads 25.0% of the pixels" in app.text()
    titles = app.page.locator("[data-testid='stPlotlyChart'] text.gtitle").all_text_contents()
    assert any(t.startswith("bicubic ×3 → [1, 1, 48, 48]") for t in titles), titles
    app.radio("Activation", "ReLU")
    app.assert_healthy()
    assert "ReLU sets all of it to exactly 0" in app.text()
    assert "saves" in app.text() and "KiB" in app.text()
    app.screenshot("sampling_relu")


def test_tiny_image_stays_healthy(app, tmp_path):
    from PIL import Image

    path = tmp_path / "dot.png"
    Image.new("RGB", (1, 3), (200, 10, 10)).save(path)
    app.open("sampling")
    app.upload_image(path)
    app.assert_healthy()
    assert "too small to shrink" in app.text()
