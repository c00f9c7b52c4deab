"""Figures of the BatchNorm lab: valid plotly figures that draw a real layer's numbers."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from explorer import batchnorm as bn
from explorer.figures import batchnorm as figures


def _valid(fig: go.Figure) -> dict:
    spec = fig.to_dict()
    go.Figure(spec)  # plotly's own validation
    return spec


@pytest.fixture(scope="module")
def lab() -> bn.BatchNormLab:
    config = bn.LabConfig(kind="1d", channels=3, batch_size=20, size=4, seed=0, affine=True,
                          track_running_stats=True)
    knobs = bn.Knobs(shift=0.5, scale=1.0, same_batch=True, momentum=0.1, eps=1e-5,
                     training=True, gamma=1.0, beta=0.0)
    lab = bn.BatchNormLab(config, knobs)
    lab.apply(knobs)
    lab.step(5)
    return lab


def test_history_figure_draws_each_channel_and_its_target(lab):
    series = {name: lab.series(name) for pair in figures.STATS for name in pair}
    data = _valid(figures.history_figure([r.step for r in lab.history], series, [0, 2]))["data"]
    assert len(data) == 2 * 2 * 2  # two panels × two channels × (buffer, target)
    assert list(data[2]["y"]) == pytest.approx(series["running_mean"][:, 2].tolist())
    assert data[4]["xaxis"] == "x2" and data[1]["line"]["dash"] == "dash"


def test_channels_figure_bars_the_last_buffers(lab):
    last = lab.history[-1]
    series = {t: lab.series(t)[-1] for _, t in figures.STATS}
    spec = _valid(figures.channels_figure(
        {n: getattr(last, n).numpy() for n, _ in figures.STATS}, series))
    assert list(spec["data"][0]["y"]) == pytest.approx(last.running_mean.tolist())
    assert spec["layout"]["xaxis"]["dtick"] == 1


def test_histograms_share_bins_and_the_overlay_has_both_names():
    a, b = np.linspace(-1, 1, 50), np.linspace(0, 3, 50)
    data = _valid(figures.histograms_figure({"in": a, "out": b}))["data"]
    assert data[0]["xbins"] == data[1]["xbins"] and data[1]["xaxis"] == "x2"
    overlay = _valid(figures.overlay_figure(a, b, ("before", "after")))["data"]
    assert [d["name"] for d in overlay] == ["before", "after"] and len(overlay[0]["x"]) == 50


def test_axes_figure_lights_the_values_averaged_together():
    shape = (3, 4, 3, 3)
    groups = {kind: bn.norm_group(kind, shape, 0, 1) for kind in bn.NORM_AXES}
    spec = _valid(figures.axes_figure(shape, groups))
    lit = [np.nansum(np.array(d["z"], dtype=float)) for d in spec["data"]]
    assert lit == [int(g.sum()) for g in groups.values()] == [27, 36, 9]
    assert "BatchNorm" in spec["layout"]["annotations"][0]["text"]


def test_maps_figure_tiles_the_batch_before_and_after():
    result = bn.batchnorm_feature_maps(bn.image_feature_maps(Image.new("RGB", (64, 48), "gray")))
    spec = _valid(figures.maps_figure(result))
    n, c, h, w = result.before.shape
    z = spec["data"][0]["z"]
    assert len(z) == c * (h + 2) - 2 and len(z[0]) == n * (w + 2) - 2
    assert list(spec["layout"]["yaxis"]["ticktext"]) == list(result.names)


def test_history_marks_the_eval_steps_and_draws_one_steps_true_value():
    series = {name: np.ones((5, 2)) for pair in figures.STATS for name in pair}
    fig = figures.history_figure([0, 1, 2, 3, 4], series, [0],
                                 [True, True, False, False, True]).to_dict()
    rects = [s for s in fig["layout"]["shapes"] if s["type"] == "rect"]
    assert [(r["x0"], r["x1"]) for r in rects] == [(1.5, 3.5)] * 2  # both charts
    assert sum(a["text"] == "eval()" for a in fig["layout"]["annotations"]) == 2
    dashed = [t for t in fig["data"] if t.get("line", {}).get("dash") == "dash"]
    assert all("markers" in t["mode"] for t in dashed), "a single step shows as a mark"
