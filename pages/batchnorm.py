"""BatchNorm lab: step a real BatchNorm layer in train and eval mode and watch every number move."""

from __future__ import annotations

from uuid import uuid4

import numpy as np
import streamlit as st
import torch
from PIL import Image

from explorer import batchnorm as bn
from explorer import kernels
from explorer.figures import PrebuiltFigure
from explorer.figures import batchnorm as figures
from explorer.ui import predict_panel, widgets

KINDS = {"1d": "BatchNorm1d on [N, C]", "2d": "BatchNorm2d on [N, C, H, W]"}
BATCH_MODES = {"same": "the same batch again", "new": "a new batch each step"}
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
def _axes_figure(shape: tuple[int, int, int, int], sample: int, channel: int) -> PrebuiltFigure:
    groups = {kind: bn.norm_group(kind, shape, sample, channel) for kind in bn.NORM_AXES}
    return PrebuiltFigure(figures.axes_figure(shape, groups).to_dict())


@st.cache_resource(max_entries=16, ttl=3600, show_spinner=False)
def _photo_maps(photo_key: tuple, _image: Image.Image) -> tuple[bn.FeatureMapsNorm,
                                                                PrebuiltFigure]:
    result = bn.batchnorm_feature_maps(bn.image_feature_maps(_image))
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
            st.markdown("**Data** · `x = z·scale + shift`, `z ~ randn`")
            c1, c2 = st.columns(2)
            channels = widgets.number_input("Features (channels) C", 1, 64, key="bn_channels",
                                            where=c1)
            batch_size = widgets.number_input("Batch size N", 1, 512, key="bn_batch", where=c2)
            shift = st.slider("Mean shift", -3.0, 3.0, step=0.1, key="bn_shift",
                              help="Change it mid-run to shift the data under a trained layer.")
            scale = st.slider("Scale (standard deviation)", 0.1, 3.0, step=0.1, key="bn_scale")
            c1, c2 = st.columns(2)
            seed = widgets.number_input("Seed", 0, 9999, key="bn_seed", where=c1)
            batches = c2.radio("Each step feeds", tuple(BATCH_MODES), key="bn_batches",
                               format_func=BATCH_MODES.get,
                               help="The course repeats the same x.")
        with layer_col:
            st.markdown("**Layer**")
            kind = st.radio("Layer type", tuple(KINDS), key="bn_kind", format_func=KINDS.get)
            c1, c2 = st.columns(2)
            momentum_label = c1.selectbox(
                "momentum", tuple(bn.MOMENTUM_CHOICES), key="bn_momentum",
                format_func=lambda m: bn.format_momentum(bn.MOMENTUM_CHOICES[m]),
                help="PyTorch's momentum is the weight on the NEW batch. None: cumulative "
                "average.",
            )
            eps = c2.selectbox("eps", bn.EPS_CHOICES, key="bn_eps",
                               format_func=lambda e: f"{e:g}")
            size = widgets.number_input("Feature map height = width (BatchNorm2d only)", 1, 16,
                                        key="bn_size", disabled=kind == "1d")
            affine = st.toggle("affine (learnable γ and β)", key="bn_affine")
            track = st.toggle("track_running_stats", key="bn_track")
        with run_col:
            st.markdown("**Run**")
            mode = st.radio("Mode", MODES, key="bn_mode", horizontal=True,
                            format_func=lambda m: f"layer.{m}()")
            b1, b2 = st.columns(2)
            clicked = {1: b1.button("Step 1", width="stretch", type="primary"),
                       10: b2.button("Step 10", width="stretch")}
            b1, b2 = st.columns(2)
            clicked[100] = b1.button("Run 100", width="stretch")
            reset = b2.button("Reset", width="stretch", icon=":material/restart_alt:")
            st.button("Back to the course's settings", on_click=_course_settings,
                      type="tertiary", icon=":material/school:")
            st.caption("Changing C, N, H×W, the seed, affine or track_running_stats builds a "
                       "new layer; the other settings apply mid-run.")
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
        st.warning(f"A batch of {list(config.shape)} holds {config.numel:,} values; this lab "
                   f"takes at most {bn.MAX_VALUES:,}. Make the batch, the channels or the "
                   "feature maps smaller.", icon=":material/warning:")
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
            f"PyTorch refused the step: “{lab.error}”. In train mode BatchNorm needs more than "
            "one value per channel to compute a variance: raise the batch size, give "
            "BatchNorm2d bigger feature maps, or switch to eval mode."
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
    st.subheader("Running statistics")
    pick, *metric_cols = st.columns([1.2, 1, 1, 1, 1, 1])
    channel = int(widgets.number_input("Channel to inspect", 0, config.channels - 1,
                                       key="bn_channel", where=pick))
    metric_cols[0].metric("Steps", last.step, help="Forward passes so far (train and eval).")
    metric_cols[1].metric("num_batches_tracked", last.num_batches_tracked)
    for col, name in zip(metric_cols[2:4], ("running_mean", "running_var"), strict=True):
        buffer = getattr(last, name)
        col.metric(f"{name}[{channel}]",
                   _fmt(None if buffer is None else float(buffer[channel])))
    metric_cols[4].metric(f"batch mean[{channel}]", _fmt(float(lab.batch_mean()[channel])),
                          help="Mean of this channel over the batch the layer sees now.")
    if not config.track_running_stats:
        st.info("`track_running_stats=False`: the layer keeps no running statistics, so there "
                "is nothing to plot, and even in eval mode it normalises with each batch's own "
                "statistics.", icon=":material/info:")
    else:
        history_charts(lab)
    return channel


