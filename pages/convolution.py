"""Convolution: image kernels on a real photo, the moving window, and several kernels at once."""

from __future__ import annotations

import streamlit as st
import torch

from explorer import kernels, moving_window
from explorer.i18n import _
from explorer.kernels import KernelError
from explorer.ui import (
    charts,
    kernel_cache,
    kernel_choice,
    pixel_choice,
    player,
    predict_panel,
    table_editor,
    widgets,
)
from explorer.ui import number_grids as grids

CHOICE = kernel_choice.KernelChoice("convolution")
PIXEL = pixel_choice.PixelChoice("convolution")
PLAY = player.Player("convolution_mw_step", frame_s=0.45, button_key="convolution_mw_play")
MW_INPUT = table_editor.SquareGrid("convolution_mw_input", "convolution_mw_isize",
                                   moving_window.INPUT_SIZES)
MW_KERNEL = table_editor.SquareGrid("convolution_mw_kernel", "convolution_mw_ksize",
                                    moving_window.WINDOW_SIZES)

widgets.page_header(
    _("Convolution"),
    _("A convolution slides a small grid of weights, the **kernel**, over an image: at every "
      "position it multiplies the pixels under the kernel by the weights and adds the products "
      "up into one output pixel. Choose a kernel, see what it does to a photo, then check the "
      "arithmetic of any pixel and step through the course's moving-window animation."),
)
photo = widgets.image_input()
PIXEL.seed(*photo.image.size, photo=photo.name)
predict_panel.panel("convolution", lambda seed: kernel_cache.question(seed, photo),
                    what=_("which kernel it was"))


# --- kernels on a photo -------------------------------------------------------------------


@st.fragment(key="convolution_images")
@widgets.guarded("photo and output")
def photo_pair(on_photo: kernel_cache.OnPhoto, weights: torch.Tensor, display: str,
               size: int) -> None:
    """Input and output side by side, the inspected pixel's window outlined on both."""
    width, height = photo.image.size
    in_col, out_col = st.columns(2)
    window = (*PIXEL.at(height, width), size)
    widgets.picture(on_photo.input_jpeg(window),
                    caption=_("Input · {name} · {w}×{h}").format(name=photo.name, w=width,
                                                                  h=height), where=in_col)
    widgets.picture(on_photo.output_jpeg(weights, display, window),
                    caption=_("Output · {display} · same scale").format(
                        display=_(kernels.DISPLAY_NAMES[display]).lower()), where=out_col)


@widgets.guarded("pixel inspector")
def pixel_inspector(on_photo: kernel_cache.OnPhoto, weights: torch.Tensor) -> None:
    st.subheader(_("Pixel inspector"))
    x, y = on_photo.input(), on_photo.output(weights)
    st.markdown(_("Pick an output pixel: type its coordinates, or click a pixel in the "
                  "neighbourhood view. The inspector redoes that pixel's arithmetic by hand."))
    row, col, channel = PIXEL.inputs(*x.shape[-2:], channels=x.shape[1])
    info = on_photo.inspection(weights, row, col, channel)
    size = weights.shape[-1]
    zoom, patch, kern, prods = st.columns([1.4, 1, 1, 1.2])
    with zoom:
        st.caption(_("Input around ({x}, {y}); click a pixel to inspect it").format(x=col, y=row))
        PIXEL.picker(kernels.neighbourhood(x, row, col, channel, size), 30, font_size=9,
                     zmin=0, zmax=255, colorscale="gray")
        # plotly.js turns a touch's first tap into a hover, its second into the click
        st.caption(_("On a touch screen: a first tap shows the pixel's value, a second tap on "
                     "it picks it."))
    cell_px = 46 if size <= 5 else 38
    grids.show(info.patch, "convolution_inspector_patch", cell_px, False, where=patch,
               caption=_("Input patch (padding included)"), font_size=11, colorscale="gray",
               zmin=0, zmax=255)
    grids.show(info.weights, "convolution_inspector_kernel", cell_px, False, where=kern,
               caption=_("Kernel (as conv2d uses it)"), font_size=11)
    grids.show(info.products, "convolution_inspector_products", cell_px, False, where=prods,
               caption=_("Products"), font_size=11)
    from_tensor = float(y[0, channel, row, col])
    m1, m2, m3 = st.columns(3)
    m1.metric(_("Sum of the products"), kernels.format_number(info.total, 6))
    m2.metric(_("Output tensor y[0, {c}, {y}, {x}]").format(c=channel, y=row, x=col),
              kernels.format_number(from_tensor, 6))
    m3.metric(_("They agree"), _("yes") if info.agrees_with(from_tensor) else _("NO"))


