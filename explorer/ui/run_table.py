"""The runs a student may see, as one table: what each run is, its state, epochs and test
accuracy, whether it is theirs and whether the teacher shared it."""

from __future__ import annotations

import streamlit as st

from explorer.i18n import _
from explorer.training import access, runs


def table(listed: list[runs.RunInfo], actor: access.Actor) -> None:
    """One row per run, test accuracy as a percentage."""
    accuracy = _("test accuracy")
    rows = [{
        _("run"): r.run_id,
        _("experiment"): f"{r.config.experiment} · {r.config.arm}" if r.config.experiment else "",
        _("network"): r.config.model, _("dataset"): r.config.settings.dataset,
        "BatchNorm": r.config.batchnorm, _("augmentation"): r.config.settings.augment.describe(),
        _("optimiser"): f"{r.config.settings.optimizer} lr={r.config.settings.lr:g}",
        _("state"): runs.state_label(r.state),
        _("epochs"): f"{r.status.epochs_done}/{r.config.settings.epochs}",
        accuracy: r.status.test_acc,
        _("mine"): actor.owns(r.config),
        _("shared with the class"): runs.is_shared(r.path),
    } for r in listed]
    st.dataframe(rows, hide_index=True, width="stretch",
                 column_config={accuracy: st.column_config.NumberColumn(format="percent")})


def delete_button(info: runs.RunInfo, actor: access.Actor, where=st) -> bool:
    """Delete a finished run (its owner or the teacher), behind a confirmation in a popover;
    True once it is deleted. `access.delete_run` checks again who asks."""
    if not actor.may_manage(info.config) or info.state in runs.ACTIVE_STATES:
        return False
    with where.popover(_("Delete this run"), icon=":material/delete:"):
        st.caption(_("Run {run}, its curves and its checkpoint are removed from the server for "
                     "good.").format(run=info.run_id))
        if not st.button(_("Delete for good"), key="training_delete", type="primary"):
            return False
    access.delete_run(info.run_id, actor)
    return True
