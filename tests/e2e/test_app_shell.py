"""The whole app in Chromium: every page in the navigation renders, uploads work."""

from __future__ import annotations

import io

from PIL import Image

from explorer import images


def test_every_page_in_the_navigation_renders(app):
    app.open()
    links = app.nav_links()
    assert links[0][0] == "Home"
    for label, href in links:
        app.page.goto(href)
        app.wait()
        app.assert_healthy()
        assert app.page.locator("h1").count() >= 1, f"{label} has no title"
        app.screenshot(f"page_{label}")


def test_home_url_state_round_trip(app):
    app.open("", query="size=32&kernel=5&stride=2&padding=2")
    assert "output [1, 1, 16, 16]" in app.text()
    app.set_slider("Stride", 1)
    assert "stride=1" in app.page.url
    app.screenshot("home_url_state")


def test_upload_through_the_real_uploader(app, tmp_path):
    app.open()
    photo = tmp_path / "my_cat.jpg"
    Image.open(images.sample_images()["Chelsea"]).save(photo, quality=90)
    app.upload_image(photo)
    sidebar = app.page.locator("[data-testid='stSidebar']")
    assert "my_cat.jpg · 451×300" in sidebar.inner_text()
    assert sidebar.locator("[data-testid='stImage'] img").count() >= 1
    app.assert_healthy()

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"definitely not a PNG")
    app.upload_image(broken)
    error = sidebar.locator("[data-testid='stAlertContentError']")
    assert "“broken.png” is not an image" in error.inner_text()
    assert "my_cat.jpg" in sidebar.inner_text(), "a bad upload must not lose the good one"
    app.assert_healthy()
    app.screenshot("upload_broken_file")


def test_bad_url_values_fall_back_to_defaults(app):
    app.open("", query="size=banana&kernel=999")
    app.assert_healthy()
    assert "kernel_size=7" in app.text()


def test_tiny_upload_is_handled(app, tmp_path):
    path = tmp_path / "dot.png"
    buf = io.BytesIO()
    Image.new("RGB", (1, 1), (10, 20, 30)).save(buf, "PNG")
    path.write_bytes(buf.getvalue())
    app.open()
    app.upload_image(path)
    app.assert_healthy()