@st.fragment
@widgets.guarded("running-statistics charts")
def history_charts(lab: bn.BatchNormLab) -> None:
    channels = lab.config.channels
    shown = st.multiselect("Channels to plot", list(range(channels)),
                           default=list(range(min(4, channels))), key="bn_plot_channels")
    series = {name: lab.series(name) for pair in figures.STATS for name in pair}
    st.plotly_chart(figures.history_figure([r.step for r in lab.history], series, shown),
                    key="bn_history")
    st.caption("Solid: the layer's buffers after each step. Dashed: the data's true value: "
               "the repeated batch's mean and unbiased variance, or, with a new batch each "
               "step, the distribution's shift and scale².")
    last = lab.history[-1]
    st.plotly_chart(figures.channels_figure(
        {name: getattr(last, name).numpy() for name, _ in figures.STATS},
        {target: series[target][-1] for _, target in figures.STATS}), key="bn_channels_now")


@st.fragment
@widgets.guarded("update rule")
def update_rule(lab: bn.BatchNormLab, channel: int) -> None:
    st.subheader("The update rule, with this step's numbers")
    rule = lab.update_rule(channel)
    keras = st.toggle("Show the Keras convention beside PyTorch's", key="bn_keras")
    if rule is None:
        st.info("Press **Step 1** in train mode (with track_running_stats on) to see the "
                "update of the last step." if lab.config.track_running_stats
                else "No running statistics to update.")
        return
    m_text = "1/num_batches_tracked" if rule.momentum is None else "momentum"
    f = rule.factor
    rule_cols = st.columns(2 if keras else 1)
    with rule_cols[0]:
        st.markdown(f"**PyTorch**: `running = (1 − {m_text})·running + {m_text}·batch_stat`, "
                    f"{m_text} = **{f:g}** (the weight on the new batch)")
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
        st.caption(f"The layer stored running_mean = {rule.new_mean:.6f} and running_var = "
                   f"{rule.new_var:.6f}. It normalised this batch with the **biased** variance "
                   f"{rule.batch_var:.4f} (divide by m) but stores the **unbiased** "
                   f"{rule.batch_var_unbiased:.4f} (divide by m − 1) in running_var.")
    if keras:
        with rule_cols[1]:
            keras_rule(rule, channel)


