"""A run's charts on screen: its loss and accuracy curves as logged so far, the end-of-run
evaluation (confusion matrix and per-class accuracy), and several runs' curves overlaid."""

from __future__ import annotations

import streamlit as st

from explorer.figures import training as figures
from explorer.i18n import _
from explorer.training import runs
from explorer.ui import charts


def curves(info: runs.RunInfo) -> None:
    """Loss per step and accuracy per epoch, with a line saying how far the run got."""
    c = runs.curves(runs.read_metrics(info.path))
    l1, l2 = st.columns(2)
    charts.plotly(l1, figures.loss_figure(c.step, c.loss, c.loss_smooth, info.run_id,
                                         info.status.total_steps),
                  key=f"training_loss_{info.run_id}", config={"displaylogo": False})
    charts.plotly(l2, figures.accuracy_figure(c.epochs, info.run_id, info.config.settings.epochs),
                  key=f"training_acc_{info.run_id}", config={"displaylogo": False})
    last = c.last_epoch
    st.caption(_("{steps} steps logged · {epochs} epochs finished").format(
        steps=len(c.step), epochs=len(c.epochs))
               + (_(" · last test accuracy {acc:.2%}").format(acc=last["test_acc"])
                  if last else ""))


def evaluation(run_id: str, result: runs.Evaluation) -> None:
    """The test accuracy, the confusion matrix and the per-class accuracy."""
    names = result.class_names
    st.markdown(_("**Test accuracy {acc:.2%}** on {n:,} test images.").format(
        acc=result.accuracy, n=result.test_images))
    e1, e2 = st.columns(2)
    charts.plotly(e1, figures.confusion_figure(result.confusion, names),
                  key=f"training_confusion_{run_id}")
    charts.plotly(e2, figures.per_class_figure(result.per_class_accuracy, names),
                  key=f"training_perclass_{run_id}")


def compare(listed: list[runs.RunInfo]) -> None:
    """Pick runs and overlay their accuracy and loss per epoch."""
    st.markdown(_("**Compare runs**: overlay their curves (with and without BatchNorm or "
                  "augmentation, sigmoid LeNet vs ReLU LeNet, …)."))
    by_id = {r.run_id: r for r in listed}
    with_epochs = [r.run_id for r in listed if r.status.epochs_done]
    chosen = st.multiselect(_("Runs to compare"), list(by_id), default=with_epochs[:2],
                            key="training_compare")
    if not chosen:
        return
    series = []
    for rid in chosen:
        epochs = runs.curves(runs.read_metrics(by_id[rid].path)).epochs
        if not epochs:
            st.caption(_("{run} has no finished epoch yet.").format(run=rid))
        series.append((by_id[rid].label, epochs))
    acc, loss = figures.compare_figures(series)
    k1, k2 = st.columns(2)
    charts.plotly(k1, acc, key="training_compare_acc")
    charts.plotly(k2, loss, key="training_compare_loss")
