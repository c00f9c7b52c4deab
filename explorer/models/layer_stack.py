"""Build your own network: a stack of layers, its shape after every layer, and where it breaks.

A stack is a tuple of `Layer`s (a kind and its arguments, in the constructor's order). It
round-trips through a URL-safe text (`format_stack` / `parse`, e.g. `conv-1-6-5_relu_flatten`)
and through the `nn.Sequential` code it generates (`to_code` / `from_code`, read with `ast`,
never executed). `propagate` runs the real layers one by one on PyTorch's meta device: every
output shape, parameter count and multiply-add comes from torch, and at the first layer that
PyTorch refuses it keeps PyTorch's own error (from a real CPU tensor, the message a student
would see) next to one sentence that says what to change. `expected_shape` is the arithmetic
a student would do by hand; the tests hold it against torch. The builder's edits (move,
remove, change an argument, add a layer) and its input shape in the address bar
(`parse_shape`) are plain functions here too; `explorer.ui.layer_builder` draws them.
"""

from __future__ import annotations

import ast
import math
import warnings
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from explorer.conv_arithmetic import conv_out, pool_out
from explorer.i18n import _, language_cache
from explorer.models.modules import parameter_count, shape_text

Shape = tuple[int, ...]  # one sample's shape, without the batch: (C, H, W) or (F,)


@dataclass(frozen=True)
class Arg:
    """One constructor argument of a layer kind, with the range the builder offers."""

    name: str
    default: float
    low: float
    high: float
    integer: bool = True


@dataclass(frozen=True)
class LayerKind:
    """A layer the builder offers: its short name in the URL, its torch class, its arguments."""

    short: str
    cls: str  # the torch.nn class name
    args: tuple[Arg, ...] = ()
    positional: int = 0  # how many leading arguments the code writes without their names
    always: tuple[str, ...] = ()  # keyword arguments the code writes even at their default


_CHANNELS, _FEATURES = 512, 100_000
_POOL_ARGS = (Arg("kernel_size", 2, 1, 8), Arg("stride", 2, 1, 8), Arg("padding", 0, 0, 3))
KINDS: dict[str, LayerKind] = {k.cls: k for k in (
    LayerKind("conv", "Conv2d", (Arg("in_channels", 1, 1, _CHANNELS),
                                 Arg("out_channels", 8, 1, _CHANNELS),
                                 Arg("kernel_size", 3, 1, 11), Arg("stride", 1, 1, 4),
                                 Arg("padding", 0, 0, 5)), 2, ("kernel_size",)),
    LayerKind("maxpool", "MaxPool2d", _POOL_ARGS, 0, ("kernel_size", "stride")),
    LayerKind("avgpool", "AvgPool2d", _POOL_ARGS, 0, ("kernel_size", "stride")),
    LayerKind("bn", "BatchNorm2d", (Arg("num_features", 8, 1, _CHANNELS),), 1),
    LayerKind("relu", "ReLU"),
    LayerKind("sigmoid", "Sigmoid"),
    LayerKind("dropout", "Dropout", (Arg("p", 0.5, 0.0, 0.9, integer=False),), 0, ("p",)),
    LayerKind("flatten", "Flatten"),
    LayerKind("linear", "Linear", (Arg("in_features", 400, 1, _FEATURES),
                                   Arg("out_features", 10, 1, 4096)), 2),
)}
_BY_SHORT = {k.short: k for k in KINDS.values()}
MAX_LAYERS = 40


class StackError(ValueError):
    """A stack text or code that cannot be read; `str(err)` is one sentence."""


@dataclass(frozen=True)
class Layer:
    """One layer of a stack: its torch class name and every argument, in order."""

    kind: str
    values: tuple[float, ...] = ()

    @property
    def spec(self) -> LayerKind:
        return KINDS[self.kind]

    def arg(self, name: str) -> float:
        names = [a.name for a in self.spec.args]
        return self.values[names.index(name)]

    def with_arg(self, name: str, value: float) -> Layer:
        names = [a.name for a in self.spec.args]
        values = list(self.values)
        values[names.index(name)] = value
        return Layer(self.kind, tuple(values))


Stack = tuple[Layer, ...]


