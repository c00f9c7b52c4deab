"""The course's facts about the classic architectures, computed rather than typed: the MLP
against LeNet-5, VGG's stacked 3×3 convs, the bottleneck's multiply-adds, 1×1 conv = Linear,
and depth against size (VGG-19 vs ResNet-101). Everything builds on the meta device.
`sentence` says each one in the session's language; `for_family` picks those that belong
next to a network of the zoo. The one number typed in is the course slide's own, quoted as
the slide prints it and set beside what PyTorch counts."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum

import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from explorer.i18n import _
from explorer.models import zoo
from explorer.models.layer_table import weight_memory_mb
from explorer.models.modules import parameter_count

#: The MLP's parameter count as the course's slide prints it (a quote, not a computation).
SLIDE_MLP_PARAMS = "390K"


class Fact(StrEnum):
    """The course's facts, in the order the "All the course's numbers" tab lists them."""

    MLP = "mlp"
    VGG = "vgg"
    ONE_BY_ONE = "1x1"
    BOTTLENECK = "bottleneck"
    DEEP = "deep"


#: Which facts belong next to a network of each zoo family.
FAMILY_FACTS: dict[str, tuple[Fact, ...]] = {
    "mlp": (Fact.MLP,), "lenet": (Fact.MLP,), "vgg": (Fact.VGG, Fact.DEEP),
    "nin": (Fact.ONE_BY_ONE,), "googlenet": (Fact.ONE_BY_ONE,),
    "resnet": (Fact.BOTTLENECK, Fact.DEEP), "densenet": (Fact.ONE_BY_ONE,), "alexnet": (),
}


@dataclass(frozen=True)
class MlpFact:
    mlp_params: int
    mlp_mb: float
    lenet_params: int
    widths: tuple[int, ...]
    mlp_weights: int  # the Linear layers' weight matrices
    mlp_biases: int


def mlp_vs_lenet() -> MlpFact:
    """The course's MLP on 28×28 digits against LeNet-5 on the same input."""
    with torch.device("meta"):
        mlp = zoo.build_model("mlp", variant="mnist")
        lenet = zoo.build_model("lenet5", variant="mnist")
    linears = [m for m in mlp.modules() if isinstance(m, nn.Linear)]
    widths = (linears[0].in_features, *(m.out_features for m in linears))
    params = parameter_count(mlp)
    weights = sum(m.weight.numel() for m in linears)
    return MlpFact(params, weight_memory_mb(params), parameter_count(lenet), widths, weights,
                   params - weights)


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
        stack = nn.Sequential(*(nn.Conv2d(channels, channels, 3, bias=False) for _i in range(3)))
    field = 1 + sum(m.kernel_size[0] - 1 for m in stack)
    return StackFact(channels, parameter_count(big), parameter_count(stack), field)


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
        return (parameter_count(torchvision.models.vgg19(weights=None)),
                parameter_count(torchvision.models.resnet101(weights=None)))


@functools.cache
def computed() -> dict[Fact, object]:
    """Every fact's numbers, computed once per process (they never change)."""
    return {Fact.MLP: mlp_vs_lenet(), Fact.VGG: vgg_stacked_convs(64),
            Fact.BOTTLENECK: bottleneck_macs(), Fact.ONE_BY_ONE: one_by_one_is_linear(),
            Fact.DEEP: vgg19_vs_resnet101()}


def sentence(fact: Fact) -> str:
    """The fact in one Markdown sentence, in the session's language."""
    f = computed()[fact]
    if fact is Fact.MLP:
        return _("The course's MLP {widths} has **{mlp:,}** parameters by PyTorch's count "
                 "({weights:,} weights and {biases:,} biases, **{mb:.1f} MB** at fp32; the "
                 "course's slide prints “{slide}”), against **{lenet:,}** for LeNet-5 on the "
                 "same 28×28 digits.").format(widths=list(f.widths), mlp=f.mlp_params,
                                              weights=f.mlp_weights, biases=f.mlp_biases,
                                              mb=f.mlp_mb, slide=SLIDE_MLP_PARAMS,
                                              lenet=f.lenet_params)
    if fact is Fact.VGG:
        return _("One 7×7 conv on C = {c} channels needs 49C² = **{big:,}** weights; three "
                 "stacked 3×3 convs see the same {rf}×{rf} window with 27C² = **{stacked:,}** "
                 "(and two more ReLUs).").format(c=f.channels, big=f.big_kernel_params,
                                                 rf=f.receptive_field, stacked=f.stacked_params)
    if fact is Fact.BOTTLENECK:
        return _("On {c} channels a direct 3×3 conv costs **{direct:,}** multiply-adds per "
                 "position; the bottleneck 1×1 ({c}→{reduced}), 3×3, 1×1 (→{c}) costs "
                 "**{bottleneck:,}**.").format(c=f.channels, direct=f.direct_macs,
                                               reduced=f.reduced, bottleneck=f.bottleneck_macs)
    if fact is Fact.ONE_BY_ONE:
        return _("A 1×1 conv is a Linear applied to every pixel: on a {cin}×{h}×{w} input, "
                 "`Conv2d({cin}, {cout}, 1)` and `Linear({cin}, {cout})` with the same weights "
                 "differ by at most **{diff:.1e}**.").format(
            cin=f.in_channels, h=f.height, w=f.width, cout=f.out_channels,
            diff=f.max_difference)
    vgg19, resnet101 = f
    return _("Depth is not size: VGG-19 has **{vgg:,}** parameters, ResNet-101 only "
             "**{resnet:,}** (torchvision builders, no weights downloaded).").format(
        vgg=vgg19, resnet=resnet101)


def for_family(family: str) -> tuple[Fact, ...]:
    """The facts shown next to a network of `family` (none for an unknown one)."""
    return FAMILY_FACTS.get(family, ())
