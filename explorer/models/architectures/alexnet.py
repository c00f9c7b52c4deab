"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012) scaled down for 28–32 pixel images."""

from __future__ import annotations

from torch import nn

from explorer.models.architectures.common import conv_block, flat_features, linear_block


class SmallAlexNet(nn.Module):
    """Five ReLU convs (3×3, stride 1) with three max-pools, then a dropout MLP of width 1024."""

    def __init__(self, in_channels: int, height: int, width: int, num_classes: int) -> None:
        super().__init__()

        def features() -> nn.Sequential:
            return nn.Sequential(
                *conv_block(in_channels, 64, 3, padding=1), nn.MaxPool2d(2),
                *conv_block(64, 192, 3, padding=1), nn.MaxPool2d(2),
                *conv_block(192, 384, 3, padding=1),
                *conv_block(384, 256, 3, padding=1),
                *conv_block(256, 256, 3, padding=1), nn.MaxPool2d(2),
            )

        flat = flat_features(features, in_channels, height, width)
        self.features = features()
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), *linear_block(flat, 1024, dropout=0.5),
            *linear_block(1024, 1024), nn.Linear(1024, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))


def small_alexnet(in_channels: int, height: int, width: int, num_classes: int,
                  batchnorm: bool = False) -> SmallAlexNet:
    """AlexNet for small images (AlexNet has no BatchNorm form; `batchnorm` is ignored)."""
    return SmallAlexNet(in_channels, height, width, num_classes)
