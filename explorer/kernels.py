"""Image kernels: the presets of the course, validation of hand-typed kernels, and applying them.

A kernel is a small square grid of weights. `apply_kernel` slides it over an image with
`torch.nn.functional.conv2d`, either on the grayscale image or on each RGB channel separately
(a depthwise convolution, `groups=3`). The output keeps the image's size: the border is padded
first, with zeros or by reflecting or replicating the edge pixels. The pixel inspector
(`inspect_pixel`) redoes the arithmetic of one output pixel by hand so it can be checked
against the tensor `conv2d` produced.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from explorer.i18n import N_, _

PaddingMode = Literal["zeros", "reflect", "replicate"]
DisplayMode = Literal["clip", "abs", "minmax"]
ColourMode = Literal["grayscale", "rgb"]

PADDING_MODES: tuple[PaddingMode, ...] = ("zeros", "reflect", "replicate")
DISPLAY_MODES: tuple[DisplayMode, ...] = ("clip", "abs", "minmax")
COLOUR_MODES: tuple[ColourMode, ...] = ("grayscale", "rgb")
MIN_SIZE, MAX_SIZE = 1, 7
SIZES = (MIN_SIZE, MAX_SIZE)  #: smallest and largest kernel side
CUSTOM = "Custom"
#: What `parse_kernel` calls the grids it reads, for its messages.
GRID_NAMES = (N_("kernel"), N_("input grid"), N_("window"))
#: The modes and channels as the page names them (the English keys stay the option values).
COLOUR_NAMES: dict[str, str] = {"grayscale": N_("Grayscale"),
                                "rgb": N_("RGB, each channel (groups=3)")}
PADDING_NAMES: dict[str, str] = {"zeros": N_("Zeros"), "reflect": N_("Reflect"),
                                 "replicate": N_("Replicate")}
DISPLAY_NAMES: dict[str, str] = {"clip": N_("Clip to 0..255"), "abs": N_("Absolute value"),
                                 "minmax": N_("Min-max rescale")}
CHANNELS = ("red", "green", "blue")
CHANNEL_NAMES: dict[str, str] = {"red": N_("red"), "green": N_("green"), "blue": N_("blue")}

Grid = tuple[tuple[float, ...], ...]


class KernelError(ValueError):
    """A kernel or setting that cannot be applied; `str(err)` is one sentence for the user."""


@dataclass(frozen=True)
class Preset:
    """A named kernel. `normalise` is the switch position that shows it as intended."""

    name: str
    weights: Grid
    about: str
    normalise: bool = False

    @property
    def size(self) -> int:
        return len(self.weights)

    def tensor(self) -> torch.Tensor:
        """The weights as a float32 (k, k) tensor, divided by their sum if `normalise`."""
        weights = torch.tensor(self.weights, dtype=torch.float32)
        return weights / weights.sum() if self.normalise else weights


def _bordered(inner: Grid) -> Grid:
    """`inner` inside a one-cell border of zeros (how the course writes its 5x5 kernels)."""
    width = len(inner[0]) + 2
    zero_row = (0.0,) * width
    return (zero_row, *((0.0, *row, 0.0) for row in inner), zero_row)


_SOBEL_X: Grid = ((-1, 0, 1), (-2, 0, 2), (-1, 0, 1))
_BINOMIAL_5 = (1, 4, 6, 4, 1)

PRESET_LIST: tuple[Preset, ...] = (
    Preset("Sharpen 5x5 (course)", _bordered(((0, -1, 0), (-1, 5, -1), (0, -1, 0))),
           N_("The course's sharpen: each pixel counts 5 times, minus its four neighbours, so "
              "differences from the surroundings are amplified. The weights sum to 1.")),
    Preset("Blur 5x5 (course)", _bordered(((1, 1, 1), (1, 1, 1), (1, 1, 1))),
           N_("The course's blur: a 3x3 block of ones. Each output pixel is the sum of nine "
              "input pixels, so without normalising the image gets nine times brighter.")),
    Preset("Edge detect 3x3 (course)", ((0, 1, 0), (1, -4, 1), (0, 1, 0)),
           N_("The course's edge detector (a Laplacian): four neighbours minus four times the "
              "centre. Flat regions give 0, edges give large positive and negative values.")),
    Preset("Identity 3x3", ((0, 0, 0), (0, 1, 0), (0, 0, 0)),
           N_("Copies the centre pixel: the output equals the input.")),
    Preset("Box blur 3x3", ((1, 1, 1), (1, 1, 1), (1, 1, 1)),
           N_("The average of a 3x3 neighbourhood (ones, divided by their sum 9)."),
           normalise=True),
    Preset("Gaussian blur 5x5", tuple(tuple(float(a * b) for b in _BINOMIAL_5)
                                      for a in _BINOMIAL_5),
           N_("A weighted average that favours the centre (binomial weights, divided by their "
              "sum 256): a softer blur than the box."), normalise=True),
    Preset("Sobel x 3x3", _SOBEL_X,
           N_("Right minus left: responds to vertical edges, positive where the image gets "
              "brighter to the right. Not symmetric, so flipping it changes the result.")),
    Preset("Sobel y 3x3", tuple(zip(*_SOBEL_X, strict=True)),
           N_("Bottom minus top: responds to horizontal edges.")),
    Preset("Emboss 3x3", ((-2, -1, 0), (-1, 1, 1), (0, 1, 2)),
           N_("Bottom-right minus top-left plus the pixel itself: a raised, lit-from-one-side "
              "look.")),
    Preset("Outline 3x3", ((-1, -1, -1), (-1, 8, -1), (-1, -1, -1)),
           N_("Eight times the centre minus all eight neighbours: outlines every edge.")),
)
#: The presets' names as the page shows them (the English names stay the option values).
PRESET_NAMES: dict[str, str] = {
    "Sharpen 5x5 (course)": N_("Sharpen 5x5 (course)"),
    "Blur 5x5 (course)": N_("Blur 5x5 (course)"),
    "Edge detect 3x3 (course)": N_("Edge detect 3x3 (course)"),
    "Identity 3x3": N_("Identity 3x3"), "Box blur 3x3": N_("Box blur 3x3"),
    "Gaussian blur 5x5": N_("Gaussian blur 5x5"), "Sobel x 3x3": N_("Sobel x 3x3"),
    "Sobel y 3x3": N_("Sobel y 3x3"), "Emboss 3x3": N_("Emboss 3x3"),
    "Outline 3x3": N_("Outline 3x3"), "Custom": N_("Custom"),
}
PRESETS: dict[str, Preset] = {p.name: p for p in PRESET_LIST}


def preset_or_first(name: str) -> Preset:
    """The preset called `name`, or the first one (for "Custom" or an unknown name)."""
    return PRESETS.get(name, PRESET_LIST[0])


# --- reading kernels ------------------------------------------------------------------------


def parse_cell(value: object, row: int = 0, col: int = 0, what: str = "kernel") -> float:
    """One grid cell as a float: numbers, numeric text, or a fraction such as "1/9".

    Raises `KernelError` naming the cell (1-based row and column) when it is not a number.
    """
    where = _("row {r}, column {c} of the {grid}").format(r=row + 1, c=col + 1, grid=_(what))
    if isinstance(value, bool):
        raise KernelError(_("The cell at {where} is {value}, not a number.").format(
            where=where, value=value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
    else:
        text = "" if value is None else str(value).strip().replace("−", "-")
        if not text:
            raise KernelError(_("The cell at {where} is empty; type a number such as 0.").format(
                where=where))
        try:
            number = float(Fraction(text)) if "/" in text else float(text)
        except (ValueError, ZeroDivisionError):
            raise KernelError(
                _("The cell at {where} is “{text}”, which is not a number (use e.g. 2, -0.5 or "
                  "1/9).").format(where=where, text=text)
            ) from None
    if not math.isfinite(number):
        raise KernelError(_("The cell at {where} is {number}; weights must be finite.").format(
            where=where, number=number))
    return number


def parse_kernel(cells: Sequence[Sequence[object]], max_size: int = MAX_SIZE,
                 what: str = "kernel") -> torch.Tensor:
    """A square grid of cells as a float32 (k, k) tensor, 1 <= k <= max_size; else `KernelError`.

    `what` names the grid in the messages ("kernel", "input grid").
    """
    size = len(cells)
    if not MIN_SIZE <= size <= max_size:
        raise KernelError(_("The {grid} must be 1x1 to {n}x{n}; this one has {rows} rows."
                            ).format(grid=_(what), n=max_size, rows=size))
    if any(len(row) != size for row in cells):
        raise KernelError(_("The {grid} must be square: every one of its {n} rows needs {n} "
                            "numbers.").format(grid=_(what), n=size))
    values = [[parse_cell(v, r, c, what) for c, v in enumerate(row)]
              for r, row in enumerate(cells)]
    return torch.tensor(values, dtype=torch.float32)


def format_number(value: float, digits: int = 4) -> str:
    """A weight as short text: 1 not 1.0, 0.1111 not 0.111111111."""
    value = float(value)
    if value == int(value) and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.{digits}g}"


def kernel_cells(kernel: torch.Tensor | Grid) -> list[list[str]]:
    """The kernel as a grid of short strings, for an editable table."""
    return [[format_number(v) for v in row] for row in torch.as_tensor(kernel).tolist()]


def resize_cells(cells: Sequence[Sequence[str]], size: int, max_size: int = MAX_SIZE
                 ) -> list[list[str]]:
    """Grow (zero border) or shrink (crop) a square grid around its centre to `size`."""
    size = min(max(int(size), MIN_SIZE), max_size)
    old = len(cells)
    offset = (old - size) // 2  # negative when growing
    return [[str(cells[r + offset][c + offset]) if 0 <= r + offset < old
             and 0 <= c + offset < old else "0" for c in range(size)] for r in range(size)]


def apply_edits(cells: Sequence[Sequence[str]], edited_rows: dict) -> list[list[str]]:
    """`cells` with a table editor's edits applied: {row: {column index as str: value}}."""
    out = [list(map(str, row)) for row in cells]
    for row, changes in edited_rows.items():
        for col, value in changes.items():
            r, c = (int(x) if str(x).isdigit() else -1 for x in (row, col))
            if 0 <= r < len(out) and 0 <= c < len(out[r]):
                out[r][c] = "" if value is None else str(value)
    return out


