"""Down- and up-sampling: pooling, strided convolution, F.interpolate and activations.

Everything runs real torch ops on the shared photo (as one grey channel) or on a small
integer grid whose numbers can be read. The figures are drawn by
`explorer.figures.sampling`; no streamlit here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from explorer import conv_arithmetic as ca
from explorer import kernels

PoolKind = Literal["maxpool", "avgpool"]
UpMode = Literal["nearest", "bilinear", "bicubic"]
UP_MODES: tuple[UpMode, ...] = ("nearest", "bilinear", "bicubic")
ACTIVATIONS: dict[str, nn.Module] = {
    "ReLU": nn.ReLU(), "LeakyReLU(0.1)": nn.LeakyReLU(0.1), "Sigmoid": nn.Sigmoid(),
    "Tanh": nn.Tanh(),
}
SOBEL_X = kernels.PRESETS["Sobel x 3x3"].tensor()


# --- tensors in and out ----------------------------------------------------------------------


MAX_SIDE = 256  # the page works on a copy of the photo at most this long


def grey_tensor(image: Image.Image, max_side: int = MAX_SIDE) -> torch.Tensor:
    """The photo as a [1, 1, H, W] float tensor in 0..1, at most `max_side` on its long side."""
    img = image.convert("L")
    if max(img.size) > max_side:
        img = img.copy()
        img.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0)[None, None]


def to_uint8(x: torch.Tensor, signed: bool = False) -> np.ndarray:
    """A [1, 1, H, W] (or [H, W]) map as an 8-bit picture; signed maps put 0 at mid-grey."""
    a = x.detach().float().reshape(x.shape[-2], x.shape[-1])  # 2-D even for a 1-pixel row
    if signed:
        scale = a.abs().max().clamp_min(1e-8)
        a = 0.5 + 0.5 * a / scale
    return (a.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def number_grid(size: int = 6, seed: int = 7) -> torch.Tensor:
    """A [1, 1, size, size] grid of small integers (as floats) to pool by hand."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 10, (1, 1, size, size), generator=generator).float()


# --- pooling ---------------------------------------------------------------------------------


def pool_layer(kind: PoolKind, size: tuple[int, int], kernel: int, stride: int, padding: int,
               ceil_mode: bool) -> ca.Layer:
    """The pooling layer as a conv-arithmetic `Layer` (its formula, its PyTorch check)."""
    return ca.Layer(kind, size, (kernel, kernel), (stride, stride), (padding, padding),
                    ceil_mode=ceil_mode)


def pool(x: torch.Tensor, layer: ca.Layer) -> torch.Tensor:
    """Run the real nn.MaxPool2d / nn.AvgPool2d of `layer` on `x`."""
    with torch.no_grad():
        return ca.build_module(layer, "cpu")(x)


@dataclass(frozen=True)
class PoolFrame:
    """A small pooling worked by hand: which input cells each output cell used."""

    x: torch.Tensor  # [H, W]
    out: torch.Tensor  # [H_out, W_out]
    windows: list[list[list[tuple[int, int]]]]  # per output cell, its input cells
    winners: list[list[tuple[int, int]]] | None  # max pooling: the cell that won


def pool_frame(x: torch.Tensor, layer: ca.Layer) -> PoolFrame:
    """Pool `x` ([1, 1, H, W]) with `layer` and trace every window and max winner."""
    h, w = layer.axes()
    out = pool(x, layer)
    windows = [[[(r, c) for r in ca.window(layer.kind, h, i) for c in ca.window(layer.kind, w, j)
                 if 0 <= r < h.size and 0 <= c < w.size]
                for j in range(out.shape[3])] for i in range(out.shape[2])]
    winners = None
    if layer.kind == "maxpool":
        _, idx = F.max_pool2d(x, layer.kernel, layer.stride, layer.padding[0],
                              ceil_mode=layer.ceil_mode, return_indices=True)
        winners = [[divmod(int(v), w.size) for v in row] for row in idx[0, 0]]
    return PoolFrame(x[0, 0], out[0, 0], windows, winners)


