"""Experiments: the course's claims, each tested by paired runs and judged by their numbers."""

from __future__ import annotations

import streamlit as st

from explorer.experiments import designs, kernel_cost, pairing, verdicts
from explorer.figures import experiments as figures
from explorer.i18n import _
from explorer.training import run_queue, runs
from explorer.ui import charts, identity, widgets

widgets.page_header(
    _("Experiments"),
    _("The course makes claims about BatchNorm, activations, augmentation, depth and kernel "
      "sizes. Here each claim is an experiment: runs that differ in the one thing the claim is "
      "about, start from the same weights and see the same batches in the same order. Press "
      "**Run**, watch the curves, and read the verdict, computed from the numbers the runs "
      "measured, which says so when a run does not support the claim."),
)
actor = identity.actor()


def _mine(group: pairing.Group) -> bool:
    return actor.owns(group.runs[0].config)


def _visible(group: pairing.Group) -> bool:
    """This student's own experiments and those the teacher shared; all for the teacher."""
    return actor.teacher or _mine(group) or any(runs.is_shared(r.path) for r in group.runs)


def _group_label(group: pairing.Group) -> str:
    """When, what size and whose (its state changes: the caption under it says that)."""
    who = _("yours") if _mine(group) else _("another student's")
    size = _("quick check") if group.quick else _("full")
    return f"{group.experiment_id.split('-', 1)[1]} · {size} · {who}"


def _default_group(key: str, listed: list[pairing.Group]) -> int:
    """The group submitted in this session, else this browser's newest, else the newest."""
    ids = [g.experiment_id for g in listed]
    mine = st.session_state.get(f"exp_group_{key}")
    if mine in ids:
        return ids.index(mine)
    return next((i for i, g in enumerate(listed) if _mine(g)), 0)


def design(experiment: designs.Experiment, arms: tuple[designs.Arm, ...],
           quick: bool = False) -> None:
    """The claim, what differs, what is held equal (and, at the quick check's size, what
    changes of it), and when the claim counts as holding."""
    st.markdown(f"> {designs.text(experiment.claim)}\n>\n> "
                + _("— the course, {source}").format(source=designs.text(experiment.source)))
    lines = [_("**What differs**: {text}.").format(text=designs.text(experiment.varied)),
             _("**Held equal**: {text}.").format(text=designs.text(experiment.held))
             + (" " + _("At the quick check's size every run trains instead for 1 epoch on "
                        "{n} images and is tested on {n}: the sizes above are the full "
                        "experiment's.").format(n=designs.QUICK_IMAGES) if quick else ""),
             _("**The claim counts as holding when** {text}.").format(
                 text=designs.text(experiment.rule))]
    if arms:
        lines.insert(0, _("**Runs ({n})**: {arms}.").format(
            n=len(arms), arms=_("; ").join(designs.arm_title(a.label) for a in arms)))
    st.markdown("\n\n".join(lines))


def run_button(experiment: designs.Experiment, size: designs.Size) -> None:
    """Queue the experiment's runs as one submission (one live submission per student)."""
    mine = run_queue.submissions(run_queue.live_runs(actor.owner))
    busy = len(mine) >= run_queue.runs_per_owner()
    b1, b2 = st.columns([1, 4])
    arms = experiment.sized(size)
    if b1.button(_("Run ({n} runs)").format(n=len(arms)), key=f"exp_run_{experiment.key}",
                 type="primary",
                 icon=":material/play_arrow:", disabled=busy):
        try:
            eid = pairing.submit(experiment, size, actor.owner)
        except ValueError as err:
            st.error(str(err))
        else:
            st.session_state[f"exp_group_{experiment.key}"] = eid
            st.rerun()
    if busy:
        last = mine[-1][-1]
        what = last.config.experiment or _("run {run}").format(run=last.run_id)
        b2.caption(_("You have {what} {state}: Run comes back when it ends (one live run or "
                     "experiment per student; Stop it on the Training page).").format(
            what=what, state=runs.state_doing(last.state)))
    else:
        b2.caption(_("The runs queue together and train one after another in worker processes; "
                     "they keep going if you leave the page, and appear in Training's runs "
                     "list."))


def _arm_status(arm: pairing.ArmRun) -> str:
    text = runs.state_doing(arm.state)
    if arm.state == "queued" and (where := run_queue.position(arm.info.run_id)):
        text += _(" (number {n})").format(n=where)
    elif arm.state == "running":
        text += _(", epoch {epoch} of {epochs}").format(epoch=len(arm.epochs) + 1,
                                                      epochs=arm.info.config.settings.epochs)
    return f"{designs.arm_title(arm.label)}: {text}"


