"""Conv arithmetic: stride, padding and dilation against the output-size formula."""

import streamlit as st

from explorer import conv_arithmetic as ca
from explorer.figures import conv_arithmetic as figures
from explorer.i18n import N_, _, ngettext
from explorer.ui import predict_panel, widgets

widgets.page_header(
    _("Conv arithmetic"),
    _("How big is the output of a convolution? Set the input size, kernel, stride, padding and "
      "dilation; the page evaluates the course's formula, draws which input cells every output "
      "cell reads, and builds the real `nn.Conv2d` to check that PyTorch agrees."),
)
predict_panel.panel("conv", what=_("the output size PyTorch computes"))

RANGES = ca.Ranges()
TRANSPOSED_MAX_SIZE = 16  # (H−1)·s grows fast: keep the transposed grid readable
LAYERS = {"Conv2d": "conv", "ConvTranspose2d": "transposed"}
PAD_MODES = ["numbers", "same", "valid"]
PAD_MODE_NAMES = {"numbers": N_("numbers"), "same": "same", "valid": "valid"}
PARAMS = {  # key stem: (label when square, label per dimension)
    "k": (N_("Kernel size"), N_("Kernel")), "s": (N_("Stride"), N_("Stride")),
    "p": (N_("Padding"), N_("Padding")), "d": (N_("Dilation"), N_("Dilation")),
    "op": (N_("Output padding"), N_("Output padding")),
}
FIELDS = {"k": "kernel", "s": "stride", "p": "padding", "d": "dilation", "op": "output_padding"}
DEFAULTS = {"k": 3, "s": 1, "p": 0, "d": 1, "op": 0}

widgets.url_state("ca_layer", "Conv2d", choices=list(LAYERS))
widgets.url_state("ca_pad_mode", "numbers", choices=PAD_MODES)
widgets.url_state("ca_square", True)
widgets.url_state("ca_h", 28, bounds=(1, 64))
widgets.url_state("ca_w", 28, bounds=(1, 64))
for stem, default in DEFAULTS.items():
    for dim in "hw":
        widgets.url_state(f"ca_{stem}{dim}", default, bounds=(0, 7))
for key, default in {"ca_cin": 1, "ca_cout": 1, "ca_groups": 1, "ca_batch": 1}.items():
    widgets.url_state(key, default, bounds=(1, 64))

top = st.columns([2, 2, 3])
kind = LAYERS[top[0].radio(_("Layer"), list(LAYERS), key="ca_layer", horizontal=True)]
pad_mode = "numbers"
if kind == "conv":
    pad_mode = top[1].radio(_("Padding mode"), PAD_MODES, key="ca_pad_mode", horizontal=True,
                            format_func=lambda mode: _(PAD_MODE_NAMES[mode]),
                            help=_("'same' keeps H_out = H_in (stride 1 only); 'valid' is 0."))
square = top[2].toggle(_("Same kernel, stride, padding and dilation for height and width"),
                       key="ca_square")

# Keep every control in its range before drawing any. A Conv2d kernel may be larger than the
# padded input: PyTorch's own error then says what is wrong (transposed convs always fit).
size_cap = TRANSPOSED_MAX_SIZE if kind == "transposed" else RANGES.size.stop - 1
ranges = ca.Ranges(size=range(1, size_cap + 1))
state = st.session_state
limits = {}
for dim in "hw":
    if square:
        for stem in FIELDS:
            state[f"ca_{stem}w"] = state[f"ca_{stem}h"]
    values = {"size": state[f"ca_{dim}"]}
    values |= {FIELDS[stem]: state[f"ca_{stem}{dim}"] for stem in FIELDS}
    if pad_mode == "valid":
        values["padding"] = 0
    clamped, limits[dim] = ca.clamp_axis(kind, values, ranges, same_padding=pad_mode == "same",
                                         fit_kernel=kind != "conv")
    state[f"ca_{dim}"] = clamped["size"]
    for stem, field in FIELDS.items():
        if stem != "p" or pad_mode == "numbers":  # keep the numbers for when they return
            state[f"ca_{stem}{dim}"] = clamped[field]


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


st.markdown("##### " + _("Settings"))
c_size, c_window, c_channels = st.columns([2, 4, 2])
h_in = slider(_("H_in (input height)"), "ca_h", limits["h"]["size"], c_size)
w_in = slider(_("W_in (input width)"), "ca_w", limits["w"]["size"], c_size)
stems = ["k", "s", "p", "d"] + (["op"] if kind == "transposed" else [])
if pad_mode != "numbers":
    stems.remove("p")
chosen = {}
with c_window:
    columns = st.columns(2)
    for i, stem in enumerate(stems):
        column = columns[i % 2]
        square_label, dim_label = PARAMS[stem]
        if square:
            value = slider(_(square_label), f"ca_{stem}h", limits["h"][FIELDS[stem]], column)
            chosen[stem] = (value, value)
        else:
            chosen[stem] = tuple(
                slider(_("{setting} ({dim})").format(setting=_(dim_label), dim=_(name)),
                       f"ca_{stem}{dim}", limits[dim][FIELDS[stem]], column)
                for dim, name in zip("hw", ca.DIM_NAMES, strict=True)
            )
with c_channels:
    c_in = widgets.number_input(_("C_in (input channels)"), 1, 64, key="ca_cin")
    c_out = widgets.number_input(_("C_out (kernels)"), 1, 64, key="ca_cout")
    groups = widgets.number_input(_("groups"), 1, 64, key="ca_groups")
    batch = widgets.number_input(_("batch b"), 1, 64, key="ca_batch")
