"""Look inside an `nn.Module`: a layer table from a real forward, stages, a block diagram,
shape propagation that explains a Flatten→Linear mismatch, state_dict save/load, and the
course's computed facts about the classic architectures.

Runs on whatever device the model lives on; a model built under `torch.device("meta")` gives
every shape and multiply-add for free, which is how the page tabulates ImageNet networks.
"""

from __future__ import annotations

import copy
import io
import math
import pickle
import zipfile
from dataclasses import dataclass, field

import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from explorer.models import zoo

_POOLS = (nn.MaxPool2d, nn.AvgPool2d)
_MAX_PATCHES = 4


# --- the layer table -----------------------------------------------------------------------


@dataclass(frozen=True)
class LayerRow:
    """One leaf module as the forward pass met it."""

    name: str
    type: str
    stage: str
    output_shape: tuple[int, ...] | None
    params: int
    trainable: bool
    macs: int
    note: str = ""


@dataclass(frozen=True)
class Inspection:
    """The layer table of one forward pass, its totals, and what went wrong, if anything."""

    input_shape: tuple[int, ...]
    rows: tuple[LayerRow, ...]
    output_shape: tuple[int, ...] | None
    total_params: int
    trainable_params: int
    total_macs: int
    problems: tuple[str, ...] = ()
    patched: tuple[str, ...] = field(default=())  # Linear layers re-sized to make it run

    @property
    def ok(self) -> bool:
        """True when a forward pass reached the output (possibly with re-sized Linears)."""
        return self.output_shape is not None

    @property
    def weight_mb(self) -> float:
        return weight_memory_mb(self.total_params)

    def stages(self) -> list[tuple[str, list[LayerRow]]]:
        """Rows grouped by stage, in forward order."""
        groups: list[tuple[str, list[LayerRow]]] = []
        for row in self.rows:
            if not groups or groups[-1][0] != row.stage:
                groups.append((row.stage, []))
            groups[-1][1].append(row)
        return groups


def weight_memory_mb(params: int, bytes_per_param: int = 4) -> float:
    """Megabytes (10⁶ bytes) the parameters take at fp32."""
    return params * bytes_per_param / 1e6


def _leaves(model: nn.Module) -> dict[str, nn.Module]:
    return {name: m for name, m in model.named_modules() if name and not list(m.children())}


def _is_leaf(module: nn.Module) -> bool:
    return not list(module.children())


def _groups(module: nn.Module, prefix: str = "") -> list[tuple[str, list[str]]]:
    """Stages of `module`'s children: each block is one stage, a flat Sequential is split
    after every pool, and a run of loose layers is the stem, the head or named by its first."""
    groups: list[tuple[str, list[str]]] = []
    run: list[str] = []
    seen_block = False

    def close_run(last: bool) -> None:
        if run:
            name = "stem" if not seen_block else "head" if last else run[0]
            if prefix and name in ("stem", "head"):
                name = f"{prefix.rstrip('.')} · {name}"
            groups.append((name, list(run)))
            run.clear()

    for name, child in module.named_children():
        full = prefix + name
        if _is_leaf(child):
            run.append(full)
            continue
        close_run(last=False)
        seen_block = True
        kids = list(child.named_children())
        if isinstance(child, nn.Sequential) and all(_is_leaf(k) for _, k in kids):
            stages: list[list[str]] = [[]]
            for kid_name, kid in kids:
                stages[-1].append(f"{full}.{kid_name}")
                if isinstance(kid, _POOLS) and kid_name != kids[-1][0]:
                    stages.append([])
            groups += [(full if len(stages) == 1 else f"{full} · stage {k}", leaves)
                       for k, leaves in enumerate(stages, 1)]
        elif isinstance(child, nn.Sequential) and any(_is_leaf(k) for _, k in kids):
            groups += _groups(child, prefix=f"{full}.")
        else:
            groups.append((full, [n for n, m in child.named_modules(prefix=full)
                                  if _is_leaf(m)]))
    close_run(last=True)
    return groups


def _stage_names(model: nn.Module) -> dict[str, str]:
    """The stage each leaf module belongs to."""
    return {leaf: stage for stage, leaves in _groups(model) for leaf in leaves}


class _LinearMismatch(RuntimeError):
    def __init__(self, name: str, needed: int, before: tuple[int, ...] | None) -> None:
        super().__init__(name)
        self.name, self.needed, self.before = name, needed, before


