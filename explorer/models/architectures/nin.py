"""Network in Network (Lin, Chen & Yan, 2013): conv blocks followed by two 1×1 convs, no Linear.

The last block outputs one channel per class and global average pooling turns each channel
into a logit.
"""

from __future__ import annotations

from torch import nn

from explorer.models.architectures.common import conv_block


def nin_block(in_channels: int, out_channels: int, kernel: int, stride: int, padding: int,
              batchnorm: bool = False) -> nn.Sequential:
    """One k×k conv and two 1×1 convs (per-pixel MLPs), each followed by ReLU."""
    return nn.Sequential(
        *conv_block(in_channels, out_channels, kernel, stride=stride, padding=padding,
                    batchnorm=batchnorm),
        *conv_block(out_channels, out_channels, 1, batchnorm=batchnorm),
        *conv_block(out_channels, out_channels, 1, batchnorm=batchnorm),
    )


class NiN(nn.Module):
    """Four NiN blocks with max-pools between them, then global average pooling."""

    def __init__(self, in_channels: int, num_classes: int, *, widths: tuple[int, int, int],
                 stem: tuple[int, int, int], batchnorm: bool = False) -> None:
        super().__init__()
        kernel, stride, padding = stem
        w1, w2, w3 = widths
        self.features = nn.Sequential(
            nin_block(in_channels, w1, kernel, stride, padding, batchnorm),
            nn.MaxPool2d(3, stride=2),
            nin_block(w1, w2, 5, 1, 2, batchnorm),
            nn.MaxPool2d(3, stride=2),
            nin_block(w2, w3, 3, 1, 1, batchnorm),
            nn.MaxPool2d(3, stride=2),
            nn.Dropout(0.5),
            nin_block(w3, num_classes, 3, 1, 1, batchnorm),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()

    def forward(self, x):
        return self.flatten(self.pool(self.features(x)))


def nin_imagenet(in_channels: int, height: int, width: int, num_classes: int,
                 batchnorm: bool = False) -> NiN:
    """The d2l NiN for 224×224 inputs: an 11×11 stride-4 stem, widths 96, 256, 384."""
    return NiN(in_channels, num_classes, widths=(96, 256, 384), stem=(11, 4, 0),
               batchnorm=batchnorm)


def nin_small(in_channels: int, height: int, width: int, num_classes: int,
              batchnorm: bool = False) -> NiN:
    """NiN for 28–32 pixel images: a 3×3 stride-1 stem and half the widths."""
    return NiN(in_channels, num_classes, widths=(48, 128, 192), stem=(3, 1, 1),
               batchnorm=batchnorm)
