"""The conv-arithmetic grid picture: a valid plotly figure with the right cells lit."""

from __future__ import annotations

import plotly.graph_objects as go

from explorer.conv_arithmetic import Layer
from explorer.figures import conv_arithmetic as figures


def test_arithmetic_grid_figure_is_a_valid_plotly_figure_with_the_window_lit():
    layer = Layer("conv", (7, 7), (3, 3), (2, 2), (1, 1), (2, 2))  # output 3×3
    spec = figures.arithmetic_grid_figure(layer, (1, 1), (1, 1)).to_dict()
    go.Figure(spec)  # plotly's own validation of the prebuilt dict
    taps = spec["data"][2]
    assert taps["y"] == [r for r in (1, 3, 5) for _ in range(3)]  # rows 1·2 − 1 + 2t
    assert taps["x"] == [1, 3, 5] * 3
    rows, _cols, z = figures.input_categories(layer)
    assert rows[0] == -1 and z[0][0] == 1  # padding shaded
    assert z[1][1] == 3  # input row 0 sits in a dilation hole of every window: never read
    assert len(spec["frames"]) == 9  # the play button visits every output cell
    fed = spec["data"][6]
    assert set(zip(fed["y"], fed["x"], strict=True)) == {(0, 0), (0, 1), (1, 0), (1, 1)}