def _shape_text(shape: tuple[int, ...] | None) -> str:
    return "×".join(map(str, shape)) if shape else "?"


def inspect_model(model: nn.Module, input_shape: tuple[int, ...], batch: int = 1) -> Inspection:
    """Forward a zero input of `input_shape` (C, H, W) through `model` and tabulate its leaves.

    Never raises for a bad input size: a Linear whose in_features no longer matches is
    re-sized in a copy (the problem says which in_features it needs), and an input that
    shrinks to nothing stops the table at the layer where it happens.
    """
    problems: list[str] = []
    patched: list[str] = []
    current = model
    for _ in range(_MAX_PATCHES + 1):
        try:
            return _tabulate(current, tuple(input_shape), batch, problems, patched)
        except _LinearMismatch as err:
            old = _get(current, err.name)
            if current is model:
                current = copy.deepcopy(model)
            device = old.weight.device
            _set(current, err.name, nn.Linear(err.needed, old.out_features,
                                              bias=old.bias is not None, device=device))
            came_from = f" ({_shape_text(err.before)} flattened)" if err.before else ""
            problems.append(
                f"“{err.name}” is nn.Linear(in_features={old.in_features}, …) but now receives "
                f"{err.needed:,} numbers per image{came_from}: it needs "
                f"in_features={err.needed} — the table shows the network rebuilt that way."
            )
            patched.append(err.name)
    raise AssertionError("unreachable: too many Linear mismatches")  # pragma: no cover


def _get(model: nn.Module, name: str) -> nn.Module:
    return model.get_submodule(name)


def _set(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, attr, module)


def _tabulate(model: nn.Module, input_shape: tuple[int, ...], batch: int,
              problems: list[str], patched: list[str]) -> Inspection:
    leaves = _leaves(model)
    order: list[str] = []
    shapes: dict[str, tuple[int, ...]] = {}
    last_spatial: list[tuple[int, ...]] = []

    def pre_hook(name: str, module: nn.Module, args) -> None:
        if name not in shapes and name not in order:
            order.append(name)
        x = args[0] if args else None
        if isinstance(module, nn.Linear) and isinstance(x, torch.Tensor) \
                and x.shape[-1] != module.in_features:
            before = last_spatial[-1] if last_spatial else None
            raise _LinearMismatch(name, int(x.shape[-1]), before)

    def hook(name: str, _module: nn.Module, _args, out) -> None:
        if isinstance(out, torch.Tensor):
            shapes.setdefault(name, tuple(out.shape))
            if out.dim() == 4:
                last_spatial.append(tuple(out.shape[1:]))

    handles = []
    for name, module in leaves.items():
        handles.append(module.register_forward_pre_hook(
            lambda m, a, n=name: pre_hook(n, m, a)))
        handles.append(module.register_forward_hook(lambda m, a, o, n=name: hook(n, m, a, o)))
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    was_training = model.training
    counter = FlopCounterMode(display=False, depth=None)
    output: torch.Tensor | None = None
    try:
        model.eval()
        with torch.no_grad(), counter:
            output = model(torch.zeros(batch, *input_shape, device=device))
    except _LinearMismatch:
        raise
    except RuntimeError:
        failed = order[-1] if order else "the first layer"
        problems.append(
            f"At {_shape_text(input_shape[1:])} the image is too small for "
            f"“{failed}” ({type(leaves[failed]).__name__ if failed in leaves else 'layer'}): "
            f"its output would be empty, so nothing after it can run. Make the input larger."
        )
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)

    flops = counter.get_flop_counts()
    root = type(model).__name__
    stage = _stage_names(model)
    rows = []
    for name in order:
        module = leaves[name]
        params = list(module.parameters(recurse=False))
        macs = sum(flops.get(f"{root}.{name}", {}).values()) // 2
        rows.append(LayerRow(
            name=name, type=type(module).__name__, stage=stage.get(name, name),
            output_shape=shapes.get(name), params=sum(p.numel() for p in params),
            trainable=any(p.requires_grad for p in params) if params else False, macs=macs,
            note=f"re-sized to in_features={module.in_features}" if name in patched else "",
        ))
    all_params = list(model.parameters())
    return Inspection(
        input_shape=tuple(input_shape), rows=tuple(rows),
        output_shape=tuple(output.shape) if output is not None else None,
        total_params=sum(p.numel() for p in all_params),
        trainable_params=sum(p.numel() for p in all_params if p.requires_grad),
        total_macs=sum(r.macs for r in rows), problems=tuple(problems), patched=tuple(patched),
    )