#: The number grid's side: the smallest input the pooling section runs on.
GRID_SIDE = 6


def pool_settings(kind: PoolKind, kernel: int, stride: int, padding: int
                  ) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """Kernel, stride and padding kept valid on the `GRID_SIDE` grid (then the photo, which is
    larger, fits too), and the range each may take given the others."""
    return ca.clamp_axis(
        kind, {"size": GRID_SIDE, "kernel": kernel, "stride": stride, "padding": padding,
               "dilation": 1, "output_padding": 0},
        ca.Ranges(size=range(GRID_SIDE, GRID_SIDE + 1), kernel=range(1, 7), stride=range(1, 7)),
    )


def window_arithmetic(frame: PoolFrame, layer: ca.Layer, i: int, j: int) -> str:
    """Output (i, j) worked out from its window: `max(3, 1, 4) = 4` or `(3 + 1) / 4 = 1.00`."""
    values = [int(frame.x[r, c]) for r, c in frame.windows[i][j]]
    result = float(frame.out[i, j])
    if layer.kind == "maxpool":
        return f"max({', '.join(map(str, values))}) = {result:.0f}"
    return f"({' + '.join(map(str, values))}) / {avg_divisor(layer, i, j)} = {result:.2f}"


def image_size(x: torch.Tensor) -> tuple[int, int]:
    """(H, W) of a [N, C, H, W] tensor."""
    return x.shape[2], x.shape[3]


def max_shrink(x: torch.Tensor, cap: int = 8) -> int:
    """The largest shrink factor (at most `cap`) that leaves `x` at least one pixel a side."""
    return min(cap, *image_size(x))


def negative_share(x: torch.Tensor) -> float:
    """The share of `x`'s values below zero."""
    return float((x < 0).float().mean())


def avg_divisor(layer: ca.Layer, i: int, j: int) -> int:
    """What AvgPool2d divides output (i, j) by: its window clipped to the padded input
    (padding counts, as count_include_pad=True; a ceil-mode overhang does not)."""
    divisor = 1
    for axis, index in zip(layer.axes(), (i, j), strict=True):
        start = index * axis.stride - axis.pad_before
        end = min(start + axis.kernel, axis.size + axis.pad_after)
        divisor *= end - start
    return divisor


# --- strided convolution vs pooling ----------------------------------------------------------


def read_fraction(size: tuple[int, int], kernel: int, stride: int) -> float:
    """Share of input pixels at least one window reads, counted by torch's unfold/fold."""
    ones = torch.ones(1, 1, *size)
    cols = F.unfold(ones, kernel, stride=stride)
    covered = [(ca.conv_out(n, kernel, stride) - 1) * stride + kernel for n in size]
    counts = F.fold(cols, tuple(covered), kernel, stride=stride)
    return float((counts > 0).sum()) / (size[0] * size[1])


@dataclass(frozen=True)
class Downsampled:
    """The same photo shrunk three ways by the same factor."""

    strided: torch.Tensor
    maxpool: torch.Tensor
    avgpool: torch.Tensor
    strided_reads: float
    pool_reads: float


