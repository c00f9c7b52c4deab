"""BatchNorm lab: step a real BatchNorm layer in train and eval mode and watch every number move."""

from __future__ import annotations

import streamlit as st
import torch

from explorer import batchnorm as bn
from explorer import i18n, images, kernels
from explorer.figures import batchnorm as figures
from explorer.i18n import _, ngettext
from explorer.ui import batchnorm_lab, charts, predict_panel, widgets


@widgets.guarded("running statistics")
def running_statistics(lab: bn.BatchNormLab) -> int:
    """The buffers now, for the channel picked here (returned: later sections use it)."""
    config, last = lab.config, lab.history[-1]
    st.subheader(_("Running statistics"))
    pick, *metric_cols = st.columns([1.2, 1, 1, 1, 1, 1])
    channel = int(widgets.number_input(_("Channel to inspect"), 0, config.channels - 1,
                                       key="bn_channel", where=pick))
    metric_cols[0].metric(_("Steps"), last.step,
                          help=_("Forward passes so far (train and eval)."))
    metric_cols[1].metric("num_batches_tracked", last.num_batches_tracked)
    for col, name in zip(metric_cols[2:4], ("running_mean", "running_var"), strict=True):
        buffer = getattr(last, name)
        col.metric(f"{name}[{channel}]",
                   bn.format_value(None if buffer is None else float(buffer[channel])))
    metric_cols[4].metric(_("batch mean[{c}]").format(c=channel),
                          bn.format_value(float(lab.batch_mean()[channel])),
                          help=_("Mean of this channel over the batch the layer sees now."))
    if not config.track_running_stats:
        st.info(_("`track_running_stats=False`: the layer keeps no running statistics, so "
                  "there is nothing to plot, and even in eval mode it normalises with each "
                  "batch's own statistics."), icon=":material/info:")
    else:
        history_charts(lab)
    return channel


@st.fragment
@widgets.guarded("running-statistics charts")
def history_charts(lab: bn.BatchNormLab) -> None:
    channels = lab.config.channels
    shown = st.multiselect(_("Channels to plot"), list(range(channels)),
                           default=list(range(min(4, channels))), key="bn_plot_channels")
    series = {name: lab.series(name) for pair in figures.STATS for name in pair}
    charts.plotly(st, figures.history_figure([r.step for r in lab.history], series, shown,
                                            [r.training for r in lab.history]),
                  key="bn_history")
    st.caption(_("Solid: the layer's buffers after each step. Dashed: the data's true value: "
                 "the repeated batch's mean and unbiased variance, or, with a new batch each "
                 "step, the distribution's shift and scale².") + " " + _(
        "Grey: the steps taken in eval mode, where the buffers stay put."))
    last = lab.history[-1]
    charts.plotly(st, figures.channels_figure(
        {name: getattr(last, name).numpy() for name, _target in figures.STATS},
        {target: series[target][-1] for _name, target in figures.STATS}), key="bn_channels_now")


@st.fragment
@widgets.guarded("update rule")
def update_rule(lab: bn.BatchNormLab, channel: int) -> None:
    st.subheader(_("The update rule, with this step's numbers"))
    rule = lab.update_rule(channel)
    keras = st.toggle(_("Show the Keras convention beside PyTorch's"), key="bn_keras")
    if rule is None:
        st.info(_("Press **Step 1** in train mode (with track_running_stats on) to see the "
                  "update of the last step.") if lab.config.track_running_stats
                else _("No running statistics to update."))
        return
    m_text = "1/num_batches_tracked" if rule.momentum is None else "momentum"
    rule_cols = st.columns(2 if keras else 1)
    with rule_cols[0]:
        st.markdown(_("**PyTorch**: `running = (1 − {m})·running + {m}·batch_stat`, {m} = "
                      "**{f:g}** (the weight on the new batch)").format(m=m_text, f=rule.factor))
        for line in rule.latex(channel):
            st.latex(line)
        st.caption(rule.stored_sentence())
    if keras:
        with rule_cols[1]:
            keras_rule(rule, channel)


def keras_rule(rule: bn.UpdateRule, channel: int) -> None:
    if rule.momentum is None:
        st.markdown(_("**Keras** has no cumulative-average mode: its `momentum` is a fixed "
                      "weight on the old value."))
        return
    st.markdown(_("**Keras**: `moving = momentum·moving + (1 − momentum)·batch`, momentum = "
                  "**{k:g}** (the weight on the old value)").format(
        k=bn.keras_momentum(rule.momentum)))
    st.latex(rule.keras_latex(channel))
    st.caption(rule.keras_sentence())