@widgets.guarded("flipped kernel")
def flip_comparison(on_photo: kernel_cache.OnPhoto, kernel: torch.Tensor,
                    unflipped: torch.Tensor, display: str) -> None:
    st.subheader(_("Cross-correlation or convolution?"))
    st.markdown(_(
        "PyTorch's `conv2d` does **not** flip the kernel: it computes a cross-correlation, "
        "y[i, j] = Σ x[i + m, j + n]·h[m, n]. The mathematical convolution of the slides, "
        "the discrete form of"))
    st.latex(r"y(t) = \int x(\tau)\, h(t - \tau)\, d\tau,")
    st.markdown(_("runs the kernel backwards, y[i, j] = Σ x[i − m, j − n]·h[m, n]: the same as "
                  "cross-correlating with the kernel turned by 180°. In a CNN the weights are "
                  "learned, so the flip makes no difference; for a fixed kernel it can."))
    flipped = kernels.turned(unflipped)
    diff = kernels.largest_difference(on_photo.output(unflipped), on_photo.output(flipped))
    if kernels.is_point_symmetric(kernel):
        st.info(_("This kernel looks the same turned by 180°, so both give identical outputs "
                  "(largest difference {diff}). Try Sobel x or Emboss.").format(
            diff=kernels.format_number(diff)))
    else:
        st.warning(_("This kernel is not symmetric: the two outputs differ by up to {diff} (for "
                     "Sobel x, flipping negates it: bright-to-dark edges swap with dark-to-bright "
                     "ones).").format(diff=kernels.format_number(diff, 6))
                   + (" " + _("Shown by absolute value, a negated output looks the same: "
                              "choose “Clip to 0..255” to see the swap.")
                      if display == "abs" else ""))
    cols = st.columns(4)
    grids.show(unflipped, "convolution_flip_h", 34, False, caption=_("Kernel h"),
               where=cols[0], font_size=10)
    grids.show(flipped, "convolution_flip_flipped", 34, False, caption=_("h turned by 180°"),
               where=cols[2], font_size=10)
    widgets.picture(on_photo.output_jpeg(unflipped, display),
                    caption=_("conv2d(x, h): cross-correlation"), where=cols[1])
    widgets.picture(on_photo.output_jpeg(flipped, display),
                    caption=_("conv2d(x, flip(h)): convolution"), where=cols[3])


@st.fragment(key="convolution_photo")
@widgets.guarded("kernels on a photo")
def photo_lesson() -> None:
    left, right = st.columns([1, 2.6], gap="medium")
    with left:
        choice = CHOICE.controls()
    on_photo = kernel_cache.OnPhoto.of(photo, choice.colour, choice.padding)
    display, normalise, flip = choice.display, choice.normalise, choice.flip
    with right:
        try:
            kernel = kernels.parse_kernel(choice.cells)
            kernels.check_fits(kernel.shape[0], photo.image.height, photo.image.width)
        except KernelError as err:
            st.error(str(err))
            return
        prepared = kernels.prepare_kernel(kernel, normalise=normalise, flip=flip)
        elapsed = on_photo.timed_output(prepared.weights)[1]
        x, size = on_photo.input(), kernel.shape[0]
        photo_pair(on_photo, prepared.weights, display, size)
        seen = on_photo.brightness(prepared.weights)
        st.caption(_(
            "conv2d on a {shape} tensor with a {k}×{k} kernel took {ms:.0f} ms (0 when cached). "
            "The red square marks the inspected pixel. Mean brightness: input {x_mean:.1f} → "
            "output {y_mean:.1f} (×{ratio:.2f}; the weights sum to {total}).").format(
            shape=tuple(x.shape), k=size, ms=elapsed * 1000, x_mean=seen.input_mean,
            y_mean=seen.output_mean, ratio=seen.ratio,
            total=kernels.format_number(prepared.total)))
        for i, note in enumerate(prepared.notes):
            (st.warning if prepared.warns and i == 0 else st.caption)(note)
        if (factor := kernels.brightening(kernel, normalise)) is not None:
            st.info(_(
                "Why so bright? The weights add up to {total}: in a flat region every output "
                "pixel is that many times the input, so the image gets that many times brighter "
                "and most pixels pass 255 (white). The course's Blur 5x5 sums nine ones, hence "
                "×9. Switch on **Normalise** to divide by the sum and get an average instead."
            ).format(total=kernels.format_number(factor)), icon=":material/lightbulb:")

        hist = on_photo.histogram(prepared.weights)
        st.markdown(_(
            "**Raw output values** range from {low:.1f} to {high:.1f}; {below:.1%} are below 0 "
            "and {above:.1%} above 255. A screen shows only 0..255: *clip* turns the rest black "
            "or white, *absolute value* shows negative edges as bright too, *min-max* squeezes "
            "the whole range into 0..255.").format(
            low=hist.minimum, high=hist.maximum, below=hist.below_zero, above=hist.above_255))
        charts.plotly(st, on_photo.histogram_figure(prepared.weights), width="stretch",
                      key="convolution_histogram", config={"displayModeBar": False})

    pixel_inspector(on_photo, prepared.weights)
    if flip or not kernels.is_point_symmetric(kernel):
        unflipped = kernels.prepare_kernel(kernel, normalise=normalise).weights
        flip_comparison(on_photo, kernel, unflipped, display)

    st.subheader(_("The same in PyTorch"))
    st.caption(_("These lines reproduce the output image above exactly; copy them with the "
                 "button in the corner."))
    st.code(kernels.code_twin(photo.name, kernel, on_photo.colour, on_photo.padding, normalise,
                              flip, display), language="python", wrap_lines=True)