def keras_rule(rule: bn.UpdateRule, channel: int) -> None:
    if rule.momentum is None:
        st.markdown("**Keras** has no cumulative-average mode: its `momentum` is a "
                    "fixed weight on the old value.")
        return
    k = bn.keras_momentum(rule.momentum)
    keras_default = bn.torch_momentum(bn.KERAS_DEFAULT_MOMENTUM)
    st.markdown(f"**Keras**: `moving = momentum·moving + (1 − momentum)·batch`, "
                f"momentum = **{k:g}** (the weight on the old value)")
    st.latex(rf"\begin{{aligned}}\text{{moving\_mean}}[{channel}] &= {k:g}\cdot"
             rf"{_tex(rule.old_mean)} + (1-{k:g})\cdot{_tex(rule.batch_mean)} \\ "
             rf"&= {rule.by_hand_mean:.4f}\end{{aligned}}")
    st.caption(
        f"Same physics, opposite numbers: PyTorch momentum={rule.momentum:g} is "
        f"Keras momentum={k:g}. Keras' default {bn.KERAS_DEFAULT_MOMENTUM:g} is "
        f"PyTorch momentum={keras_default:g}: "
        f"{bn.TORCH_DEFAULT_MOMENTUM / keras_default:.0f} times slower than "
        f"PyTorch's default {bn.TORCH_DEFAULT_MOMENTUM:g}."
    )


@st.fragment
@widgets.guarded("the algorithm, by hand")
def algorithm_box(lab: bn.BatchNormLab, out: torch.Tensor | None, channel: int) -> None:
    st.subheader("The algorithm box, by hand")
    if lab.last_input is None:
        st.info("Press **Step 1** to feed a batch; the box then shows that step's numbers.")
        return
    config = lab.config
    sample = int(widgets.number_input("Sample i", 0, config.batch_size - 1,
                                      key="bn_sample", where=st.columns(4)[0]))
    hand = bn.hand_computation(lab.last_input, out, lab.layer, lab.last_training, channel,
                               sample)
    box, check = st.columns([3, 2])
    with box:
        where = "" if config.kind == "1d" else ", at position (0, 0)"
        if hand.uses_batch_stats:
            st.markdown(f"Channel {channel}, sample {sample}{where}; the batch holds "
                        f"m = {hand.m} values of this channel.")
            st.latex(rf"\mu_B = \frac{{1}}{{m}}\sum_{{i=1}}^{{m}} x_i = {hand.mean:.6f}")
            st.latex(rf"\sigma_B^2 = \frac{{1}}{{m}}\sum_{{i=1}}^{{m}}(x_i-\mu_B)^2 = "
                     rf"{hand.var:.6f}")
        else:
            st.markdown(f"Eval mode: channel {channel}, sample {sample}{where} is normalised "
                        "with the running statistics instead of the batch's.")
            st.latex(rf"\mu = \text{{running\_mean}} = {hand.mean:.6f},\quad "
                     rf"\sigma^2 = \text{{running\_var}} = {hand.var:.6f}")
        st.latex(rf"\hat x_i = \frac{{x_i-\mu}}{{\sqrt{{\sigma^2+\epsilon}}}} = "
                 rf"\frac{{{hand.x:.6f} - {_tex(hand.mean, 6)}}}{{\sqrt{{{hand.var:.6f} + "
                 rf"{_tex(hand.eps)}}}}} = {hand.x_hat:.6f}")
        st.latex(rf"y_i = \gamma\hat x_i + \beta = {_tex(hand.gamma, 2)}\cdot"
                 rf"{_tex(hand.x_hat, 6)} + {_tex(hand.beta, 2)} = {hand.y_hand:.6f}")
    with check:
        st.metric("By hand: y", f"{hand.y_hand:.7f}")
        st.metric(f"The layer: y[{', '.join(map(str, hand.index))}]", f"{hand.y_layer:.7f}")
        st.metric("Largest |hand − layer| over the whole output", f"{hand.max_abs_diff:.1e}",
                  help="The hand computation runs in float64, the layer in float32.")