def table_records(inspection: Inspection) -> list[dict[str, object]]:
    """The layer table as records for a dataframe."""
    return [
        {"layer": r.name, "type": r.type, "stage": r.stage,
         "output shape": _shape_text(r.output_shape[1:]) if r.output_shape else "— (not run)",
         "parameters": r.params, "trainable": r.trainable, "multiply-adds": r.macs,
         "note": r.note}
        for r in inspection.rows
    ]


# --- editing key layers ------------------------------------------------------------------


def key_layers(model: nn.Module, limit: int = 4) -> list[str]:
    """The first few convs and pools: the layers whose kernel and stride set the pyramid."""
    names = [n for n, m in _leaves(model).items() if isinstance(m, (nn.Conv2d, *_POOLS))]
    return names[:limit]


def with_layer_changed(model: nn.Module, name: str, *, kernel: int, stride: int) -> nn.Module:
    """A copy of `model` where conv or pool `name` has a new kernel size and stride.

    A layer padded by half its kernel ("same" padding) stays so; other padding is kept,
    within what PyTorch allows. A conv gets fresh weights of the new kernel size.
    """
    clone = copy.deepcopy(model)
    old = clone.get_submodule(name)
    old_kernel, _ = kernel_and_stride(old)
    old_padding = old.padding[0] if isinstance(old.padding, tuple) else int(old.padding)
    padding = kernel // 2 if old_padding == old_kernel // 2 else old_padding
    if isinstance(old, nn.Conv2d):
        new: nn.Module = nn.Conv2d(
            old.in_channels, old.out_channels, kernel, stride=stride, padding=padding,
            dilation=old.dilation, groups=old.groups, bias=old.bias is not None,
            device=old.weight.device,
        )
    elif isinstance(old, _POOLS):
        new = type(old)(kernel, stride=stride, padding=min(padding, kernel // 2),
                        ceil_mode=old.ceil_mode)
    else:
        raise ValueError(f"“{name}” is a {type(old).__name__}, not a conv or pooling layer.")
    _set(clone, name, new)
    return clone


def kernel_and_stride(module: nn.Module) -> tuple[int, int]:
    """(kernel, stride) of a conv or pool, as single ints (square kernels)."""
    kernel, stride = module.kernel_size, module.stride
    kernel = kernel[0] if isinstance(kernel, tuple) else kernel
    stride = stride[0] if isinstance(stride, tuple) else stride
    return int(kernel), int(stride)


# --- the block diagram -------------------------------------------------------------------


def _summary(rows: list[LayerRow]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.type] = counts.get(row.type, 0) + 1
    parts = [f"{n}× {t}" if n > 1 else t for t, n in counts.items()]
    if len(parts) > 4:
        parts = [*parts[:3], f"+{len(parts) - 3} types"]
    return ", ".join(parts)


def graph_dot(inspection: Inspection, title: str = "") -> str:
    """Graphviz DOT: one box per stage (its layers and parameters), output shapes on edges."""
    lines = ["digraph model {", "  rankdir=TB; nodesep=0.25; ranksep=0.3;",
             '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", '
             'fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=10, color="#555555"];',
             '  input [label="input", fillcolor="#fff4d6"];']
    previous, edge = "input", _shape_text(inspection.input_shape)
    for i, (stage, rows) in enumerate(inspection.stages()):
        params = sum(r.params for r in rows)
        label = f"{stage}\\n{_summary(rows)}\\n{params:,} params"
        fill = ', fillcolor="#fde2e2"' if any(r.output_shape is None for r in rows) else ""
        lines.append(f'  s{i} [label="{label}"{fill}];')
        lines.append(f'  {previous} -> s{i} [label=" {edge}"];')
        shape = next((r.output_shape for r in reversed(rows) if r.output_shape), None)
        previous, edge = f"s{i}", _shape_text(shape[1:]) if shape else "✗"
    if inspection.output_shape is not None and previous != "input":
        out = _shape_text(inspection.output_shape[1:])
        lines.append(f'  logits [label="{title or "logits"}\\n{out} logits", '
                     'fillcolor="#e3f5e1"];')
        lines.append(f'  {previous} -> logits [label=" {out}"];')
    lines.append("}")
    return "\n".join(lines)


# --- the nn.Module lesson ----------------------------------------------------------------


def named_parameter_records(model: nn.Module) -> list[dict[str, object]]:
    """`named_parameters()` as records: name, shape, numel, requires_grad."""
    return [{"name": n, "shape": list(p.shape), "numel": p.numel(),
             "requires_grad": p.requires_grad} for n, p in model.named_parameters()]


@dataclass(frozen=True)
class TreeNode:
    """One module in the `children()` tree."""

    name: str
    type: str
    params: int
    children: tuple[TreeNode, ...]


def module_tree(model: nn.Module, name: str = "model") -> TreeNode:
    """The tree `children()` walks, one level at a time; `modules()` visits all its nodes."""
    return TreeNode(name, type(model).__name__, sum(p.numel() for p in model.parameters()),
                    tuple(module_tree(m, n) for n, m in model.named_children()))


def count_modules(model: nn.Module) -> tuple[int, int]:
    """(len(list(model.children())), len(list(model.modules())))."""
    return len(list(model.children())), len(list(model.modules()))


def print_form(model: nn.Module) -> str:
    """What `print(model)` shows: the module tree with each layer's constructor arguments."""
    return repr(model)


def mode_sensitive(model: nn.Module) -> list[str]:
    """Modules that behave differently under train() and eval(): Dropout and BatchNorm."""
    kinds = (nn.Dropout, nn.modules.batchnorm._BatchNorm)
    return [n for n, m in model.named_modules() if isinstance(m, kinds)]


def training_flags(model: nn.Module, train: bool) -> tuple[bool, int, int]:
    """Call `model.train(train)`; return (model.training, modules in training mode, all)."""
    model.train(train)
    flags = [m.training for m in model.modules()]
    return model.training, sum(flags), len(flags)


def tensor_devices(model: nn.Module) -> dict[str, int]:
    """How many parameter and buffer tensors sit on each device."""
    counts: dict[str, int] = {}
    for tensor in [*model.parameters(), *model.buffers()]:
        counts[str(tensor.device)] = counts.get(str(tensor.device), 0) + 1
    return counts


class StateDictError(ValueError):
    """A state_dict file that cannot be loaded; `str(err)` is one clear message."""


def state_dict_bytes(model: nn.Module) -> bytes:
    """`torch.save(model.state_dict())` into bytes: the .pt file the page offers."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def read_state_dict(data: bytes) -> dict[str, torch.Tensor]:
    """Read a .pt file with `torch.load(weights_only=True)`: tensors only, no code runs.

    A file that holds other pickled objects is refused before anything in it runs.
    """
    if not data:
        raise StateDictError("The file is empty (0 bytes).")
    if not zipfile.is_zipfile(io.BytesIO(data)):  # torch.save writes a zip archive
        raise StateDictError("This is not a PyTorch .pt file (torch.save writes a zip "
                             "archive); save one with torch.save(model.state_dict(), path).")
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise StateDictError(
            "Refused: the file contains pickled Python objects, not just tensors, and "
            "torch.load(weights_only=True) will not run them (nothing in the file was executed). "
            f"Save with torch.save(model.state_dict(), path). Detail: {str(err).splitlines()[0]}"
        ) from None
    except Exception as err:  # torch raises many types for files that are not .pt at all
        raise StateDictError(
            f"This is not a PyTorch .pt file ({type(err).__name__}); save one with "
            "torch.save(model.state_dict(), path)."
        ) from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise StateDictError(
            f"The file holds a {type(state).__name__}, not a state_dict (a dict of name → "
            "tensor); save one with torch.save(model.state_dict(), path)."
        )
    return state


def _listing(label: str, items: list[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit
                                        else "")
    return f"{len(items)} {label} ({shown})"


def key_mismatches(model: nn.Module, state: dict[str, torch.Tensor]) -> str | None:
    """The strict key and shape check of `load_state_dict`, as one message (None: all match)."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k}: file {list(state[k].shape)} vs model {list(v.shape)}"
              for k, v in expected.items() if k in state and state[k].shape != v.shape]
    parts = []
    if missing:
        parts.append(_listing("missing keys", missing))
    if unexpected:
        parts.append(_listing("unexpected keys", unexpected))
    if shapes:
        parts.append(_listing("shape mismatches", shapes, limit=3))
    if not parts:
        return None
    return ("This state_dict does not fit the model (strict check): " + "; ".join(parts)
            + ". Was it saved from the same network and configuration?")


