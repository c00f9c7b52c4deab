"""The charts' text summaries for a screen reader: computed from each figure's own data, by
the kind of each trace, in the session's language."""

from __future__ import annotations

import base64

import numpy as np
import plotly.graph_objects as go
import torch

from explorer import i18n
from explorer.figures import PrebuiltFigure, sampling, summaries, training

EPOCHS = [{"epoch": 1, "train_acc": 0.80, "test_acc": 0.85},
          {"epoch": 2, "train_acc": 0.90, "test_acc": 0.912}]


def test_a_loss_curve_says_where_it_starts_and_ends() -> None:
    fig = training.loss_figure([1, 2, 3, 126], [2.30, 1.20, 0.90, 0.41],
                               [2.30, 1.80, 1.20, 0.60], "run")
    assert summaries.summary(fig) == (
        "Chart: Training loss per step. Loss per step falls from 2.3 to 0.41 over step 1 to "
        "126. Smoothed falls from 2.3 to 0.6 over step 1 to 126.")


def test_accuracy_is_said_as_a_percentage_as_its_axis_shows_it() -> None:
    text = summaries.summary(training.accuracy_figure(EPOCHS, "run"))
    assert "Test rises from 85.0% to 91.2% over epoch 1 to 2." in text


def test_a_line_that_dips_in_between_says_its_lowest_and_highest() -> None:
    fig = go.Figure(go.Scatter(x=[0, 1, 2], y=[1.0, 0.2, 1.5], name="loss"))
    assert "Loss rises from 1 to 1.5 over 0 to 2 (lowest 0.2, highest 1.5)." in \
        summaries.summary(fig)


def test_bars_say_the_highest_and_the_lowest() -> None:
    fig = training.per_class_figure([0.5, 0.9, 0.7], ["cat", "dog", "owl"])
    assert summaries.summary(fig) == ("Chart: Accuracy per class. Bars: 3 bars, highest dog "
                                      "(90.0%), lowest cat (50.0%).")


def test_a_heatmap_says_its_size_and_range_of_values() -> None:
    fig = training.confusion_figure([[5, 1, 0], [2, 7, 1]], ["a", "b", "c"])
    assert "A grid: 2 × 3 cells, values from 0 to 7." in summaries.summary(fig)
    pixels = sampling.pixels_figure(torch.linspace(0, 1, 12).reshape(3, 4), "patch [3, 4]")
    assert summaries.summary(pixels) == ("Chart: patch [3, 4]. A grid: 3 × 4 cells, values "
                                         "from 0 to 1.")


def test_a_chart_with_no_data_yet_says_so() -> None:
    assert summaries.summary(training.loss_figure([], [], [], "run")) == (
        "Chart: Training loss per step. It has no data yet.")


def test_many_traces_are_counted_and_frames_too() -> None:
    spec = {"data": [{"type": "scatter", "y": [i, i + 1], "name": f"run {i}"}
                     for i in range(8)],
            "layout": {}, "frames": [{"data": []}] * 5}
    text = summaries.summary(PrebuiltFigure(spec))
    assert text.startswith("Chart. Run 0 rises from 0 to 1.")
    assert "Run 6" not in text and "And 2 more series." in text
    assert text.endswith("It is animated: 5 frames.")


def test_numbers_come_from_arrays_typed_arrays_and_nested_lists() -> None:
    data = np.array([3.0, np.nan, 1.0, 2.0])
    typed = {"dtype": "f8", "bdata": base64.b64encode(data.tobytes()).decode()}
    assert summaries.values(data) == [3.0, 1.0, 2.0]
    assert summaries.values(typed) == [3.0, 1.0, 2.0]
    assert summaries.values([[1, None], [2, "x"]]) == [1.0, 2.0]
    assert summaries.summary({"data": [{"type": "histogram", "x": typed}], "layout": {}}) == (
        "Chart. Histogram: a histogram of 3 values from 1 to 3.")


def test_the_summary_is_in_the_session_s_language() -> None:
    with i18n.use_language("zh"):
        text = summaries.summary(training.accuracy_figure(EPOCHS, "run"))
        title = training.accuracy_figure(EPOCHS, "run").layout.title.text
    assert text.startswith(f"图表：{title}。")
    assert "从 85.0% 升到 91.2%" in text


def test_subplots_titles_stand_for_a_missing_title_and_identifiers_keep_their_case() -> None:
    spec = {"data": [{"type": "bar", "x": [0, 1], "y": [0.5, 0.1], "name": "running_mean"}],
            "layout": {"annotations": [{"text": "running_mean"}, {"text": "running_var"}]}}
    assert summaries.summary(spec) == ("Chart: running_mean, running_var. running_mean: 2 bars, "
                                       "highest 0 (0.5), lowest 1 (0.1).")
