"""Three stacked 3×3 convolutions against one 7×7: weights, multiply-adds, receptive field.

Nothing is typed in: the weights are counted from the modules' parameters, the multiply-adds
by `FlopCounterMode` on the meta device, and the receptive field is measured by backprop:
the gradient of one output pixel with respect to the input is non-zero exactly on the input
pixels that pixel sees (the weights are set to ones so that nothing cancels; the gradient then
counts the paths from each input pixel, which is why the stack weighs its centre more).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from explorer.i18n import _
from explorer.models.modules import parameter_count


def single(channels: int) -> nn.Module:
    """One 7×7 conv, C → C, padded to keep the size, no bias."""
    return nn.Conv2d(channels, channels, 7, padding=3, bias=False)


def stacked(channels: int) -> nn.Module:
    """Three 3×3 convs, C → C, each padded to keep the size, ReLU between, no bias."""
    layers: list[nn.Module] = []
    for i in range(3):
        layers.append(nn.Conv2d(channels, channels, 3, padding=1, bias=False))
        if i < 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def multiply_adds(module: nn.Module, channels: int, size: int) -> int:
    """Multiply-adds of one C×size×size image (FLOPs ÷ 2; build `module` on the meta device)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(torch.empty(1, channels, size, size, device="meta"))
    return counter.get_total_flops() // 2


def footprint(make, size: int = 21) -> tuple[tuple[int, ...], ...]:
    """The gradient of the centre output pixel on the input pixels it depends on.

    With every weight 1 and a ReLU-free path of ones, each value counts the paths from that
    input pixel to the output pixel; the non-zero block is the receptive field (cropped to it).
    """
    module = make(1)
    with torch.no_grad():
        for p in module.parameters():
            p.fill_(1.0)
    x = torch.ones(1, 1, size, size, requires_grad=True)
    module(x)[0, 0, size // 2, size // 2].backward()
    grad = x.grad[0, 0]
    rows, cols = grad.ne(0).any(1).nonzero().flatten(), grad.ne(0).any(0).nonzero().flatten()
    block = grad[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    return tuple(tuple(int(v) for v in row) for row in block.round().tolist())


@dataclass(frozen=True)
class KernelCost:
    """The comparison for C channels on a size×size map."""

    channels: int
    size: int
    single_weights: int
    stacked_weights: int
    single_macs: int
    stacked_macs: int
    single_paths: tuple[tuple[int, ...], ...]  # `footprint` of the 7×7
    stacked_paths: tuple[tuple[int, ...], ...]

    @property
    def single_field(self) -> tuple[int, int]:
        return len(self.single_paths), len(self.single_paths[0])

    @property
    def stacked_field(self) -> tuple[int, int]:
        return len(self.stacked_paths), len(self.stacked_paths[0])

    @property
    def holds(self) -> bool:
        return (self.stacked_weights < self.single_weights
                and self.stacked_macs < self.single_macs
                and self.stacked_field == self.single_field)

    def sentence(self) -> str:
        c = self.channels
        rows, cols = self.stacked_field
        numbers = _("Three 3×3 convs: {stacked:,} weights (27C² with C = {c}) and {stacked_macs:,} "
                    "multiply-adds on a {n}×{n} map; one 7×7: {single:,} (49C²) and "
                    "{single_macs:,}. Measured receptive fields: {rows}×{cols} for the stack, "
                    "{single_rows}×{single_cols} for the 7×7.").format(
            stacked=self.stacked_weights, c=c, stacked_macs=self.stacked_macs, n=self.size,
            single=self.single_weights, single_macs=self.single_macs, rows=rows, cols=cols,
            single_rows=self.single_field[0], single_cols=self.single_field[1])
        if self.holds:
            return _("{numbers} The claim holds.").format(numbers=numbers)
        return _("{numbers} The claim does not hold for these numbers.").format(numbers=numbers)


@functools.lru_cache(maxsize=64)  # every (C, size) the card's two sliders offer: 7 × 7
def compare(channels: int = 64, size: int = 32) -> KernelCost:
    """Build both (on the meta device: shapes without memory), count and measure (once per
    pair of numbers: the sentences are written when asked, in the session's language)."""
    with torch.device("meta"):
        one, three = single(channels), stacked(channels)
    return KernelCost(
        channels, size, parameter_count(one), parameter_count(three),
        multiply_adds(one, channels, size), multiply_adds(three, channels, size),
        footprint(single), footprint(stacked))
