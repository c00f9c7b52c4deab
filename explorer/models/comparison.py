"""Zoo networks side by side at the course's configuration: parameters, multiply-adds, depth
and receptive field, each computed from the network (built on PyTorch's meta device), beside
the figure its paper publishes (quoted, as the paper prints it).

The course's configuration of a network is the one its chapter uses: LeNet-5 and the MLP on
28×28 digits, every ImageNet-era network at 224×224 with 1000 classes (the torchvision
architecture: VGG-16's 138,357,544 parameters are that one's).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from explorer import feature_maps as fm
from explorer.models import zoo
from explorer.models.layer_table import LayerTable

#: Networks the course reads on 28×28 digits; every other one at ImageNet's size.
DIGIT_NETWORKS = ("mlp", "lenet5", "lenet5-classic")

#: What each paper prints, as it prints it: parameters, multiply-adds ("FLOPs" in He et al.,
#: who count a multiply-add as one), and where. Quotes, not computations.
PUBLISHED: dict[str, tuple[str, str, str]] = {
    "lenet5": ("60K", "", "LeCun et al. 1998"),
    "lenet5-classic": ("60K", "", "LeCun et al. 1998"),
    "alexnet": ("60M", "", "Krizhevsky et al. 2012, abstract"),
    "vgg11": ("133M", "", "Simonyan & Zisserman 2014, Table 2"),
    "vgg13": ("133M", "", "Simonyan & Zisserman 2014, Table 2"),
    "vgg16": ("138M", "15.3G", "Simonyan & Zisserman 2014, Table 2; He et al. 2015, §4.1"),
    "vgg19": ("144M", "19.6G", "Simonyan & Zisserman 2014, Table 2; He et al. 2015, §3.3"),
    "googlenet": ("6.8M", "1.5G", "Szegedy et al. 2014, Table 1"),
    "resnet18": ("", "1.8G", "He et al. 2015, Table 1"),
    "resnet34": ("", "3.6G", "He et al. 2015, Table 1"),
    "resnet50": ("", "3.8G", "He et al. 2015, Table 1"),
}

#: Three networks to start from: the course's first CNN, its deep plain one, its residual one.
DEFAULT = ("lenet5", "vgg16", "resnet18")


def course_variant(key: str) -> str:
    """The configuration the course uses for network `key`."""
    return "mnist" if key in DIGIT_NETWORKS else "imagenet"


@dataclass(frozen=True)
class Row:
    """One network's numbers at the course's configuration."""

    key: str
    variant: str
    params: int
    macs: int
    depth: int  # conv and Linear layers on the main path (shortcut projections not counted)
    receptive_field: int | None  # pixels, of the last spatial layer's cells
    published_params: str  # "" where the paper prints none
    published_macs: str
    source: str


def depth(table: LayerTable) -> int:
    """Weighted layers the way papers count them: convs and Linears, without the shortcut's
    projections (ResNet-18: 17 convs and a Linear)."""
    shortcut = {leaf for block in table.blocks for leaf in block.shortcut}
    return sum(r.type in ("Conv2d", "Linear") for r in table.rows if r.name not in shortcut)


def receptive_field(model: nn.Module, input_shape: tuple[int, int, int]) -> int | None:
    """The receptive field, in input pixels, of one cell of the last layer with feature maps
    before any global pooling (a meta-device forward pass: shapes only)."""
    capture = fm.capture(model, torch.zeros((1, *input_shape), device="meta"))
    fields = [r.rf for r in capture.records if r.is_spatial and r.rf is not None
              and r.kind in ("conv", "pooling", "block")
              and not r.type_name.startswith("Adaptive")]
    return round(max(fields[-1].size)) if fields else None


def row(key: str, table: LayerTable, model: nn.Module) -> Row:
    """`key`'s row from its layer table and its (meta) network at the course's configuration."""
    variant = course_variant(key)
    published = PUBLISHED.get(key, ("", "", ""))
    return Row(key, variant, table.total_params, table.total_macs, depth(table),
               receptive_field(model, zoo.VARIANTS[variant].input_shape), *published)