@widgets.guarded("γ and β")
def gamma_and_beta(lab: bn.BatchNormLab, out: torch.Tensor | None, channel: int) -> None:
    st.subheader("γ and β: scale and shift after normalising")
    affine = lab.config.affine
    g_col, b_col = st.columns(2)
    g_col.slider("γ (weight), every channel", -3.0, 3.0, step=0.1, key="bn_gamma",
                 disabled=not affine)
    b_col.slider("β (bias), every channel", -3.0, 3.0, step=0.1, key="bn_beta",
                 disabled=not affine)
    if not affine:
        st.caption("affine=False: the layer has no weight or bias; its output stays at mean 0, "
                   "variance 1.")
    if lab.last_input is not None:
        y_c = out[:, channel].flatten().double().numpy()
        x_c = lab.last_input[:, channel].flatten().double().numpy()
        st.plotly_chart(figures.overlay_figure(x_c, y_c, (f"input, channel {channel}",
                                                          f"output, channel {channel}")),
                        key="bn_affine_hist")
        st.caption(f"Output of channel {channel}: mean {y_c.mean():.3f}, standard deviation "
                   f"{y_c.std():.3f}; in train mode these follow β and |γ|.")

    st.subheader("Inside the layer: `vars(layer)`")
    st.code(bn.layer_vars(lab.layer, preview=6), language="python")


@widgets.guarded("train vs eval")
def train_vs_eval(lab: bn.BatchNormLab, batch_now: torch.Tensor, channel: int) -> None:
    st.header("Train vs eval")
    st.markdown("In train mode the layer normalises with the **batch's** statistics (and "
                "updates its buffers); after `layer.eval()` it uses `running_mean` and "
                f"`running_var`. Here is the current batch, channel {channel}, through both (on "
                "a copy of the layer, so nothing moves).")
    comparison = bn.compare_modes(lab.layer, batch_now, channel)
    if comparison is None:
        st.warning("Train mode refuses this batch: one value per channel has no variance.")
        return
    st.plotly_chart(figures.histograms_figure(
        {"input": comparison.x, "output, train mode": comparison.y_train,
         "output, eval mode": comparison.y_eval}), key="bn_modes")
    st.caption(f"Train-mode output: mean {comparison.y_train.mean():.3f}, std "
               f"{comparison.y_train.std():.3f}. Eval-mode output: mean "
               f"{comparison.y_eval.mean():.3f}, std {comparison.y_eval.std():.3f}. They agree "
               "once the running statistics have caught up with the data, up to a factor "
               "√((m−1)/m): running_var holds the unbiased variance, train mode divides by the "
               "biased one.")


@st.fragment
@widgets.guarded("forgetting eval()")
def forgot_eval(lab: bn.BatchNormLab, channel: int) -> None:
    st.subheader("Forgot `model.eval()`?")
    st.markdown("At test time you predict **one** sample. Press the button to push one fresh "
                "sample of this data through a copy of the layer left in train mode, and "
                "through one in eval mode.")
    if st.button("Predict one sample without model.eval()", icon=":material/bug_report:"):
        st.session_state["bn_single_shown"] = True
    if not st.session_state.get("bn_single_shown"):
        return
    channels = lab.config.channels
    single = bn.single_sample(lab)
    if single.error:
        st.error(f"ValueError: {single.error}", icon=":material/error:")
        st.markdown(
            f"That is PyTorch's own message. With a batch of one, each of the {channels} "
            "channels holds a single value: its batch mean is that value and its variance is "
            "0, so every output would be β whatever the input. PyTorch refuses rather than "
            "silently returning garbage."
        )
        if single.y_eval is not None:
            value = float(single.y_eval[0, channel].flatten()[0])
            st.markdown(f"In eval mode the same sample is fine: channel {channel} gives "
                        f"**{value:.4f}**.")
        else:
            st.markdown("Here eval mode refuses too: with `track_running_stats=False` there "
                        "are no running statistics to fall back on.")
        return
    eval_means, train_means = single.channel_means()
    st.warning(
        "No error: BatchNorm2d has H×W values per channel even in one image, so train mode "
        "normalises the image with **its own** statistics, and the answer depends on the "
        f"batch. Largest difference from eval mode: **{single.max_abs_diff:.4f}**.",
        icon=":material/warning:",
    )
    st.dataframe(
        {"channel": list(range(channels)),
         "output mean, eval mode": np.round(eval_means, 4),
         "output mean, train mode (its own stats)": np.round(train_means, 4)},
        hide_index=True,
    )
    st.caption("In train mode each channel's mean comes out as β: the image's own "
               "brightness in that channel has been normalised away.")