# --- preparing and applying ------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedKernel:
    """The weights conv2d actually uses, plus sentences saying what was done to them.

    `warns`: the first note is a warning, not a remark (an all-zeros kernel was to be
    normalised: every output pixel is 0).
    """

    weights: torch.Tensor
    notes: tuple[str, ...]
    warns: bool = False

    @property
    def total(self) -> float:
        """The sum of the weights conv2d uses."""
        return float(self.weights.sum())


def prepare_kernel(kernel: torch.Tensor, normalise: bool = False, flip: bool = False
                   ) -> PreparedKernel:
    """Optionally divide by the kernel's sum (when non-zero) and flip it for true convolution."""
    notes: list[str] = []
    weights = kernel.to(torch.float32)
    warns = normalise and not weights.any()
    if normalise:
        total = float(weights.sum())
        if warns:
            notes.append(_("The kernel is all zeros, so there is nothing to normalise: every "
                           "output pixel is 0."))
        elif abs(total) < 1e-12:
            notes.append(_("The weights sum to 0 (as for edge detectors), so normalising "
                           "would divide by zero; the kernel is used as it is."))
        else:
            weights = weights / total
            notes.append(_("Divided by the sum of the weights, {total}.").format(
                total=format_number(total)))
    if flip:
        weights = turned(weights)
        notes.append(_("Flipped top-bottom and left-right (true convolution)."))
    return PreparedKernel(weights, tuple(notes), warns)