# --- the moving window --------------------------------------------------------------------


def _mw_reset_to_slide() -> None:
    MW_INPUT.set(kernels.kernel_cells(moving_window.SLIDE_INPUT))
    MW_KERNEL.set(kernels.kernel_cells(moving_window.SLIDE_KERNEL))
    PLAY.rewind()


MW_INPUT.seed(kernels.kernel_cells(moving_window.SLIDE_INPUT))
MW_KERNEL.seed(kernels.kernel_cells(moving_window.SLIDE_KERNEL))
widgets.url_state("convolution_mw_step", 0, bounds=(0, moving_window.MAX_STEPS))


def draw_window(state: moving_window.WindowState, inputs: torch.Tensor) -> None:
    a, b, c = st.columns([1.3, 0.8, 1])
    grids.show(inputs, f"convolution_mw_in_{state.step}", 62, where=a,
               caption=_("Input (products inside the window)"), text=state.input_text(inputs),
               boxes=[state.box] if state.box else [], colorscale="Greens", font_size=12)
    grids.show(state.kernel, f"convolution_mw_kernel_{state.step}", where=b,
               caption=_("Kernel"))  # the default scale: blue < 0 < orange for a signed kernel
    grids.show(state.shown_output(), f"convolution_mw_out_{state.step}", 56, where=c,
               caption=_("Output: {step} of {total} cells").format(step=state.step,
                                                                   total=state.total),
               highlight=[state.cell] if state.cell else [], colorscale="Oranges", font_size=16)
    if state.row is None:
        st.markdown(_("Press **Step** to place the kernel on the top-left corner."))
    else:
        st.markdown(f"`{state.equation()}`")
    st.text(_("Output so far:") + "\n" + state.output_text())


@st.fragment
@widgets.guarded("moving window")
def moving_window_lesson() -> None:
    st.markdown(_(
        "The course's animation: a 3×3 kernel slides over a 5×5 binary input, one output "
        "cell per position, without padding and with stride 1. Each step multiplies the nine "
        "covered cells by the weights (shown as value×weight) and adds them up. Edit the "
        "input or the kernel, then step again."))
    ed1, ed2, ed3 = st.columns([1.3, 1, 1])
    with ed1:
        MW_INPUT.editor(_("Input size"), on_change=PLAY.rewind)
    with ed2:
        MW_KERNEL.editor(_("Window size"), on_change=PLAY.rewind)
    ed3.button(_("Back to the slide's grids"), key="convolution_mw_slide",
               on_click=_mw_reset_to_slide)
    try:
        inputs = kernels.parse_kernel(MW_INPUT.cells, MW_INPUT.sizes[1], "input grid")
        kernel = kernels.parse_kernel(MW_KERNEL.cells, MW_KERNEL.sizes[1], "window")
        total = moving_window.n_steps(inputs, kernel)
    except KernelError as err:
        st.error(str(err))
        return
    step = PLAY.step_buttons(total, "convolution_mw")
    widgets.sync_url("convolution_mw_step")
    PLAY.show(step, range(step + 1, total + 1),
              lambda s: draw_window(kernel_cache.window_state(inputs, kernel, s), inputs))
    several_kernels(inputs)


@widgets.guarded("several kernels")
def several_kernels(inputs: torch.Tensor) -> None:
    st.subheader(_("Several kernels"))
    st.markdown(_(
        "A convolution layer holds **C_out** kernels. Each one slides over the same input and "
        "makes its own output map, so C_out kernels give C_out maps: one `conv2d` with a "
        "weight of shape (C_out, C_in, k, k)."))
    names = st.multiselect(_("Kernels"), list(moving_window.KERNEL_BANK),
                           default=list(moving_window.KERNEL_BANK)[:3],
                           key="convolution_mw_bank", format_func=_)
    if not names:
        st.warning(_("Choose at least one kernel."))
        return
    bank = [moving_window.as_grid(moving_window.KERNEL_BANK[n]) for n in names]
    try:
        maps = moving_window.several_kernels(inputs, bank)
    except KernelError as err:
        st.error(str(err))
        return
    st.code(moving_window.several_kernels_code(inputs, bank), language="python", wrap_lines=True)
    for start in range(0, len(names), 3):
        for column, name, kern, fmap in zip(st.columns(3), names[start : start + 3],
                                            bank[start : start + 3], maps[start : start + 3],
                                            strict=False):
            with column.container(border=True):
                st.markdown(_("**{kernel}** → output map {i}").format(
                    kernel=_(name), i=names.index(name)))
                grids.show(kern, f"convolution_bank_k_{name}", 30, False, font_size=11)
                grids.show(fmap, f"convolution_bank_map_{name}", 40, False, font_size=14)


TABS = [_("Kernels on a photo"), _("The moving window")]
# A link that names a step of the moving window opens on that tab.
photo_tab, window_tab = st.tabs(TABS, default=TABS[1] if st.session_state[
    "convolution_mw_step"] and "convolution_mw_step" in st.query_params else None)
with photo_tab:
    photo_lesson()
with window_tab:
    moving_window_lesson()