@widgets.guarded("distribution shift")
def distribution_shift(lab: bn.BatchNormLab, channel: int, shift: float) -> None:
    st.subheader("Distribution shift")
    st.markdown(
        "Move **Mean shift** mid-run (no reset) and step again: the data moves under a layer "
        "whose running statistics still describe the old data, and they catch up at a speed "
        "set by momentum. Each step closes a fraction `momentum` of the gap: after k steps "
        "`(1 − momentum)^k` of it is left."
    )
    st.button("Shift the data mean by +1 and run 50 steps", on_click=_shift_and_run,
              disabled=shift >= 3.0, icon=":material/trending_up:")
    catch = lab.catch_up(channel)
    if catch is None:
        return
    if catch.steps_measured is not None:
        measured = f"{catch.steps_measured} steps"
    elif not lab.history[-1].training:
        measured = "never, while the layer is in eval mode (its buffers stay put)"
    else:
        measured = "not yet: step on"
    predicted = ("no fixed rate with the cumulative average: each step weighs 1/n, so it "
                 "slows down the longer it has run" if catch.steps_predicted is None
                 else f"{catch.steps_predicted} steps by (1 − momentum)^k")
    st.markdown(
        f"At step {catch.from_step} the mean shift went from {catch.old_shift:g} to "
        f"{catch.new_shift:g}. To close {catch.fraction:.0%} of the gap in running_mean"
        f"[{channel}]: measured **{measured}**; predicted {predicted}."
    )


@widgets.guarded("averaged axes")
def averaged_axes() -> None:
    st.header("BatchNorm2d: which axes are averaged")
    st.markdown(
        "A block of shape [N, C, H, W] (here N = 3 samples, C = 4 channels, H = W = 3): each "
        "little square is one feature map. Blue: the values that share one mean and variance "
        "with the top-left value of sample 0, channel 1, found by asking each real layer which "
        "inputs its output depends on (autograd)."
    )
    st.plotly_chart(_axes_figure((3, 4, 3, 3), 0, 1), key="bn_axes")


@widgets.guarded("feature maps of your photo")
def photo_feature_maps() -> None:
    st.subheader(f"BatchNorm2d on feature maps of your photo ({photo.name})")
    result, figure = _photo_maps(kernels.image_key(photo.image, photo.name), photo.image)
    maps = result.before
    st.markdown(
        f"A batch of {maps.shape[0]} crops of the photo, each filtered by {maps.shape[1]} fixed "
        "3×3 kernels: a real [N, C, H, W] = "
        f"{list(maps.shape)} batch of feature maps through `nn.BatchNorm2d({maps.shape[1]})` "
        "in train mode. Before, the channels live on very different scales; after, every "
        "channel has mean 0 and variance 1 over N, H and W."
    )
    flat = [name for name, std in zip(result.names, result.std_before, strict=True)
            if std < 1e-6]
    if flat:
        verb, comes = ("is", "it comes") if len(flat) == 1 else ("are", "they come")
        st.info(f"On this photo {', '.join(flat)} {verb} constant (std 0 over N, H and W): "
                f"BatchNorm can only subtract the mean, so {comes} out as 0, not with "
                "variance 1.", icon=":material/info:")
    st.plotly_chart(figure, key="bn_maps")
    st.caption("Rows: channels (one kernel each); columns: the crops of the batch. Each panel "
               "uses one colour scale for all its maps, so a channel with a small range looks "
               "pale.")
    st.dataframe(
        {"channel": list(result.names), "mean before": np.round(result.mean_before, 4),
         "std before": np.round(result.std_before, 4),
         "mean after": np.round(result.mean_after, 4),
         "std after": np.round(result.std_after, 4)},
        hide_index=True,
    )


# --- the page ---------------------------------------------------------------------------------

widgets.page_header(
    "BatchNorm lab",
    "The course runs `x = torch.randn(100, 16) + 0.5` through `nn.BatchNorm1d(16)` once and "
    "then 100 times and prints `running_mean` and `running_var`. Here you step that very "
    "experiment: every **Step** is one real forward pass of a real `torch` BatchNorm layer kept "
    "for you, and every number below is read from it. Change the data, the layer and the mode, "
    "and break it.",
)
photo = widgets.image_input()
predict_panel.panel("batchnorm", what="what the layer computes")
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
