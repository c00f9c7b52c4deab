"""Helpers shared by the small architectures."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

Builder = Callable[[int, int, int, int, bool], nn.Module]


def flat_features(make_features: Callable[[], nn.Module], in_channels: int, height: int,
                  width: int) -> int:
    """How many numbers the feature extractor produces per image: the next Linear's in_features.

    Builds a throwaway copy on the meta device and runs a dummy input through it, so it costs
    nothing even for big inputs. Raises RuntimeError when the input is too small.
    """
    with torch.device("meta"), torch.no_grad():  # eval: BatchNorm refuses a 1×1 batch of one
        out = make_features().eval()(torch.zeros(1, in_channels, height, width))
    return out[0].numel()


def conv_block(
    in_channels: int, out_channels: int, kernel: int, *, stride: int = 1, padding: int = 0,
    batchnorm: bool = False, activation: type[nn.Module] = nn.ReLU,
) -> list[nn.Module]:
    """Conv2d [+ BatchNorm2d] + activation, as a list to splice into a Sequential."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=padding)
    ]
    if batchnorm:
        layers.append(nn.BatchNorm2d(out_channels))
    layers.append(activation())
    return layers


def linear_block(in_features: int, out_features: int, *, batchnorm: bool = False,
                 activation: type[nn.Module] = nn.ReLU, dropout: float = 0.0) -> list[nn.Module]:
    """Linear [+ BatchNorm1d] + activation [+ Dropout]."""
    layers: list[nn.Module] = [nn.Linear(in_features, out_features)]
    if batchnorm:
        layers.append(nn.BatchNorm1d(out_features))
    layers.append(activation())
    if dropout:
        layers.append(nn.Dropout(dropout))
    return layers
