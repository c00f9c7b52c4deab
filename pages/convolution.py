"""Convolution: image kernels on a real photo, the moving window, and several kernels at once."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch

from explorer import kernels, moving_window
from explorer.figures import grids
from explorer.kernels import KernelError
from explorer.ui import widgets

PRESET_OPTIONS = [*kernels.PRESETS, kernels.CUSTOM]
COLOUR_LABELS = {"grayscale": "Grayscale", "rgb": "RGB, each channel (groups=3)"}
PADDING_LABELS = {"zeros": "Zeros", "reflect": "Reflect", "replicate": "Replicate"}
DISPLAY_LABELS = {"clip": "Clip to 0..255", "abs": "Absolute value", "minmax": "Min-max rescale"}
CHANNELS = ("red", "green", "blue")
PLAY_DELAY_S = 0.45

widgets.page_header(
    "Convolution",
    "A convolution slides a small grid of weights, the **kernel**, over an image: at every "
    "position it multiplies the pixels under the kernel by the weights and adds the products "
    "up into one output pixel. Choose a kernel, see what it does to a photo, then check the "
    "arithmetic of any pixel and step through the course's moving-window animation.",
)
photo = widgets.image_input()


def show_grid(values: object, key: str, cell_px: int = 44, show_indices: bool = True,
              **figure_args) -> None:
    """A static numeric grid figure (cells `cell_px` wide, not clickable)."""
    st.plotly_chart(
        grids.grid_figure(values, cell_px=cell_px, show_indices=show_indices, **figure_args),
        key=key, width="content",
        config={"displayModeBar": False, "staticPlot": True})


# --- state and callbacks ------------------------------------------------------------------


def _editor_table(cells: list[list[str]]) -> pd.DataFrame:
    return pd.DataFrame(cells, columns=[str(i) for i in range(len(cells[0]))], dtype="string")


def _load_preset() -> None:
    preset = kernels.PRESETS.get(st.session_state["convolution_preset"])
    if preset is None:  # "Custom" keeps whatever kernel is in the grid
        return
    st.session_state["convolution_cells"] = kernels.kernel_cells(preset.weights)
    st.session_state["convolution_size"] = preset.size
    st.session_state["convolution_normalise"] = preset.normalise
    st.session_state["convolution_editor_v"] = st.session_state.get("convolution_editor_v", 0) + 1


def _edited_kernel() -> None:
    key = f"convolution_editor_{st.session_state['convolution_editor_v']}"
    edits = st.session_state[key].get("edited_rows", {})
    st.session_state["convolution_cells"] = kernels.apply_edits(
        st.session_state["convolution_cells"], edits)
    st.session_state["convolution_preset"] = kernels.CUSTOM
    st.session_state["convolution_editor_v"] += 1


def _resized_kernel() -> None:
    st.session_state["convolution_cells"] = kernels.resize_cells(
        st.session_state["convolution_cells"], st.session_state["convolution_size"])
    st.session_state["convolution_preset"] = kernels.CUSTOM
    st.session_state["convolution_editor_v"] += 1


widgets.url_state("convolution_preset", PRESET_OPTIONS[0], choices=PRESET_OPTIONS)
widgets.url_state("convolution_colour", "rgb", choices=kernels.COLOUR_MODES)
widgets.url_state("convolution_padding", "zeros", choices=kernels.PADDING_MODES)
widgets.url_state("convolution_display", "clip", choices=kernels.DISPLAY_MODES)
widgets.url_state("convolution_flip", False)
_first_preset = kernels.PRESETS.get(st.session_state["convolution_preset"],
                                   kernels.PRESET_LIST[0])
st.session_state.setdefault("convolution_cells", kernels.kernel_cells(_first_preset.weights))
st.session_state.setdefault("convolution_size", len(st.session_state["convolution_cells"]))
st.session_state.setdefault("convolution_editor_v", 0)
widgets.url_state("convolution_normalise", _first_preset.normalise)


# --- cached computations ------------------------------------------------------------------


@st.cache_resource(max_entries=8, ttl=3600, show_spinner=False)
def _input_tensor(pixels: np.ndarray, colour: str) -> torch.Tensor:
    return kernels.image_tensor(kernels.to_image(pixels), colour)


@st.cache_resource(max_entries=16, ttl=3600, show_spinner=False)
def _convolve(pixels: np.ndarray, colour: str, weights: tuple, padding: str) -> torch.Tensor:
    return kernels.apply_kernel(_input_tensor(pixels, colour), torch.tensor(weights), padding)


@st.cache_resource(max_entries=8, ttl=3600, show_spinner=False)
def _input_shown(pixels: np.ndarray, colour: str) -> np.ndarray:
    return kernels.to_display(_input_tensor(pixels, colour), "clip")


@st.cache_resource(max_entries=16, ttl=3600, show_spinner=False)
def _histogram(pixels: np.ndarray, colour: str, weights: tuple, padding: str
               ) -> kernels.Histogram:
    return kernels.histogram(_convolve(pixels, colour, weights, padding))


@st.cache_resource(max_entries=16, ttl=3600, show_spinner=False)
def _shown(pixels: np.ndarray, colour: str, weights: tuple, padding: str, display: str
           ) -> np.ndarray:
    return kernels.to_display(_convolve(pixels, colour, weights, padding), display)


# --- kernels on a photo -------------------------------------------------------------------


def kernel_controls() -> None:
    st.selectbox("Kernel", PRESET_OPTIONS, key="convolution_preset", on_change=_load_preset)
    preset = kernels.PRESETS.get(st.session_state["convolution_preset"])
    st.caption(preset.about if preset else "Your own kernel: type any numbers (or fractions "
               "such as 1/9) into the grid below.")
    st.number_input("Kernel size", kernels.MIN_SIZE, kernels.MAX_SIZE, step=1,
                    key="convolution_size", on_change=_resized_kernel,
                    help="Changing the size crops the kernel or adds a border of zeros.")
    st.data_editor(
        _editor_table(st.session_state["convolution_cells"]),
        key=f"convolution_editor_{st.session_state['convolution_editor_v']}",
        on_change=_edited_kernel, hide_index=True, width="content",
        column_config={str(i): st.column_config.TextColumn(str(i), width=52)
                       for i in range(len(st.session_state["convolution_cells"]))},
    )
    st.caption("Edit any cell and the kernel becomes “Custom”.")
    st.toggle("Normalise (÷ sum of weights)", key="convolution_normalise")
    st.toggle("Flip the kernel (true convolution)", key="convolution_flip")
    st.radio("Colour", kernels.COLOUR_MODES, key="convolution_colour",
             format_func=COLOUR_LABELS.get, horizontal=True)
    st.radio("Padding at the border", kernels.PADDING_MODES, key="convolution_padding",
             format_func=PADDING_LABELS.get, horizontal=True)
    st.radio("Show negative and large values by", kernels.DISPLAY_MODES,
             key="convolution_display", format_func=DISPLAY_LABELS.get, horizontal=True)
    widgets.sync_url("convolution_preset", "convolution_colour", "convolution_padding",
                "convolution_display", "convolution_flip", "convolution_normalise")


def histogram_figure(hist: kernels.Histogram) -> go.Figure:
    centres = (hist.edges[:-1] + hist.edges[1:]) / 2
    edge = {"type": "line", "yref": "paper", "y0": 0, "y1": 1,
            "line": {"color": grids.HIGHLIGHT, "dash": "dash"}}
    return go.Figure({
        "data": [{"type": "bar", "x": centres.tolist(), "y": hist.counts.tolist(),
                  "width": np.diff(hist.edges).tolist(), "marker": {"color": "#5c7cfa"},
                  "hovertemplate": "%{x:.1f}: %{y} values<extra></extra>"}],
        "layout": {
            "height": 230, "margin": {"l": 8, "r": 8, "t": 24, "b": 8}, "bargap": 0,
            "xaxis": {"title": {"text": "raw output value"}},
            "yaxis": {"title": {"text": "pixels"}},
            "shapes": [{**edge, "x0": 0, "x1": 0}, {**edge, "x0": 255, "x1": 255},
                       {"type": "rect", "yref": "paper", "y0": 0, "y1": 1, "x0": 0, "x1": 255,
                        "fillcolor": "#c3fae8", "opacity": 0.35, "line": {"width": 0},
                        "layer": "below"}],
            "annotations": [{"x": 127.5, "y": 1, "yref": "paper", "showarrow": False,
                             "text": "0..255: shown as is by “clip”", "yanchor": "bottom"}],
        },
    })


def _pick_pixel() -> None:
    cell = grids.clicked_cell(st.session_state["convolution_picker"].get("selection"))
    if cell is not None:
        top, left = st.session_state["convolution_picker_origin"]
        st.session_state["convolution_y"] = top + cell[0]
        st.session_state["convolution_x"] = left + cell[1]


def pixel_inspector(x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor,
                    padding: str) -> None:
    st.subheader("Pixel inspector")
    height, width = x.shape[-2:]
    for key, limit in (("convolution_x", width), ("convolution_y", height)):
        st.session_state[key] = min(max(int(st.session_state.get(key, limit // 2)), 0),
                                    limit - 1)
    st.markdown("Pick an output pixel: type its coordinates, or click a pixel in the "
                "neighbourhood view. The inspector redoes that pixel's arithmetic by hand.")
    c1, c2, c3 = st.columns(3)
    col = c1.number_input("x (column)", 0, width - 1, step=1, key="convolution_x")
    row = c2.number_input("y (row)", 0, height - 1, step=1, key="convolution_y")
    channel = 0
    if x.shape[1] == 3:
        channel = CHANNELS.index(c3.selectbox("Channel", CHANNELS, key="convolution_channel"))
    info = kernels.inspect_pixel(x, weights, padding, row, col, channel)
    size = weights.shape[-1]

    radius = max(5, size // 2 + 2)
    top, left = max(0, row - radius), max(0, col - radius)
    crop = x[0, channel, top : row + radius + 1, left : col + radius + 1]
    st.session_state["convolution_picker_origin"] = (top, left)
    before, _, _, _ = kernels.same_padding(size)
    window = (row - top - before, col - left - before, size, size)
    zoom, patch, kern, prods = st.columns([1.4, 1, 1, 1.2])
    with zoom:
        st.caption(f"Input around ({col}, {row}); click a pixel to inspect it")
        fig = grids.grid_figure(crop, highlight=[(row - top, col - left)], boxes=[window],
                                cell_px=30, font_size=9, clickable=True, zmin=0, zmax=255,
                                colorscale="gray")
        st.plotly_chart(fig, key="convolution_picker", on_select=_pick_pixel,
                        selection_mode="points", width="content",
                        config={"displayModeBar": False})
    cell_px = 46 if size <= 5 else 38
    with patch:
        st.caption("Input patch (padding included)")
        show_grid(info.patch, "convolution_inspector_patch", cell_px, show_indices=False,
                  font_size=11, colorscale="gray", zmin=0, zmax=255)
    for column, grid, label in ((kern, info.weights, "Kernel (as conv2d uses it)"),
                                (prods, info.products, "Products")):
        with column:
            st.caption(label)
            show_grid(grid, f"convolution_inspector_{label}", cell_px, show_indices=False,
                      font_size=11)
    from_tensor = float(y[0, channel, row, col])
    m1, m2, m3 = st.columns(3)
    m1.metric("Sum of the products", kernels.format_number(info.total, 6))
    m2.metric(f"Output tensor y[0, {channel}, {row}, {col}]",
              kernels.format_number(from_tensor, 6))
    agree = abs(info.total - from_tensor) <= 1e-3 * max(1.0, abs(from_tensor))
    m3.metric("They agree", "yes" if agree else "NO")


def flip_comparison(x: torch.Tensor, pixels: np.ndarray, kernel: torch.Tensor,
                    weights_unflipped: torch.Tensor, colour: str, padding: str,
                    display: str) -> None:
    st.subheader("Cross-correlation or convolution?")
    st.markdown(
        "PyTorch's `conv2d` does **not** flip the kernel: it computes a cross-correlation, "
        "y[i, j] = Σ x[i + m, j + n]·h[m, n]. The mathematical convolution of the slides, "
        "the discrete form of")
    st.latex(r"y(t) = \int x(\tau)\, h(t - \tau)\, d\tau,")
    st.markdown("runs the kernel backwards, y[i, j] = Σ x[i − m, j − n]·h[m, n]: the same as "
                "cross-correlating with the kernel turned by 180°. In a CNN the weights are "
                "learned, so the flip makes no difference; for a fixed kernel it can.")
    flipped = weights_unflipped.flip(0, 1)
    plain_w = tuple(map(tuple, weights_unflipped.tolist()))
    conv_w = tuple(map(tuple, flipped.tolist()))
    plain = _convolve(pixels, colour, plain_w, padding)
    conv = _convolve(pixels, colour, conv_w, padding)
    diff = float((plain - conv).abs().max())
    if kernels.is_point_symmetric(kernel):
        st.info("This kernel looks the same turned by 180°, so both give identical outputs "
                f"(largest difference {kernels.format_number(diff)}). Try Sobel x or Emboss.")
    else:
        st.warning(f"This kernel is not symmetric: the two outputs differ by up to "
                   f"{kernels.format_number(diff, 6)} (for Sobel x, flipping negates it: "
                   "bright-to-dark edges swap with dark-to-bright ones)."
                   + (" Shown by absolute value, a negated output looks the same: choose "
                      "“Clip to 0..255” to see the swap." if display == "abs" else ""))
    cols = st.columns(4)
    for column, grid, label in ((cols[0], weights_unflipped, "Kernel h"),
                                (cols[2], flipped, "h turned by 180°")):
        with column:
            st.caption(label)
            show_grid(grid, f"convolution_flip_{label}", 34, show_indices=False, font_size=10)
    cols[1].image(_shown(pixels, colour, plain_w, padding, display), width="stretch",
                  caption="conv2d(x, h): cross-correlation")
    cols[3].image(_shown(pixels, colour, conv_w, padding, display), width="stretch",
                  caption="conv2d(x, flip(h)): convolution")


def photo_lesson() -> None:
    left, right = st.columns([1, 2.6], gap="medium")
    with left:
        kernel_controls()
    colour = st.session_state["convolution_colour"]
    padding = st.session_state["convolution_padding"]
    display = st.session_state["convolution_display"]
    normalise = st.session_state["convolution_normalise"]
    flip = st.session_state["convolution_flip"]
    with right:
        try:
            kernel = kernels.parse_kernel(st.session_state["convolution_cells"])
        except KernelError as err:
            st.error(str(err))
            return
        prepared = kernels.prepare_kernel(kernel, normalise=normalise, flip=flip)
        pixels = np.asarray(photo.image)
        height, width = pixels.shape[:2]
        try:
            kernels.check_fits(kernel.shape[0], height, width)
        except KernelError as err:
            st.error(str(err))
            return
        weights = tuple(map(tuple, prepared.weights.tolist()))
        started = time.perf_counter()
        y = _convolve(pixels, colour, weights, padding)
        elapsed = time.perf_counter() - started
        x = _input_tensor(pixels, colour)
        shown = _shown(pixels, colour, weights, padding, display)

        row = min(int(st.session_state.get("convolution_y", height // 2)), height - 1)
        col = min(int(st.session_state.get("convolution_x", width // 2)), width - 1)
        size = kernel.shape[0]
        in_col, out_col = st.columns(2)
        in_col.image(kernels.outline_window(kernels.to_image(_input_shown(pixels, colour)),
                                            row, col, size),
                     caption=f"Input · {photo.name} · {width}×{height}", width="stretch")
        out_col.image(kernels.outline_window(kernels.to_image(shown), row, col, size),
                      caption=f"Output · {DISPLAY_LABELS[display].lower()} · same scale",
                      width="stretch")
        ratio = float(y.mean()) / max(float(x.mean()), 1e-9)
        st.caption(
            f"conv2d on a {tuple(x.shape)} tensor with a {size}×{size} kernel took "
            f"{elapsed * 1000:.0f} ms (0 when cached). The red square marks the inspected "
            f"pixel. Mean brightness: input {float(x.mean()):.1f} → output {float(y.mean()):.1f}"
            f" (×{ratio:.2f}; the weights sum to "
            f"{kernels.format_number(float(prepared.weights.sum()))})."
        )
        for note in prepared.notes:
            (st.warning if "all zeros" in note else st.caption)(note)
        if not normalise and float(kernel.sum()) > 1.5:
            st.info(
                f"Why so bright? The weights add up to {kernels.format_number(float(kernel.sum()))}"
                ": in a flat region every output pixel is that many times the input, so the "
                "image gets that many times brighter and most pixels pass 255 (white). The "
                "course's Blur 5x5 sums nine ones, hence ×9. Switch on **Normalise** to divide "
                "by the sum and get an average instead.", icon=":material/lightbulb:")

        hist = _histogram(pixels, colour, weights, padding)
        st.markdown(
            f"**Raw output values** range from {hist.minimum:.1f} to {hist.maximum:.1f}; "
            f"{hist.below_zero:.1%} are below 0 and {hist.above_255:.1%} above 255. A screen "
            "shows only 0..255: *clip* turns the rest black or white, *absolute value* shows "
            "negative edges as bright too, *min-max* squeezes the whole range into 0..255.")
        st.plotly_chart(histogram_figure(hist), width="stretch", key="convolution_histogram",
                        config={"displayModeBar": False})

    pixel_inspector(x, y, prepared.weights, padding)
    if flip or not kernels.is_point_symmetric(kernel):
        unflipped = kernels.prepare_kernel(kernel, normalise=normalise).weights
        flip_comparison(x, pixels, kernel, unflipped, colour, padding, display)

    st.subheader("The same in PyTorch")
    st.caption("These lines reproduce the output image above exactly; copy them with the "
               "button in the corner.")
    st.code(kernels.code_twin(photo.name, kernel, colour, padding, normalise, flip, display),
            language="python")


# --- the moving window --------------------------------------------------------------------

_MW_DEFAULTS = {"convolution_mw_input": moving_window.SLIDE_INPUT,
                "convolution_mw_kernel": moving_window.SLIDE_KERNEL}


def _mw_reset_to_slide() -> None:
    for key, grid in _MW_DEFAULTS.items():
        st.session_state[key] = kernels.kernel_cells(grid)
    st.session_state["convolution_mw_isize"] = len(moving_window.SLIDE_INPUT)
    st.session_state["convolution_mw_ksize"] = len(moving_window.SLIDE_KERNEL)
    st.session_state["convolution_mw_step"] = 0
    st.session_state["convolution_mw_v"] = st.session_state.get("convolution_mw_v", 0) + 1


def _mw_edited(which: str) -> None:
    key = f"{which}_editor_{st.session_state['convolution_mw_v']}"
    st.session_state[which] = kernels.apply_edits(
        st.session_state[which], st.session_state[key].get("edited_rows", {}))
    st.session_state["convolution_mw_step"] = 0
    st.session_state["convolution_mw_v"] += 1


def _mw_resized(which: str, size_key: str, max_size: int) -> None:
    st.session_state[which] = kernels.resize_cells(
        st.session_state[which], st.session_state[size_key], max_size=max_size)
    st.session_state["convolution_mw_step"] = 0
    st.session_state["convolution_mw_v"] += 1


def _mw_move(delta: int, total: int) -> None:
    st.session_state["convolution_mw_step"] = min(
        max(st.session_state["convolution_mw_step"] + delta, 0), total)


if "convolution_mw_input" not in st.session_state:
    _mw_reset_to_slide()


def draw_window(state: moving_window.WindowState, inputs: torch.Tensor) -> None:
    a, b, c = st.columns([1.3, 0.8, 1])
    boxes = [] if state.row is None else [(state.row, state.col, *state.kernel.shape)]
    scale = "Greens"
    with a:
        st.caption("Input (products inside the window)")
        show_grid(inputs, f"convolution_mw_in_{state.step}", 62, text=state.input_text(inputs),
                  boxes=boxes, colorscale=scale, font_size=12)
    with b:
        st.caption("Kernel")
        show_grid(state.kernel, f"convolution_mw_kernel_{state.step}", colorscale=scale)
    with c:
        st.caption(f"Output: {state.step} of {state.total} cells")
        current = [] if state.row is None else [(state.row, state.col)]
        show_grid(state.shown_output(), f"convolution_mw_out_{state.step}", 56,
                  highlight=current, colorscale="Oranges", font_size=16)
    if state.row is None:
        st.markdown("Press **Step** to place the kernel on the top-left corner.")
    else:
        st.markdown(f"`{state.equation()}`")
    lines = [" ".join(kernels.format_number(v) if filled else "·"
                      for v, filled in zip(r, f, strict=True))
             for r, f in zip(state.output.tolist(), state.filled.tolist(), strict=True)]
    st.text("Output so far:\n" + "\n".join(lines))


@st.fragment
def moving_window_lesson() -> None:
    st.markdown(
        "The course's animation: a 3×3 kernel slides over a 5×5 binary input, one output "
        "cell per position, without padding and with stride 1. Each step multiplies the nine "
        "covered cells by the weights (shown as value×weight) and adds them up. Edit the "
        "input or the kernel, then step again.")
    ed1, ed2, ed3 = st.columns([1.3, 1, 1])
    with ed1:
        st.number_input("Input size", 3, moving_window.MAX_INPUT, key="convolution_mw_isize",
                        on_change=_mw_resized, args=("convolution_mw_input",
                                                     "convolution_mw_isize",
                                                     moving_window.MAX_INPUT))
        st.data_editor(_editor_table(st.session_state["convolution_mw_input"]),
                       key=f"convolution_mw_input_editor_{st.session_state['convolution_mw_v']}",
                       on_change=_mw_edited, args=("convolution_mw_input",), hide_index=True,
                       width="content")
    with ed2:
        st.number_input("Window size", 1, 5, key="convolution_mw_ksize",
                        on_change=_mw_resized, args=("convolution_mw_kernel",
                                                     "convolution_mw_ksize", 5))
        st.data_editor(_editor_table(st.session_state["convolution_mw_kernel"]),
                       key=f"convolution_mw_kernel_editor_{st.session_state['convolution_mw_v']}",
                       on_change=_mw_edited, args=("convolution_mw_kernel",), hide_index=True,
                       width="content")
    with ed3:
        st.button("Back to the slide's grids", on_click=_mw_reset_to_slide)
    try:
        inputs = kernels.parse_kernel(st.session_state["convolution_mw_input"],
                                      moving_window.MAX_INPUT, "input grid")
        kernel = kernels.parse_kernel(st.session_state["convolution_mw_kernel"], 5, "window")
        total = moving_window.n_steps(inputs, kernel)
    except KernelError as err:
        st.error(str(err))
        return
    step = min(st.session_state["convolution_mw_step"], total)
    b1, b2, b3, b4, b5 = st.columns(5)
    b1.button("Start", icon=":material/first_page:", on_click=_mw_move,
              args=(-total, total), width="stretch")
    b2.button("Back", icon=":material/chevron_left:", on_click=_mw_move, args=(-1, total),
              width="stretch", disabled=step == 0)
    b3.button("Step", icon=":material/chevron_right:", on_click=_mw_move, args=(1, total),
              width="stretch", disabled=step >= total, type="primary")
    play = b4.button("Play", icon=":material/play_arrow:", width="stretch",
                     disabled=step >= total)
    b5.button("End", icon=":material/last_page:", on_click=_mw_move, args=(total, total),
              width="stretch")
    slot = st.empty()
    if play:
        for s in range(step + 1, total + 1):
            st.session_state["convolution_mw_step"] = s
            with slot.container():
                draw_window(moving_window.window_state(inputs, kernel, s), inputs)
            if s < total:
                time.sleep(PLAY_DELAY_S)
        st.rerun(scope="fragment")
    with slot.container():
        draw_window(moving_window.window_state(inputs, kernel, step), inputs)

    st.subheader("Several kernels")
    st.markdown(
        "A convolution layer holds **C_out** kernels. Each one slides over the same input and "
        "makes its own output map, so C_out kernels give C_out maps: one `conv2d` with a "
        "weight of shape (C_out, C_in, k, k).")
    names = st.multiselect("Kernels", list(moving_window.KERNEL_BANK),
                           default=list(moving_window.KERNEL_BANK)[:3],
                           key="convolution_mw_bank")
    if not names:
        st.warning("Choose at least one kernel.")
        return
    bank = [moving_window.as_grid(moving_window.KERNEL_BANK[n]) for n in names]
    try:
        maps = moving_window.several_kernels(inputs, bank)
    except KernelError as err:
        st.error(str(err))
        return
    st.code(f"weight.shape = {tuple((len(bank), 1, 3, 3))}  # (C_out, C_in, k, k)\n"
            f"F.conv2d(x, weight).shape = {tuple((1, *maps.shape))}  # (N, C_out, H', W')",
            language="python")
    for start in range(0, len(names), 3):
        for column, name, kern, fmap in zip(st.columns(3), names[start : start + 3],
                                            bank[start : start + 3], maps[start : start + 3],
                                            strict=False):
            with column.container(border=True):
                st.markdown(f"**{name}** → output map {names.index(name)}")
                show_grid(kern, f"convolution_bank_k_{name}", 30, False,
                          colorscale="Greens", font_size=11)
                show_grid(fmap, f"convolution_bank_map_{name}", 40, False,
                          colorscale="Oranges", font_size=14)


photo_tab, window_tab = st.tabs(["Kernels on a photo", "The moving window"])
with photo_tab:
    photo_lesson()
with window_tab:
    moving_window_lesson()