def make_layer(kind: str, *values: float, **named: float) -> Layer:
    """A layer with `values` in order, `named` by name, the rest at their defaults; checked."""
    if kind not in KINDS:
        raise StackError(_("Unknown layer {kind}: the builder offers {kinds}.").format(
            kind=repr(kind), kinds=", ".join(KINDS)))
    spec = KINDS[kind]
    if len(values) > len(spec.args):
        raise StackError(_("{kind} takes at most {n} arguments here ({names}), not {given}."
                           ).format(kind=kind, n=len(spec.args),
                                    names=", ".join(a.name for a in spec.args) or _("none"),
                                    given=len(values)))
    out = []
    for i, arg in enumerate(spec.args):
        value = values[i] if i < len(values) else named.pop(arg.name, arg.default)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise StackError(_("{kind}'s {arg} must be a number, not {value}.").format(
                kind=kind, arg=arg.name, value=repr(value))) from None
        if arg.integer and number != int(number):
            raise StackError(_("{kind}'s {arg} must be a whole number, not {value}.").format(
                kind=kind, arg=arg.name, value=repr(value)))
        if not arg.low <= number <= arg.high:
            raise StackError(_("{kind}'s {arg} must be between {low:g} and {high:g}, not "
                               "{value:g}.").format(kind=kind, arg=arg.name, low=arg.low,
                                                    high=arg.high, value=number))
        out.append(int(number) if arg.integer else number)
    if named:
        raise StackError(_("{kind} has no argument {name} in this builder.").format(
            kind=kind, name=repr(next(iter(named)))))
    return Layer(kind, tuple(out))


# --- text and code --------------------------------------------------------------------------


def _number_text(value: float) -> str:
    return str(int(value)) if float(value) == int(value) else f"{value:g}"


def _short_text(layer: Layer) -> str:
    values = list(layer.values)
    while values and values[-1] == layer.spec.args[len(values) - 1].default:
        values.pop()  # trailing defaults are left out (and read back as defaults)
    return "-".join([layer.spec.short, *map(_number_text, values)])


def format_stack(stack: Stack) -> str:
    """The URL-safe text of a stack: `conv-1-6-5-1-2_relu_maxpool_flatten_linear-400`."""
    return "_".join(_short_text(layer) for layer in stack)


def parse(text: str) -> Stack:
    """Read `format_stack`'s text; trailing arguments may be left out (their defaults)."""
    text = (text or "").strip()
    if not text:
        return ()
    items = text.split("_")
    if len(items) > MAX_LAYERS:
        raise StackError(_("A stack holds at most {n} layers, not {given}.").format(
            n=MAX_LAYERS, given=len(items)))
    stack = []
    for item in items:
        short, *values = item.split("-")
        if short not in _BY_SHORT:
            raise StackError(_("Unknown layer {short} in the stack: use one of {kinds}.").format(
                short=repr(short), kinds=", ".join(_BY_SHORT)))
        stack.append(make_layer(_BY_SHORT[short].cls, *values))
    return tuple(stack)


def layer_code(layer: Layer) -> str:
    """The constructor call: `nn.Conv2d(1, 6, kernel_size=5, padding=2)` (defaults left out)."""
    spec, parts = layer.spec, []
    for i, (arg, value) in enumerate(zip(spec.args, layer.values, strict=True)):
        if i < spec.positional:
            parts.append(_number_text(value))
        elif value != arg.default or arg.name in spec.always:
            parts.append(f"{arg.name}={_number_text(value)}")
    return f"nn.{layer.kind}({', '.join(parts)})"


def to_code(stack: Stack) -> str:
    """The stack as Python that builds it: `model = nn.Sequential(...)`."""
    if not stack:
        return "model = nn.Sequential()"
    lines = "".join(f"    {layer_code(layer)},\n" for layer in stack)
    return f"model = nn.Sequential(\n{lines})"


def _literal(node: ast.expr, what: str) -> float:
    try:
        value = ast.literal_eval(node)
    except ValueError:
        raise StackError(_("{what} must be a plain number.").format(what=what)) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StackError(_("{what} must be a plain number, not {value}.").format(
            what=what, value=repr(value)))
    return value


