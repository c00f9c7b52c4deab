"""One residual block's two paths on a real input: the tensor x that enters, the main path's
F(x), the shortcut's x (itself, or its 1×1 projection), their sum and the ReLU after it.

Read by forward hooks during one ordinary forward pass, so what is shown is exactly what the
network computed: the block's input and output, the main path's last layer (its last
BatchNorm) and the shortcut's projection where there is one. No streamlit here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from explorer.models.layer_table import ResidualBlock, shortcut_of
from explorer.models.modules import exclusive


@dataclass(frozen=True)
class BlockPaths:
    """One block's tensors for the first image of a batch, each [C, H, W]."""

    name: str
    x: torch.Tensor  # what enters the block (and both paths)
    main: torch.Tensor  # F(x): the main path's output, before the add
    shortcut: torch.Tensor  # x itself (identity mapping), or its projection
    total: torch.Tensor  # F(x) + shortcut
    out: torch.Tensor  # the block's output: ReLU of the sum
    identity: bool

    @property
    def relu_matches(self) -> bool:
        """The block's own output is ReLU(F(x) + shortcut): the hooks read the right layers."""
        return torch.allclose(torch.relu(self.total), self.out, atol=1e-5, rtol=1e-4)


def block_paths(model: nn.Module, x: torch.Tensor, block: ResidualBlock) -> BlockPaths:
    """Run `model(x)` once and read `block`'s two paths."""
    module = model.get_submodule(block.name)
    found = shortcut_of(module)
    projection = found[1] if found else None
    seen: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(_module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            if name not in seen:
                if name == "block":
                    seen["x"] = args[0].detach()[0].clone()
                seen[name] = output.detach()[0].clone()
        return hook

    with exclusive(model), torch.no_grad():
        handles = [module.register_forward_hook(keep("block")),
                   model.get_submodule(block.main[-1]).register_forward_hook(keep("main"))]
        if projection is not None:
            handles.append(projection.register_forward_hook(keep("shortcut")))
        try:
            model(x)
        finally:
            for handle in handles:
                handle.remove()
    shortcut = seen["shortcut"] if projection is not None else seen["x"]
    return BlockPaths(block.name, seen["x"], seen["main"], shortcut, seen["main"] + shortcut,
                      seen["block"], projection is None)