def brightening(kernel: torch.Tensor, normalise: bool) -> float | None:
    """How many times brighter a flat region gets, when it is enough to push most pixels past
    255 (weights that sum past 1.5, not normalised); else None."""
    total = float(kernel.sum())
    return total if not normalise and total > 1.5 else None


def turned(weights: torch.Tensor) -> torch.Tensor:
    """The kernel turned by 180° (flipped top-bottom and left-right): what convolution uses."""
    return weights.flip(0, 1)


def is_point_symmetric(kernel: torch.Tensor) -> bool:
    """True when turning the kernel by 180° leaves it unchanged (flipping changes nothing)."""
    return bool(torch.equal(kernel, turned(kernel)))


def largest_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    """The largest absolute difference between two outputs of the same shape."""
    return float((a - b).abs().max())


def same_padding(size: int) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) padding that keeps the image size, as conv2d's 'same' does."""
    before = (size - 1) // 2
    after = size - 1 - before
    return before, after, before, after


def image_key(image: Image.Image, name: str) -> tuple:
    """A small cache key for a photo: its name, size, mode and a 32x32 sample of its pixels.

    Costs microseconds where hashing every pixel of a 1024-pixel photo costs milliseconds, and
    tells apart two different uploads of the same name and size.
    """
    sample = image.resize((32, 32), Image.Resampling.NEAREST).tobytes()
    return name, image.size, image.mode, hashlib.blake2b(sample, digest_size=16).hexdigest()


