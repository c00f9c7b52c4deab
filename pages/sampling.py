"""Down/up-sampling: pooling, strided convolution, F.interpolate and ReLU on the shared photo."""

from __future__ import annotations

import streamlit as st
import torch

from explorer import conv_arithmetic as ca
from explorer import i18n, sampling
from explorer.figures import sampling as figures
from explorer.i18n import _
from explorer.ui import charts, grey_photo, predict_panel, widgets

KINDS = {"MaxPool2d": "maxpool", "AvgPool2d": "avgpool"}
state = st.session_state


def url_state() -> None:
    """Every control of the page, kept in the address bar."""
    widgets.url_state("sp_pool", "MaxPool2d", choices=list(KINDS))
    widgets.url_state("sp_k", 2, bounds=(1, 6))
    widgets.url_state("sp_s", 2, bounds=(1, 6))
    widgets.url_state("sp_p", 0, bounds=(0, 3))
    widgets.url_state("sp_ceil", False)
    widgets.url_state("sp_factor", 4, bounds=(2, 8))
    widgets.url_state("sp_scale", 2, choices=[2, 3])
    widgets.url_state("sp_act", "ReLU", choices=list(sampling.ACTIVATIONS))


def pool_controls() -> tuple[str, int, int, int, bool]:
    """Pooling kind, kernel, stride, padding and ceil_mode, kept valid on the number grid."""
    values, limits = sampling.pool_settings(KINDS[state["sp_pool"]], state["sp_k"],
                                            state["sp_s"], state["sp_p"])
    for key, name in (("sp_k", "kernel"), ("sp_s", "stride"), ("sp_p", "padding")):
        state[key] = values[name]
    c = st.columns([2, 2, 2, 2, 2])
    kind = KINDS[c[0].radio(_("Pooling"), list(KINDS), key="sp_pool")]
    kernel = c[1].slider(_("Pool kernel"), *limits["kernel"], key="sp_k")
    stride = c[2].slider(_("Pool stride"), *limits["stride"], key="sp_s")
    if limits["padding"][1] > 0:
        padding = c[3].slider(_("Pool padding"), *limits["padding"], key="sp_p",
                              help=_("PyTorch allows at most half the kernel."))
    else:
        padding = 0
        c[3].caption(_("Padding: a kernel of 1 allows none (PyTorch caps it at half the "
                       "kernel)."))
    ceil_mode = c[4].toggle("ceil_mode", key="sp_ceil",
                            help=_("Round the output size up: the last window may hang over."))
    widgets.sync_url("sp_pool", "sp_k", "sp_s", "sp_p", "sp_ceil")
    return kind, kernel, stride, padding, ceil_mode


def pool_by_hand(grid_layer: ca.Layer, padding: int) -> None:
    """The same pooling on a 6×6 grid of numbers; one output cell worked out."""
    st.subheader(_("The same settings on numbers you can check"))
    frame = sampling.pool_frame(sampling.number_grid(sampling.GRID_SIDE), grid_layer)
    out_h, out_w = frame.out.shape
    pick = st.columns(4)
    for key, top in (("sp_oi", out_h), ("sp_oj", out_w)):
        state[key] = min(state.get(key, 0), top - 1)
    oi = widgets.number_input(_("Output row"), 0, out_h - 1, key="sp_oi", where=pick[0])
    oj = widgets.number_input(_("Output column"), 0, out_w - 1, key="sp_oj", where=pick[1])
    charts.plotly(st, figures.pool_frame_figure(frame, (oi, oj)), width="stretch")
    if grid_layer.kind == "maxpool":
        sentence = _("Output ({i}, {j}) = {how}. Circled: the value each max window keeps.")
    elif padding:
        sentence = _("Output ({i}, {j}) = {how} (padding cells count as zeros in the "
                     "divisor).")
    else:
        sentence = _("Output ({i}, {j}) = {how}.")
    st.markdown(sentence.format(i=oi, j=oj,
                                how=sampling.window_arithmetic(frame, grid_layer, oi, oj)))