def results(experiment: designs.Experiment, experiment_id: str) -> None:
    """The runs' curves overlaid, the verdict and what was checked to be equal."""
    group = next((g for g in pairing.groups(experiment.key) if g.experiment_id == experiment_id),
                 None)
    if group is None:
        st.info(_("Those runs are no longer in the runs folder."))
        return
    arms = pairing.arm_runs(group)
    st.caption(" · ".join(_arm_status(a) for a in arms))
    epochs = [(designs.arm_title(a.label), a.epochs) for a in arms]
    dashed = any(a.measures_training_accuracy for a in arms)
    planned = max(a.info.config.settings.epochs for a in arms)
    c1, c2, *c3 = st.columns(3 if dashed else 2)
    charts.plotly(c1, figures.epoch_figure(
        epochs, "test_acc", _("Accuracy: test, training dashed") if dashed else
        _("Test accuracy per epoch"), percent=True,
        dashed_key="train_eval_acc" if dashed else None, dashed_name=_("training images"),
        planned_epochs=planned, uirevision=experiment_id), key=f"exp_acc_{experiment.key}")
    charts.plotly(c2, figures.step_loss_figure(
        [(designs.arm_title(a.label), a.steps, a.loss) for a in arms],
        uirevision=experiment_id),
        key=f"exp_loss_{experiment.key}")
    if dashed:  # the claim is about the gap: draw it on its own scale
        gaps = [(designs.arm_title(a.label), a.gaps) for a in arms]
        charts.plotly(c3[0], figures.epoch_figure(
            gaps, "gap", _("Training minus test accuracy (the gap)"), percent=True,
            full_range=False, planned_epochs=planned, uirevision=experiment_id),
            key=f"exp_gap_{experiment.key}")
    verdict = verdicts.verdict(experiment, arms, group.quick)
    show = {True: st.success, False: st.warning, None: st.info}[verdict.holds]
    show(verdict.sentence, icon={True: ":material/check_circle:", False: ":material/cancel:",
                                 None: ":material/hourglass_top:"}[verdict.holds])
    st.caption(pairing.fairness(group, arms).sentence() + " "
               + _("Runs: {runs}.").format(runs=", ".join(r.run_id for r in group.runs)))
    if group.live is False and st.session_state.get(f"exp_live_{experiment.key}"):
        st.session_state[f"exp_live_{experiment.key}"] = False
        st.rerun(scope="app")  # the runs ended: bring the Run button back


@widgets.guarded("experiment")
def trained_card(experiment: designs.Experiment, size: designs.Size,
                 listed: list[pairing.Group]) -> None:
    design(experiment, experiment.sized(size), quick=size == "quick")
    run_button(experiment, size)
    if not listed:
        st.caption(_("No runs of this experiment yet."))
        return
    pick = st.selectbox(_("Results of"), range(len(listed)), index=_default_group(experiment.key,
                                                                              listed),
                        format_func=lambda i: _group_label(listed[i]),
                        key=f"exp_pick_{experiment.key}")
    group = listed[pick]
    st.session_state[f"exp_live_{experiment.key}"] = group.live
    st.fragment(results, run_every=1.0 if group.live else None)(experiment,
                                                                group.experiment_id)


@st.fragment
@widgets.guarded("kernel cost")
def kernel_card(experiment: designs.Experiment) -> None:
    design(experiment, ())
    k1, k2 = st.columns(2)
    channels = k1.select_slider(_("Channels C"), [8, 16, 32, 64, 128, 256, 512], value=64,
                                key="exp_channels")
    size = k2.select_slider(_("Map size (height = width)"), [8, 14, 28, 32, 56, 112, 224],
                            value=32, key="exp_map")
    cost = kernel_cost.compare(channels, size)
    charts.plotly(st, figures.cost_figure([_("one 7×7"), _("three 3×3")],
                                         [cost.single_weights, cost.stacked_weights],
                                         [cost.single_macs, cost.stacked_macs],
                                         [cost.single_paths, cost.stacked_paths]),
                  key="exp_cost")
    (st.success if cost.holds else st.warning)(cost.sentence())
    st.caption(_("Computed, not trained: weights counted from the layers' parameters, "
                 "multiply-adds by torch's FlopCounterMode, receptive fields measured by the "
                 "gradient of one output pixel with respect to the input."))


size = st.radio(_("Size"), list(designs.SIZES), format_func=lambda s: _(designs.SIZES[s]),
                key="exp_size",
                help=_("The quick check shows the whole path in seconds; only the full size "
                       "gives a verdict worth reading."))
everything = {key: [g for g in listed if _visible(g)]
              for key, listed in pairing.all_groups().items()}
for experiment in designs.EXPERIMENTS.values():
    with st.container(border=True):
        st.subheader(_(experiment.title))
        if experiment.trained:
            trained_card(experiment, size, everything.get(experiment.key, []))
        else:
            kernel_card(experiment)