def strided_vs_pool(x: torch.Tensor, stride: int) -> Downsampled:
    """A 1×1 identity conv with stride s (keeps one pixel in s×s) against s×s pooling."""
    conv = nn.Conv2d(1, 1, 1, stride=stride, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        strided = conv(x)
        maxed = nn.MaxPool2d(stride, stride)(x)
        averaged = nn.AvgPool2d(stride, stride)(x)
    size = (x.shape[2], x.shape[3])
    return Downsampled(strided, maxed, averaged, read_fraction(size, 1, stride),
                       read_fraction(size, stride, stride))


# --- upsampling ------------------------------------------------------------------------------


def shape_trace(scales: tuple[int, ...] = (2, 3)) -> list[tuple[str, list[int]]]:
    """The course's trace, run live: [1,16,14,14] -> MaxPool2d(2,2) -> ×2 and ×3."""
    x = torch.zeros(1, 16, 14, 14)
    pooled = nn.MaxPool2d(2, 2)(x)
    trace = [("x", list(x.shape)), ("nn.MaxPool2d(2, 2)(x)", list(pooled.shape))]
    for s in scales:
        up = F.interpolate(pooled, scale_factor=s, mode="nearest")
        trace.append((f"F.interpolate(·, scale_factor={s})", list(up.shape)))
    return trace


def upsample(x: torch.Tensor, scale: int, mode: UpMode) -> torch.Tensor:
    """F.interpolate with `mode`; bicubic can overshoot 0..1 and is left unclipped."""
    kwargs = {} if mode == "nearest" else {"align_corners": False}
    return F.interpolate(x, scale_factor=scale, mode=mode, **kwargs)


def center_crop(x: torch.Tensor, side: int) -> torch.Tensor:
    """The central side×side patch of a [1, 1, H, W] map (smaller if the map is)."""
    h, w = x.shape[2], x.shape[3]
    sh, sw = min(side, h), min(side, w)
    top, left = (h - sh) // 2, (w - sw) // 2
    return x[:, :, top:top + sh, left:left + sw]


def patch_for_upsampling(x: torch.Tensor, side: int = 16) -> torch.Tensor:
    """A central side×side patch of the photo shrunk 4× (so a patch shows a real detail)."""
    if min(x.shape[2], x.shape[3]) >= 4 * side:
        with torch.no_grad():
            x = nn.AvgPool2d(4, 4)(x)
    return center_crop(x, side)


# --- activations -----------------------------------------------------------------------------


def edge_map(x: torch.Tensor) -> torch.Tensor:
    """Signed horizontal-gradient (Sobel x) response: bright-to-dark edges are negative."""
    with torch.no_grad():
        return F.conv2d(x, SOBEL_X[None, None], padding=1)


def activate(x: torch.Tensor, name: str) -> torch.Tensor:
    """Apply one of ACTIVATIONS (out of place)."""
    with torch.no_grad():
        return ACTIVATIONS[name](x)


def value_histogram(x: torch.Tensor, bins: int, lo: float, hi: float
                    ) -> tuple[list[float], list[int]]:
    """Bin centres and counts of `x` over [lo, hi], by torch.histc."""
    counts = torch.histc(x.detach().float(), bins=bins, min=lo, max=hi)
    width = (hi - lo) / bins
    return [lo + (i + 0.5) * width for i in range(bins)], [int(c) for c in counts]


@dataclass(frozen=True)
class SharedHistograms:
    """Several maps' value counts on one set of bins (so their bars line up)."""

    centres: list[float]
    width: float
    counts: dict[str, list[int]]  # label -> count per bin


def shared_histograms(maps: dict[str, torch.Tensor], bins: int = 60) -> SharedHistograms:
    """Histograms of each map in `maps` over the range all of them span."""
    lo = float(min(t.min() for t in maps.values()))
    hi = float(max(t.max() for t in maps.values()))
    hi = hi if hi > lo else lo + 1.0
    counts = {}
    centres: list[float] = []
    for label, t in maps.items():
        centres, counts[label] = value_histogram(t, bins, lo, hi)
    return SharedHistograms(centres, (hi - lo) / bins, counts)


@dataclass(frozen=True)
class InplaceReport:
    """What `inplace=True` changes, measured on a real tensor."""

    map_bytes: int
    out_of_place_shares_memory: bool
    inplace_shares_memory: bool
    negatives_zeroed: int

    @property
    def saved_bytes(self) -> int:
        return self.map_bytes if self.inplace_shares_memory else 0


def inplace_report(x: torch.Tensor) -> InplaceReport:
    """Run ReLU out of place and in place on copies of `x` and compare their storage."""
    a, b = x.clone(), x.clone()
    with torch.no_grad():
        y = nn.ReLU()(a)
        z = nn.ReLU(inplace=True)(b)
    return InplaceReport(
        map_bytes=x.numel() * x.element_size(),
        out_of_place_shares_memory=y.data_ptr() == a.data_ptr(),
        inplace_shares_memory=z.data_ptr() == b.data_ptr(),
        negatives_zeroed=int((x < 0).sum()),
    )
