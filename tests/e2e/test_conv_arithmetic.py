"""Conv arithmetic in Chromium: the sliders reach the course's examples and PyTorch agrees."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect


def _shown(app, label: str) -> str:
    metric = app.page.locator("[data-testid='stMetric']").filter(has_text=label).first
    return metric.locator("[data-testid='stMetricValue']").inner_text().strip()


def test_sliders_reach_the_course_examples(app):
    app.open("conv-arithmetic")
    app.assert_healthy()
    assert _shown(app, "H_out") == "26"  # (28, k3, s1, p0), the defaults
    app.set_slider("Padding", 1)
    assert _shown(app, "H_out") == "28"
    app.set_slider("Stride", 2)
    assert _shown(app, "H_out") == "14"
    app.set_slider("Kernel size", 5)
    app.set_slider("Stride", 1)
    assert _shown(app, "H_out") == "26"
    app.set_slider("Padding", 2)
    app.set_slider("Stride", 2)
    assert _shown(app, "H_out") == "14"
    assert "they agree" in app.text()
    assert "ca_kh=5" in app.page.url and "ca_sh=2" in app.page.url
    app.assert_healthy()
    app.screenshot("conv_arithmetic_k5_s2_p2")


@pytest.mark.parametrize(("query", "h_out"), [
    ("ca_h=28&ca_kh=3&ca_sh=1&ca_ph=0", "26"), ("ca_h=28&ca_kh=3&ca_sh=2&ca_ph=1", "14"),
])
def test_url_state_opens_an_example(app, query, h_out):
    app.open("conv-arithmetic", query)
    assert _shown(app, "H_out") == h_out


def test_same_padding_with_stride_is_explained_not_raised(app):
    app.open("conv-arithmetic", "ca_sh=2")
    app.radio("Padding mode", "same")
    app.assert_healthy()
    assert "PyTorch rejects padding='same' with stride > 1" in app.text()
    assert _shown(app, "H_out") == "—"
    assert "not supported for strided convolutions" in app.text()  # PyTorch's own words


def test_transposed_mode_and_extremes_stay_healthy(app):
    app.open("conv-arithmetic", "ca_h=3&ca_w=64&ca_kh=7&ca_dh=3&ca_ph=0&ca_square=false")
    app.assert_healthy()
    assert re.search(r"Kernel \(height\)", app.text())
    app.radio("Layer", "ConvTranspose2d")
    app.assert_healthy()
    assert "nn.ConvTranspose2d(" in app.text()
    assert "they agree" in app.text()
    app.screenshot("conv_arithmetic_transposed")


def test_grid_picture_shows_window_and_plays(app):
    app.open("conv-arithmetic", "ca_h=9&ca_w=11&ca_kh=3&ca_sh=2&ca_ph=1&ca_dh=2")
    chart = app.page.locator("[data-testid='stPlotlyChart']").first
    chart.scroll_into_view_if_needed()
    expect(chart.locator(".heatmaplayer, .hm, image").first).to_be_attached()
    chart.screenshot(path=str(app.screenshot("conv_arithmetic_grid_page").with_name(
        "conv_arithmetic_grid.png")))
    play = chart.locator(".updatemenu-button").first
    play.click()
    # the animation moves the window on: wait (retrying) for a cell other than the first
    label = chart.locator("text").filter(has_text="output cell (").first
    expect(label).not_to_have_text("output cell (0, 0)")
    assert label.text_content().startswith("output cell (")
    app.assert_healthy()