def from_code(code: str) -> Stack:
    """Read `nn.Sequential(nn.Conv2d(...), ...)` back into a stack (parsed, never executed)."""
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        raise StackError(_("That is not valid Python (line {line}: {message}).").format(
            line=err.lineno, message=err.msg)) from None
    seq = next((n for n in ast.walk(tree) if isinstance(n, ast.Call)
                and _call_name(n) == "Sequential"), None)
    if seq is None:
        raise StackError(_("No nn.Sequential(...) call found in the code."))
    stack = []
    for node in seq.args:
        name = _call_name(node) if isinstance(node, ast.Call) else None
        if name not in KINDS:
            shown = ast.unparse(node)[:40]
            raise StackError(_("{code} is not a layer this builder offers ({kinds}).").format(
                code=shown, kinds=", ".join(KINDS)))
        values = [_literal(a, _("An argument of {kind}").format(kind=name)) for a in node.args]
        named = {k.arg: _literal(k.value, _("{kind}'s {arg}").format(kind=name, arg=k.arg))
                 for k in node.keywords}
        stack.append(make_layer(name, *values, **named))
    if len(stack) > MAX_LAYERS:
        raise StackError(_("A stack holds at most {n} layers, not {given}.").format(
            n=MAX_LAYERS, given=len(stack)))
    return tuple(stack)


def _call_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


# --- the real layers ------------------------------------------------------------------------


def module(layer: Layer, device: str | torch.device | None = None) -> nn.Module:
    """The torch module of one layer (ValueError from its constructor passes through)."""
    v = layer.values
    kw = {"device": device} if device is not None else {}
    if layer.kind == "Conv2d":
        return nn.Conv2d(int(v[0]), int(v[1]), int(v[2]), stride=int(v[3]), padding=int(v[4]),
                         **kw)
    if layer.kind in ("MaxPool2d", "AvgPool2d"):
        return getattr(nn, layer.kind)(int(v[0]), stride=int(v[1]), padding=int(v[2]))
    if layer.kind == "BatchNorm2d":
        return nn.BatchNorm2d(int(v[0]), **kw)
    if layer.kind == "Dropout":
        return nn.Dropout(float(v[0]))
    if layer.kind == "Linear":
        return nn.Linear(int(v[0]), int(v[1]), **kw)
    return getattr(nn, layer.kind)()


def build(stack: Stack) -> nn.Sequential:
    """The stack as a freshly initialised `nn.Sequential` on the default device."""
    return nn.Sequential(*(module(layer) for layer in stack))


# --- shapes, by hand and by torch -----------------------------------------------------------


def expected_shape(layer: Layer, shape: Shape) -> Shape | None:
    """The output shape by the layer's arithmetic; None where PyTorch refuses the input."""
    v = layer.values
    if layer.kind == "Conv2d":
        if len(shape) != 3 or shape[0] != v[0]:
            return None
        h, w = (conv_out(s, int(v[2]), int(v[3]), int(v[4])) for s in shape[1:])
        return (int(v[1]), h, w) if h >= 1 and w >= 1 else None
    if layer.kind in ("MaxPool2d", "AvgPool2d"):
        k, s, p = (int(x) for x in v)
        if len(shape) != 3 or p > k // 2:
            return None
        h, w = (pool_out(n, k, s, p) for n in shape[1:])
        return (shape[0], h, w) if h >= 1 and w >= 1 else None
    if layer.kind == "BatchNorm2d":
        return shape if len(shape) == 3 and shape[0] == v[0] else None
    if layer.kind == "Flatten":
        return (math.prod(shape),)
    if layer.kind == "Linear":
        return (*shape[:-1], int(v[1])) if shape[-1] == v[0] else None
    return shape  # ReLU, Sigmoid, Dropout


@dataclass(frozen=True)
class Row:
    """One layer after propagation: what torch said about it."""

    index: int
    layer: Layer
    input_shape: Shape
    output_shape: Shape | None
    params: int
    macs: int
    error: str | None = None  # PyTorch's own message, first line
    error_type: str = ""
    advice: str = ""  # one sentence: what to change


@dataclass(frozen=True)
class Propagation:
    """A stack run on an input shape: a row per layer up to and including the first break."""

    input_shape: Shape
    rows: tuple[Row, ...]

    @property
    def broken(self) -> Row | None:
        return next((r for r in self.rows if r.error), None)

    @property
    def output_shape(self) -> Shape | None:
        if self.broken or not self.rows:
            return None if self.broken else self.input_shape
        return self.rows[-1].output_shape

    @property
    def params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.rows)