@st.fragment
@widgets.guarded("pooling")
def pooling(x: torch.Tensor) -> None:
    """Pooling on the photo and on a 6×6 grid of numbers, checked against the formula."""
    kind, kernel, stride, padding, ceil_mode = pool_controls()
    size = sampling.image_size(x)
    layer = sampling.pool_layer(kind, size, kernel, stride, padding, ceil_mode)
    side = sampling.GRID_SIDE
    grid_layer = sampling.pool_layer(kind, (side, side), kernel, stride, padding, ceil_mode)
    check = ca.live_check(layer)
    if check.reason:  # the clamps should prevent this; say why rather than raise
        st.error(check.reason)
        return
    sym, num = ca.formula_latex(kind, layer.axes()[0])
    st.latex(sym)
    st.latex(ca.on_two_lines(num))
    verdict = (_("`{code}` on the photo [1, 1, {h}, {w}]: formula {formula}, PyTorch "
                 "{torch}, they agree.") if check.agrees else
               _("`{code}` on the photo [1, 1, {h}, {w}]: formula {formula}, PyTorch "
                 "{torch}, they DISAGREE."))
    # markdown, not a caption: a caption's faded code would fall under AA contrast
    st.markdown(verdict.format(code=ca.code_twin(layer), h=size[0], w=size[1],
                               formula=list(check.formula), torch=list(check.torch_shape)))
    pooled = sampling.pool(x, layer)
    left, right = st.columns(2)
    widgets.picture(sampling.to_uint8(x), width=360, where=left,
                    caption=_("input {h}×{w}").format(h=size[0], w=size[1]))
    out_size = sampling.image_size(pooled)
    widgets.picture(sampling.to_uint8(pooled), width=360, where=right,
                    caption=f"{ca.code_twin(layer)} → {out_size[0]}×{out_size[1]}")
    pool_by_hand(grid_layer, padding)


def four_by_four() -> None:
    """Max against average pooling on a 4×4 grid, 2×2 windows."""
    st.subheader(_("4×4 → 2×2: who wins, what gets averaged"))
    with widgets.section("4×4 pooling example"):
        four = sampling.number_grid(4, seed=3)
        for column, name in zip(st.columns(2), ("maxpool", "avgpool"), strict=True):
            layer = sampling.pool_layer(name, (4, 4), 2, 2, 0, False)
            column.markdown(f"**{ca.code_twin(layer)}**")
            charts.plotly(column, figures.pool_frame_figure(sampling.pool_frame(four, layer),
                                                           (0, 1), height=240),
                          width="stretch", key=f"sp_four_{name}")
    st.caption(_("Max pooling keeps the largest value of each 2×2 window (circled) and drops "
                 "the other three; average pooling keeps a blend of all four."))


@st.fragment
@widgets.guarded("strided convolution vs pooling")
def strided_vs_pooling(x: torch.Tensor) -> None:
    """The same shrink factor by a strided 1×1 conv, max pooling and average pooling."""
    factor_max = sampling.max_shrink(x)
    if factor_max < 2:
        st.info(_("This photo is too small to shrink: upload one at least 2 pixels on each "
                  "side."))
        return
    state["sp_factor"] = min(state["sp_factor"], factor_max)
    if factor_max > 2:
        factor = st.slider(
            _("Shrink factor s (stride of the conv, kernel and stride of the pools)"),
            2, factor_max, key="sp_factor")
    else:
        factor = 2
    widgets.sync_url("sp_factor")
    down = sampling.strided_vs_pool(x, factor)
    cols = st.columns(3)
    for column, title, t, reads in (
        (cols[0], f"nn.Conv2d(1, 1, 1, stride={factor})", down.strided, down.strided_reads),
        (cols[1], f"nn.MaxPool2d({factor}, {factor})", down.maxpool, down.pool_reads),
        (cols[2], f"nn.AvgPool2d({factor}, {factor})", down.avgpool, down.pool_reads),
    ):
        h, w = sampling.image_size(t)
        widgets.picture(sampling.to_uint8(t), where=column,
                        caption=_("{layer}: {h}×{w}, reads {share:.1%} of the pixels").format(
                            layer=title, h=h, w=w, share=reads))
    st.markdown(_(
        "The strided 1×1 convolution keeps one pixel in every {s}×{s} block and never looks "
        "at the other {rest}: thin lines can vanish or break up (aliasing). Pooling reads "
        "every pixel of every block before it decides what to keep.").format(
        s=factor, rest=factor * factor - 1))


def shape_trace() -> None:
    with widgets.section("shape trace"):
        trace = sampling.shape_trace()
        st.table({_("step"): [step for step, _shape in trace],
                  _("shape (computed now)"): [str(shape) for _step, shape in trace]})