widgets.sync_url("ca_layer", "ca_pad_mode", "ca_square", "ca_h", "ca_w", "ca_cin", "ca_cout",
            "ca_groups", "ca_batch", *(f"ca_{stem}{dim}" for stem in FIELDS for dim in "hw"))

padding = pad_mode if pad_mode != "numbers" else chosen["p"]
layer = ca.Layer(kind, (h_in, w_in), chosen["k"], chosen["s"], padding, chosen["d"],
                 chosen.get("op", (0, 0)), c_in, c_out, groups, batch)
check = ca.live_check(layer)
axes = layer.axes()

# --- the answer ------------------------------------------------------------------------------
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

LEGEND = _("Colours tie the terms to the picture: <span style='color:{pad_colour}'>■ padding"
           "</span>, <span style='color:{window_colour}'>■ the window's reach d·(k−1)+1</span>."
           ).format(pad_colour=figures.COLORS["padding"], window_colour=figures.COLORS["window"])
if kind == "transposed":
    st.subheader(_("The transposed formula"))
    st.markdown(
        _("A transposed convolution runs a convolution's arithmetic backwards: every input cell "
          "scatters a k×k patch of weights into the output, the patches s cells apart, and the "
          "padding p crops p cells off each border of the result. Nothing is rounded, so every "
          "input cell reaches the output, and `output_padding` adds cells on one side to pick "
          "among the sizes that a stride above 1 makes ambiguous.") + " " + LEGEND,
        unsafe_allow_html=True,
    )
else:
    st.subheader(_("The formula, floored"))
    st.markdown(
        _("The slide writes ceiling brackets, but PyTorch **floors**: a window that would hang "
          "off the padded input is simply not computed, and the cells only it would have read "
          "are dropped (red in the grid).") + " " + LEGEND,
        unsafe_allow_html=True,
    )
colors = {"padding": "#8c8c8c", "window": figures.COLORS["window"]}
for symbol, axis in zip(("H", "W"), axes, strict=True):
    sym, num = ca.formula_latex(kind, axis, colors, symbol)
    in_symbols, with_numbers = st.columns([1, 1])
    with in_symbols:
        st.latex(sym)
    with with_numbers:
        st.latex(num)

st.subheader(_("Live check against PyTorch"))
built = ca.code_twin(layer)
run_line = (f"{built}.to('meta')(torch.empty({batch}, {c_in}, {h_in}, {w_in}, "
            "device='meta')).shape")
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
st.code(f"{run_line}\n# -> {list(shape) if shape else check.torch_error}", language="python",
        wrap_lines=True)

# --- the grid picture ------------------------------------------------------------------------


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
    st.plotly_chart(figure, width="content", key="ca_grid")
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
        st.markdown(_(
            "Along the height the window reaches **{reach}** cells and the padded input has "
            "**{padded}**; stepping by **{stride}** it fits **{fits}** times. Rows dropped by the "
            "floor: **{dropped}**; rows never read: **{skipped}**.").format(
            reach=h_axis.reach, padded=h_in + h_axis.pad_before + h_axis.pad_after,
            stride=h_axis.stride, fits=out_h, dropped=ca.dropped(kind, h_axis) or _("none"),
            skipped=ca.skipped(kind, h_axis) or _("none")))


grid_picture(layer, shape)

# --- shapes with many kernels ----------------------------------------------------------------
st.subheader(_("Shapes with many kernels"))
with widgets.section("shapes with many kernels"):
    if shape:
        rows = [
            (_("x (input)"), "[b, C_in, H, W]", [batch, c_in, h_in, w_in]),
            ("weight", "[C_out, C_in/groups, kH, kW]" if kind == "conv"
             else "[C_in, C_out/groups, kH, kW]", list(check.weight_shape)),
            ("bias", "[C_out]", list(check.bias_shape)),
            ("out", "[b, C_out, H_out, W_out]", list(shape)),
        ]
        st.table({_("tensor"): [r[0] for r in rows], _("shape"): [r[1] for r in rows],
                  _("now"): [str(r[2]) for r in rows]})
        st.caption(_("Parameters = weight + bias = {params:,} (summed from the module's "
                     "`parameters()`); multiply-adds for the batch = {madds:,}.").format(
            params=check.parameters, madds=check.multiply_adds))

# --- reverse solver --------------------------------------------------------------------------
st.subheader(_("Reverse solver: which settings give the size I want?"))
with widgets.section("reverse solver"):
    widgets.url_state("ca_want", 14, bounds=(1, 300))
    want = widgets.number_input(_("Wanted H_out for H_in = {h}").format(h=h_in), 1, 300,
                                key="ca_want")
    hits = ca.solve(h_in, want, kind, ranges)
    if hits:
        st.dataframe({_("kernel"): [h[0] for h in hits], _("stride"): [h[1] for h in hits],
                      _("padding"): [h[2] for h in hits], _("dilation"): [h[3] for h in hits]},
                     height="auto" if len(hits) <= 8 else 320, hide_index=True)
        st.caption(ngettext("{n} setting within the sliders' ranges maps {h} to {want}.",
                            "{n} settings within the sliders' ranges map {h} to {want}.",
                            len(hits)).format(n=len(hits), h=h_in, want=want))
    else:
        st.warning(_("No kernel, stride, padding and dilation within the sliders' ranges turn "
                     "H_in = {h} into {want}.").format(h=h_in, want=want))

# --- the slide's error and the code twin -----------------------------------------------------
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
        st.code(f"import torch.nn as nn\n\nlayer = {built}", language="python", wrap_lines=True)
        if kind == "conv" and pad_mode == "same":
            st.caption(_("padding='same' pads d·(k−1) cells in total; when that is odd PyTorch "
                         "puts the extra cell at the bottom/right."))
