"""BatchNorm lab: step a real BatchNorm layer in train and eval mode and watch every number move."""

from __future__ import annotations

from uuid import uuid4

import numpy as np
import streamlit as st
import torch
from PIL import Image

from explorer import batchnorm as bn
from explorer import i18n, kernels
from explorer.figures import PrebuiltFigure
from explorer.figures import batchnorm as figures
from explorer.i18n import N_, _, ngettext
from explorer.ui import predict_panel, widgets

KINDS = {"1d": N_("BatchNorm1d on [N, C]"), "2d": N_("BatchNorm2d on [N, C, H, W]")}
BATCH_MODES = {"same": N_("the same batch again"), "new": N_("a new batch each step")}
MODES = ("train", "eval")
#: The course's experiment: x = torch.randn(100, 16) + 0.5 through nn.BatchNorm1d(16).
DEFAULTS: dict[str, object] = {
    "bn_kind": "1d", "bn_channels": 16, "bn_batch": 100, "bn_size": 4, "bn_shift": 0.5,
    "bn_scale": 1.0, "bn_seed": 0, "bn_batches": "same", "bn_momentum": "0.1", "bn_eps": 1e-5,
    "bn_affine": True, "bn_track": True, "bn_mode": "train",
}
URL_KEYS = tuple(DEFAULTS)


def _course_settings() -> None:
    for key, value in DEFAULTS.items():
        st.session_state[key] = value
    st.session_state["bn_gamma"], st.session_state["bn_beta"] = 1.0, 0.0
    st.session_state["bn_reset"] = True


def _shift_and_run() -> None:
    st.session_state["bn_shift"] = round(min(3.0, st.session_state["bn_shift"] + 1.0), 1)
    st.session_state["bn_pending"] = 50


def _fmt(v: float | None, digits: int = 4) -> str:
    return "None" if v is None or v != v else f"{v:.{digits}f}"


def _tex(v: float, digits: int = 4) -> str:
    """A number for a LaTeX product: negatives in parentheses, 1e-05 as 10^{-5}."""
    if v != 0 and abs(v) < 1e-3:
        mantissa, exponent = f"{v:.0e}".split("e")
        text = rf"{mantissa}\times10^{{{int(exponent)}}}".removeprefix(r"1\times")
    else:
        text = f"{v:.{digits}f}"
    return f"({text})" if v < 0 else text


# --- cached work: keyed by small values ---------------------------------------------------


@st.cache_resource(max_entries=256, ttl=7200, show_spinner=False)
def _lab_slot(lab_id: str) -> dict[str, bn.BatchNormLab]:
    """Where one session's lab lives, on the server: the session keeps only its id."""
    return {}


@st.cache_resource(max_entries=8, show_spinner=False)
def _axes_figure(shape: tuple[int, int, int, int], sample: int, channel: int, lang: str
                 ) -> PrebuiltFigure:
    groups = {kind: bn.norm_group(kind, shape, sample, channel) for kind in bn.NORM_AXES}
    with i18n.use_language(lang):
        return PrebuiltFigure(figures.axes_figure(shape, groups).to_dict())


@st.cache_resource(max_entries=16, ttl=3600, show_spinner=False)
def _photo_maps(photo_key: tuple, _image: Image.Image, lang: str
                ) -> tuple[bn.FeatureMapsNorm, PrebuiltFigure]:
    result = bn.batchnorm_feature_maps(bn.image_feature_maps(_image))
    with i18n.use_language(lang):
        return result, PrebuiltFigure(figures.maps_figure(result).to_dict())


# --- sections ---------------------------------------------------------------------------------


