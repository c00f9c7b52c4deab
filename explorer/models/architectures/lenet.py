"""LeNet-5 (LeCun et al., 1998): two 5×5 convs with pooling, then three fully connected layers."""

from __future__ import annotations

from torch import nn

from explorer.models.architectures.common import conv_block, flat_features, linear_block


class LeNet5(nn.Module):
    """`features` (conv, pool, conv, pool), Flatten, `classifier` (120, 84, classes)."""

    def __init__(self, in_channels: int, height: int, width: int, num_classes: int, *,
                 classic: bool, batchnorm: bool = False) -> None:
        super().__init__()
        act = nn.Sigmoid if classic else nn.ReLU
        pool = nn.AvgPool2d if classic else nn.MaxPool2d

        def features() -> nn.Sequential:
            return nn.Sequential(
                *conv_block(in_channels, 6, 5, padding=2, batchnorm=batchnorm, activation=act),
                pool(2, 2),
                *conv_block(6, 16, 5, batchnorm=batchnorm, activation=act),
                pool(2, 2),
            )

        flat = flat_features(features, in_channels, height, width)
        self.features = features()
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(
            *linear_block(flat, 120, batchnorm=batchnorm, activation=act),
            *linear_block(120, 84, batchnorm=batchnorm, activation=act),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))


def lenet5(in_channels: int, height: int, width: int, num_classes: int,
           batchnorm: bool = False) -> LeNet5:
    """The modern LeNet-5: ReLU and max-pooling."""
    return LeNet5(in_channels, height, width, num_classes, classic=False, batchnorm=batchnorm)


def lenet5_classic(in_channels: int, height: int, width: int, num_classes: int,
                   batchnorm: bool = False) -> LeNet5:
    """The 1998 LeNet-5: sigmoid and average pooling."""
    return LeNet5(in_channels, height, width, num_classes, classic=True, batchnorm=batchnorm)
