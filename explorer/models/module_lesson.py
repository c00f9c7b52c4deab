"""The nn.Module lesson: what `children()`, `modules()`, `named_parameters()`, `train()` /
`eval()`, `to(device)` and `print(model)` show for a network of the zoo."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from torch import nn

from explorer.i18n import _
from explorer.models.modules import parameter_count


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
    return TreeNode(name, type(model).__name__, parameter_count(model),
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


@dataclass(frozen=True)
class Lesson:
    """Everything the nn.Module lesson shows for one network."""

    children: int
    modules: int
    tree: TreeNode
    parameters: list[dict[str, object]]
    flags: dict[bool, tuple[bool, int, int]]  # train -> (model.training, in training, all)
    sensitive: list[str]
    devices: dict[str, int]
    printed: str


def lesson(model: nn.Module) -> Lesson:
    """The lesson's facts, read from a copy (train()/eval() must not touch `model`, which a
    cache may share with other sessions)."""
    model = copy.deepcopy(model)
    n_children, n_modules = count_modules(model)
    flags = {train: training_flags(model, train) for train in (True, False)}
    return Lesson(n_children, n_modules, module_tree(model), named_parameter_records(model),
                  flags, mode_sensitive(model), tensor_devices(model), print_form(model))


def tree_lines(node: TreeNode, depth: int = 0) -> list[str]:
    """The tree under `node` as indented lines, each with its parameter count."""
    line = f"{'    ' * depth}{node.name}: {node.type}  " + _("({n:,} params)").format(n=node.params)
    return [line, *(x for child in node.children for x in tree_lines(child, depth + 1))]
