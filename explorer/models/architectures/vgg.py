"""VGG (Simonyan & Zisserman, 2014): configurations A–E of the paper's Table 1.

The ImageNet networks reuse torchvision's `VGG` class, so A, B, D and E are torchvision's
vgg11/13/16/19 and C (VGG-16 with three 1×1 convs) has the same layout and layer names.
"""

from __future__ import annotations

from torch import nn
from torchvision.models.vgg import VGG

from explorer.models.architectures.common import conv_block, flat_features, linear_block

# Per stage: the conv kernel sizes, in order. The stages' widths are 64, 128, 256, 512, 512.
CONFIGS: dict[str, tuple[tuple[int, ...], ...]] = {
    "A": ((3,), (3,), (3, 3), (3, 3), (3, 3)),
    "B": ((3, 3), (3, 3), (3, 3), (3, 3), (3, 3)),
    "C": ((3, 3), (3, 3), (3, 3, 1), (3, 3, 1), (3, 3, 1)),
    "D": ((3, 3), (3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3)),
    "E": ((3, 3), (3, 3), (3, 3, 3, 3), (3, 3, 3, 3), (3, 3, 3, 3)),
}
WIDTHS = (64, 128, 256, 512, 512)
SMALL_DIVISOR = 4
SMALL_HIDDEN = 256


def make_features(config: str, in_channels: int, *, widths: tuple[int, ...] = WIDTHS,
                  pools: int = 5, batchnorm: bool = False) -> nn.Sequential:
    """The conv stack of a configuration: each stage's convs, then a 2×2 max-pool.

    Only the first `pools` stages end with a pool (the small networks drop the last one).
    """
    layers: list[nn.Module] = []
    channels = in_channels
    for stage, (kernels, width) in enumerate(zip(CONFIGS[config], widths, strict=True)):
        for kernel in kernels:
            layers += conv_block(channels, width, kernel, padding=kernel // 2,
                                 batchnorm=batchnorm)
            channels = width
        if stage < pools:
            layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


def imagenet_vgg(config: str, num_classes: int, batchnorm: bool = False) -> VGG:
    """The paper's network in torchvision's layout (adaptive 7×7 pool, 4096-wide classifier)."""
    return VGG(make_features(config, 3, batchnorm=batchnorm), num_classes=num_classes,
               init_weights=True)


class SmallVGG(nn.Module):
    """The same configuration with a quarter of the channels and a 256-wide classifier."""

    def __init__(self, config: str, in_channels: int, height: int, width: int,
                 num_classes: int, batchnorm: bool = False) -> None:
        super().__init__()
        widths = tuple(w // SMALL_DIVISOR for w in WIDTHS)

        def features() -> nn.Sequential:
            return make_features(config, in_channels, widths=widths, pools=4,
                                 batchnorm=batchnorm)

        flat = flat_features(features, in_channels, height, width)
        self.features = features()
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(
            *linear_block(flat, SMALL_HIDDEN, dropout=0.5),
            *linear_block(SMALL_HIDDEN, SMALL_HIDDEN, dropout=0.5),
            nn.Linear(SMALL_HIDDEN, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))