@widgets.guarded("controls")
def controls() -> tuple[bn.LabConfig, bn.Knobs, dict[int, bool], bool]:
    """Data, layer and run controls; returns the lab's config, its knobs and the buttons."""
    for key, default in DEFAULTS.items():
        choices = {"bn_kind": tuple(KINDS), "bn_batches": tuple(BATCH_MODES), "bn_mode": MODES,
                   "bn_momentum": tuple(bn.MOMENTUM_CHOICES), "bn_eps": bn.EPS_CHOICES}.get(key)
        bounds = {"bn_channels": (1, 64), "bn_batch": (1, 512), "bn_size": (1, 16),
                  "bn_shift": (-3.0, 3.0), "bn_scale": (0.1, 3.0), "bn_seed": (0, 9999)}.get(key)
        widgets.url_state(key, default, choices=choices, bounds=bounds)

    with st.container(border=True):
        data_col, layer_col, run_col = st.columns([1.1, 1.1, 1], gap="large")
        with data_col:
            st.markdown(_("**Data** · `x = z·scale + shift`, `z ~ randn`"))
            c1, c2 = st.columns(2)
            channels = widgets.number_input(_("Features (channels) C"), 1, 64, key="bn_channels",
                                            where=c1)
            batch_size = widgets.number_input(_("Batch size N"), 1, 512, key="bn_batch",
                                              where=c2)
            shift = st.slider(_("Mean shift"), -3.0, 3.0, step=0.1, key="bn_shift",
                              help=_("Change it mid-run to shift the data under a trained "
                                     "layer."))
            scale = st.slider(_("Scale (standard deviation)"), 0.1, 3.0, step=0.1,
                              key="bn_scale")
            c1, c2 = st.columns(2)
            seed = widgets.number_input(_("Seed"), 0, 9999, key="bn_seed", where=c1)
            batches = c2.radio(_("Each step feeds"), tuple(BATCH_MODES), key="bn_batches",
                               format_func=lambda mode: _(BATCH_MODES[mode]),
                               help=_("The course repeats the same x."))
        with layer_col:
            st.markdown(_("**Layer**"))
            kind = st.radio(_("Layer type"), tuple(KINDS), key="bn_kind",
                            format_func=lambda k: _(KINDS[k]))
            c1, c2 = st.columns(2)
            momentum_label = c1.selectbox(
                "momentum", tuple(bn.MOMENTUM_CHOICES), key="bn_momentum",
                format_func=lambda m: bn.format_momentum(bn.MOMENTUM_CHOICES[m]),
                help=_("PyTorch's momentum is the weight on the NEW batch. None: cumulative "
                       "average."),
            )
            eps = c2.selectbox("eps", bn.EPS_CHOICES, key="bn_eps",
                               format_func=lambda e: f"{e:g}")
            size = widgets.number_input(_("Feature map height = width (BatchNorm2d only)"), 1,
                                        16, key="bn_size", disabled=kind == "1d")
            affine = st.toggle(_("affine (learnable γ and β)"), key="bn_affine")
            track = st.toggle("track_running_stats", key="bn_track")
        with run_col:
            st.markdown(_("**Run**"))
            mode = st.radio(_("Mode"), MODES, key="bn_mode", horizontal=True,
                            format_func=lambda m: f"layer.{m}()")
            b1, b2 = st.columns(2)
            clicked = {1: b1.button(_("Step 1"), key="bn_step1", width="stretch",
                                    type="primary"),
                       10: b2.button(_("Step 10"), key="bn_step10", width="stretch")}
            b1, b2 = st.columns(2)
            clicked[100] = b1.button(_("Run 100"), key="bn_run100", width="stretch")
            reset = b2.button(_("Reset"), key="bn_reset_button", width="stretch",
                              icon=":material/restart_alt:")
            st.button(_("Back to the course's settings"), on_click=_course_settings,
                      type="tertiary", icon=":material/school:")
            st.caption(_("Changing C, N, H×W, the seed, affine or track_running_stats builds "
                         "a new layer; the other settings apply mid-run."))
    widgets.sync_url(*URL_KEYS)
    st.session_state.setdefault("bn_gamma", 1.0)
    st.session_state.setdefault("bn_beta", 0.0)

    config = bn.LabConfig(kind=kind, channels=int(channels), batch_size=int(batch_size),
                          size=int(size), seed=int(seed), affine=affine,
                          track_running_stats=track)
    knobs = bn.Knobs(shift=float(shift), scale=float(scale), same_batch=batches == "same",
                     momentum=bn.MOMENTUM_CHOICES[momentum_label], eps=float(eps),
                     training=mode == "train", gamma=float(st.session_state["bn_gamma"]),
                     beta=float(st.session_state["bn_beta"]))
    return config, knobs, clicked, reset


