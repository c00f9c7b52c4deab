"""The layer table: one forward pass of a zero image through an `nn.Module`, tabulated.

Every leaf layer with its stage, output shape, parameters and multiply-adds (counted by
`FlopCounterMode`); shape propagation that explains a Flatten→Linear mismatch instead of
raising; and copies of a network with one key conv or pool changed.

Runs on whatever device the model lives on; a model built under `torch.device("meta")` gives
every shape and multiply-add for free, which is how the page tabulates ImageNet networks.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from explorer.i18n import N_, _
from explorer.models.modules import is_leaf, leaf_modules, parameter_count, shape_text

_POOLS = (nn.MaxPool2d, nn.AvgPool2d)
_MAX_PATCHES = 4


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


#: The attribute that holds a residual block's shortcut: torchvision's `downsample` (None for
#: an identity shortcut), the course's `extra` (nn.Identity for one).
SHORTCUT_ATTRIBUTES = ("downsample", "extra")


@dataclass(frozen=True)
class ResidualBlock:
    """One residual block (残差块) as the forward pass met it: its main path, its shortcut
    (捷径连接: an identity mapping, or a projection where shapes change) and the add."""

    name: str
    main: tuple[str, ...]  # the main path's leaf layers, in forward order
    shortcut: tuple[str, ...]  # the projection's leaf layers; () is the identity mapping
    input_shape: tuple[int, ...] | None  # what the block, and so both paths, receive
    output_shape: tuple[int, ...] | None  # after the add (and the ReLU after it)
    projection: tuple[int, int] | None = None  # the projection conv's (kernel, stride)

    @property
    def identity(self) -> bool:
        return not self.shortcut


def shortcut_of(module: nn.Module) -> tuple[str, nn.Module | None] | None:
    """(attribute, projection or None for the identity) when `module` is a residual block."""
    for attribute in SHORTCUT_ATTRIBUTES:
        if hasattr(module, attribute) and not is_leaf(module):
            shortcut = getattr(module, attribute)
            if shortcut is None or isinstance(shortcut, nn.Identity):
                return attribute, None
            if isinstance(shortcut, nn.Module):
                return attribute, shortcut
    return None


@dataclass(frozen=True)
class LayerTable:
    """The layer table of one forward pass, its totals, and what went wrong, if anything."""

    input_shape: tuple[int, ...]
    rows: tuple[LayerRow, ...]
    output_shape: tuple[int, ...] | None
    total_params: int
    trainable_params: int
    total_macs: int
    problems: tuple[str, ...] = ()
    patched: tuple[str, ...] = field(default=())  # Linear layers re-sized to make it run
    blocks: tuple[ResidualBlock, ...] = field(default=())  # a ResNet's residual blocks

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


def _groups(module: nn.Module, prefix: str = "") -> list[tuple[str, list[str]]]:
    """Stages of `module`'s children: each block is one stage, a flat Sequential is split
    after every pool, and a run of loose layers is the stem, the head or named by its first."""
    groups: list[tuple[str, list[str]]] = []
    run: list[str] = []
    seen_block = False

    def close_run(last: bool) -> None:
        if run:
            edge = not seen_block or last  # the loose layers before any block, or after all
            name = (_("stem") if not seen_block else _("head")) if edge else run[0]
            if prefix and edge:
                name = f"{prefix.rstrip('.')} · {name}"
            groups.append((name, list(run)))
            run.clear()

    for name, child in module.named_children():
        full = prefix + name
        if is_leaf(child):
            run.append(full)
            continue
        close_run(last=False)
        seen_block = True
        kids = list(child.named_children())
        if isinstance(child, nn.Sequential) and all(is_leaf(k) for _name, k in kids):
            stages: list[list[str]] = [[]]
            for kid_name, kid in kids:
                stages[-1].append(f"{full}.{kid_name}")
                if isinstance(kid, _POOLS) and kid_name != kids[-1][0]:
                    stages.append([])
            groups += [(full if len(stages) == 1 else f"{full} · " + _("stage {k}").format(k=k),
                        leaves) for k, leaves in enumerate(stages, 1)]
        elif isinstance(child, nn.Sequential) and any(is_leaf(k) for _name, k in kids):
            groups += _groups(child, prefix=f"{full}.")
        else:
            groups.append((full, [n for n, m in child.named_modules(prefix=full)
                                  if is_leaf(m)]))
    close_run(last=True)
    return groups


def _stage_names(model: nn.Module) -> dict[str, str]:
    """The stage each leaf module belongs to."""
    return {leaf: stage for stage, leaves in _groups(model) for leaf in leaves}


class _LinearMismatch(RuntimeError):
    def __init__(self, name: str, needed: int, before: tuple[int, ...] | None) -> None:
        super().__init__(name)
        self.name, self.needed, self.before = name, needed, before


def inspect_model(model: nn.Module, input_shape: tuple[int, ...], batch: int = 1) -> LayerTable:
    """Forward a zero input of `input_shape` (C, H, W) through `model` and tabulate its leaves.

    Never raises for a bad input size: a Linear whose in_features no longer matches is
    re-sized in a copy (the problem says which in_features it needs), and an input that
    shrinks to nothing stops the table at the layer where it happens.
    """
    problems: list[str] = []
    patched: list[str] = []
    current = model
    for _attempt in range(_MAX_PATCHES + 1):
        try:
            return _tabulate(current, tuple(input_shape), batch, problems, patched)
        except _LinearMismatch as err:
            old = _get(current, err.name)
            if current is model:
                current = copy.deepcopy(model)
            device = old.weight.device
            _set(current, err.name, nn.Linear(err.needed, old.out_features,
                                              bias=old.bias is not None, device=device))
            came_from = _(" ({shape} flattened)").format(
                shape=shape_text(err.before)) if err.before else ""
            problems.append(_(
                "“{name}” is nn.Linear(in_features={old}, …) but now receives {n:,} numbers per "
                "image{came_from}: it needs in_features={needed} — the table shows the network "
                "rebuilt that way.").format(name=err.name, old=old.in_features, n=err.needed,
                                             came_from=came_from, needed=err.needed))
            patched.append(err.name)
    raise AssertionError("unreachable: too many Linear mismatches")  # pragma: no cover


def _get(model: nn.Module, name: str) -> nn.Module:
    return model.get_submodule(name)


def _set(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _dot, attr = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, attr, module)


def _tabulate(model: nn.Module, input_shape: tuple[int, ...], batch: int,
              problems: list[str], patched: list[str]) -> LayerTable:
    leaves = leaf_modules(model)
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
    residual = {name: found for name, module in model.named_modules()
                if name and (found := shortcut_of(module)) is not None}
    block_shapes: dict[str, list[tuple[int, ...] | None]] = {}

    def block_hook(name: str, args, out) -> None:
        x = args[0] if args and isinstance(args[0], torch.Tensor) else None
        block_shapes.setdefault(name, [tuple(x.shape) if x is not None else None,
                                       tuple(out.shape) if isinstance(out, torch.Tensor)
                                       else None])

    for name in residual:
        handles.append(model.get_submodule(name).register_forward_hook(
            lambda m, a, o, n=name: block_hook(n, a, o)))
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
        failed = order[-1] if order else _("the first layer")
        problems.append(_(
            "At {shape} the image is too small for “{failed}” ({type}): its output would be "
            "empty, so nothing after it can run. Make the input larger.").format(
            shape=shape_text(input_shape[1:]), failed=failed,
            type=type(leaves[failed]).__name__ if failed in leaves else _("layer")))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)

    flops = counter.get_flop_counts()
    root = type(model).__name__
    stage = _stage_names(model)
    blocks = tuple(_residual_block(name, attribute, shortcut, order,
                                   block_shapes.get(name, [None, None]))
                   for name, (attribute, shortcut) in residual.items())
    on_shortcut = {leaf: block for block in blocks for leaf in block.shortcut}
    ends_main = {block.main[-1]: block for block in blocks if block.main}
    rows = []
    for name in order:
        module = leaves[name]
        params = list(module.parameters(recurse=False))
        macs = sum(flops.get(f"{root}.{name}", {}).values()) // 2
        note = _("re-sized to in_features={n}").format(n=module.in_features) \
            if name in patched else ""
        if name in on_shortcut:
            note = _shortcut_note(module, on_shortcut[name])
        elif isinstance(module, nn.Identity) and name.rpartition(".")[2] in SHORTCUT_ATTRIBUTES:
            note = _("shortcut: the identity mapping (x passes unchanged, to be added)")
        elif name in ends_main:
            note = (_("end of the main path: the block adds its shortcut, an identity mapping "
                      "(x itself: same shape), then a ReLU") if ends_main[name].identity else
                    _("end of the main path: the block adds its shortcut, the projection "
                      "below, then a ReLU"))
        rows.append(LayerRow(
            name=name, type=type(module).__name__, stage=stage.get(name, name),
            output_shape=shapes.get(name), params=parameter_count(module, recurse=False),
            trainable=any(p.requires_grad for p in params) if params else False, macs=macs,
            note=note,
        ))
    return LayerTable(
        input_shape=tuple(input_shape), rows=tuple(rows),
        output_shape=tuple(output.shape) if output is not None else None,
        total_params=parameter_count(model),
        trainable_params=parameter_count(model, trainable_only=True),
        total_macs=sum(r.macs for r in rows), problems=tuple(problems), patched=tuple(patched),
        blocks=blocks,
    )


def _residual_block(name: str, attribute: str, projection: nn.Module | None, order: list[str],
                    shapes: list[tuple[int, ...] | None]) -> ResidualBlock:
    inside = [leaf for leaf in order if leaf.startswith(f"{name}.")]
    on_shortcut = [leaf for leaf in inside if leaf == f"{name}.{attribute}"
                   or leaf.startswith(f"{name}.{attribute}.")]
    shortcut = tuple(on_shortcut) if projection is not None else ()  # nn.Identity: no layer
    main = tuple(leaf for leaf in inside if leaf not in on_shortcut)
    conv = next((m for m in projection.modules() if isinstance(m, nn.Conv2d)), None) \
        if projection is not None else None
    return ResidualBlock(name, main, shortcut, shapes[0], shapes[1],
                         kernel_and_stride(conv) if conv is not None else None)


def _shortcut_note(module: nn.Module, block: ResidualBlock) -> str:
    """Why a projection layer is on the block's shortcut (捷径连接)."""
    if isinstance(module, nn.Conv2d):
        return _("shortcut (projection): a {k}×{k} conv with stride {s} gives x the main path's "
                 "{c} channels and size, so the two can be added").format(
            k=module.kernel_size[0], s=module.stride[0], c=module.out_channels)
    return _("shortcut (projection): its BatchNorm, like the main path's last")


