"""ResNet (He et al., 2015) for small images, written with the course's `ResBlk`.

The ImageNet networks are torchvision's resnet18/34/50; these keep the same stage layout
([2,2,2,2], [3,4,6,3], [3,4,6,3] with bottlenecks) on half the widths and a CIFAR-style stem.
"""

from __future__ import annotations

from torch import nn
from torch.nn import functional as F


def _extra(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """The shortcut: identity when shapes match, else a 1×1 conv + BatchNorm (the course's
    `extra`) that gives x the block's channels and stride."""
    if in_channels == out_channels and stride == 1:
        return nn.Identity()
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class ResBlk(nn.Module):
    """Basic block: 3×3 conv, BN, ReLU, 3×3 conv, BN, plus the shortcut, then ReLU."""

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.extra = _extra(in_channels, channels, stride)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.extra(x))


class Bottleneck(nn.Module):
    """1×1 conv (reduce), 3×3 conv, 1×1 conv (expand ×4), each with BN, plus the shortcut."""

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, channels, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = nn.Conv2d(channels, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.extra = _extra(in_channels, out_channels, stride)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.extra(x))


class SmallResNet(nn.Module):
    """3×3 stem without max-pool, four stages (the last three halve the size), global pool."""

    def __init__(self, block: type[ResBlk | Bottleneck], layers: tuple[int, int, int, int],
                 in_channels: int, num_classes: int, base: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, base, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        channels = base
        stages = []
        for i, blocks in enumerate(layers):
            width = base * 2**i
            stage = []
            for j in range(blocks):
                stage.append(block(channels, width, stride=2 if i and not j else 1))
                channels = width * block.expansion
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.flatten(self.avgpool(x)))


def small_resnet(depth: int):
    """Builder for the small ResNet-18, -34 or -50."""
    block, layers = {18: (ResBlk, (2, 2, 2, 2)), 34: (ResBlk, (3, 4, 6, 3)),
                     50: (Bottleneck, (3, 4, 6, 3))}[depth]

    def build(in_channels: int, height: int, width: int, num_classes: int,
              batchnorm: bool = False) -> SmallResNet:
        return SmallResNet(block, layers, in_channels, num_classes)

    return build
