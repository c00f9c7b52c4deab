"""The course's facts about the classic architectures, computed rather than typed: the MLP
against LeNet-5, VGG's stacked 3×3 convs, the bottleneck's multiply-adds, 1×1 conv = Linear,
and depth against size (VGG-19 vs ResNet-101). Everything builds on the meta device."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from explorer.models import zoo
from explorer.models.layer_table import weight_memory_mb


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@dataclass(frozen=True)
class MlpFact:
    mlp_params: int
    mlp_mb: float
    lenet_params: int
    widths: tuple[int, ...]


def mlp_vs_lenet() -> MlpFact:
    """The course's MLP on 28×28 digits against LeNet-5 on the same input."""
    with torch.device("meta"):
        mlp = zoo.build_model("mlp", variant="mnist")
        lenet = zoo.build_model("lenet5", variant="mnist")
    linears = [m for m in mlp.modules() if isinstance(m, nn.Linear)]
    widths = (linears[0].in_features, *(m.out_features for m in linears))
    params = count_params(mlp)
    return MlpFact(params, weight_memory_mb(params), count_params(lenet), widths)


@dataclass(frozen=True)
class StackFact:
    channels: int
    big_kernel_params: int
    stacked_params: int
    receptive_field: int


def vgg_stacked_convs(channels: int = 64) -> StackFact:
    """One 7×7 conv against three 3×3 convs (same 7×7 receptive field), C→C, no bias."""
    with torch.device("meta"):
        big = nn.Conv2d(channels, channels, 7, bias=False)
        stack = nn.Sequential(*(nn.Conv2d(channels, channels, 3, bias=False) for _ in range(3)))
    field = 1 + sum(m.kernel_size[0] - 1 for m in stack)
    return StackFact(channels, count_params(big), count_params(stack), field)


def _macs(module: nn.Module, shape: tuple[int, ...]) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(torch.zeros(shape, device="meta"))
    return counter.get_total_flops() // 2


@dataclass(frozen=True)
class BottleneckFact:
    channels: int
    reduced: int
    direct_macs: int  # per output position
    bottleneck_macs: int


def bottleneck_macs(channels: int = 256, reduced: int = 64, size: int = 8) -> BottleneckFact:
    """Multiply-adds per position: a direct 3×3 conv on `channels` against 1×1-3×3-1×1."""
    with torch.device("meta"):
        direct = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        block = nn.Sequential(nn.Conv2d(channels, reduced, 1, bias=False),
                              nn.Conv2d(reduced, reduced, 3, padding=1, bias=False),
                              nn.Conv2d(reduced, channels, 1, bias=False))
    shape = (1, channels, size, size)
    positions = size * size
    return BottleneckFact(channels, reduced, _macs(direct, shape) // positions,
                          _macs(block, shape) // positions)


@dataclass(frozen=True)
class OneByOneFact:
    in_channels: int
    out_channels: int
    height: int
    width: int
    max_difference: float


def one_by_one_is_linear(in_channels: int = 8, out_channels: int = 4, size: int = 5,
                         seed: int = 0) -> OneByOneFact:
    """A 1×1 conv equals the same weight matrix applied as a Linear to every pixel."""
    generator = torch.Generator().manual_seed(seed)
    conv = nn.Conv2d(in_channels, out_channels, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator))
        conv.bias.copy_(torch.randn(conv.bias.shape, generator=generator))
        linear = nn.Linear(in_channels, out_channels)
        linear.weight.copy_(conv.weight[:, :, 0, 0])
        linear.bias.copy_(conv.bias)
        x = torch.randn(1, in_channels, size, size, generator=generator)
        per_pixel = linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        diff = float((conv(x) - per_pixel).abs().max())
    return OneByOneFact(in_channels, out_channels, size, size, diff)


def vgg19_vs_resnet101() -> tuple[int, int]:
    """Parameter counts of torchvision's VGG-19 and ResNet-101 (built on meta, no weights)."""
    with torch.device("meta"):
        return (count_params(torchvision.models.vgg19(weights=None)),
                count_params(torchvision.models.resnet101(weights=None)))
