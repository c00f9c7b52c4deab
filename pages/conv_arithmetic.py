"""Conv arithmetic: stride, padding and dilation against the output-size formula."""

from __future__ import annotations

import streamlit as st

from explorer import conv_arithmetic as ca
from explorer.figures import conv_arithmetic as figures
from explorer.i18n import N_, _, ngettext
from explorer.ui import charts, predict_panel, widgets

LAYERS = {"Conv2d": "conv", "ConvTranspose2d": "transposed"}
PAD_MODES = ["numbers", "same", "valid"]
PAD_MODE_NAMES = {"numbers": N_("numbers"), "same": "same", "valid": "valid"}
PARAMS = {  # key stem: (label when square, label per dimension)
    "k": (N_("Kernel size"), N_("Kernel")), "s": (N_("Stride"), N_("Stride")),
    "p": (N_("Padding"), N_("Padding")), "d": (N_("Dilation"), N_("Dilation")),
    "op": (N_("Output padding"), N_("Output padding")),
}
DEFAULTS = {"k": 3, "s": 1, "p": 0, "d": 1, "op": 0}
CHANNELS = {"ca_cin": 1, "ca_cout": 1, "ca_groups": 1, "ca_batch": 1}
state = st.session_state


def url_state() -> None:
    widgets.url_state("ca_layer", "Conv2d", choices=list(LAYERS))
    widgets.url_state("ca_pad_mode", "numbers", choices=PAD_MODES)
    widgets.url_state("ca_square", True)
    widgets.url_state("ca_h", 28, bounds=(1, 64))
    widgets.url_state("ca_w", 28, bounds=(1, 64))
    for stem, default in DEFAULTS.items():
        for dim in "hw":
            widgets.url_state(f"ca_{stem}{dim}", default, bounds=(0, 7))
    for key, default in CHANNELS.items():
        widgets.url_state(key, default, bounds=(1, 64))


def choose_layer() -> tuple[str, str, bool]:
    """The layer, the padding mode and whether both dimensions share their settings."""
    top = st.columns([2, 2, 3])
    kind = LAYERS[top[0].radio(_("Layer"), list(LAYERS), key="ca_layer", horizontal=True)]
    pad_mode = "numbers"
    if kind == "conv":
        pad_mode = top[1].radio(_("Padding mode"), PAD_MODES, key="ca_pad_mode",
                                horizontal=True, format_func=lambda mode: _(PAD_MODE_NAMES[mode]),
                                help=_("'same' keeps H_out = H_in (stride 1 only); 'valid' is "
                                       "0."))
    square = top[2].toggle(_("Height and width alike"), key="ca_square",
                           help=_("Same kernel, stride, padding and dilation for height and "
                                  "width"))
    return kind, pad_mode, square


def settle(kind: str, pad_mode: str, square: bool) -> dict[str, dict[str, tuple[int, int]]]:
    """Keep every control in its range before drawing any; returns each slider's range."""
    dims = {dim: {"size": state[f"ca_{dim}"]}
            | {field: state[f"ca_{stem}{dim}"] for stem, field in ca.SETTINGS.items()}
            for dim in "hw"}
    settled, limits = ca.settle(kind, pad_mode, square, dims)
    for dim, values in settled.items():
        state[f"ca_{dim}"] = values["size"]
        for stem, field in ca.SETTINGS.items():
            state[f"ca_{stem}{dim}"] = values[field]
    return limits


def slider(label: str, key: str, bounds: tuple[int, int], column) -> int:
    """A slider over `bounds`; a one-value range shows a disabled slider that says why."""
    lo, hi = bounds
    if lo == hi:
        column.slider(label, lo, lo + 1, key=key, disabled=True,
                      help=_("Only this value keeps the output non-empty with the other "
                             "settings."))
    else:
        column.slider(label, lo, hi, key=key)
    return state[key]