#: The columns of `table_records`, marked for translation (the page shows them translated).
RECORD_COLUMNS = {"layer": N_("layer"), "type": N_("type"), "stage": N_("stage"),
                  "output shape": N_("output shape"), "parameters": N_("parameters"),
                  "trainable": N_("trainable"), "multiply-adds": N_("multiply-adds"),
                  "note": N_("note")}


def table_records(table: LayerTable) -> list[dict[str, object]]:
    """The layer table as records for a dataframe."""
    return [
        {"layer": r.name, "type": r.type, "stage": r.stage,
         "output shape": shape_text(r.output_shape[1:]) if r.output_shape else _("— (not run)"),
         "parameters": r.params, "trainable": r.trainable, "multiply-adds": r.macs,
         "note": r.note}
        for r in table.rows
    ]


# --- editing key layers ------------------------------------------------------------------


def key_layers(model: nn.Module, limit: int = 4) -> list[str]:
    """The first few convs and pools: the layers whose kernel and stride set the pyramid."""
    names = [n for n, m in leaf_modules(model).items() if isinstance(m, (nn.Conv2d, *_POOLS))]
    return names[:limit]


def with_layer_changed(model: nn.Module, name: str, *, kernel: int, stride: int) -> nn.Module:
    """A copy of `model` where conv or pool `name` has a new kernel size and stride.

    A layer padded by half its kernel ("same" padding) stays so; other padding is kept,
    within what PyTorch allows. A conv gets fresh weights of the new kernel size.
    """
    clone = copy.deepcopy(model)
    old = clone.get_submodule(name)
    old_kernel = kernel_and_stride(old)[0]
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