def image_tensor(image: Image.Image, colour: ColourMode = "rgb") -> torch.Tensor:
    """A PIL image as a float32 (1, C, H, W) tensor of 0..255 values (C = 1 or 3)."""
    mode = "L" if colour == "grayscale" else "RGB"
    pixels = np.asarray(image.convert(mode) if image.mode != mode else image, dtype=np.float32)
    tensor = torch.from_numpy(pixels.copy())
    return tensor[None, None] if mode == "L" else tensor.permute(2, 0, 1)[None]


def check_fits(kernel_size: int, height: int, width: int) -> None:
    """Raise `KernelError` when a kernel is larger than the image it should slide over."""
    if kernel_size > min(height, width):
        raise KernelError(
            _("The {k}x{k} kernel is larger than the {w}x{h} image; choose a smaller kernel or "
              "a larger image.").format(k=kernel_size, w=width, h=height)
        )


def pad(x: torch.Tensor, kernel_size: int, padding: PaddingMode) -> torch.Tensor:
    """`x` (N, C, H, W) padded so a `kernel_size` kernel gives an output of the same size."""
    mode = "constant" if padding == "zeros" else padding
    return F.pad(x, same_padding(kernel_size), mode=mode)


def apply_kernel(x: torch.Tensor, weights: torch.Tensor, padding: PaddingMode = "zeros"
                 ) -> torch.Tensor:
    """Cross-correlate every channel of `x` (1, C, H, W) with `weights` (k, k); same size out.

    Grayscale is one channel; RGB is a depthwise conv2d (`groups=3`): the same kernel on each
    channel separately. Raises `KernelError` if the kernel does not fit.
    """
    if padding not in PADDING_MODES:
        raise KernelError(f"Unknown padding “{padding}”; use one of {', '.join(PADDING_MODES)}.")
    size = weights.shape[-1]
    check_fits(size, x.shape[-2], x.shape[-1])
    with torch.no_grad():
        return _banded_depthwise(pad(x, size, padding), weights.to(x.dtype))


#: Channels x bands that `_banded_depthwise` aims for (8 bands for grayscale, 2 for RGB).
BAND_CHANNELS = 8