def settings(kind: str, pad_mode: str, square: bool,
             limits: dict[str, dict[str, tuple[int, int]]]) -> ca.Layer:
    """Sizes, window settings and channels; returns the layer they describe."""
    st.markdown("##### " + _("Settings"))
    c_size, c_window, c_channels = st.columns([2, 4, 2])
    h_in = slider(_("H_in (input height)"), "ca_h", limits["h"]["size"], c_size)
    w_in = slider(_("W_in (input width)"), "ca_w", limits["w"]["size"], c_size)
    stems = ["k", "s", "p", "d"] + (["op"] if kind == "transposed" else [])
    if pad_mode != "numbers":
        stems.remove("p")
    chosen = {}
    columns = c_window.columns(2)
    for i, stem in enumerate(stems):
        column, (square_label, dim_label) = columns[i % 2], PARAMS[stem]
        if square:
            value = slider(_(square_label), f"ca_{stem}h", limits["h"][ca.SETTINGS[stem]], column)
            chosen[stem] = (value, value)
        else:
            chosen[stem] = tuple(
                slider(_("{setting} ({dim})").format(setting=_(dim_label), dim=_(name)),
                       f"ca_{stem}{dim}", limits[dim][ca.SETTINGS[stem]], column)
                for dim, name in zip("hw", ca.DIM_NAMES, strict=True))
    with c_channels:
        c_in = widgets.number_input(_("C_in (input channels)"), 1, 64, key="ca_cin")
        c_out = widgets.number_input(_("C_out (kernels)"), 1, 64, key="ca_cout")
        groups = widgets.number_input(_("groups"), 1, 64, key="ca_groups")
        batch = widgets.number_input(_("batch b"), 1, 64, key="ca_batch")
    widgets.sync_url("ca_layer", "ca_pad_mode", "ca_square", "ca_h", "ca_w", *CHANNELS,
                     *(f"ca_{stem}{dim}" for stem in ca.SETTINGS for dim in "hw"))
    padding = pad_mode if pad_mode != "numbers" else chosen["p"]
    return ca.Layer(kind, (h_in, w_in), chosen["k"], chosen["s"], padding, chosen["d"],
                    chosen.get("op", (0, 0)), c_in, c_out, groups, batch)


def answer(check: ca.LiveCheck) -> None:
    """H_out, W_out, parameters and multiply-adds from the real layer, or why there are none."""
    m = st.columns(4)
    shape = check.torch_shape
    m[0].metric("H_out", shape[2] if shape else "—", help=_("From the real PyTorch layer."))
    m[1].metric("W_out", shape[3] if shape else "—", help=_("From the real PyTorch layer."))
    m[2].metric(_("Parameters"), f"{check.parameters:,}" if shape else "—")
    m[3].metric(_("Multiply-adds"), f"{check.multiply_adds:,}" if shape else "—",
                help=_("Counted by torch.utils.flop_counter.FlopCounterMode (FLOPs / 2)."))
    if check.torch_error:
        st.error(_("**PyTorch refuses this layer:**\n\n`{error}`\n\n**What it means:** "
                   "{meaning}").format(error=f"{check.torch_error_type}: {check.torch_error}",
                                       meaning=check.reason or _("see above.")),
                 icon=":material/block:")
    elif check.reason:
        st.error(check.reason, icon=":material/block:")


def formula(layer: ca.Layer) -> None:
    """The output-size formula per dimension, in symbols and with the numbers."""
    legend = _("Colours tie the terms to the picture: <span style='color:{pad_colour}'>■ "
               "padding</span>, <span style='color:{window_colour}'>■ the window's reach "
               "d·(k−1)+1</span>.").format(pad_colour=figures.TEXT_COLORS["padding"],
                                           window_colour=figures.TEXT_COLORS["window"])
    if layer.kind == "transposed":
        st.subheader(_("The transposed formula"))
        intro = _("A transposed convolution runs a convolution's arithmetic backwards: every "
                  "input cell scatters a k×k patch of weights into the output, the patches s "
                  "cells apart, and the padding p crops p cells off each border of the result. "
                  "Nothing is rounded, so every input cell reaches the output, and "
                  "`output_padding` adds cells on one side to pick among the sizes that a "
                  "stride above 1 makes ambiguous.")
    else:
        st.subheader(_("The formula, floored"))
        intro = _("The slide writes ceiling brackets, but PyTorch **floors**: a window that "
                  "would hang off the padded input is simply not computed, and the cells only it "
                  "would have read are dropped (red in the grid).")
    st.markdown(intro + " " + legend, unsafe_allow_html=True)
    colors = figures.TEXT_COLORS  # the legend's hues, readable as text
    for symbol, axis in zip(("H", "W"), layer.axes(), strict=True):
        sym, num = ca.formula_latex(layer.kind, axis, colors, symbol)
        in_symbols, with_numbers = st.columns([1, 1])
        in_symbols.latex(sym)
        with_numbers.latex(ca.on_two_lines(num))


