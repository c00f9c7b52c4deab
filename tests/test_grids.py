"""Numeric grid figures: values, labels, blanks, outlines and clicks."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from explorer.figures import frozen, grids


def test_number_grid_figure_writes_each_value_and_keeps_nan_blank():
    fig = grids.number_grid_figure(torch.tensor([[1.0, float("nan")], [-2.5, 0.25]]))
    heat = fig.data[0]
    assert [list(row) for row in heat.text] == [["1", ""], ["-2.5", "0.25"]]
    assert heat.z[0][1] is None
    assert heat.colorscale[0][1] != grids.number_grid_figure([[1, 2]]).data[0].colorscale[0][1]
    assert heat.zmin == -heat.zmax  # signed grids are centred on 0
    assert tuple(fig.layout.yaxis.range) == (1.5, -0.5)  # row 0 on top


def test_custom_text_highlights_and_boxes_become_outlines():
    fig = grids.number_grid_figure(np.zeros((3, 4)), text=[["a"] * 4] * 3, highlight=[(2, 3)],
                            boxes=[(0, 1, 2, 2)])
    assert fig.data[0].text[0][0] == "a"
    shapes = sorted((s.x0, s.y0, s.x1, s.y1) for s in fig.layout.shapes)
    assert shapes == [(0.5, -0.5, 2.5, 1.5), (2.5, 1.5, 3.5, 2.5)]


def test_clickable_grid_has_one_marker_per_cell_and_clicks_map_back():
    fig = grids.number_grid_figure(np.arange(6).reshape(2, 3), clickable=True)
    markers = fig.data[1]
    assert len(markers.x) == 6 and (markers.x[4], markers.y[4]) == (1, 1)
    assert grids.clicked_cell({"points": [{"x": 2, "y": 1, "curve_number": 1}]}) == (1, 2)
    assert grids.clicked_cell({"points": []}) is None
    assert grids.clicked_cell(None) is None
    assert grids.grid_width(np.zeros((2, 5)), 40) == 5 * 40 + 32
    assert grids.grid_width(np.zeros((2, 3)), 30) == grids.MIN_WIDTH


def test_number_grid_figure_refuses_non_2d():
    with pytest.raises(ValueError, match="2-D"):
        grids.number_grid_figure([1, 2, 3])
    assert math.isclose(grids.number_grid_figure([[5]]).data[0].zmax, 5)


def test_cached_grid_round_trips_and_is_built_once():
    values = frozen(torch.tensor([[1.0, float("nan")], [3.0, 4.0]]))
    fig = grids.cached_number_grid(values, cell_px=30, highlight=((1, 1),))
    spec = fig.to_dict()
    go.Figure(spec)  # plotly's validation of the prebuilt dict
    assert spec["data"][0]["z"] == [[1.0, None], [3.0, 4.0]]
    assert spec["data"][0]["text"][0] == ["1", ""]
    assert grids.cached_number_grid(values, cell_px=30, highlight=((1, 1),)) is fig


def test_number_heatmap_writes_each_value_on_its_axes():
    trace = grids.number_heatmap(torch.tensor([[1.0, 2.5]]), "x2", "y2", "Oranges", ".1f")
    go.Figure({"data": [trace], "layout": {"xaxis2": {}, "yaxis2": {}}})
    assert trace["text"] == [["1.0", "2.5"]] and trace["xaxis"] == "x2"


def test_a_crop_is_labelled_in_the_image_coordinates():
    """The pixel inspector's neighbourhood: a crop whose (0, 0) is pixel (120, 37) of the
    photo counts its axes and hover from there."""
    from explorer.figures import grids as g

    fig = g.number_grid_figure(np.zeros((5, 6)), origin=(120, 37), clickable=True).to_dict()
    assert list(fig["layout"]["xaxis"]["ticktext"]) == ["38", "40", "42"]
    assert list(fig["layout"]["yaxis"]["ticktext"]) == ["120", "122", "124"]
    assert fig["data"][0]["customdata"][0][0] == "row 120, col 37"
