"""Thin strips as the photo, in Chromium: every photo page draws, and none grows endless.

A picture drawn at its column's width is as tall as its shape makes it: a 1×1000 strip in a
300 px column would be 300,000 px tall. Pages draw such pictures narrower instead
(`widgets.picture`), so the sections below them stay within reach.
"""

from __future__ import annotations

import pytest
from PIL import Image

PHOTO_PAGES = ["convolution", "sampling", "batchnorm", "feature-maps", "channel"]
MAX_PAGE_PX = 12_000  # the longest of these pages with an ordinary photo is about 5,000 px


def _go(app, url_path: str) -> None:
    """Switch page through the sidebar, so the session (and its upload) stays."""
    app.page.locator(f"[data-testid='stSidebarNav'] a[href$='/{url_path}']").first.click()
    app.wait(settle_ms=1000)


def _page_height(app) -> int:
    return app.page.evaluate(
        "() => Math.max(...['stMain', 'stSidebarContent'].map(id =>"
        " document.querySelector(`[data-testid='${id}']`)?.scrollHeight ?? 0))")


# The tall strip is the one that stretched pages (Convolution grew to 241,158 px); AppTest's
# sweep renders both strips, and every other shape, on every page on every run.
@pytest.mark.parametrize("size", [(1, 1000)], ids=["1px-wide"])
def test_every_photo_page_draws_a_strip_and_stays_in_reach(app, tmp_path, size):
    path = tmp_path / f"strip_{size[0]}x{size[1]}.png"
    Image.new("RGB", size, (200, 80, 30)).save(path)
    app.open("")
    app.upload_image(path)
    assert f"{size[0]}×{size[1]}" in app.page.locator("[data-testid='stSidebar']").inner_text()
    for url_path in PHOTO_PAGES:
        _go(app, url_path)
        if url_path == "feature-maps":  # its preprocessing pictures show the photo itself
            app.page.get_by_text("Preprocessing: the tensor").first.click()
            app.wait()
        app.assert_healthy()
        assert _page_height(app) < MAX_PAGE_PX, f"{url_path} is {_page_height(app)} px long"
        app.screenshot(f"strip_{size[0]}x{size[1]}_{url_path}")
