"""The course's multilayer perceptron: [784, 256, 256, 256, 256, 10] on a flattened image."""

from __future__ import annotations

from torch import nn

from explorer.models.architectures.common import linear_block

HIDDEN = (256, 256, 256, 256)


class MLP(nn.Module):
    """Flatten, four ReLU hidden layers of 256, a Linear to the classes."""

    def __init__(self, in_features: int, num_classes: int, hidden: tuple[int, ...] = HIDDEN,
                 batchnorm: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for size in hidden:
            layers += linear_block(width, size, batchnorm=batchnorm)
            width = size
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def mlp(in_channels: int, height: int, width: int, num_classes: int,
        batchnorm: bool = False) -> MLP:
    """The MLP sized to the input: in_features = channels × height × width."""
    return MLP(in_channels * height * width, num_classes, batchnorm=batchnorm)