def _torch_error(layer: Layer, shape: Shape) -> BaseException | None:
    """PyTorch's error for this layer on a real CPU zero tensor (None if it runs there)."""
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module(layer).eval()(torch.zeros(1, *shape))
    except (RuntimeError, ValueError, IndexError) as err:
        return err
    return None


def _side_for(stack: Stack, upto: int, channels: int, features: int) -> int | None:
    """The square input side at which the first `upto` layers give `features` numbers."""
    for side in range(1, 513):
        shape: Shape | None = (channels, side, side)
        for layer in stack[:upto]:
            shape = expected_shape(layer, shape) if shape else None
        if shape and math.prod(shape) == features:
            return side
    return None


def advice(stack: Stack, index: int, shape: Shape, input_shape: Shape) -> str:
    """One sentence: what to change so that layer `index` accepts a `shape` input."""
    layer = stack[index]
    v = layer.values
    kind, shown = layer.kind, shape_text(shape)
    spatial = kind in ("Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d")
    if spatial and len(shape) != 3:
        return _("{kind} needs channels × height × width maps, but it gets {d}-D {shape} "
                 "numbers: move Flatten below the last Conv2d or pooling layer.").format(
            kind=kind, d=len(shape), shape=shown)
    if kind == "Conv2d" and shape[0] != v[0]:
        return _("Conv2d expects {want} input channels but gets {got}: set in_channels to "
                 "{got}.").format(want=int(v[0]), got=shape[0])
    if kind == "BatchNorm2d" and shape[0] != v[0]:
        return _("BatchNorm2d expects {want} channels but gets {got}: set num_features to "
                 "{got}.").format(want=int(v[0]), got=shape[0])
    if kind in ("MaxPool2d", "AvgPool2d") and v[2] > v[0] // 2:
        return _("Pooling padding may be at most half the kernel: set padding to {p} or less, "
                 "or use a larger kernel.").format(p=int(v[0]) // 2)
    if kind in ("Conv2d", "MaxPool2d", "AvgPool2d"):
        k, p = (int(v[2]), int(v[4])) if kind == "Conv2d" else (int(v[0]), int(v[2]))
        room = min(shape[1:]) + 2 * p
        return _("The {k}×{k} window does not fit the {h}×{w} map (padded by {p}: {room} "
                 "cells): use kernel_size {room} or less, more padding, a larger input, or "
                 "fewer layers that shrink it before this one.").format(
            k=k, h=shape[1], w=shape[2], p=p, room=room)
    if kind == "Linear" and len(shape) > 1:
        return _("Linear works on the last dimension ({n} numbers of a {shape} tensor): add a "
                 "Flatten before it, which makes {inputs} inputs.").format(
            n=shape[-1], shape=shown, inputs=math.prod(shape))
    if kind == "Linear":
        wanted, got = int(v[0]), shape[0]
        side = _side_for(stack, index, input_shape[0], wanted) if len(input_shape) == 3 else None
        if side:
            return _("Linear expects {want} inputs but gets {got}: set in_features to {got} or "
                     "resize the input to {side}×{side}.").format(want=wanted, got=got,
                                                                  side=side)
        return _("Linear expects {want} inputs but gets {got}: set in_features to {got}."
                 ).format(want=wanted, got=got)
    return _("PyTorch refused {kind} for a {shape} input: change its arguments or the layers "
             "before it.").format(kind=kind, shape=shown)


@language_cache(maxsize=256)
def propagate(stack: Stack, input_shape: Shape) -> Propagation:
    """Run the stack layer by layer on the meta device (batch of one) and record everything."""
    rows: list[Row] = []
    shape = tuple(input_shape)
    for i, layer in enumerate(stack):
        x = torch.empty(1, *shape, device="meta")
        try:
            layer_module = module(layer, device="meta").eval()
            with torch.no_grad(), FlopCounterMode(display=False) as counter, \
                    warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = layer_module(x)
        except (RuntimeError, ValueError, IndexError) as meta_error:
            err = _torch_error(layer, shape) or meta_error
            rows.append(Row(i, layer, shape, None, 0, 0, str(err).strip().split("\n")[0],
                            type(err).__name__, advice(stack, i, shape, input_shape)))
            break
        params = parameter_count(layer_module)
        out_shape = tuple(out.shape[1:])
        rows.append(Row(i, layer, shape, out_shape, params, counter.get_total_flops() // 2))
        shape = out_shape
    return Propagation(tuple(input_shape), tuple(rows))


def check_trainable(stack: Stack, input_shape: Shape, num_classes: int) -> None:
    """Raise StackError with one sentence unless the stack maps the input to class scores."""
    if not stack:
        raise StackError(_("The stack is empty: add layers that end in a Linear layer."))
    result = propagate(stack, tuple(input_shape))
    if (row := result.broken) is not None:
        raise StackError(_("Layer {n} ({code}) breaks on {shape} images: {advice}").format(
            n=row.index + 1, code=layer_code(row.layer), shape=shape_text(input_shape),
            advice=row.advice))
    out = result.output_shape
    if out != (num_classes,):
        raise StackError(_("The network ends in {shape} numbers per image; a {k}-class dataset "
                           "needs {k}: end with nn.Linear(…, {k}).").format(
            shape=shape_text(out), k=num_classes))


def append_default(stack: Stack, kind: str, input_shape: Shape) -> Stack:
    """`stack` plus a `kind` layer whose sizes fit the current output (a sensible start);
    StackError when the stack already holds `MAX_LAYERS`."""
    if len(stack) >= MAX_LAYERS:
        raise StackError(_("A stack holds at most {n} layers.").format(n=MAX_LAYERS))
    shape = propagate(stack, tuple(input_shape)).output_shape
    layer = make_layer(kind)
    if shape is not None:
        if kind in ("Conv2d", "BatchNorm2d") and len(shape) == 3:
            layer = layer.with_arg("in_channels" if kind == "Conv2d" else "num_features",
                                   min(shape[0], _CHANNELS))
        elif kind == "Linear":
            layer = layer.with_arg("in_features", min(math.prod(shape), _FEATURES))
    return (*stack, layer)


#: LeNet-5 as the course draws it (ReLU, max-pool), the builder's starting stack.
LENET5 = ("conv-1-6-5-1-2_relu_maxpool_conv-6-16-5_relu_maxpool_flatten_linear-400-120_relu_"
          "linear-120-84_relu_linear-84")


# --- the builder's edits and its address-bar form ---------------------------------------------

T = TypeVar("T")
#: The builder's input shape: the largest channels, height and width it offers, its default.
INPUT_LIMITS: Shape = (64, 512, 512)
DEFAULT_INPUT: Shape = (1, 28, 28)


def moved(items: tuple[T, ...] | list[T], index: int, step: int) -> tuple[T, ...]:
    """`items` with the one at `index` swapped with its neighbour `step` places away (a stack,
    or the ids of its rows, which move with their layers)."""
    out = list(items)
    j = index + step
    out[index], out[j] = out[j], out[index]
    return tuple(out)


def removed(items: tuple[T, ...] | list[T], index: int) -> tuple[T, ...]:
    """`items` without the one at `index`."""
    return (*items[:index], *items[index + 1:])


def with_arg(stack: Stack, index: int, name: str, value: float) -> Stack:
    """`stack` with argument `name` of layer `index` set to `value`."""
    return (*stack[:index], stack[index].with_arg(name, value), *stack[index + 1:])


def parse_shape(text: str | None) -> Shape:
    """Read `shape_param`'s "1x28x28", each side kept within `INPUT_LIMITS` (at least 1);
    anything else is `DEFAULT_INPUT`."""
    sides = (text or "").split("x")
    if len(sides) != len(INPUT_LIMITS) or not all(v.isdigit() for v in sides):
        return DEFAULT_INPUT
    return tuple(min(max(int(v), 1), top) for v, top in zip(sides, INPUT_LIMITS, strict=True))


def shape_param(shape: Shape) -> str:
    """(1, 28, 28) -> "1x28x28", the input shape as the address bar holds it."""
    return "x".join(map(str, shape))


def is_default(text: str, shape: Shape) -> bool:
    """True for the builder's start, LeNet-5 on 1×28×28 (the address bar leaves it out)."""
    return text == LENET5 and tuple(shape) == DEFAULT_INPUT
