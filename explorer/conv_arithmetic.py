"""Conv arithmetic: output sizes of Conv2d, ConvTranspose2d, MaxPool2d and AvgPool2d.

The course's "Notation" slide writes the output size with ceiling brackets; PyTorch floors.
This module computes every size the way PyTorch does, says in one sentence why PyTorch
would refuse a setting, tells which input rows a window reads and which ones the floor drops,
and checks all of it against the real layers (on the `meta` device: shapes, no data).

Settings are integers with kernel, stride and dilation >= 1 and padding >= 0, as on the page.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from explorer.i18n import N_, _, language_cache
from explorer.models.modules import parameter_count

Kind = Literal["conv", "transposed", "maxpool", "avgpool"]
Padding = tuple[int, int] | Literal["same", "valid"]
KINDS: tuple[Kind, ...] = ("conv", "transposed", "maxpool", "avgpool")
DIM_NAMES = (N_("height"), N_("width"))


class InvalidLayer(ValueError):
    """Settings PyTorch would refuse; `str(err)` is one plain sentence."""


# --- one spatial dimension -------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """One spatial dimension of a layer: everything its output-size formula needs."""

    size: int
    kernel: int
    stride: int = 1
    pad_before: int = 0
    pad_after: int = 0
    dilation: int = 1
    output_padding: int = 0
    ceil_mode: bool = False

    @property
    def reach(self) -> int:
        """Cells one window spans, holes included: d·(k−1)+1."""
        return self.dilation * (self.kernel - 1) + 1

    @property
    def padded(self) -> int:
        """Cells of the padded input: size + padding on both sides."""
        return self.size + self.pad_before + self.pad_after


def conv_out(size: int, kernel: int, stride: int = 1, padding: int | tuple[int, int] = 0,
             dilation: int = 1) -> int:
    """Conv2d output size along one dimension: ⌊(H + 2p − d(k−1) − 1)/s⌋ + 1 (may be ≤ 0).

    `padding` may be a (before, after) pair, as PyTorch pads for 'same' with an even reach.
    """
    total = sum(padding) if isinstance(padding, tuple) else 2 * padding
    return (size + total - dilation * (kernel - 1) - 1) // stride + 1


def conv_transpose_out(size: int, kernel: int, stride: int = 1, padding: int = 0,
                       dilation: int = 1, output_padding: int = 0) -> int:
    """ConvTranspose2d output size: (H − 1)s − 2p + d(k−1) + output_padding + 1."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def pool_out(size: int, kernel: int, stride: int, padding: int = 0, dilation: int = 1,
             ceil_mode: bool = False) -> int:
    """MaxPool2d / AvgPool2d output size, with PyTorch's ceil_mode rule.

    In ceil mode the last window may hang over the edge, but it must start inside the input
    or its left padding, never wholly in the right padding.
    """
    numerator = size + 2 * padding - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = numerator // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def resolve_padding(padding: int | str, kernel: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) padding of one dimension; 'same' puts the odd cell after, as PyTorch."""
    if padding == "valid":
        return 0, 0
    if padding == "same":
        total = dilation * (kernel - 1)
        return total // 2, total - total // 2
    return int(padding), int(padding)


def axis_out(kind: Kind, axis: Axis) -> int:
    """Output size of `axis` for a layer of `kind` (may be ≤ 0 when PyTorch would refuse)."""
    if kind == "conv":
        return conv_out(axis.size, axis.kernel, axis.stride, (axis.pad_before, axis.pad_after),
                        axis.dilation)
    if kind == "transposed":
        return conv_transpose_out(axis.size, axis.kernel, axis.stride, axis.pad_before,
                                  axis.dilation, axis.output_padding)
    return pool_out(axis.size, axis.kernel, axis.stride, axis.pad_before, axis.dilation,
                    axis.ceil_mode)


