"""DenseNet-121 (Huang et al., 2016) for small images, from torchvision's `DenseNet` class.

Same dense blocks (6, 12, 24, 16 layers) and transitions; growth rate 12 instead of 32 and a
3×3 stride-1 stem without the first max-pool, so 28–32 pixel images keep their detail.
"""

from __future__ import annotations

from torch import nn
from torchvision.models.densenet import DenseNet

GROWTH = 12


def small_densenet121(in_channels: int, height: int, width: int, num_classes: int,
                      batchnorm: bool = False) -> DenseNet:
    """DenseNet-121's block layout with growth rate 12 and a small-image stem."""
    model = DenseNet(growth_rate=GROWTH, block_config=(6, 12, 24, 16),
                     num_init_features=2 * GROWTH, num_classes=num_classes)
    model.features.conv0 = nn.Conv2d(in_channels, 2 * GROWTH, 3, padding=1, bias=False)
    nn.init.kaiming_normal_(model.features.conv0.weight)
    model.features.pool0 = nn.Identity()
    return model
