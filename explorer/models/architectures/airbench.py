"""A fast CIFAR-10 network after Keller Jordan's airbench94 (2024): 94% in seconds on one GPU.

The recipe is https://github.com/KellerJordan/airbench (airbench94.py, "94% on CIFAR-10 in
3.83 seconds on an A100"); this is the project's own code of its network: a 2×2 conv on
pixel patches (airbench's whitening layer: 2·3·2² = 24 channels), GELU, then three groups of
[3×3 conv, 2×2 max-pool, BatchNorm, GELU, 3×3 conv, BatchNorm, GELU] on widths 64, 256 and
256, a global max-pool, a Linear without bias and a fixed ×1/9 on the logits. Its convs start
as identities on their first channels (`dirac_`), and BatchNorm keeps its scale fixed at 1
(only the shift learns), as in the recipe. No residual connections: it is a short, wide VGG.

Its first layer is set from the data, as in the recipe (`Airbench.init_from_data`, called by
the engine before the first step): the eigenvectors of the training images' 2×2 patch
covariance, each scaled by 1/sqrt(its eigenvalue + ε) and used twice (+v and −v, so that the
GELU after it passes both signs), frozen from then on; only its bias learns. Then the layer's
outputs over the training patches are decorrelated with unit variance (ZCA-like whitening,
as in Krizhevsky's and Coates & Ng's early CIFAR work that airbench revives).

What differs from airbench94: the global pool adapts to any input side (airbench's
MaxPool2d(3) sees a 3×3 map at 32×32: the same). Of the training tricks outside the
network, the engine follows biases at 64× the learning rate and test-time flips
(`TrainConfig.bias_lr_scale`, `test_flips`), not the lookahead EMA;
`explorer.training.presets.AIRBENCH` holds the settings that the engine can follow.
"""

from __future__ import annotations

import torch
from torch import nn

WIDTHS = (64, 256, 256)
WHITEN_KERNEL = 2
SCALE = 1 / 9  # airbench's logit scaling factor
WHITEN_EPS = 5e-4  # added to each eigenvalue: directions of almost no variance are not blown up
WHITEN_IMAGES = 5000  # the training images whose patches set the first layer
BN_MOMENTUM = 0.4  # torch's convention; airbench writes 0.6 for the running stats' keep


def _conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
    with torch.no_grad():
        nn.init.dirac_(conv.weight[:in_channels])  # the first channels start as identities
    return conv


def _norm(channels: int) -> nn.BatchNorm2d:
    norm = nn.BatchNorm2d(channels, eps=1e-12, momentum=BN_MOMENTUM)
    norm.weight.requires_grad_(False)
    return norm


class ConvGroup(nn.Sequential):
    """conv → max-pool → BN → GELU → conv → BN → GELU (one airbench block, halving the side)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(_conv(in_channels, out_channels), nn.MaxPool2d(2), _norm(out_channels),
                         nn.GELU(), _conv(out_channels, out_channels), _norm(out_channels),
                         nn.GELU())


class Scale(nn.Module):
    """Multiplies by a fixed factor (airbench's `Mul`)."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


def patches(images: torch.Tensor, size: int) -> torch.Tensor:
    """Every size×size patch of every image, flattened: [N · positions, C · size²]."""
    c = images.shape[1]
    windows = images.float().unfold(2, size, 1).unfold(3, size, 1)  # N, C, H', W', k, k
    return windows.permute(0, 2, 3, 1, 4, 5).reshape(-1, c * size * size)


def whitening_weights(images: torch.Tensor, size: int = WHITEN_KERNEL,
                      eps: float = WHITEN_EPS) -> torch.Tensor:
    """Conv weights [2·C·size², C, size, size] that whiten the images' patches: eigenvectors
    of their (uncentred) covariance, largest first, over sqrt(eigenvalue + eps), then negated."""
    flat = patches(images, size).double()
    covariance = flat.T @ flat / len(flat)
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)  # ascending
    order = eigenvalues.argsort(descending=True)
    scaled = eigenvectors[:, order].T / (eigenvalues[order, None] + eps).sqrt()
    kernels = scaled.reshape(-1, images.shape[1], size, size).float()
    return torch.cat([kernels, -kernels])


class Airbench(nn.Sequential):
    """The network; `init_from_data` sets and freezes its whitening layer."""

    def init_from_data(self, images: torch.Tensor) -> None:
        """Set the first layer from normalised training images [N, C, H, W] (a few thousand
        are plenty: 2×2 patches of 32×32 images give 961 each), and freeze its weights."""
        first = self[0]
        with torch.no_grad():
            first.weight.copy_(whitening_weights(images[:WHITEN_IMAGES].to(first.weight.device),
                                                 first.kernel_size[0]))
        first.weight.requires_grad_(False)


def airbench(in_channels: int, height: int, width: int, num_classes: int,
             batchnorm: bool = True) -> Airbench:
    """The network for any input of at least 16×16 (BatchNorm is always on)."""
    whiten = 2 * in_channels * WHITEN_KERNEL ** 2
    layers: list[nn.Module] = [nn.Conv2d(in_channels, whiten, WHITEN_KERNEL), nn.GELU()]
    channels = whiten
    for w in WIDTHS:
        layers.append(ConvGroup(channels, w))
        channels = w
    layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes,
                                                                  bias=False), Scale(SCALE)]
    return Airbench(*layers)