def window(kind: Kind, axis: Axis, out_index: int) -> list[int]:
    """Input indices the output cell `out_index` reads along `axis`.

    For conv and pooling the indices are the window's taps, in input coordinates: negative
    or ≥ size means a padding cell. For transposed conv they are the input cells that
    scatter into that output cell.
    """
    if kind != "transposed":
        start = out_index * axis.stride - axis.pad_before
        return [start + t * axis.dilation for t in range(axis.kernel)]
    cells = []
    for t in range(axis.kernel):
        pos = out_index + axis.pad_before - t * axis.dilation
        if pos % axis.stride == 0 and 0 <= pos // axis.stride < axis.size:
            cells.append(pos // axis.stride)
    return sorted(cells)


def fed_by(kind: Kind, axis: Axis, in_index: int) -> list[int]:
    """Output indices along `axis` that input cell `in_index` contributes to."""
    out = axis_out(kind, axis)
    if kind == "transposed":
        hits = {in_index * axis.stride - axis.pad_before + t * axis.dilation
                for t in range(axis.kernel)}
        return sorted(i for i in hits if 0 <= i < out)
    return [i for i in range(max(out, 0)) if in_index in window(kind, axis, i)]


def read_counts(kind: Kind, axis: Axis) -> list[int]:
    """How many window taps read each input cell (0 = the cell never reaches the output)."""
    counts = [0] * axis.size
    if kind == "transposed":
        return [len(fed_by(kind, axis, j)) for j in range(axis.size)]
    for i in range(max(axis_out(kind, axis), 0)):
        for j in window(kind, axis, i):
            if 0 <= j < axis.size:
                counts[j] += 1
    return counts


def dropped(kind: Kind, axis: Axis) -> list[int]:
    """Cells past the last window, the rows (or columns) the floor throws away.

    Input coordinates: indices ≥ size are padding cells after the input.
    """
    if kind == "transposed" or axis_out(kind, axis) < 1:
        return []
    last = window(kind, axis, axis_out(kind, axis) - 1)[-1]
    return list(range(max(last + 1, 0), axis.size + axis.pad_after))


def skipped(kind: Kind, axis: Axis) -> list[int]:
    """Input cells inside the covered span that no tap reads (stride or dilation jumps them)."""
    gone = set(dropped(kind, axis))
    return [j for j, n in enumerate(read_counts(kind, axis)) if n == 0 and j not in gone]


# --- a whole 2-D layer ----------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """A Conv2d, ConvTranspose2d, MaxPool2d or AvgPool2d with (height, width) settings."""

    kind: Kind = "conv"
    size: tuple[int, int] = (28, 28)
    kernel: tuple[int, int] = (3, 3)
    stride: tuple[int, int] = (1, 1)
    padding: Padding = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    output_padding: tuple[int, int] = (0, 0)
    in_channels: int = 1
    out_channels: int = 1
    groups: int = 1
    batch: int = 1
    ceil_mode: bool = False
    bias: bool = True

    def axes(self) -> tuple[Axis, Axis]:
        """The (height, width) axes with padding resolved to (before, after)."""
        axes = []
        for d in range(2):
            pad = self.padding if isinstance(self.padding, str) else self.padding[d]
            before, after = resolve_padding(pad, self.kernel[d], self.dilation[d])
            dilation = 1 if self.kind == "avgpool" else self.dilation[d]  # AvgPool2d has none
            axes.append(Axis(self.size[d], self.kernel[d], self.stride[d], before, after,
                             dilation, self.output_padding[d], self.ceil_mode))
        return axes[0], axes[1]

    @property
    def channels_out(self) -> int:
        return self.out_channels if self.kind in ("conv", "transposed") else self.in_channels


def problem(layer: Layer) -> str | None:
    """Why PyTorch would refuse `layer`, in one plain sentence; None when it accepts it."""
    h, w = layer.axes()
    if layer.kind in ("conv", "transposed"):
        if layer.in_channels % layer.groups:
            return _("C_in = {c} input channels cannot be split into {g} equal groups: groups "
                     "must divide C_in.").format(c=layer.in_channels, g=layer.groups)
        if layer.out_channels % layer.groups:
            return _("C_out = {c} output channels cannot be split into {g} equal groups: "
                     "groups must divide C_out.").format(c=layer.out_channels, g=layer.groups)
    if layer.kind == "conv" and layer.padding == "same" and max(layer.stride) > 1:
        return _("PyTorch rejects padding='same' with stride > 1: a stride s shrinks the "
                 "output to about H_in/s, so no padding can keep it the size of the input; use "
                 "a number for padding instead.")
    if layer.kind == "transposed":
        for name, a in zip(DIM_NAMES, (h, w), strict=True):
            if a.output_padding >= a.stride and a.output_padding >= a.dilation:
                return _("output_padding {op} along the {dim} must be smaller than the stride "
                         "({s}) or the dilation ({d}): it only picks among the output sizes a "
                         "stride makes ambiguous.").format(op=a.output_padding, dim=_(name),
                                                           s=a.stride, d=a.dilation)
    if layer.kind in ("maxpool", "avgpool"):
        for name, a in zip(DIM_NAMES, (h, w), strict=True):
            if a.pad_before > a.kernel // 2:
                return _("Pooling padding {p} along the {dim} is more than half the kernel "
                         "({k}), so a window could see nothing but padding.").format(
                    p=a.pad_before, dim=_(name), k=a.kernel)
    for name, a in zip(DIM_NAMES, (h, w), strict=True):
        if axis_out(layer.kind, a) >= 1:
            continue
        if layer.kind == "transposed":
            return _("The padding {p} crops more than the whole output along the {dim}: "
                     "(H−1)·s − 2p + d·(k−1) + output_padding + 1 = {n} cells.").format(
                p=a.pad_before, dim=_(name), n=axis_out(layer.kind, a))
        padded = a.size + a.pad_before + a.pad_after
        return _("The window reaches d·(k−1)+1 = {reach} cells along the {dim}, more than the "
                 "{padded} cells of the padded input, so the output would be empty: "
                 "{remedy}.").format(reach=a.reach, dim=_(name), padded=padded,
                                     remedy=_remedy(layer.kind, a))
    return None


def _remedy(kind: Kind, a: Axis) -> str:
    """What would make a too-large window fit one axis: a smaller kernel, padding, more input."""
    padded = a.size + a.pad_before + a.pad_after
    fixes = [_("a kernel of at most {k}").format(k=(padded - 1) // a.dilation + 1)]
    pad = -(-(a.reach - a.size) // 2)  # the same padding on both sides
    if kind == "conv" or pad <= a.kernel // 2:  # pooling pads at most half its kernel
        fixes.append(_("padding of at least {p}").format(p=pad))
    fixes.append(_("an input of at least {n}").format(n=a.reach - a.pad_before - a.pad_after))
    return _("use {some} or {last}").format(some=_(", ").join(fixes[:-1]), last=fixes[-1])


def output_shape(layer: Layer) -> tuple[int, int, int, int]:
    """[b, C_out, H_out, W_out] by the formulas; raises InvalidLayer when PyTorch would."""
    if reason := problem(layer):
        raise InvalidLayer(reason)
    h, w = layer.axes()
    return (layer.batch, layer.channels_out, axis_out(layer.kind, h), axis_out(layer.kind, w))


def build_module(layer: Layer, device: str | torch.device = "meta") -> nn.Module:
    """The real torch layer for `layer` (on `meta` by default: shapes without memory)."""
    if layer.kind == "conv":
        padding = layer.padding if isinstance(layer.padding, str) else tuple(layer.padding)
        return nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel, layer.stride,
                         padding, layer.dilation, layer.groups, layer.bias, device=device)
    if layer.kind == "transposed":
        return nn.ConvTranspose2d(layer.in_channels, layer.out_channels, layer.kernel,
                                  layer.stride, tuple(layer.padding), layer.output_padding,
                                  layer.groups, layer.bias, layer.dilation, device=device)
    if layer.kind == "maxpool":
        return nn.MaxPool2d(layer.kernel, layer.stride, tuple(layer.padding), layer.dilation,
                            ceil_mode=layer.ceil_mode)
    return nn.AvgPool2d(layer.kernel, layer.stride, tuple(layer.padding),
                        ceil_mode=layer.ceil_mode)


def torch_output_shape(layer: Layer, device: str | torch.device = "meta"
                       ) -> tuple[int, ...] | Exception:
    """Build the real layer and run an empty input through it: its output shape, or the
    exception PyTorch raised (constructor or forward)."""
    import warnings

    try:
        module = build_module(layer, device)
        x = torch.empty(layer.batch, layer.in_channels, *layer.size, device=device)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 'same' with an even reach warns about a copy
            return tuple(module(x).shape)
    except (RuntimeError, ValueError) as err:
        return err


@dataclass(frozen=True)
class LiveCheck:
    """What the real PyTorch layer says about a setting, next to the formula."""

    formula: tuple[int, int, int, int] | None
    torch_shape: tuple[int, ...] | None
    torch_error: str | None  # the first line of PyTorch's own message
    reason: str | None
    weight_shape: tuple[int, ...] | None
    bias_shape: tuple[int, ...] | None
    parameters: int
    multiply_adds: int
    torch_error_type: str = ""  # e.g. "RuntimeError"

    @property
    def agrees(self) -> bool:
        return self.formula == self.torch_shape


@language_cache(maxsize=512)
def live_check(layer: Layer) -> LiveCheck:
    """Formula vs. the real layer on the meta device, with its parameters and multiply-adds."""
    reason = problem(layer)
    formula = None if reason else output_shape(layer)
    result = torch_output_shape(layer)
    if isinstance(result, Exception):
        return LiveCheck(formula, None, str(result).split("\n")[0], reason, None, None, 0, 0,
                         type(result).__name__)
    module = build_module(layer)
    weight = getattr(module, "weight", None)
    bias = getattr(module, "bias", None)
    x = torch.empty(layer.batch, layer.in_channels, *layer.size, device="meta")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(x)
    return LiveCheck(
        formula, result, None, reason,
        tuple(weight.shape) if weight is not None else None,
        tuple(bias.shape) if bias is not None else None,
        parameter_count(module),
        counter.get_total_flops() // 2,  # the counter counts a multiply-add as 2 FLOPs
    )


def code_twin(layer: Layer) -> str:
    """The one line of PyTorch that builds `layer`."""

    def arg(values: tuple[int, int]) -> str:
        return str(values[0]) if values[0] == values[1] else str(tuple(values))

    if layer.kind in ("conv", "transposed"):
        cls = "Conv2d" if layer.kind == "conv" else "ConvTranspose2d"
        parts = [str(layer.in_channels), str(layer.out_channels),
                 f"kernel_size={arg(layer.kernel)}"]
        if layer.stride != (1, 1):
            parts.append(f"stride={arg(layer.stride)}")
        if isinstance(layer.padding, str):
            parts.append(f"padding={layer.padding!r}")
        elif layer.padding != (0, 0):
            parts.append(f"padding={arg(layer.padding)}")
        if layer.kind == "transposed" and layer.output_padding != (0, 0):
            parts.append(f"output_padding={arg(layer.output_padding)}")
        if layer.dilation != (1, 1):
            parts.append(f"dilation={arg(layer.dilation)}")
        if layer.groups != 1:
            parts.append(f"groups={layer.groups}")
        if not layer.bias:
            parts.append("bias=False")
        return f"nn.{cls}({', '.join(parts)})"
    cls = "MaxPool2d" if layer.kind == "maxpool" else "AvgPool2d"
    parts = [f"kernel_size={arg(layer.kernel)}", f"stride={arg(layer.stride)}"]
    if layer.padding != (0, 0):
        parts.append(f"padding={arg(tuple(layer.padding))}")
    if layer.kind == "maxpool" and layer.dilation != (1, 1):
        parts.append(f"dilation={arg(layer.dilation)}")
    if layer.ceil_mode:
        parts.append("ceil_mode=True")
    return f"nn.{cls}({', '.join(parts)})"


# --- the formula, as the slide writes it (but with the floor) ------------------------------


def formula_latex(kind: Kind, axis: Axis, colors: dict[str, str] | None = None,
                  symbol: str = "H") -> tuple[str, str]:
    """(formula in symbols, formula with `axis`'s numbers and the result) as LaTeX.

    `colors` may map 'padding' and 'window' to CSS colours, tying the terms to the grid.
    """
    colors = colors or {}

    def paint(role: str, tex: str) -> str:
        return rf"\textcolor{{{colors[role]}}}{{{tex}}}" if role in colors else tex

    out = axis_out(kind, axis)
    h_in, h_out = f"{symbol}_{{in}}", f"{symbol}_{{out}}"
    reach_sym = paint("window", r"d\,(k-1)")
    reach_num = paint("window", rf"{axis.dilation}\cdot({axis.kernel}-1)")
    if kind == "transposed":
        sym = rf"{h_out} = ({h_in} - 1)\,s - {paint('padding', '2p')} + {reach_sym} + p_{{out}} + 1"
        pad_num = paint("padding", rf"2\cdot {axis.pad_before}")
        num = (rf"= ({axis.size} - 1)\cdot {axis.stride} - {pad_num} + {reach_num} + "
               rf"{axis.output_padding} + 1 = {out}")
        return sym, num
    if axis.pad_before == axis.pad_after:
        pad_sym, pad_num = paint("padding", "2p"), paint("padding", rf"2\cdot {axis.pad_before}")
    else:
        pad_sym = paint("padding", "(p_0 + p_1)")
        pad_num = paint("padding", f"({axis.pad_before} + {axis.pad_after})")
    lo, hi = (r"\left\lceil", r"\right\rceil") if axis.ceil_mode else (r"\left\lfloor",
                                                                        r"\right\rfloor")
    sym = rf"{h_out} = {lo} \frac{{{h_in} + {pad_sym} - {reach_sym} - 1}}{{s}} {hi} + 1"
    numerator = axis.size + axis.pad_before + axis.pad_after - axis.dilation * (axis.kernel - 1) - 1
    frac = numerator / axis.stride
    frac_txt = f"{frac:g}" if frac == int(frac) else f"{frac:.2f}".rstrip("0")
    num = (rf"= {lo} \frac{{{axis.size} + {pad_num} - {reach_num} - 1}}{{{axis.stride}}} {hi}"
           rf" + 1 = {lo} {frac_txt} {hi} + 1 = {out}")
    if axis.ceil_mode and out != -(-numerator // axis.stride) + 1:
        num += r"\quad\text{" + _("(the last window would start in the padding: one fewer)") + "}"
    return sym, num


def on_two_lines(num: str) -> str:
    """`formula_latex`'s worked numbers broken before the rounded value, as an aligned pair of
    lines: on one, a phone's 390 px cut it off at the right."""
    head, split, result = num.partition(r" + 1 = ")
    return rf"\begin{{aligned}}&{head} + 1 \\ &= {result}\end{{aligned}}" if split else num


# --- reverse solver and the slide's error case ---------------------------------------------


@dataclass(frozen=True)
class Ranges:
    """The slider ranges of the page; the reverse solver searches the same ones."""

    size: range = range(1, 65)
    kernel: range = range(1, 8)
    stride: range = range(1, 5)
    padding: range = range(0, 4)
    dilation: range = range(1, 4)
    output_padding: range = range(0, 4)


def _clip(value: int, lo: int, hi: int) -> int:
    return min(max(value, lo), hi)


def clamp_axis(kind: Kind, values: dict[str, int], ranges: Ranges = Ranges(),
               same_padding: bool = False, fit_kernel: bool = True
               ) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """Clamp one dimension's settings so the output cannot be empty, as the sliders do.

    `values` has size, kernel, stride, padding, dilation and output_padding. Returns the
    clamped values and the (min, max) each slider may offer given the others. Channel
    and 'same'-with-stride problems are left for `problem` to explain; so is a window larger
    than the padded input when `fit_kernel` is False (the kernel then keeps its whole range,
    and PyTorch's own error says what is wrong).
    """
    v = dict(values)
    limits: dict[str, tuple[int, int]] = {}
    for name in ("size", "stride", "dilation", "padding", "kernel", "output_padding"):
        r = getattr(ranges, name)
        limits[name] = (r.start, r.stop - 1)
    if kind == "avgpool":
        limits["dilation"] = (1, 1)
    for _round in range(3):  # each limit depends on the others: settle to a fixed point
        for name in ("size", "stride", "dilation"):
            v[name] = _clip(v[name], *limits[name])
        if kind == "transposed":
            op_hi = min(limits["output_padding"][1], max(v["stride"], v["dilation"]) - 1)
            limits["output_padding"] = (0, op_hi)
            v["output_padding"] = _clip(v["output_padding"], 0, op_hi)
            pads = [p for p in ranges.padding if conv_transpose_out(
                v["size"], v["kernel"], v["stride"], p, v["dilation"], v["output_padding"]) >= 1]
            limits["padding"] = (0, max(pads, default=0))
        elif kind in ("maxpool", "avgpool"):
            limits["padding"] = (0, min(ranges.padding.stop - 1, v["kernel"] // 2))
        v["padding"] = _clip(v["padding"], *limits["padding"])
        if kind != "transposed":
            room = v["size"] + (0 if same_padding else 2 * v["padding"])
            fits = [k for k in ranges.kernel
                    if same_padding or not fit_kernel or v["dilation"] * (k - 1) + 1 <= room]
            limits["kernel"] = (1, max(fits, default=1))
        v["kernel"] = _clip(v["kernel"], *limits["kernel"])
    return v, limits


#: The page's settings per dimension (besides its size), by the stem of their widget keys.
SETTINGS = {"k": "kernel", "s": "stride", "p": "padding", "d": "dilation", "op": "output_padding"}
TRANSPOSED_MAX_SIZE = 16  # (H−1)·s grows fast: keep the transposed grid readable
PadMode = Literal["numbers", "same", "valid"]


def page_ranges(kind: Kind) -> Ranges:
    """The sliders' ranges for `kind` (a transposed conv's input stays small)."""
    cap = TRANSPOSED_MAX_SIZE if kind == "transposed" else Ranges().size.stop - 1
    return Ranges(size=range(1, cap + 1))


def settle(kind: Kind, pad_mode: PadMode, square: bool, dims: dict[str, dict[str, int]]
           ) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, tuple[int, int]]]]:
    """Every setting of both dimensions ("h", "w": size and each of `SETTINGS`) kept in range
    before any slider is drawn, and the (min, max) each slider may offer. `square` copies the
    height's settings to the width; with padding 'same' or 'valid' the numbers typed for
    padding are kept for when they return. A Conv2d kernel may be larger than the padded
    input: PyTorch's own error then says what is wrong (transposed convs always fit)."""
    ranges = page_ranges(kind)
    out = {dim: dict(values) for dim, values in dims.items()}
    limits: dict[str, dict[str, tuple[int, int]]] = {}
    for dim in "hw":
        if square:
            out["w"].update({field: out["h"][field] for field in SETTINGS.values()})
        values = dict(out[dim])
        if pad_mode == "valid":
            values["padding"] = 0
        clamped, limits[dim] = clamp_axis(kind, values, ranges, same_padding=pad_mode == "same",
                                          fit_kernel=kind != "conv")
        out[dim]["size"] = clamped["size"]
        for field in SETTINGS.values():
            if field != "padding" or pad_mode == "numbers":
                out[dim][field] = clamped[field]
    return out, limits


def shape_rows(layer: Layer, check: LiveCheck) -> list[tuple[str, str, list[int]]]:
    """Each tensor of the layer (input, weight, bias, output): its name, its shape in symbols
    and its shape now (needs a shape from PyTorch)."""
    b, c_in, (h, w) = layer.batch, layer.in_channels, layer.size
    weight = ("[C_out, C_in/groups, kH, kW]" if layer.kind == "conv"
              else "[C_in, C_out/groups, kH, kW]")
    return [(_("x (input)"), "[b, C_in, H, W]", [b, c_in, h, w]),
            ("weight", weight, list(check.weight_shape)),
            ("bias", "[C_out]", list(check.bias_shape)),
            ("out", "[b, C_out, H_out, W_out]", list(check.torch_shape))]


def solve(size: int, wanted: int, kind: Kind = "conv", ranges: Ranges = Ranges()
          ) -> list[tuple[int, int, int, int]]:
    """Every (kernel, stride, padding, dilation) in `ranges` that maps `size` to `wanted`."""
    hits = []
    for k, s, p, d in itertools.product(ranges.kernel, ranges.stride, ranges.padding,
                                        ranges.dilation):
        if (kind in ("maxpool", "avgpool") and p > k // 2) or (kind == "avgpool" and d > 1):
            continue  # pooling refuses padding over half the kernel; AvgPool2d has no dilation
        # one channel, numeric padding, no output_padding: the only refusal left is an
        # empty output, which `wanted` >= 1 already excludes
        if axis_out(kind, Axis(size, k, s, p, p, d)) == wanted:
            hits.append((k, s, p, d))
    return hits


@dataclass(frozen=True)
class ErrorCase:
    """A call PyTorch refuses, its message, and what the message means."""

    code: str
    message: str
    explanation: str


@language_cache(maxsize=8)
def channel_mismatch(size: int = 28) -> ErrorCase:
    """The slide's error: a [16, 3, 5, 5] weight on a 1-channel image, run live."""
    x = torch.zeros(1, 1, size, size)
    weight = torch.zeros(16, 3, 5, 5)
    code = (f"x = torch.randn(1, 1, {size}, {size})   # " + _("one grey channel") + "\n"
            "w = torch.randn(16, 3, 5, 5)            # " + _("16 kernels, each for 3 channels")
            + "\nF.conv2d(x, w)")
    try:
        F.conv2d(x, weight)
    except RuntimeError as err:
        message = str(err).split("\n")[0]
    else:  # pragma: no cover - PyTorch has always refused this
        message = _("PyTorch accepted it.")
    explanation = _(
        "The weight [16, 3, 5, 5] holds 16 kernels, each 5×5 deep over 3 input channels, so "
        "PyTorch expects x to be [b, 3, H, W]; the input [1, 1, {n}, {n}] has one channel, so "
        "each kernel has 2 channel slices with nothing to multiply. Give the input 3 channels or "
        "make the weight [16, 1, 5, 5]."
    ).format(n=size)
    return ErrorCase(code, message, explanation)

