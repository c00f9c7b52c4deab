"""Colour is never the only cue: series differ by marker or dash as well as by a colour-blind
safe colour, and right or wrong answers say ✓ or ✗."""

from __future__ import annotations

import numpy as np

from explorer.figures import batchnorm, class_poll, experiments, palettes, training

EPOCHS = [{"epoch": 1, "test_acc": 0.5, "train_loss": 1.0, "train_eval_acc": 0.6},
          {"epoch": 2, "test_acc": 0.7, "train_loss": 0.6, "train_eval_acc": 0.8}]


def test_the_palette_has_no_red_beside_green_and_each_series_its_own_marker() -> None:
    styles = [palettes.series_style(i) for i in range(len(palettes.CATEGORICAL))]
    assert len({s[0] for s in styles}) == len({s[1] for s in styles}) == len(styles)
    assert "#ef553b" not in palettes.CATEGORICAL and "#00cc96" not in palettes.CATEGORICAL


def test_runs_compared_differ_by_marker_not_only_by_colour() -> None:
    acc, loss = training.compare_figures([("a", EPOCHS), ("b", EPOCHS), ("c", EPOCHS)])
    for fig in (acc, loss):
        assert len({t.marker.symbol for t in fig.data}) == 3


def test_experiment_arms_differ_by_marker_or_dash() -> None:
    fig = experiments.epoch_figure([("a", EPOCHS), ("b", EPOCHS)], "test_acc", "t",
                                   dashed_key="train_eval_acc")
    assert [t.marker.symbol for t in fig.data] == ["circle", "circle-open", "square",
                                                   "square-open"]
    steps = experiments.step_loss_figure([("a", [1, 2], [1.0, 0.5]), ("b", [1, 2], [1.2, 0.4])])
    assert [t.line.dash for t in steps.data] == ["solid", "dash"]


def test_batchnorm_channels_differ_by_marker() -> None:
    series = {name: np.zeros((3, 4)) for pair in batchnorm.STATS for name in pair}
    fig = batchnorm.history_figure([0, 1, 2], series, [0, 1, 2])
    running = [t for t in fig.to_dict()["data"] if t.get("showlegend")]
    assert len({t["marker"]["symbol"] for t in running}) == 3


def test_revealed_answers_say_right_or_wrong_in_words_too() -> None:
    fig = class_poll.answer_bars(["3", "4"], [5, 2], [True, False], revealed=True)
    assert list(fig.data[0].text) == ["✓ 5", "✗ 2"]
    hidden = class_poll.answer_bars(["3", "4"], [5, 2], [True, False], revealed=False)
    assert list(hidden.data[0].text) == ["5", "2"]