def live_check(layer: ca.Layer, check: ca.LiveCheck) -> None:
    """The formula's shape against the one PyTorch returns, and the line that asks it."""
    st.subheader(_("Live check against PyTorch"))
    shape = check.torch_shape
    if shape:
        verdict = (_("Formula [b, C_out, H_out, W_out] = {formula}; PyTorch says {torch}: they "
                     "agree.") if check.agrees else
                   _("Formula [b, C_out, H_out, W_out] = {formula}; PyTorch says {torch}: they "
                     "DISAGREE."))
        st.success(verdict.format(formula=list(check.formula), torch=list(shape)),
                   icon=":material/check_circle:")
    else:
        st.warning(_("PyTorch refuses these settings: `{error}` (explained above).").format(
            error=f"{check.torch_error_type}: {check.torch_error}"), icon=":material/error:")
    (h_in, w_in), b, c_in = layer.size, layer.batch, layer.in_channels
    run_line = (f"{ca.code_twin(layer)}.to('meta')(torch.empty({b}, {c_in}, {h_in}, {w_in}, "
                "device='meta')).shape")
    st.code(f"{run_line}\n# -> {list(shape) if shape else check.torch_error}",
            language="python", wrap_lines=True)


@st.fragment(key="ca_grid_section")
@widgets.guarded("window picture")
def grid_picture(layer: ca.Layer, shape: tuple[int, ...] | None) -> None:
    """Pick an output and an input cell; the picture lights what each reads and feeds."""
    st.subheader(_("Which input cells each output cell reads"))
    if not shape:
        st.info(_("Fix the settings above to see the grid."), icon=":material/grid_off:")
        return
    kind, (h_in, w_in) = layer.kind, layer.size
    out_h, out_w = shape[2], shape[3]
    pick = st.columns(4)
    for key, top_value in (("ca_oi", out_h), ("ca_oj", out_w), ("ca_ii", h_in), ("ca_ij", w_in)):
        state[key] = min(state.get(key, 0), top_value - 1)
    oi = widgets.number_input(_("Output row"), 0, out_h - 1, key="ca_oi", where=pick[0])
    oj = widgets.number_input(_("Output column"), 0, out_w - 1, key="ca_oj", where=pick[1])
    ii = widgets.number_input(_("Input row"), 0, h_in - 1, key="ca_ii", where=pick[2])
    ij = widgets.number_input(_("Input column"), 0, w_in - 1, key="ca_ij", where=pick[3])
    figure = figures.cached_arithmetic_grid(layer, (oi, oj), (ii, ij))
    charts.plotly(st, figure, width="content", key="ca_grid")
    legend = (_("Orange: output cell ({oi}, {oj}) reads the orange input cells (the outline "
                "is the window's reach; unlit cells inside it are dilation holes). Purple: input "
                "cell ({ii}, {ij}) feeds the purple output cells. Grey: padding; red: dropped by "
                "the floor; peach: never read because the stride jumps over them. Press ▶ Play "
                "to crawl the window across the output.") if kind != "transposed" else
              _("Orange: output cell ({oi}, {oj}) receives from the orange input cells. Purple: "
                "input cell ({ii}, {ij}) feeds the purple output cells. Press ▶ Play to crawl "
                "the window across the output."))
    st.caption(legend.format(oi=oi, oj=oj, ii=ii, ij=ij))
    h_axis = layer.axes()[0]
    if kind != "transposed":
        dropped = ca.dropped(kind, h_axis)  # indices ≥ the input's height are padding rows
        st.markdown(_(
            "Along the height the window reaches **{reach}** cells and the padded input has "
            "**{padded}**; stepping by **{stride}** it fits **{fits}** times. Image rows dropped "
            "by the floor: **{dropped}**; padding rows after the image left unread: "
            "**{padding}**; rows never read: **{skipped}**.").format(
            reach=h_axis.reach, padded=h_axis.padded, stride=h_axis.stride, fits=out_h,
            dropped=[r for r in dropped if r < h_in] or _("none"),
            padding=sum(r >= h_in for r in dropped),
            skipped=ca.skipped(kind, h_axis) or _("none")))