@widgets.guarded("the lab")
def run_the_lab(config: bn.LabConfig, knobs: bn.Knobs, clicked: dict[int, bool],
                reset: bool) -> bn.BatchNormLab:
    """This session's lab (a new one when the config changed), stepped as the buttons say."""
    if config.numel > bn.MAX_VALUES:
        st.warning(_("A batch of {shape} holds {n:,} values; this lab takes at most {limit:,}. "
                     "Make the batch, the channels or the feature maps smaller.").format(
            shape=list(config.shape), n=config.numel, limit=bn.MAX_VALUES),
            icon=":material/warning:")
        st.stop()
    slot = _lab_slot(st.session_state.setdefault("bn_lab_id", uuid4().hex))
    lab = slot.get("lab")
    if lab is None or lab.config != config:
        lab = slot["lab"] = bn.BatchNormLab(config, knobs)
    lab.apply(knobs)
    if reset or st.session_state.pop("bn_reset", False):
        lab.reset()
    for n, pressed in clicked.items():
        if pressed:
            lab.step(n)
    if pending := st.session_state.pop("bn_pending", 0):
        lab.step(pending)
    if lab.error:
        st.error(
            _("PyTorch refused the step: “{error}”. In train mode BatchNorm needs more than one "
              "value per channel to compute a variance: raise the batch size, give BatchNorm2d "
              "bigger feature maps, or switch to eval mode.").format(error=lab.error)
            if "Expected more than 1" in lab.error else lab.error,
            icon=":material/block:",
        )
    for key, limit in (("bn_channel", config.channels), ("bn_sample", config.batch_size)):
        if st.session_state.get(key, 0) >= limit:  # the range shrank under a stored choice
            st.session_state[key] = limit - 1
    return lab


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
                   _fmt(None if buffer is None else float(buffer[channel])))
    metric_cols[4].metric(_("batch mean[{c}]").format(c=channel),
                          _fmt(float(lab.batch_mean()[channel])),
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
    st.plotly_chart(figures.history_figure([r.step for r in lab.history], series, shown),
                    key="bn_history")
    st.caption(_("Solid: the layer's buffers after each step. Dashed: the data's true value: "
                 "the repeated batch's mean and unbiased variance, or, with a new batch each "
                 "step, the distribution's shift and scale²."))
    last = lab.history[-1]
    st.plotly_chart(figures.channels_figure(
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
    f = rule.factor
    rule_cols = st.columns(2 if keras else 1)
    with rule_cols[0]:
        st.markdown(_("**PyTorch**: `running = (1 − {m})·running + {m}·batch_stat`, {m} = "
                      "**{f:g}** (the weight on the new batch)").format(m=m_text, f=f))
        st.latex(
            rf"\begin{{aligned}}\text{{running\_mean}}[{channel}] &= (1-{f:g})\cdot"
            rf"{_tex(rule.old_mean)} + {f:g}\cdot{_tex(rule.batch_mean)} \\ "
            rf"&= {rule.by_hand_mean:.4f}\end{{aligned}}"
        )
        st.latex(
            rf"\begin{{aligned}}\text{{running\_var}}[{channel}] &= (1-{f:g})\cdot"
            rf"{_tex(rule.old_var)} + {f:g}\cdot\underbrace{{{rule.batch_var_unbiased:.4f}}}"
            rf"_{{\text{{unbiased}}}} \\ &= {rule.by_hand_var:.4f}\end{{aligned}}"
        )
        st.caption(_("The layer stored running_mean = {mean:.6f} and running_var = {var:.6f}. "
                     "It normalised this batch with the **biased** variance {biased:.4f} "
                     "(divide by m) but stores the **unbiased** {unbiased:.4f} (divide by "
                     "m − 1) in running_var.").format(
            mean=rule.new_mean, var=rule.new_var, biased=rule.batch_var,
            unbiased=rule.batch_var_unbiased))
    if keras:
        with rule_cols[1]:
            keras_rule(rule, channel)


def keras_rule(rule: bn.UpdateRule, channel: int) -> None:
    if rule.momentum is None:
        st.markdown(_("**Keras** has no cumulative-average mode: its `momentum` is a fixed "
                      "weight on the old value."))
        return
    k = bn.keras_momentum(rule.momentum)
    keras_default = bn.torch_momentum(bn.KERAS_DEFAULT_MOMENTUM)
    st.markdown(_("**Keras**: `moving = momentum·moving + (1 − momentum)·batch`, momentum = "
                  "**{k:g}** (the weight on the old value)").format(k=k))
    st.latex(rf"\begin{{aligned}}\text{{moving\_mean}}[{channel}] &= {k:g}\cdot"
             rf"{_tex(rule.old_mean)} + (1-{k:g})\cdot{_tex(rule.batch_mean)} \\ "
             rf"&= {rule.by_hand_mean:.4f}\end{{aligned}}")
    st.caption(_(
        "Same physics, opposite numbers: PyTorch momentum={torch_m:g} is Keras "
        "momentum={keras_m:g}. Keras' default {keras_default:g} is PyTorch "
        "momentum={as_torch:g}: {times:.0f} times slower than PyTorch's default "
        "{torch_default:g}.").format(
        torch_m=rule.momentum, keras_m=k, keras_default=bn.KERAS_DEFAULT_MOMENTUM,
        as_torch=keras_default, times=bn.TORCH_DEFAULT_MOMENTUM / keras_default,
        torch_default=bn.TORCH_DEFAULT_MOMENTUM))


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
            st.latex(rf"\mu_B = \frac{{1}}{{m}}\sum_{{i=1}}^{{m}} x_i = {hand.mean:.6f}")
            st.latex(rf"\sigma_B^2 = \frac{{1}}{{m}}\sum_{{i=1}}^{{m}}(x_i-\mu_B)^2 = "
                     rf"{hand.var:.6f}")
        else:
            st.markdown(_("Eval mode: channel {c}, sample {i}{where} is normalised with the "
                          "running statistics instead of the batch's.").format(
                c=channel, i=sample, where=where))
            st.latex(rf"\mu = \text{{running\_mean}} = {hand.mean:.6f},\quad "
                     rf"\sigma^2 = \text{{running\_var}} = {hand.var:.6f}")
        st.latex(rf"\hat x_i = \frac{{x_i-\mu}}{{\sqrt{{\sigma^2+\epsilon}}}} = "
                 rf"\frac{{{hand.x:.6f} - {_tex(hand.mean, 6)}}}{{\sqrt{{{hand.var:.6f} + "
                 rf"{_tex(hand.eps)}}}}} = {hand.x_hat:.6f}")
        st.latex(rf"y_i = \gamma\hat x_i + \beta = {_tex(hand.gamma, 2)}\cdot"
                 rf"{_tex(hand.x_hat, 6)} + {_tex(hand.beta, 2)} = {hand.y_hand:.6f}")
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
        y_c = out[:, channel].flatten().double().numpy()
        x_c = lab.last_input[:, channel].flatten().double().numpy()
        names = (_("input, channel {c}").format(c=channel),
                 _("output, channel {c}").format(c=channel))
        st.plotly_chart(figures.overlay_figure(x_c, y_c, names), key="bn_affine_hist")
        st.caption(_("Output of channel {c}: mean {mean:.3f}, standard deviation {std:.3f}; in "
                     "train mode these follow β and |γ|.").format(
            c=channel, mean=y_c.mean(), std=y_c.std()))

    st.subheader(_("Inside the layer: `vars(layer)`"))
    st.code(bn.layer_vars(lab.layer, preview=6), language="python")


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
    st.plotly_chart(figures.histograms_figure(
        {_("input"): comparison.x, _("output, train mode"): comparison.y_train,
         _("output, eval mode"): comparison.y_eval}), key="bn_modes")
    st.caption(_("Train-mode output: mean {train_mean:.3f}, std {train_std:.3f}. Eval-mode "
                 "output: mean {eval_mean:.3f}, std {eval_std:.3f}. They agree once the running "
                 "statistics have caught up with the data, up to a factor √((m−1)/m): "
                 "running_var holds the unbiased variance, train mode divides by the biased "
                 "one.").format(
        train_mean=comparison.y_train.mean(), train_std=comparison.y_train.std(),
        eval_mean=comparison.y_eval.mean(), eval_std=comparison.y_eval.std()))


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
        if single.y_eval is not None:
            value = float(single.y_eval[0, channel].flatten()[0])
            st.markdown(_("In eval mode the same sample is fine: channel {c} gives "
                          "**{value:.4f}**.").format(c=channel, value=value))
        else:
            st.markdown(_("Here eval mode refuses too: with `track_running_stats=False` there "
                          "are no running statistics to fall back on."))
        return
    eval_means, train_means = single.channel_means()
    st.warning(
        _("No error: BatchNorm2d has H×W values per channel even in one image, so train mode "
          "normalises the image with **its own** statistics, and the answer depends on the "
          "batch. Largest difference from eval mode: **{diff:.4f}**.").format(
            diff=single.max_abs_diff),
        icon=":material/warning:",
    )
    st.dataframe(
        {_("channel"): list(range(channels)),
         _("output mean, eval mode"): np.round(eval_means, 4),
         _("output mean, train mode (its own stats)"): np.round(train_means, 4)},
        hide_index=True,
    )
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
    st.button(_("Shift the data mean by +1 and run 50 steps"), on_click=_shift_and_run,
              key="bn_shift_button",
              disabled=shift >= 3.0, icon=":material/trending_up:")
    catch = lab.catch_up(channel)
    if catch is None:
        return
    if catch.steps_measured is not None:
        measured = _("{n} steps").format(n=catch.steps_measured)
    elif not lab.history[-1].training:
        measured = _("never, while the layer is in eval mode (its buffers stay put)")
    else:
        measured = _("not yet: step on")
    predicted = (_("no fixed rate with the cumulative average: each step weighs 1/n, so it "
                   "slows down the longer it has run") if catch.steps_predicted is None
                 else _("{n} steps by (1 − momentum)^k").format(n=catch.steps_predicted))
    st.markdown(_(
        "At step {step} the mean shift went from {old:g} to {new:g}. To close {fraction:.0%} "
        "of the gap in running_mean[{c}]: measured **{measured}**; predicted {predicted}."
    ).format(step=catch.from_step, old=catch.old_shift, new=catch.new_shift,
             fraction=catch.fraction, c=channel, measured=measured, predicted=predicted))


@widgets.guarded("averaged axes")
def averaged_axes() -> None:
    st.header(_("BatchNorm2d: which axes are averaged"))
    st.markdown(_(
        "A block of shape [N, C, H, W] (here N = 3 samples, C = 4 channels, H = W = 3): each "
        "little square is one feature map. Blue: the values that share one mean and variance "
        "with the top-left value of sample 0, channel 1, found by asking each real layer which "
        "inputs its output depends on (autograd)."))
    st.plotly_chart(_axes_figure((3, 4, 3, 3), 0, 1, i18n.language()), key="bn_axes")


@widgets.guarded("feature maps of your photo")
def photo_feature_maps() -> None:
    st.subheader(_("BatchNorm2d on feature maps of your photo ({name})").format(
        name=photo.name))
    result, figure = _photo_maps(kernels.image_key(photo.image, photo.name), photo.image,
                                 i18n.language())
    maps = result.before
    st.markdown(_(
        "A batch of {n} crops of the photo, each filtered by {c} fixed 3×3 kernels: a real "
        "[N, C, H, W] = {shape} batch of feature maps through `nn.BatchNorm2d({c})` in train "
        "mode. Before, the channels live on very different scales; after, every channel has "
        "mean 0 and variance 1 over N, H and W.").format(
        n=maps.shape[0], c=maps.shape[1], shape=list(maps.shape)))
    flat = [_(name) for name, std in zip(result.names, result.std_before, strict=True)
            if std < 1e-6]
    if flat:
        st.info(ngettext(
            "On this photo {names} is constant (std 0 over N, H and W): BatchNorm can only "
            "subtract the mean, so it comes out as 0, not with variance 1.",
            "On this photo {names} are constant (std 0 over N, H and W): BatchNorm can only "
            "subtract the mean, so they come out as 0, not with variance 1.",
            len(flat)).format(names=_(", ").join(flat)), icon=":material/info:")
    st.plotly_chart(figure, key="bn_maps")
    st.caption(_("Rows: channels (one kernel each); columns: the crops of the batch. Each "
                 "panel uses one colour scale for all its maps, so a channel with a small range "
                 "looks pale."))
    st.dataframe(
        {_("channel"): [_(name) for name in result.names],
         _("mean before"): np.round(result.mean_before, 4),
         _("std before"): np.round(result.std_before, 4),
         _("mean after"): np.round(result.mean_after, 4),
         _("std after"): np.round(result.std_after, 4)},
        hide_index=True,
    )


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
controlled = controls()
if controlled is None:  # its section said so; every section below needs the lab
    st.stop()
config, knobs, clicked, reset = controlled
lab = run_the_lab(config, knobs, clicked, reset)
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
photo_feature_maps()
