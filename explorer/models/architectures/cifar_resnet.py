"""The plain and residual networks of He et al.'s CIFAR-10 experiments (2015, section 4.2).

6n + 2 weighted layers: a 3×3 conv, three stages of n blocks of two 3×3 convs (each followed
by BatchNorm) on widths w, 2w and 4w, the later stages starting with stride 2, then global
average pooling and one Linear. The residual network adds each block's input to its output;
where a stage halves the map and doubles the channels, the shortcut subsamples and pads the
new channels with zeros (the paper's option A), so it has no weights of its own.

The plain and residual networks therefore have exactly the same parameters under the same
names: built from the same seed they start from the same weights, and the only difference
between the two is the `+ x`.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Block(nn.Module):
    """Two 3×3 convs with BatchNorm; with `residual`, the input is added before the last ReLU."""

    def __init__(self, in_channels: int, channels: int, stride: int, residual: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.residual = residual
        self.stride = stride
        self.extra_channels = channels - in_channels

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        """Option A: subsample by the stride and pad the new channels with zeros."""
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        if self.extra_channels:
            half = self.extra_channels // 2
            x = F.pad(x, (0, 0, 0, 0, half, self.extra_channels - half))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + self.shortcut(x)
        return F.relu(out)


class CifarNet(nn.Module):
    """Stem conv, three stages of `blocks` blocks, global average pool, Linear."""

    def __init__(self, in_channels: int, num_classes: int, *, blocks: int, width: int,
                 residual: bool) -> None:
        super().__init__()
        widths = (width, 2 * width, 4 * width)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU())
        stages, channels = [], width
        for i, w in enumerate(widths):
            stage = []
            for j in range(blocks):
                stage.append(Block(channels, w, 2 if i > 0 and j == 0 else 1, residual))
                channels = w
            stages.append(nn.Sequential(*stage))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flatten(self.pool(self.stages(self.stem(x)))))


#: n = 4 blocks per stage: 6·4 + 2 = 26 weighted layers (25 convs and the Linear).
DEPTH_BLOCKS = 4
#: Half the paper's widths (16, 32, 64), so a CPU trains an epoch of mnist-mini in seconds.
WIDTH = 8


def builder(residual: bool):
    """A zoo builder of the 26-layer network (any input size: it ends in a global pool)."""

    def build(in_channels: int, height: int, width: int, num_classes: int,
              batchnorm: bool = True) -> CifarNet:
        return CifarNet(in_channels, num_classes, blocks=DEPTH_BLOCKS, width=WIDTH,
                        residual=residual)

    return build
