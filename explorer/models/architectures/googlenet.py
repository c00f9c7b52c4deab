"""GoogLeNet / Inception v1 (Szegedy et al., 2014) for small images, from torchvision's blocks.

The ImageNet network is torchvision's `googlenet`; this one keeps its nine Inception blocks
(torchvision's `Inception` class, BatchNorm included) with half the channels and a small stem.
"""

from __future__ import annotations

from torch import nn
from torchvision.models.googlenet import BasicConv2d, Inception

# torchvision's Inception arguments for 3a … 5b: in, 1×1, 3×3 reduce, 3×3, 5×5 reduce, 5×5, pool.
BLOCKS = {
    "3a": (192, 64, 96, 128, 16, 32, 32),
    "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64),
    "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64),
    "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128),
    "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}


def _inception(name: str, divisor: int) -> Inception:
    return Inception(*(c // divisor for c in BLOCKS[name]))


class SmallGoogLeNet(nn.Module):
    """3×3 stem, max-pool, Inception 3a–3b, pool, 4a–4e, pool, 5a–5b, global average pool."""

    def __init__(self, in_channels: int, num_classes: int, divisor: int = 2) -> None:
        super().__init__()
        self.stem = BasicConv2d(in_channels, 192 // divisor, kernel_size=3, padding=1)
        self.pool1 = nn.MaxPool2d(2, ceil_mode=True)
        self.stage3 = nn.Sequential(_inception("3a", divisor), _inception("3b", divisor))
        self.pool2 = nn.MaxPool2d(3, stride=2, padding=1)
        self.stage4 = nn.Sequential(*(_inception(n, divisor) for n in ("4a", "4b", "4c", "4d",
                                                                       "4e")))
        self.pool3 = nn.MaxPool2d(3, stride=2, padding=1)
        self.stage5 = nn.Sequential(_inception("5a", divisor), _inception("5b", divisor))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(1024 // divisor, num_classes)

    def forward(self, x):
        x = self.pool1(self.stem(x))
        x = self.pool3(self.stage4(self.pool2(self.stage3(x))))
        x = self.flatten(self.avgpool(self.stage5(x)))
        return self.fc(self.dropout(x))


def small_googlenet(in_channels: int, height: int, width: int, num_classes: int,
                    batchnorm: bool = False) -> SmallGoogLeNet:
    """GoogLeNet for 28–32 pixel images (BatchNorm is always on, as in torchvision)."""
    return SmallGoogLeNet(in_channels, num_classes)