def shapes_with_many_kernels(layer: ca.Layer, check: ca.LiveCheck) -> None:
    if not check.torch_shape:  # broken settings: the error above says why; no empty heading
        return
    st.subheader(_("Shapes with many kernels"))
    with widgets.section("shapes with many kernels"):
        rows = ca.shape_rows(layer, check)
        st.table({_("tensor"): [r[0] for r in rows], _("shape"): [r[1] for r in rows],
                  _("now"): [str(r[2]) for r in rows]})
        st.caption(_("Parameters = weight + bias = {params:,} (summed from the module's "
                     "`parameters()`); multiply-adds for the batch = {madds:,}.").format(
            params=check.parameters, madds=check.multiply_adds))


def reverse_solver(layer: ca.Layer) -> None:
    """Every setting within the sliders' ranges that maps H_in to the wanted H_out."""
    st.subheader(_("Reverse solver: which settings give the size I want?"))
    with widgets.section("reverse solver"):
        h_in = layer.size[0]
        widgets.url_state("ca_want", 14, bounds=(1, 300))
        want = widgets.number_input(_("Wanted H_out for H_in = {h}").format(h=h_in), 1, 300,
                                    key="ca_want")
        hits = ca.solve(h_in, want, layer.kind, ca.page_ranges(layer.kind))
        if not hits:
            st.warning(_("No kernel, stride, padding and dilation within the sliders' ranges "
                         "turn H_in = {h} into {want}.").format(h=h_in, want=want))
            return
        st.dataframe({_("kernel"): [h[0] for h in hits], _("stride"): [h[1] for h in hits],
                      _("padding"): [h[2] for h in hits], _("dilation"): [h[3] for h in hits]},
                     height="auto" if len(hits) <= 8 else 320, hide_index=True)
        st.caption(ngettext("{n} setting within the sliders' ranges maps {h} to {want}.",
                            "{n} settings within the sliders' ranges map {h} to {want}.",
                            len(hits)).format(n=len(hits), h=h_in, want=want))


def slide_error_and_code_twin(layer: ca.Layer, pad_mode: str) -> None:
    with widgets.section("the slide's error and the code twin"):
        left, right = st.columns(2)
        with left:
            st.subheader(_("The slide's error, run live"))
            case = ca.channel_mismatch(28)
            st.code(case.code, language="python", wrap_lines=True)
            st.error(f"RuntimeError: {case.message}")
            st.markdown(case.explanation)
        with right:
            st.subheader(_("Code twin"))
            st.code(f"import torch.nn as nn\n\nlayer = {ca.code_twin(layer)}", language="python",
                    wrap_lines=True)
            if layer.kind == "conv" and pad_mode == "same":
                st.caption(_("padding='same' pads d·(k−1) cells in total; when that is odd "
                             "PyTorch puts the extra cell at the bottom/right."))


# --- the page ---------------------------------------------------------------------------------

widgets.page_header(
    _("Conv arithmetic"),
    _("How big is the output of a convolution? Set the input size, kernel, stride, padding and "
      "dilation; the page evaluates the course's formula, draws which input cells every output "
      "cell reads, and builds the real `nn.Conv2d` to check that PyTorch agrees."),
)
predict_panel.panel("conv", what=_("the output size PyTorch computes"))
url_state()
layer_kind, padding_mode, same_for_both = choose_layer()
conv = settings(layer_kind, padding_mode, same_for_both,
                settle(layer_kind, padding_mode, same_for_both))
checked = ca.live_check(conv)
answer(checked)
formula(conv)
live_check(conv, checked)
grid_picture(conv, checked.torch_shape)
shapes_with_many_kernels(conv, checked)
reverse_solver(conv)
slide_error_and_code_twin(conv, padding_mode)
