"""Receptive fields: which input pixels one cell of a layer's feature map can see.

The usual arithmetic, per axis (rows, cols), one conv or pooling layer at a time: region size
r, jump j between neighbouring cells and centre `start` of cell 0, all in input pixels.
`explorer.feature_maps.capture` applies it to every layer of a forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class ReceptiveField:
    """Per axis (rows, cols): region size r, jump j between cells and centre of cell 0.

    Cell (i, k) of the layer sees input rows centred on `start[0] + i * jump[0]`,
    `size[0]` pixels tall (likewise for columns); pixel centres are at 0, 1, 2, ...
    """

    size: tuple[float, float] = (1.0, 1.0)
    jump: tuple[float, float] = (1.0, 1.0)
    start: tuple[float, float] = (0.0, 0.0)
    approximate: bool = False

    def then(self, kernel: Sequence[int], stride: Sequence[int], padding: Sequence[int],
             dilation: Sequence[int] = (1, 1), approximate: bool = False) -> ReceptiveField:
        """The field after one more conv/pool layer with these (per-axis) settings."""
        size, jump, start = [], [], []
        for ax in range(2):
            k_eff = dilation[ax] * (kernel[ax] - 1) + 1
            size.append(self.size[ax] + (k_eff - 1) * self.jump[ax])
            start.append(self.start[ax] + ((k_eff - 1) / 2 - padding[ax]) * self.jump[ax])
            jump.append(self.jump[ax] * stride[ax])
        return ReceptiveField(tuple(size), tuple(jump), tuple(start),  # type: ignore[arg-type]
                              self.approximate or approximate)

    def box(self, row: int, col: int) -> tuple[float, float, float, float]:
        """(top, left, bottom, right) in input pixel coordinates, edges inclusive of pixels."""
        cy = self.start[0] + row * self.jump[0]
        cx = self.start[1] + col * self.jump[1]
        return (cy - self.size[0] / 2 + 0.5, cx - self.size[1] / 2 + 0.5,
                cy + self.size[0] / 2 - 0.5, cx + self.size[1] / 2 - 0.5)


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[-1]))


_POINTWISE = (nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.GELU,
              nn.SiLU, nn.ELU, nn.Hardswish, nn.Dropout, nn.Dropout2d, nn.Identity,
              nn.LocalResponseNorm, nn.GroupNorm, nn.InstanceNorm2d)


def layer_rf(module: nn.Module, rf: ReceptiveField, in_hw: tuple[int, int],
              out_hw: tuple[int, int]) -> ReceptiveField | None:
    """The receptive field after `module`, or None when this module's geometry is unknown."""
    if isinstance(module, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):
        dilation = getattr(module, "dilation", 1)
        return rf.then(_pair(module.kernel_size), _pair(module.stride or module.kernel_size),
                       _pair(module.padding), _pair(dilation))
    if isinstance(module, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
        stride, kernel, approx = [], [], False
        for n_in, n_out in zip(in_hw, out_hw, strict=True):
            s = n_in // n_out
            approx |= n_in % n_out != 0
            stride.append(max(s, 1))
            kernel.append(n_in - (n_out - 1) * max(s, 1))
        return rf.then(kernel, stride, (0, 0), approximate=approx)
    if isinstance(module, _POINTWISE) and in_hw == out_hw:
        return rf
    return None