@st.fragment
@widgets.guarded("the algorithm, by hand")
def algorithm_box(lab: bn.BatchNormLab, out: torch.Tensor | None, channel: int) -> None:
    st.subheader(_("The algorithm box, by hand"))
    if lab.last_input is None:
        st.info(_("Press **Step 1** to feed a batch; the box then shows that step's numbers."))
        return
    config = lab.config
    sample = int(widgets.number_input(_("Sample i"), 0, config.batch_size - 1,
                                      key="bn_sample", where=st.columns(4)[0]))
    hand = bn.hand_computation(lab.last_input, out, lab.layer, lab.last_training, channel,
                               sample)
    box, check = st.columns([3, 2])
    with box:
        where = "" if config.kind == "1d" else _(", at position (0, 0)")
        if hand.uses_batch_stats:
            st.markdown(_("Channel {c}, sample {i}{where}; the batch holds m = {m} values of "
                          "this channel.").format(c=channel, i=sample, where=where, m=hand.m))
        else:
            st.markdown(_("Eval mode: channel {c}, sample {i}{where} is normalised with the "
                          "running statistics instead of the batch's.").format(
                c=channel, i=sample, where=where))
        for line in [*hand.statistics_latex(), *hand.output_latex()]:
            st.latex(line)
    with check:
        st.metric(_("By hand: y"), f"{hand.y_hand:.7f}")
        st.metric(_("The layer: y[{index}]").format(index=", ".join(map(str, hand.index))),
                  f"{hand.y_layer:.7f}")
        st.metric(_("Largest |hand − layer| over the whole output"), f"{hand.max_abs_diff:.1e}",
                  help=_("The hand computation runs in float64, the layer in float32."))


@widgets.guarded("γ and β")
def gamma_and_beta(lab: bn.BatchNormLab, out: torch.Tensor | None, channel: int) -> None:
    st.subheader(_("γ and β: scale and shift after normalising"))
    affine = lab.config.affine
    g_col, b_col = st.columns(2)
    g_col.slider(_("γ (weight), every channel"), -3.0, 3.0, step=0.1, key="bn_gamma",
                 disabled=not affine)
    b_col.slider(_("β (bias), every channel"), -3.0, 3.0, step=0.1, key="bn_beta",
                 disabled=not affine)
    if not affine:
        st.caption(_("affine=False: the layer has no weight or bias; its output stays at mean "
                     "0, variance 1."))
    if lab.last_input is not None:
        x_c, y_c = bn.channel_values(lab.last_input, channel), bn.channel_values(out, channel)
        names = (_("input, channel {c}").format(c=channel),
                 _("output, channel {c}").format(c=channel))
        charts.plotly(st, figures.overlay_figure(x_c, y_c, names), key="bn_affine_hist")
        mean, std = bn.mean_std(y_c)
        st.caption(_("Output of channel {c}: mean {mean:.3f}, standard deviation {std:.3f}; in "
                     "train mode these follow β and |γ|.").format(c=channel, mean=mean, std=std))

    st.subheader(_("Inside the layer: `vars(layer)`"))
    st.code(bn.layer_vars(lab.layer, preview=6), language="python", wrap_lines=True)


@widgets.guarded("train vs eval")
def train_vs_eval(lab: bn.BatchNormLab, batch_now: torch.Tensor, channel: int) -> None:
    st.header(_("Train vs eval"))
    st.markdown(_("In train mode the layer normalises with the **batch's** statistics (and "
                  "updates its buffers); after `layer.eval()` it uses `running_mean` and "
                  "`running_var`. Here is the current batch, channel {c}, through both (on a "
                  "copy of the layer, so nothing moves).").format(c=channel))
    comparison = bn.compare_modes(lab.layer, batch_now, channel)
    if comparison is None:
        st.warning(_("Train mode refuses this batch: one value per channel has no variance."))
        return
    charts.plotly(st, figures.histograms_figure(
        {_("input"): comparison.x, _("output, train mode"): comparison.y_train,
         _("output, eval mode"): comparison.y_eval}), key="bn_modes")
    st.caption(comparison.summary())


@st.fragment
@widgets.guarded("forgetting eval()")
def forgot_eval(lab: bn.BatchNormLab, channel: int) -> None:
    st.subheader(_("Forgot `model.eval()`?"))
    st.markdown(_("At test time you predict **one** sample. Press the button to push one fresh "
                  "sample of this data through a copy of the layer left in train mode, and "
                  "through one in eval mode."))
    if st.button(_("Predict one sample without model.eval()"), key="bn_single_button",
                 icon=":material/bug_report:"):
        st.session_state["bn_single_shown"] = True
    if not st.session_state.get("bn_single_shown"):
        return
    channels = lab.config.channels
    single = bn.single_sample(lab)
    if single.error:
        st.error(f"ValueError: {single.error}", icon=":material/error:")
        st.markdown(_(
            "That is PyTorch's own message. With a batch of one, each of the {n} channels holds "
            "a single value: its batch mean is that value and its variance is 0, so every "
            "output would be β whatever the input. PyTorch refuses rather than silently "
            "returning garbage.").format(n=channels))
        if (value := single.eval_value(channel)) is not None:
            st.markdown(_("In eval mode the same sample is fine: channel {c} gives "
                          "**{value:.4f}**.").format(c=channel, value=value))
        else:
            st.markdown(_("Here eval mode refuses too: with `track_running_stats=False` there "
                          "are no running statistics to fall back on."))
        return
    st.warning(
        _("No error: BatchNorm2d has H×W values per channel even in one image, so train mode "
          "normalises the image with **its own** statistics, and the answer depends on the "
          "batch. Largest difference from eval mode: **{diff:.4f}**.").format(
            diff=single.max_abs_diff),
        icon=":material/warning:",
    )
    st.dataframe(single.means_table(), hide_index=True)
    st.caption(_("In train mode each channel's mean comes out as β: the image's own "
                 "brightness in that channel has been normalised away."))


