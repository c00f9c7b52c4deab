"""Typing into the Convolution page's kernel grid (st.data_editor) in Chromium.

The grid opens a cell's editor on the first key typed into a selected cell; until the editor
is on screen (its script loads on first use, slowly on a busy network) every further key
opened it again with only that key, so "-8" became "8". The page's typing fix holds those
keys; here the network is slowed on purpose so that the keys always arrive early.
"""

from __future__ import annotations

import re

import pytest


def _slow_network(app, latency_ms: float) -> None:
    """Delay every request (the grid's editor script too), like a busy classroom network."""
    cdp = app.page.context.new_cdp_session(app.page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": latency_ms, "downloadThroughput": -1,
        "uploadThroughput": -1})


def _cell(app, row: int, col: int) -> tuple[float, float]:
    """Page coordinates of a kernel cell (0-based; the grid has a header row)."""
    grid = app.page.locator("[data-testid='stDataFrame']").first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    size = int(app.widget("Kernel size", "stNumberInput").locator("input").input_value())
    return (box["x"] + box["width"] * (col + 0.5) / size,
            box["y"] + box["height"] * (row + 1.5) / (size + 1))


def _kernel(app) -> list[list[float]]:
    """The kernel the page convolves with, read from its PyTorch code twin."""
    code = next(c for c in app.page.locator("[data-testid='stCode']").all_inner_texts()
                if "torch.tensor([" in c)
    rows = re.findall(r"^\s*\[([^\[\]]+)\],?$", code, flags=re.M)
    return [[float(v) for v in row.split(",")] for row in rows]


@pytest.mark.parametrize("typing_delay_ms", [0, 60])
def test_minus_typed_into_a_selected_cell_is_kept(app, typing_delay_ms):
    app.open("convolution")
    x, y = _cell(app, 0, 0)
    app.page.mouse.click(x, y)  # selects the cell; typing starts editing it
    _slow_network(app, 1500)
    app.page.keyboard.type("-8", delay=typing_delay_ms)
    app.page.keyboard.press("Enter")
    app.page.wait_for_timeout(2500)  # the held keys land once the editor's script arrives
    _slow_network(app, 0)
    app.wait()
    assert _kernel(app)[0][0] == -8
    app.screenshot(f"kernel_typed_minus_{typing_delay_ms}ms")


def test_double_click_keeps_the_minus_too(app):
    app.page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    app.open("convolution")
    x, y = _cell(app, 1, 1)
    app.page.mouse.dblclick(x, y)  # opens the editor on the cell's value
    app.page.locator("textarea.gdg-input").wait_for()
    app.page.keyboard.press("ControlOrMeta+A")
    app.page.keyboard.type("-2.5")
    app.page.screenshot(path="/tmp/shots/sweep/dbl_1_typed.png")
    app.page.keyboard.press("Enter")
    app.page.screenshot(path="/tmp/shots/sweep/dbl_2_enter.png")
    app.wait()
    app.page.screenshot(path="/tmp/shots/sweep/dbl_3_waited.png")
    assert _kernel(app)[1][1] == -2.5