def load_checked(model: nn.Module, state: dict[str, torch.Tensor]) -> nn.Module:
    """`model.load_state_dict(state, strict=True)` after a check that explains any mismatch."""
    problem = key_mismatches(model, state)
    if problem:
        raise StateDictError(problem)
    model.load_state_dict(state, strict=True)
    return model


def max_output_difference(a: nn.Module, b: nn.Module, input_shape: tuple[int, ...],
                          seed: int = 0) -> float:
    """max |a(x) − b(x)| in eval mode on one seeded random input."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(2, *input_shape, generator=generator)
    with torch.no_grad():
        return float((a.eval()(x) - b.eval()(x)).abs().max())


# --- the course's facts, computed ----------------------------------------------------------


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@dataclass(frozen=True)
class MlpFact:
    mlp_params: int
    mlp_mb: float
    lenet_params: int
    widths: tuple[int, ...]


def mlp_vs_lenet() -> MlpFact:
    """The course's MLP on 28×28 digits against LeNet-5 on the same input."""
    with torch.device("meta"):
        mlp = zoo.build_model("mlp", variant="mnist")
        lenet = zoo.build_model("lenet5", variant="mnist")
    linears = [m for m in mlp.modules() if isinstance(m, nn.Linear)]
    widths = (linears[0].in_features, *(m.out_features for m in linears))
    params = count_params(mlp)
    return MlpFact(params, weight_memory_mb(params), count_params(lenet), widths)


