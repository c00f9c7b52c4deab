"""Figures of the pooling lesson: valid plotly figures that draw what `sampling` computed."""

from __future__ import annotations

import plotly.graph_objects as go
import torch

from explorer import conv_arithmetic as ca
from explorer import sampling
from explorer.figures import sampling as figures


def _valid(fig: go.Figure) -> dict:
    """The figure's dict after plotly's own validation of it."""
    spec = fig.to_dict()
    go.Figure(spec)
    return spec


def test_pool_frame_figure_circles_the_winners():
    frame = sampling.pool_frame(sampling.number_grid(4, seed=3),
                                sampling.pool_layer("maxpool", (4, 4), 2, 2, 0, False))
    data = _valid(figures.pool_frame_figure(frame))["data"]
    assert len(data[-1]["x"]) == 4  # one circle per output cell
    assert data[0]["text"][0][0] == f"{float(frame.x[0, 0]):.0f}"
    assert ca.problem(sampling.pool_layer("maxpool", (4, 4), 3, 1, 2, False))


def test_avg_pool_frame_figure_writes_two_decimals_and_no_circles():
    frame = sampling.pool_frame(sampling.number_grid(4, seed=3),
                                sampling.pool_layer("avgpool", (4, 4), 2, 2, 0, False))
    data = _valid(figures.pool_frame_figure(frame, (1, 0)))["data"]
    assert len(data) == 4 and data[1]["text"][1][0] == f"{float(frame.out[1, 0]):.2f}"
    assert (list(data[3]["x"]), list(data[3]["y"])) == ([0], [1])


def test_pixels_figure_draws_every_pixel():
    x = torch.arange(6.0).reshape(1, 1, 2, 3) / 5
    heat = _valid(figures.pixels_figure(x, "patch"))["data"][0]
    assert [list(r) for r in heat["z"]] == x[0, 0].tolist()


def test_activation_histogram_figure_overlays_counts_on_shared_bins():
    edges = torch.linspace(-1, 1, 101)
    hist = sampling.shared_histograms({"before": edges, "after ReLU": edges.clamp_min(0)},
                                      bins=10)
    data = _valid(figures.activation_histogram_figure(hist))["data"]
    assert [d["name"] for d in data] == ["before", "after ReLU"]
    assert sum(data[0]["y"]) == sum(data[1]["y"]) == 101
    assert list(data[0]["x"]) == list(data[1]["x"]) and data[0]["width"] == 0.2


def test_inplace_figure_shows_the_saved_map():
    report = sampling.inplace_report(torch.randn(1, 1, 32, 32))
    bars = _valid(figures.inplace_figure(report))["data"]
    assert list(bars[1]["x"]) == [4.0, 0.0]
