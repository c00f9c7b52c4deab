"""Convolution: image kernels on a real photo, the moving window, and several kernels at once."""

from __future__ import annotations

import time
from collections.abc import Callable

import pandas as pd
import streamlit as st
import torch
from PIL import Image

from explorer import i18n, kernels, moving_window, predict_first
from explorer.figures import PrebuiltFigure, frozen, grids
from explorer.figures import convolution as figures
from explorer.i18n import N_, _
from explorer.kernels import KernelError
from explorer.ui import predict_panel, widgets

PRESET_OPTIONS = [*kernels.PRESETS, kernels.CUSTOM]
COLOUR_LABELS = {"grayscale": N_("Grayscale"), "rgb": N_("RGB, each channel (groups=3)")}
PADDING_LABELS = {"zeros": N_("Zeros"), "reflect": N_("Reflect"), "replicate": N_("Replicate")}
DISPLAY_LABELS = {"clip": N_("Clip to 0..255"), "abs": N_("Absolute value"),
                  "minmax": N_("Min-max rescale")}
CHANNELS = ("red", "green", "blue")
CHANNEL_NAMES = {"red": N_("red"), "green": N_("green"), "blue": N_("blue")}
PLAY_DELAY_S = 0.45

widgets.page_header(
    _("Convolution"),
    _("A convolution slides a small grid of weights, the **kernel**, over an image: at every "
      "position it multiplies the pixels under the kernel by the weights and adds the products "
      "up into one output pixel. Choose a kernel, see what it does to a photo, then check the "
      "arithmetic of any pixel and step through the course's moving-window animation."),
)
photo = widgets.image_input()
PHOTO_KEY = kernels.image_key(photo.image, photo.name)  # small: caches key on it, not pixels
# The inspected pixel and channel travel in shared links.
widgets.url_state("convolution_x", photo.image.width // 2, bounds=(0, photo.image.width - 1))
widgets.url_state("convolution_y", photo.image.height // 2, bounds=(0, photo.image.height - 1))
widgets.url_state("convolution_channel", CHANNELS[0], choices=CHANNELS)


@st.cache_data(max_entries=128, ttl=3600, show_spinner=False)
def _kernel_question(seed: int, photo_key: tuple, _image, lang: str) -> predict_first.Question:
    with i18n.use_language(lang):
        return predict_first.which_kernel(seed, _image)


predict_panel.panel("convolution", lambda seed: _kernel_question(seed, PHOTO_KEY, photo.image,
                                                                 i18n.language()),
                    what=_("which kernel it was"))


def show_grid(values: object, key: str, cell_px: int = 44, show_indices: bool = True,
              **figure_args) -> None:
    """A static numeric grid figure (cells `cell_px` wide, not clickable), built once."""
    st.plotly_chart(
        grids.cached_number_grid(frozen(values), cell_px=cell_px, show_indices=show_indices,
                                 **{k: frozen(v) for k, v in figure_args.items()}),
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
    st.session_state["convolution_cells_v"] = st.session_state.get("convolution_cells_v", 0) + 1


# An edited grid is stored as cells; its table editor then gets a new key (a new version), so
# the table redraws from the stored cells rather than replaying the edits it remembers.


def _grid_edited(cells_key: str, then: Callable[[], None]) -> None:
    editor = st.session_state[f"{cells_key}_editor_{st.session_state[cells_key + '_v']}"]
    st.session_state[cells_key] = kernels.apply_edits(
        st.session_state[cells_key], editor.get("edited_rows", {}))
    then()
    st.session_state[cells_key + "_v"] += 1


def _grid_resized(cells_key: str, size_key: str, max_size: int,
                  then: Callable[[], None]) -> None:
    st.session_state[cells_key] = kernels.resize_cells(
        st.session_state[cells_key], st.session_state[size_key], max_size=max_size)
    then()
    st.session_state[cells_key + "_v"] += 1


def grid_editor(cells_key: str, size_key: str, size_label: str, sizes: tuple[int, int],
                then: Callable[[], None], column_px: int | None = None,
                size_help: str | None = None) -> None:
    """A size input (`sizes`: smallest, largest) and a table editor over the square grid of
    cells in `cells_key`; `then` runs after every edit or resize."""
    min_size, max_size = sizes
    widgets.number_input(size_label, min_size, max_size, step=1, key=size_key,
                         on_change=_grid_resized, args=(cells_key, size_key, max_size, then),
                         help=size_help)
    cells = st.session_state[cells_key]
    widgets.fix_grid_typing()
    st.data_editor(
        _editor_table(cells), key=f"{cells_key}_editor_{st.session_state[cells_key + '_v']}",
        on_change=_grid_edited, args=(cells_key, then), hide_index=True, width="content",
        column_config={str(i): st.column_config.TextColumn(str(i), width=column_px)
                       for i in range(len(cells))} if column_px else None,
    )


def _now_custom() -> None:
    st.session_state["convolution_preset"] = kernels.CUSTOM


widgets.url_state("convolution_preset", PRESET_OPTIONS[0], choices=PRESET_OPTIONS)
widgets.url_state("convolution_colour", "rgb", choices=kernels.COLOUR_MODES)
widgets.url_state("convolution_padding", "zeros", choices=kernels.PADDING_MODES)
widgets.url_state("convolution_display", "clip", choices=kernels.DISPLAY_MODES)
widgets.url_state("convolution_flip", False)
_first_preset = kernels.PRESETS.get(st.session_state["convolution_preset"],
                                   kernels.PRESET_LIST[0])
st.session_state.setdefault("convolution_cells", kernels.kernel_cells(_first_preset.weights))
st.session_state.setdefault("convolution_size", len(st.session_state["convolution_cells"]))
st.session_state.setdefault("convolution_cells_v", 0)
widgets.url_state("convolution_normalise", _first_preset.normalise)



# --- cached computations: keyed by the photo's small key, never by hashing its pixels -------

_CACHE = {"max_entries": 16, "ttl": 3600, "show_spinner": False}


@st.cache_resource(**_CACHE)
def _input_tensor(photo_key: tuple, _image: Image.Image, colour: str) -> torch.Tensor:
    return kernels.image_tensor(_image, colour)


@st.cache_resource(**_CACHE)
def _convolve(photo_key: tuple, _image: Image.Image, colour: str, weights: tuple,
              padding: str) -> torch.Tensor:
    return kernels.apply_kernel(_input_tensor(photo_key, _image, colour), torch.tensor(weights),
                                padding)


@st.cache_resource(**_CACHE)
def _histogram(photo_key: tuple, _image: Image.Image, colour: str, weights: tuple,
               padding: str) -> kernels.OutputHistogram:
    return kernels.output_histogram(_convolve(photo_key, _image, colour, weights, padding))


@st.cache_resource(**_CACHE)
def _shown(photo_key: tuple, _image: Image.Image, colour: str, weights: tuple | None,
           padding: str, display: str) -> object:
    """The input (weights None) or the output as display pixels."""
    y = (_input_tensor(photo_key, _image, colour) if weights is None
         else _convolve(photo_key, _image, colour, weights, padding))
    return kernels.to_display(y, "clip" if weights is None else display)


@st.cache_data(max_entries=64, ttl=3600, show_spinner=False)
def _jpeg(photo_key: tuple, _image: Image.Image, colour: str, weights: tuple | None,
          padding: str, display: str, window: tuple[int, int, int] | None = None) -> bytes:
    """The shown input or output (window outlined, if given) as a small JPEG."""
    pixels = _shown(photo_key, _image, colour, weights, padding, display)
    return figures.photo_jpeg(pixels, window)


@st.cache_resource(max_entries=32, ttl=3600, show_spinner=False)
def _histogram_figure(photo_key: tuple, _image: Image.Image, colour: str, weights: tuple,
                      padding: str, lang: str) -> PrebuiltFigure:
    hist = _histogram(photo_key, _image, colour, weights, padding)
    with i18n.use_language(lang):  # its axis titles
        return PrebuiltFigure(figures.output_histogram_figure(hist).to_dict())


# --- kernels on a photo -------------------------------------------------------------------


def kernel_controls() -> None:
    st.selectbox(_("Kernel"), PRESET_OPTIONS, key="convolution_preset", on_change=_load_preset,
                 format_func=lambda name: _(kernels.PRESET_NAMES.get(name, name)))
    preset = kernels.PRESETS.get(st.session_state["convolution_preset"])
    st.caption(_(preset.about) if preset else _("Your own kernel: type any numbers (or "
                                                "fractions such as 1/9) into the grid below."))
    grid_editor("convolution_cells", "convolution_size", _("Kernel size"),
                (kernels.MIN_SIZE, kernels.MAX_SIZE), _now_custom, column_px=52,
                size_help=_("Changing the size crops the kernel or adds a border of zeros."))
    st.caption(_("Edit any cell and the kernel becomes “Custom”."))
    st.toggle(_("Normalise (÷ sum of weights)"), key="convolution_normalise")
    st.toggle(_("Flip the kernel (true convolution)"), key="convolution_flip")
    st.radio(_("Colour"), kernels.COLOUR_MODES, key="convolution_colour",
             format_func=lambda mode: _(COLOUR_LABELS[mode]), horizontal=True)
    st.radio(_("Padding at the border"), kernels.PADDING_MODES, key="convolution_padding",
             format_func=lambda mode: _(PADDING_LABELS[mode]), horizontal=True)
    st.radio(_("Show negative and large values by"), kernels.DISPLAY_MODES,
             key="convolution_display", format_func=lambda mode: _(DISPLAY_LABELS[mode]),
             horizontal=True)
    widgets.sync_url("convolution_preset", "convolution_colour", "convolution_padding",
                     "convolution_display", "convolution_flip", "convolution_normalise")


def _inspected(height: int, width: int) -> tuple[int, int]:
    """The inspected (row, col), clamped into the image."""
    return (min(int(st.session_state.get("convolution_y", height // 2)), height - 1),
            min(int(st.session_state.get("convolution_x", width // 2)), width - 1))


@st.fragment(key="convolution_images")
@widgets.guarded("photo and output")
def photo_pair(colour: str, weights: tuple, padding: str, display: str, size: int) -> None:
    """Input and output side by side, the inspected pixel's window outlined on both."""
    width, height = photo.image.size
    row, col = _inspected(height, width)
    in_col, out_col = st.columns(2)
    window = (row, col, size)
    widgets.picture(_jpeg(PHOTO_KEY, photo.image, colour, None, padding, "clip", window),
                    caption=_("Input · {name} · {w}×{h}").format(name=photo.name, w=width,
                                                                  h=height), where=in_col)
    widgets.picture(_jpeg(PHOTO_KEY, photo.image, colour, weights, padding, display, window),
                    caption=_("Output · {display} · same scale").format(
                        display=_(DISPLAY_LABELS[display]).lower()), where=out_col)


def _pick_pixel() -> None:
    cell = grids.clicked_cell(st.session_state["convolution_picker"].get("selection"))
    if cell is not None:
        top, left = st.session_state["convolution_picker_origin"]
        st.session_state["convolution_y"] = top + cell[0]
        st.session_state["convolution_x"] = left + cell[1]


@st.cache_resource(max_entries=64, ttl=3600, show_spinner=False)
def _inspection(photo_key: tuple, _image: Image.Image, colour: str, weights: tuple,
                padding: str, row: int, col: int, channel: int) -> kernels.PixelInspection:
    return kernels.inspect_pixel(_input_tensor(photo_key, _image, colour),
                                 torch.tensor(weights), padding, row, col, channel)


@widgets.guarded("pixel inspector")
def pixel_inspector(colour: str, weights: tuple, padding: str) -> None:
    st.subheader(_("Pixel inspector"))
    x = _input_tensor(PHOTO_KEY, photo.image, colour)
    y = _convolve(PHOTO_KEY, photo.image, colour, weights, padding)
    kernel = torch.tensor(weights)
    height, width = x.shape[-2:]
    for key, limit in (("convolution_x", width), ("convolution_y", height)):
        st.session_state[key] = min(max(int(st.session_state.get(key, limit // 2)), 0),
                                    limit - 1)
    st.markdown(_("Pick an output pixel: type its coordinates, or click a pixel in the "
                  "neighbourhood view. The inspector redoes that pixel's arithmetic by hand."))
    c1, c2, c3 = st.columns(3)
    col = widgets.number_input(_("x (column)"), 0, width - 1, step=1, key="convolution_x",
                               where=c1)
    row = widgets.number_input(_("y (row)"), 0, height - 1, step=1, key="convolution_y",
                               where=c2)
    channel = 0
    if x.shape[1] == 3:
        channel = CHANNELS.index(c3.selectbox(_("Channel"), CHANNELS, key="convolution_channel",
                                              format_func=lambda c: _(CHANNEL_NAMES[c])))
    widgets.sync_url("convolution_x", "convolution_y", "convolution_channel")
    info = _inspection(PHOTO_KEY, photo.image, colour, weights, padding, row, col, channel)
    size = kernel.shape[-1]

    radius = max(5, size // 2 + 2)
    top, left = max(0, row - radius), max(0, col - radius)
    crop = x[0, channel, top : row + radius + 1, left : col + radius + 1]
    st.session_state["convolution_picker_origin"] = (top, left)
    before = kernels.same_padding(size)[0]
    window = (row - top - before, col - left - before, size, size)
    zoom, patch, kern, prods = st.columns([1.4, 1, 1, 1.2])
    with zoom:
        st.caption(_("Input around ({x}, {y}); click a pixel to inspect it").format(x=col, y=row))
        fig = grids.cached_number_grid(
            frozen(crop), highlight=((row - top, col - left),), boxes=(window,), cell_px=30,
            font_size=9, clickable=True, zmin=0, zmax=255, colorscale="gray")
        st.plotly_chart(fig, key="convolution_picker", on_select=_pick_pixel,
                        selection_mode="points", width="content",
                        config={"displayModeBar": False})
    cell_px = 46 if size <= 5 else 38
    with patch:
        st.caption(_("Input patch (padding included)"))
        show_grid(info.patch, "convolution_inspector_patch", cell_px, show_indices=False,
                  font_size=11, colorscale="gray", zmin=0, zmax=255)
    for column, grid, name, label in (
            (kern, info.weights, "kernel", _("Kernel (as conv2d uses it)")),
            (prods, info.products, "products", _("Products"))):
        with column:
            st.caption(label)
            show_grid(grid, f"convolution_inspector_{name}", cell_px, show_indices=False,
                      font_size=11)
    from_tensor = float(y[0, channel, row, col])
    m1, m2, m3 = st.columns(3)
    m1.metric(_("Sum of the products"), kernels.format_number(info.total, 6))
    m2.metric(_("Output tensor y[0, {c}, {y}, {x}]").format(c=channel, y=row, x=col),
              kernels.format_number(from_tensor, 6))
    m3.metric(_("They agree"), _("yes") if info.agrees_with(from_tensor) else _("NO"))


@widgets.guarded("flipped kernel")
def flip_comparison(kernel: torch.Tensor, weights_unflipped: torch.Tensor, colour: str,
                    padding: str, display: str) -> None:
    st.subheader(_("Cross-correlation or convolution?"))
    st.markdown(_(
        "PyTorch's `conv2d` does **not** flip the kernel: it computes a cross-correlation, "
        "y[i, j] = Σ x[i + m, j + n]·h[m, n]. The mathematical convolution of the slides, "
        "the discrete form of"))
    st.latex(r"y(t) = \int x(\tau)\, h(t - \tau)\, d\tau,")
    st.markdown(_("runs the kernel backwards, y[i, j] = Σ x[i − m, j − n]·h[m, n]: the same as "
                  "cross-correlating with the kernel turned by 180°. In a CNN the weights are "
                  "learned, so the flip makes no difference; for a fixed kernel it can."))
    flipped = weights_unflipped.flip(0, 1)
    plain_w = tuple(map(tuple, weights_unflipped.tolist()))
    conv_w = tuple(map(tuple, flipped.tolist()))
    plain = _convolve(PHOTO_KEY, photo.image, colour, plain_w, padding)
    conv = _convolve(PHOTO_KEY, photo.image, colour, conv_w, padding)
    diff = float((plain - conv).abs().max())
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
    for column, grid, name, label in ((cols[0], weights_unflipped, "h", _("Kernel h")),
                                      (cols[2], flipped, "flipped", _("h turned by 180°"))):
        with column:
            st.caption(label)
            show_grid(grid, f"convolution_flip_{name}", 34, show_indices=False, font_size=10)
    widgets.picture(_jpeg(PHOTO_KEY, photo.image, colour, plain_w, padding, display),
                    caption=_("conv2d(x, h): cross-correlation"), where=cols[1])
    widgets.picture(_jpeg(PHOTO_KEY, photo.image, colour, conv_w, padding, display),
                    caption=_("conv2d(x, flip(h)): convolution"), where=cols[3])


@st.cache_resource(**_CACHE)
def _means(photo_key: tuple, _image: Image.Image, colour: str, weights: tuple, padding: str
           ) -> tuple[float, float]:
    return (float(_input_tensor(photo_key, _image, colour).mean()),
            float(_convolve(photo_key, _image, colour, weights, padding).mean()))


@st.fragment(key="convolution_photo")
@widgets.guarded("kernels on a photo")
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
        width, height = photo.image.size
        try:
            kernels.check_fits(kernel.shape[0], height, width)
        except KernelError as err:
            st.error(str(err))
            return
        weights = tuple(map(tuple, prepared.weights.tolist()))
        started = time.perf_counter()
        _convolve(PHOTO_KEY, photo.image, colour, weights, padding)
        elapsed = time.perf_counter() - started
        x = _input_tensor(PHOTO_KEY, photo.image, colour)
        size = kernel.shape[0]
        photo_pair(colour, weights, padding, display, size)
        x_mean, y_mean = _means(PHOTO_KEY, photo.image, colour, weights, padding)
        ratio = y_mean / max(x_mean, 1e-9)
        st.caption(_(
            "conv2d on a {shape} tensor with a {k}×{k} kernel took {ms:.0f} ms (0 when cached). "
            "The red square marks the inspected pixel. Mean brightness: input {x_mean:.1f} → "
            "output {y_mean:.1f} (×{ratio:.2f}; the weights sum to {total}).").format(
            shape=tuple(x.shape), k=size, ms=elapsed * 1000, x_mean=x_mean, y_mean=y_mean,
            ratio=ratio, total=kernels.format_number(float(prepared.weights.sum()))))
        nothing = normalise and not prepared.weights.any()  # the all-zeros note comes first
        for i, note in enumerate(prepared.notes):
            (st.warning if nothing and i == 0 else st.caption)(note)
        if not normalise and float(kernel.sum()) > 1.5:
            st.info(_(
                "Why so bright? The weights add up to {total}: in a flat region every output "
                "pixel is that many times the input, so the image gets that many times brighter "
                "and most pixels pass 255 (white). The course's Blur 5x5 sums nine ones, hence "
                "×9. Switch on **Normalise** to divide by the sum and get an average instead."
            ).format(total=kernels.format_number(float(kernel.sum()))),
                icon=":material/lightbulb:")

        hist = _histogram(PHOTO_KEY, photo.image, colour, weights, padding)
        st.markdown(_(
            "**Raw output values** range from {low:.1f} to {high:.1f}; {below:.1%} are below 0 "
            "and {above:.1%} above 255. A screen shows only 0..255: *clip* turns the rest black "
            "or white, *absolute value* shows negative edges as bright too, *min-max* squeezes "
            "the whole range into 0..255.").format(
            low=hist.minimum, high=hist.maximum, below=hist.below_zero, above=hist.above_255))
        st.plotly_chart(_histogram_figure(PHOTO_KEY, photo.image, colour, weights, padding,
                                          i18n.language()),
                        width="stretch", key="convolution_histogram",
                        config={"displayModeBar": False})

    pixel_inspector(colour, weights, padding)
    if flip or not kernels.is_point_symmetric(kernel):
        unflipped = kernels.prepare_kernel(kernel, normalise=normalise).weights
        flip_comparison(kernel, unflipped, colour, padding, display)

    st.subheader(_("The same in PyTorch"))
    st.caption(_("These lines reproduce the output image above exactly; copy them with the "
                 "button in the corner."))
    st.code(kernels.code_twin(photo.name, kernel, colour, padding, normalise, flip, display),
            language="python")


# --- the moving window --------------------------------------------------------------------

_MW_GRIDS = {"convolution_mw_input": moving_window.SLIDE_INPUT,
             "convolution_mw_kernel": moving_window.SLIDE_KERNEL}


def _mw_reset_to_slide() -> None:
    for key, grid in _MW_GRIDS.items():
        st.session_state[key] = kernels.kernel_cells(grid)
        st.session_state[key + "_v"] = st.session_state.get(key + "_v", 0) + 1
    st.session_state["convolution_mw_isize"] = len(moving_window.SLIDE_INPUT)
    st.session_state["convolution_mw_ksize"] = len(moving_window.SLIDE_KERNEL)
    st.session_state["convolution_mw_step"] = 0


def _mw_restart() -> None:
    st.session_state["convolution_mw_step"] = 0


def _mw_move(delta: int, total: int) -> None:
    st.session_state["convolution_mw_step"] = min(
        max(st.session_state["convolution_mw_step"] + delta, 0), total)


if "convolution_mw_input" not in st.session_state:
    _mw_reset_to_slide()
    del st.session_state["convolution_mw_step"]  # a shared link may name the step
widgets.url_state("convolution_mw_step", 0, bounds=(0, moving_window.MAX_INPUT ** 2))


@st.cache_resource(max_entries=64, ttl=3600, show_spinner=False)
def _window_state(inputs: tuple, kernel: tuple, step: int) -> moving_window.WindowState:
    return moving_window.window_state(torch.tensor(inputs), torch.tensor(kernel), step)


def draw_window(state: moving_window.WindowState, inputs: torch.Tensor) -> None:
    a, b, c = st.columns([1.3, 0.8, 1])
    boxes = [] if state.row is None else [(state.row, state.col, *state.kernel.shape)]
    scale = "Greens"
    with a:
        st.caption(_("Input (products inside the window)"))
        show_grid(inputs, f"convolution_mw_in_{state.step}", 62, text=state.input_text(inputs),
                  boxes=boxes, colorscale=scale, font_size=12)
    with b:
        st.caption(_("Kernel"))
        show_grid(state.kernel, f"convolution_mw_kernel_{state.step}", colorscale=scale)
    with c:
        st.caption(_("Output: {step} of {total} cells").format(step=state.step,
                                                                 total=state.total))
        current = [] if state.row is None else [(state.row, state.col)]
        show_grid(state.shown_output(), f"convolution_mw_out_{state.step}", 56,
                  highlight=current, colorscale="Oranges", font_size=16)
    if state.row is None:
        st.markdown(_("Press **Step** to place the kernel on the top-left corner."))
    else:
        st.markdown(f"`{state.equation()}`")
    lines = [" ".join(kernels.format_number(v) if filled else "·"
                      for v, filled in zip(r, f, strict=True))
             for r, f in zip(state.output.tolist(), state.filled.tolist(), strict=True)]
    st.text(_("Output so far:") + "\n" + "\n".join(lines))


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
        grid_editor("convolution_mw_input", "convolution_mw_isize", _("Input size"),
                    (3, moving_window.MAX_INPUT), _mw_restart)
    with ed2:
        grid_editor("convolution_mw_kernel", "convolution_mw_ksize", _("Window size"), (1, 5),
                    _mw_restart)
    with ed3:
        st.button(_("Back to the slide's grids"), key="convolution_mw_slide",
                  on_click=_mw_reset_to_slide)
    try:
        inputs = kernels.parse_kernel(st.session_state["convolution_mw_input"],
                                      moving_window.MAX_INPUT, "input grid")
        kernel = kernels.parse_kernel(st.session_state["convolution_mw_kernel"], 5, "window")
        total = moving_window.n_steps(inputs, kernel)
    except KernelError as err:
        st.error(str(err))
        return
    step = st.session_state["convolution_mw_step"] = min(
        st.session_state["convolution_mw_step"], total)
    widgets.sync_url("convolution_mw_step")
    b1, b2, b3, b4, b5 = st.columns(5)
    b1.button(_("Start"), key="convolution_mw_start", icon=":material/first_page:",
              on_click=_mw_move, args=(-total, total), width="stretch")
    b2.button(_("Back"), key="convolution_mw_back", icon=":material/chevron_left:",
              on_click=_mw_move, args=(-1, total), width="stretch", disabled=step == 0)
    b3.button(_("Step"), key="convolution_mw_next", icon=":material/chevron_right:",
              on_click=_mw_move, args=(1, total), width="stretch", disabled=step >= total,
              type="primary")
    play = b4.button(_("Play"), key="convolution_mw_play", icon=":material/play_arrow:",
                     width="stretch", disabled=step >= total)
    b5.button(_("End"), key="convolution_mw_end", icon=":material/last_page:",
              on_click=_mw_move, args=(total, total), width="stretch")
    slot = st.empty()
    if play:
        for s in range(step + 1, total + 1):
            st.session_state["convolution_mw_step"] = s
            with slot.container():
                draw_window(_window_state(frozen(inputs), frozen(kernel), s), inputs)
            if s < total:
                time.sleep(PLAY_DELAY_S)
        widgets.sync_url("convolution_mw_step")
        st.rerun(scope="fragment")
    with slot.container():
        draw_window(_window_state(frozen(inputs), frozen(kernel), step), inputs)
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
    st.code(f"weight.shape = {tuple((len(bank), 1, 3, 3))}  # (C_out, C_in, k, k)\n"
            f"F.conv2d(x, weight).shape = {tuple((1, *maps.shape))}  # (N, C_out, H', W')",
            language="python")
    for start in range(0, len(names), 3):
        for column, name, kern, fmap in zip(st.columns(3), names[start : start + 3],
                                            bank[start : start + 3], maps[start : start + 3],
                                            strict=False):
            with column.container(border=True):
                st.markdown(_("**{kernel}** → output map {i}").format(
                    kernel=_(name), i=names.index(name)))
                show_grid(kern, f"convolution_bank_k_{name}", 30, False,
                          colorscale="Greens", font_size=11)
                show_grid(fmap, f"convolution_bank_map_{name}", 40, False,
                          colorscale="Oranges", font_size=14)


TABS = [_("Kernels on a photo"), _("The moving window")]
# A link that names a step of the moving window opens on that tab.
photo_tab, window_tab = st.tabs(TABS, default=TABS[1] if st.session_state[
    "convolution_mw_step"] and "convolution_mw_step" in st.query_params else None)
with photo_tab:
    photo_lesson()
with window_tab:
    moving_window_lesson()