def _banded_depthwise(padded: torch.Tensor, weights: torch.Tensor, bands: int | None = None
                      ) -> torch.Tensor:
    """conv2d of each channel of `padded` (1, C, H+k-1, W+k-1) with `weights`, no padding.

    The same numbers as `F.conv2d(padded, weights.expand(C, 1, k, k), groups=C)`, computed
    faster on a CPU: oneDNN's depthwise kernel is fast for many channels in channels_last
    layout but slow for one or three, so the image is cut into `bands` overlapping
    horizontal bands that become extra channels, and the bands are stitched back together.
    """
    size = weights.shape[-1]
    _n, channels, padded_h, padded_w = padded.shape
    bands = bands or max(1, BAND_CHANNELS // channels)
    height, width = padded_h - size + 1, padded_w - size + 1
    band = -(-height // bands)  # output rows per band (ceil)
    bands = -(-height // band)
    grown = F.pad(padded, (0, 0, 0, band * bands - height))  # whole bands only
    # unfold: (1, C, bands, W+k-1, band+k-1) overlapping windows of band+k-1 rows, step band
    stacked = grown.unfold(2, band + size - 1, band).permute(0, 1, 2, 4, 3)
    stacked = stacked.reshape(1, channels * bands, band + size - 1, padded_w)
    stacked = stacked.contiguous(memory_format=torch.channels_last)
    out = F.conv2d(stacked, weights.expand(channels * bands, 1, size, size),
                   groups=channels * bands)
    out = out.reshape(1, channels, bands * band, width)[:, :, :height]
    return out.contiguous()


# --- showing the result -----------------------------------------------------------------------


def to_display(y: torch.Tensor, mode: DisplayMode = "clip") -> np.ndarray:
    """Raw conv output (1, C, H, W) as uint8 pixels (H, W) or (H, W, 3) for showing.

    clip: clamp to 0..255. abs: the absolute value, then clamp. minmax: rescale the whole
    output's range to 0..255 (one range for all channels, so colours keep their balance).
    """
    if mode == "clip":
        shown = y.clamp(0, 255)
    elif mode == "abs":
        shown = y.abs().clamp(0, 255)
    elif mode == "minmax":
        lo, hi = float(y.min()), float(y.max())
        shown = (y - lo) * (255.0 / (hi - lo)) if hi > lo else torch.zeros_like(y)
    else:
        raise KernelError(f"Unknown display “{mode}”; use one of {', '.join(DISPLAY_MODES)}.")
    pixels = shown.round().to(torch.uint8)[0]
    return pixels[0].numpy() if pixels.shape[0] == 1 else pixels.permute(1, 2, 0).numpy()


@dataclass(frozen=True)
class Brightness:
    """Mean brightness of the input and of the raw output, and their ratio."""

    input_mean: float
    output_mean: float

    @property
    def ratio(self) -> float:
        """output / input (the input's mean floored at 1e-9: a black photo has none)."""
        return self.output_mean / max(self.input_mean, 1e-9)


def brightness(x: torch.Tensor, y: torch.Tensor) -> Brightness:
    """The mean brightness of input `x` and output `y`."""
    return Brightness(float(x.mean()), float(y.mean()))


@dataclass(frozen=True)
class OutputHistogram:
    """Counts of raw output values in equal-width bins, plus where the display range falls."""

    edges: np.ndarray  # bins + 1 boundaries
    counts: np.ndarray
    minimum: float
    maximum: float
    below_zero: float  # fraction of values < 0 (clipped to black by "clip")
    above_255: float  # fraction of values > 255 (clipped to white)


def output_histogram(y: torch.Tensor, bins: int = 64) -> OutputHistogram:
    """Histogram of every raw value in `y`."""
    flat = y.detach().flatten().to(torch.float32)
    lo, hi = float(flat.min()), float(flat.max())
    if hi <= lo:
        hi = lo + 1.0
    counts = torch.histc(flat, bins=bins, min=lo, max=hi)
    return OutputHistogram(
        edges=np.linspace(lo, hi, bins + 1), counts=counts.numpy(),
        minimum=float(flat.min()), maximum=float(flat.max()),
        below_zero=float((flat < 0).float().mean()), above_255=float((flat > 255).float().mean()),
    )


# --- the pixel inspector ---------------------------------------------------------------------


#: Relative tolerance within which the hand-summed pixel (float64) and conv2d's float32 output
#: count as the same number; its twin for shapes is `conv_arithmetic.LiveCheck.agrees`.
AGREEMENT_TOLERANCE = 1e-3


@dataclass(frozen=True)
class PixelInspection:
    """The arithmetic behind one output pixel, redone by hand."""

    row: int
    col: int
    channel: int
    patch: torch.Tensor  # (k, k) input values under the kernel, padding included
    weights: torch.Tensor  # (k, k)
    products: torch.Tensor  # patch * weights
    total: float  # sum of the products, computed here in float64

    def agrees_with(self, from_tensor: float) -> bool:
        """Whether conv2d's value for this pixel matches the hand sum (AGREEMENT_TOLERANCE)."""
        return abs(self.total - from_tensor) <= AGREEMENT_TOLERANCE * max(1.0, abs(from_tensor))


def inspect_pixel(x: torch.Tensor, weights: torch.Tensor, padding: PaddingMode,
                  row: int, col: int, channel: int = 0) -> PixelInspection:
    """The k x k patch of padded `x` (1, C, H, W) under the kernel at output (row, col).

    The sum is computed independently of conv2d (element-wise products in float64), so a
    page can show it next to the output tensor's value and they must agree.
    """
    size = weights.shape[-1]
    height, width = x.shape[-2:]
    check_fits(size, height, width)
    if not (0 <= row < height and 0 <= col < width):
        raise KernelError(_("Pixel (x={x}, y={y}) is outside the {w}x{h} image.").format(
            x=col, y=row, w=width, h=height))
    if not 0 <= channel < x.shape[1]:
        raise KernelError(_("Channel {c} does not exist; the image has {n}.").format(
            c=channel, n=x.shape[1]))
    padded = pad(x[:, channel : channel + 1], size, padding)[0, 0]
    patch = padded[row : row + size, col : col + size]
    products = patch.double() * weights.double()
    return PixelInspection(row, col, channel, patch, weights, products.float(),
                      float(products.sum()))


def clamp_pixel(row: int, col: int, height: int, width: int) -> tuple[int, int]:
    """(row, col) moved into a `height` x `width` image (a smaller photo, an old link)."""
    return min(max(int(row), 0), height - 1), min(max(int(col), 0), width - 1)


#: Fewest pixels the neighbourhood view shows on each side of the inspected one.
NEIGHBOURHOOD_RADIUS = 5


@dataclass(frozen=True)
class Neighbourhood:
    """The input around an inspected pixel, as the pixel inspector's zoomed view shows it."""

    pixels: torch.Tensor  # (h, w) values of one channel, cut off at the image's edge
    top: int  # image coordinates of pixels[0, 0]
    left: int
    centre: tuple[int, int]  # the inspected pixel, in the view's coordinates
    window: tuple[int, int, int, int]  # (row, col, height, width) of the kernel's reach, there

    def pixel(self, cell: tuple[int, int]) -> tuple[int, int]:
        """Image (row, col) of a cell of the view."""
        return self.top + cell[0], self.left + cell[1]


def neighbourhood(x: torch.Tensor, row: int, col: int, channel: int, size: int
                  ) -> Neighbourhood:
    """The input `x` (1, C, H, W) around output pixel (row, col): wide enough to hold a
    `size` kernel's reach with a margin, at least `NEIGHBOURHOOD_RADIUS` on each side."""
    radius = max(NEIGHBOURHOOD_RADIUS, size // 2 + 2)
    top, left = max(0, row - radius), max(0, col - radius)
    pixels = x[0, channel, top : row + radius + 1, left : col + radius + 1].clone()  # not a view
    before = same_padding(size)[0]
    centre = (row - top, col - left)
    return Neighbourhood(pixels, top, left, centre,
                         (centre[0] - before, centre[1] - before, size, size))


# --- the code twin -----------------------------------------------------------------------------


def code_twin(image_name: str, weights: torch.Tensor, colour: ColourMode,
              padding: PaddingMode, normalise: bool, flip: bool, display: DisplayMode) -> str:
    """The PyTorch lines that reproduce the page's output image exactly, ready to copy.

    `weights` is the kernel as typed (before normalising and flipping).
    """
    size = weights.shape[-1]
    rows = ",\n    ".join("[" + ", ".join(f"{v!r}" for v in row) + "]"
                          for row in weights.tolist())
    mode = "L" if colour == "grayscale" else "RGB"
    channels = 1 if colour == "grayscale" else 3
    lines = [
        "import numpy as np",
        "import torch",
        "import torch.nn.functional as F",
        "from PIL import Image",
        "",
        f'img = Image.open("{image_name}").convert("{mode}")',
        "x = torch.from_numpy(np.asarray(img, dtype=np.float32))",
        "x = x[None, None]  # (1, 1, H, W)" if channels == 1
        else "x = x.permute(2, 0, 1)[None]  # (1, 3, H, W)",
        f"kernel = torch.tensor([\n    {rows},\n])",
    ]
    if normalise and float(weights.sum()) != 0:
        lines.append("kernel = kernel / kernel.sum()  # " + _("normalise"))
    if flip:
        lines.append("kernel = kernel.flip(0, 1)  # "
                     + _("true convolution: conv2d does not flip"))
    torch_mode = "constant" if padding == "zeros" else padding
    lines += [
        f"weight = kernel.expand({channels}, 1, {size}, {size})"
        + ("  # " + _("the same kernel for each channel") if channels > 1 else ""),
        f'x = F.pad(x, {same_padding(size)}, mode="{torch_mode}")  # ' + _("keep the size"),
        f"y = F.conv2d(x, weight, groups={channels})  # " + _("raw output, any sign"),
    ]
    if display == "clip":
        lines.append("shown = y.clamp(0, 255)")
    elif display == "abs":
        lines.append("shown = y.abs().clamp(0, 255)")
    else:
        lines.append("shown = (y - y.min()) * (255 / (y.max() - y.min()))")
    lines.append("pixels = shown.round().to(torch.uint8)[0]"
                 + ("[0]" if channels == 1 else ".permute(1, 2, 0)"))
    lines.append("Image.fromarray(pixels.numpy()).save(\"output.png\")")
    return "\n".join(lines)
