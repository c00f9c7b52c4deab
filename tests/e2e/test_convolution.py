"""The convolution page in Chromium: presets on a sample and an uploaded photo, the
pixel inspector's check, and the moving window stepped to the end."""

from __future__ import annotations

import re

import pytest
from PIL import Image

from explorer import images, kernels


def _tall_screenshot(app, name: str, height: int = 3200) -> None:
    """Streamlit scrolls inside its main block, so a tall viewport shows the whole page."""
    app.page.set_viewport_size({"width": 1440, "height": height})
    app.wait()
    app.screenshot(name)
    app.page.set_viewport_size({"width": 1440, "height": 1000})


def _inspector_agrees(app) -> None:
    """The hand-computed sum and the output tensor's value are shown, equal, and agreed."""
    text = app.text()
    found = re.search(r"Sum of the products\s+(\S+)\s+Output tensor y\[[^\]]+\]\s+(\S+)\s+"
                      r"They agree\s+(\S+)", text)
    assert found, text[text.find("Pixel inspector"):][:400]
    assert float(found[1]) == pytest.approx(float(found[2]), abs=1e-3)
    assert found[3] == "yes"


def test_click_in_the_neighbourhood_picks_the_pixel(app):
    app.open("convolution")
    assert "Input around (256, 256)" in app.text()
    plot = app.page.locator(".st-key-convolution_picker .nsewdrag").first
    box = plot.bounding_box()
    cell = box["width"] / 11  # an 11x11 neighbourhood starting at (251, 251)
    plot.click(position={"x": cell * 1.5, "y": cell * 0.5})
    app.wait()
    assert "Input around (252, 251)" in app.text()
    assert app.widget("x (column)", "stNumberInput").locator("input").input_value() == "252"
    _inspector_agrees(app)


def test_every_preset_on_a_sample_and_an_uploaded_photo(app, tmp_path):
    app.open("convolution")
    app.assert_healthy()
    # the course's three and one more 3×3 here (the sweep drives every preset through AppTest)
    for name in [n for n in kernels.PRESETS if "(course)" in n or n.startswith("Sobel y")]:
        app.select("Kernel", name)
        app.assert_healthy()
        _inspector_agrees(app)
        assert f"convolution_preset={name.split()[0]}" in app.page.url.replace("+", " ")
    _tall_screenshot(app, "convolution_sample_outline")

    photo = tmp_path / "my_coffee.jpg"
    Image.open(images.sample_images()["Coffee"]).resize((240, 160)).save(photo, quality=90)
    app.upload_image(photo)
    assert "my_coffee.jpg · 240×160" in app.text()
    # on the upload, one preset of each size
    for name in [n for n in kernels.PRESETS if n.startswith(("Identity", "Blur 5x5", "Sobel x"))]:
        app.select("Kernel", name)
        app.assert_healthy()
        _inspector_agrees(app)
        if name.startswith(("Blur 5x5", "Sobel x")):
            app.screenshot(f"convolution_upload_{name.split()[0].lower()}")
    app.select("Kernel", "Sobel x 3x3")
    app.radio("Show negative and large values by", "Absolute value")
    app.toggle("Flip the kernel (true convolution)")
    app.assert_healthy()
    assert "not symmetric" in app.text()
    _tall_screenshot(app, "convolution_upload_sobel_flipped", 4200)


def test_moving_window_steps_to_the_slides_output(app):
    app.open("convolution")
    app.page.get_by_role("tab", name="The moving window").click()
    app.wait()
    app.button("Step")
    assert "out[0, 0] = 1×1 + 1×0 + 1×1 + 0×0 + 1×1 + 1×0 + 0×1 + 0×0 + 1×1 = 4" in app.text()
    assert "Output so far:\n4 · ·\n· · ·\n· · ·" in app.text()
    app.button("Play")
    app.assert_healthy()
    text = app.text()
    assert "Output: 9 of 9 cells" in text
    assert "Output so far:\n4 3 4\n2 4 3\n2 3 4" in text
    assert "out[2, 2] =" in text and "= 4" in text
    assert "(1, 3, 3, 3)" in text, "three kernels give three output maps"
    _tall_screenshot(app, "convolution_moving_window_end", 2200)