@st.fragment
@widgets.guarded("upsampling")
def upsampling(x: torch.Tensor) -> None:
    """A patch of the photo enlarged by F.interpolate in each mode."""
    scale = st.radio("scale_factor", [2, 3], key="sp_scale", horizontal=True)
    widgets.sync_url("sp_scale")
    patch = sampling.patch_for_upsampling(x)
    cols = st.columns(4)
    charts.plotly(cols[0], figures.pixels_figure(patch, _("patch {shape}").format(
        shape=list(patch.shape))), width="stretch", key="sp_patch")
    for column, mode in zip(cols[1:], sampling.UP_MODES, strict=True):
        up = sampling.upsample(patch, scale, mode)
        charts.plotly(column, figures.pixels_figure(up, f"{mode} ×{scale} → {list(up.shape)}"),
                      width="stretch", key=f"sp_up_{mode}")
    st.caption(_("nearest copies each pixel into a block; bilinear blends the 4 nearest "
                 "pixels; bicubic fits a curve through 16 and can overshoot a little past black "
                 "and white."))


@st.fragment
@widgets.guarded("activations")
def activations(photo_key: tuple, x: torch.Tensor) -> None:
    """An activation on the signed Sobel-x map, and what inplace=True saves."""
    name = st.radio(_("Activation"), list(sampling.ACTIVATIONS), key="sp_act", horizontal=True)
    widgets.sync_url("sp_act")
    edges, report = grey_photo.edges(photo_key, x)
    after, histograms = grey_photo.activated(photo_key, edges, name, i18n.language())
    cols = st.columns([1, 1, 2])
    widgets.picture(sampling.to_uint8(edges, signed=True), where=cols[0],
                    caption=_("Sobel-x edges: grey 0, dark negative, light positive"))
    widgets.picture(sampling.to_uint8(after, signed=True), where=cols[1],
                    caption=_("after {name}").format(name=name))
    charts.plotly(cols[2], figures.activation_histogram_figure(histograms), width="stretch",
                  key="sp_hist")
    st.markdown(_(
        "{share:.0%} of the edge map is negative. ReLU sets all of it to exactly 0 (the tall bar "
        "at 0 after), LeakyReLU keeps a tenth of it, sigmoid squeezes everything into (0, 1) and "
        "tanh into (−1, 1).").format(share=sampling.negative_share(edges)))
    st.subheader("inplace=True")
    left, right = st.columns([1, 1])
    h, w = sampling.image_size(edges)
    left.markdown(_(
        "`nn.ReLU(inplace=True)` writes its result into the input tensor instead of allocating a "
        "new one. For this {h}×{w} float32 map that saves **{kib:.0f} KiB** per call (measured: "
        "in place shares the input's storage = {inplace}; out of place = {out_of_place}). The "
        "price: the values before ReLU are gone, so use it only when nothing else needs them "
        "(if autograd needed them, backward() raises).").format(
        h=h, w=w, kib=report.saved_bytes / 1024, inplace=report.inplace_shares_memory,
        out_of_place=report.out_of_place_shares_memory))
    charts.plotly(right, figures.inplace_figure(report), width="stretch", key="sp_inplace")


# --- the page ---------------------------------------------------------------------------------

widgets.page_header(
    _("Pooling & upsampling"),
    _("Networks shrink feature maps with pooling or strided convolutions and grow them back "
      "with `F.interpolate`; between layers, activations such as ReLU reshape the values. "
      "Every picture and number below is a real torch op on your photo (as one grey channel) "
      "or on a small grid of numbers you can check by hand."),
)
photo = widgets.image_input("L")
predict_panel.panel("pooling", what=_("the shape PyTorch returns"))
photo_key, grey = grey_photo.grey(photo)
if grey.shape[-1] < photo.image.width:  # every lesson below runs on the smaller copy
    st.info(_("Your {w}×{h} photo is worked on at {gw}×{gh} (its longer side at most {side} px, "
              "so every picture below stays quick): the shapes below are that copy's.").format(
        w=photo.image.width, h=photo.image.height, gw=grey.shape[-1], gh=grey.shape[-2],
        side=sampling.MAX_SIDE), icon=":material/photo_size_select_large:")
url_state()
st.header(_("Max and average pooling"))
st.caption(_("Pooling and strided convolutions are **downsampling**: they make a feature map "
             "smaller; upsampling makes it larger again."))
pooling(grey)
four_by_four()
st.header(_("Strided convolution vs pooling"))
strided_vs_pooling(grey)
st.header(_("Upsampling with F.interpolate"))
shape_trace()
upsampling(grey)
st.header(_("ReLU and friends on a signed map"))
activations(photo_key, grey)
