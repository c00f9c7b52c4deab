"""The nn.Module lesson: what `children()`, `modules()`, `named_parameters()`, `train()` /
`eval()`, `to(device)` and `print(model)` show for a network of the zoo."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn


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