@widgets.guarded("distribution shift")
def distribution_shift(lab: bn.BatchNormLab, channel: int, shift: float) -> None:
    st.subheader(_("Distribution shift"))
    st.markdown(_(
        "Move **Mean shift** mid-run (no reset) and step again: the data moves under a layer "
        "whose running statistics still describe the old data, and they catch up at a speed "
        "set by momentum. Each step closes a fraction `momentum` of the gap: after k steps "
        "`(1 − momentum)^k` of it is left."))
    st.button(_("Shift the data mean by +1 and run 50 steps"),
              on_click=batchnorm_lab.shift_and_run, key="bn_shift_button",
              disabled=shift >= 3.0, icon=":material/trending_up:")
    if (catch := lab.catch_up(channel)) is not None:
        st.markdown(catch.sentence(channel, lab.history[-1].training))


@widgets.guarded("averaged axes")
def averaged_axes() -> None:
    st.header(_("BatchNorm2d: which axes are averaged"))
    st.markdown(_(
        "A block of shape [N, C, H, W] (here N = 3 samples, C = 4 channels, H = W = 3): each "
        "little square is one feature map. Blue: the values that share one mean and variance "
        "with the top-left value of sample 0, channel 1, found by asking each real layer which "
        "inputs its output depends on (autograd)."))
    panels = batchnorm_lab.axes_figures((3, 4, 3, 3), 0, 1, i18n.language())
    for i, (column, figure) in enumerate(zip(st.columns(len(panels)), panels, strict=True)):
        charts.plotly(column, figure, key=f"bn_axes_{i}")


@widgets.guarded("feature maps of your photo")
def photo_feature_maps(photo: images.LoadedImage) -> None:
    st.subheader(_("BatchNorm2d on feature maps of your photo ({name})").format(
        name=photo.name))
    result, figure = batchnorm_lab.photo_maps(kernels.image_key(photo.image, photo.name),
                                              photo.image, i18n.language())
    maps = result.before
    st.markdown(_(
        "A batch of {n} crops of the photo, each filtered by {c} fixed 3×3 kernels: a real "
        "[N, C, H, W] = {shape} batch of feature maps through `nn.BatchNorm2d({c})` in train "
        "mode. Before, the channels live on very different scales; after, every channel has "
        "mean 0 and variance 1 over N, H and W.").format(
        n=maps.shape[0], c=maps.shape[1], shape=list(maps.shape)))
    if flat := result.constant_channels():
        st.info(ngettext(
            "On this photo {names} is constant (std 0 over N, H and W): BatchNorm can only "
            "subtract the mean, so it comes out as 0, not with variance 1.",
            "On this photo {names} are constant (std 0 over N, H and W): BatchNorm can only "
            "subtract the mean, so they come out as 0, not with variance 1.",
            len(flat)).format(names=_(", ").join(flat)), icon=":material/info:")
    charts.plotly(st, figure, key="bn_maps")
    st.caption(_("Rows: channels (one kernel each); columns: the crops of the batch. Each "
                 "panel uses one colour scale for all its maps, so a channel with a small range "
                 "looks pale."))
    st.dataframe(result.table(), hide_index=True)


# --- the page ---------------------------------------------------------------------------------

widgets.page_header(
    _("BatchNorm lab"),
    _("The course runs `x = torch.randn(100, 16) + 0.5` through `nn.BatchNorm1d(16)` once and "
      "then 100 times and prints `running_mean` and `running_var`. Here you step that very "
      "experiment: every **Step** is one real forward pass of a real `torch` BatchNorm layer "
      "kept for you, and every number below is read from it. Change the data, the layer and "
      "the mode, and break it."),
)
photo = widgets.image_input()
predict_panel.panel("batchnorm", what=_("what the layer computes"))
controlled = batchnorm_lab.controls()
if controlled is None:  # its section said so; every section below needs the lab
    st.stop()
config, knobs, clicked, reset = controlled
lab = batchnorm_lab.run_the_lab(config, knobs, clicked, reset)
if lab is None:
    st.stop()
channel = running_statistics(lab) or 0
batch_now = lab.batch()
update_rule(lab, channel)
output = lab.output()  # the last step's output with the current γ and β (one forward pass)
algorithm_box(lab, output, channel)
gamma_and_beta(lab, output, channel)
train_vs_eval(lab, batch_now, channel)
forgot_eval(lab, channel)
distribution_shift(lab, channel, knobs.shift)
averaged_axes()
photo_feature_maps(photo)
