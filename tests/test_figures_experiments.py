"""The Experiments page's charts: one colour per arm, the dashed second measure, honest frames."""

from __future__ import annotations

import plotly.graph_objects as go

from explorer.figures import experiments as figures

EPOCHS = [{"epoch": 1, "test_acc": 0.8, "train_eval_acc": 0.9},
          {"epoch": 2, "test_acc": 0.9, "train_eval_acc": 0.99}]


def test_epoch_figure_overlays_arms_and_dashes_the_second_measure_in_the_same_colour():
    fig = figures.epoch_figure([("a", EPOCHS), ("b", EPOCHS[:1])], "test_acc", "t",
                               percent=True, dashed_key="train_eval_acc", dashed_name="train")
    go.Figure(fig.to_dict())
    names = [t.name for t in fig.data]
    assert names == ["a", "a · train", "b", "b · train"]
    assert fig.data[0].line.color == fig.data[1].line.color != fig.data[2].line.color
    assert fig.data[1].line.dash == "dash" and list(fig.data[1].y) == [0.9, 0.99]
    assert list(fig.layout.yaxis.range) == [0, 1.02]
    zoomed = figures.epoch_figure([("a", EPOCHS)], "test_acc", "t", percent=True,
                                  full_range=False)
    assert zoomed.layout.yaxis.range is None and zoomed.layout.yaxis.tickformat == ".1%"


def test_empty_charts_have_a_frame_and_the_cost_figure_draws_four_panels():
    empty = figures.epoch_figure([("a", [])], "test_acc", "t", planned_epochs=3)
    assert list(empty.layout.xaxis.range) == [0.5, 3.5]
    assert list(empty.layout.yaxis.range) == [0, 2.5]
    steps = figures.step_loss_figure([("a", [], [])])
    assert list(steps.layout.yaxis.range) == [0, 2.5]
    cost = figures.cost_figure(["one 7×7", "three 3×3"], [49, 27], [490, 270],
                               [((1,),), ((1, 2), (2, 4))])
    go.Figure(cost.to_dict())
    assert [t.type for t in cost.data] == ["bar", "bar", "heatmap", "heatmap"]