@dataclass(frozen=True)
class StackFact:
    channels: int
    big_kernel_params: int
    stacked_params: int
    receptive_field: int


def vgg_stacked_convs(channels: int = 64) -> StackFact:
    """One 7×7 conv against three 3×3 convs (same 7×7 receptive field), C→C, no bias."""
    with torch.device("meta"):
        big = nn.Conv2d(channels, channels, 7, bias=False)
        stack = nn.Sequential(*(nn.Conv2d(channels, channels, 3, bias=False) for _ in range(3)))
    field = 1 + sum(m.kernel_size[0] - 1 for m in stack)
    return StackFact(channels, count_params(big), count_params(stack), field)


def _macs(module: nn.Module, shape: tuple[int, ...]) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(torch.zeros(shape, device="meta"))
    return counter.get_total_flops() // 2


@dataclass(frozen=True)
class BottleneckFact:
    channels: int
    reduced: int
    direct_macs: int  # per output position
    bottleneck_macs: int


def bottleneck_macs(channels: int = 256, reduced: int = 64, size: int = 8) -> BottleneckFact:
    """Multiply-adds per position: a direct 3×3 conv on `channels` against 1×1-3×3-1×1."""
    with torch.device("meta"):
        direct = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        block = nn.Sequential(nn.Conv2d(channels, reduced, 1, bias=False),
                              nn.Conv2d(reduced, reduced, 3, padding=1, bias=False),
                              nn.Conv2d(reduced, channels, 1, bias=False))
    shape = (1, channels, size, size)
    positions = size * size
    return BottleneckFact(channels, reduced, _macs(direct, shape) // positions,
                          _macs(block, shape) // positions)


@dataclass(frozen=True)
class OneByOneFact:
    in_channels: int
    out_channels: int
    height: int
    width: int
    max_difference: float


def one_by_one_is_linear(in_channels: int = 8, out_channels: int = 4, size: int = 5,
                         seed: int = 0) -> OneByOneFact:
    """A 1×1 conv equals the same weight matrix applied as a Linear to every pixel."""
    generator = torch.Generator().manual_seed(seed)
    conv = nn.Conv2d(in_channels, out_channels, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator))
        conv.bias.copy_(torch.randn(conv.bias.shape, generator=generator))
        linear = nn.Linear(in_channels, out_channels)
        linear.weight.copy_(conv.weight[:, :, 0, 0])
        linear.bias.copy_(conv.bias)
        x = torch.randn(1, in_channels, size, size, generator=generator)
        per_pixel = linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        diff = float((conv(x) - per_pixel).abs().max())
    return OneByOneFact(in_channels, out_channels, size, size, diff)


def vgg19_vs_resnet101() -> tuple[int, int]:
    """Parameter counts of torchvision's VGG-19 and ResNet-101 (built on meta, no weights)."""
    with torch.device("meta"):
        return (count_params(torchvision.models.vgg19(weights=None)),
                count_params(torchvision.models.resnet101(weights=None)))


def round_to(value: float, digits: int = 2) -> float:
    """`value` to `digits` significant figures (the slides' rounding)."""
    if value == 0:
        return 0.0
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))
