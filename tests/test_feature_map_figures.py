"""Pictures of feature maps (explorer.figures.feature_maps): sizes and pixels."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import nn

from explorer import feature_maps as fm
from explorer.figures import feature_maps as figs


def test_channel_grid_places_tiles_in_order():
    maps = torch.zeros(3, 4, 4)
    maps[1] = 1.0
    maps[1, 0, 0] = 0.0  # channel 1: one dark pixel, the rest bright
    grid = figs.channel_grid(maps, order=[1, 0, 2], cmap="Gray", tile=8, gap=2, columns=3)
    assert grid.shape == (8, 3 * 8 + 2 * 2, 3)
    assert grid[0, 0].tolist() == [0, 0, 0] and grid[7, 7].tolist() == [255, 255, 255]
    assert grid[4, 8].tolist() == [255, 255, 255]  # the gap
    shared = figs.channel_grid(maps, cmap="Gray", tile=4, gap=0, columns=3, per_channel=False)
    assert shared[1, 5].tolist() == [255, 255, 255] and shared[0, 0].tolist() == [0, 0, 0]


def test_first_layer_filters_rgb_in_colour():
    conv = nn.Conv2d(3, 2, 3)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0] = 1.0  # filter 0: pure red
    name, weight = fm.first_layer_weights(nn.Sequential(conv, nn.ReLU()))
    assert name == "0" and weight.shape == (2, 3, 3, 3)
    grid = figs.filter_grid(weight, tile=3, gap=1)
    assert grid[1, 1].tolist() == [255, 128, 128]
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 5))
    assert fm.first_layer_weights(mlp, (1, 28, 28))[1].shape == (5, 1, 28, 28)


def test_a_single_channel_grid_is_the_tile_itself():
    grid = figs.channel_grid(torch.arange(16.0).reshape(1, 4, 4), cmap="Gray", tile=8)
    assert grid.shape == (8, 8, 3) and grid[0, 0].tolist() == [0, 0, 0]
    assert grid[7, 7].tolist() == [255, 255, 255]


def test_channel_grid_default_layout_is_near_square():
    grid = figs.channel_grid(torch.rand(10, 7, 7), tile=14, gap=2)
    assert grid.shape == (3 * 14 + 2 * 2, 4 * 14 + 3 * 2, 3)  # 4 columns, 3 rows
    assert grid[-1, -1].tolist() == [255, 255, 255]  # the empty 12th cell stays white


def test_filter_grid_rows_of_sixteen_and_gray_kernels_through_the_colour_map():
    weight = torch.zeros(20, 1, 3, 3)
    weight[:, 0, 1, 1] = 1.0
    grid = figs.filter_grid(weight, tile=3, gap=1, cmap="Gray")
    assert grid.shape == (2 * 3 + 1, 16 * 3 + 15 * 1, 3)
    assert grid[1, 1].tolist() == [255] * 3 and grid[0, 0].tolist() == [128] * 3


def test_colour_maps_and_unit_scaling():
    for name in figs.COLORMAPS:
        lut = figs.colormap_lut(name)
        assert lut.shape == (256, 3) and lut.dtype == np.uint8
    assert figs.colormap_lut("Gray")[200].tolist() == [200] * 3
    maps = torch.tensor([[[0.0, 2.0]], [[10.0, 20.0]]])
    torch.testing.assert_close(figs.scale_to_unit(maps), torch.tensor([[[0.0, 1.0]],
                                                                      [[0.0, 1.0]]]))
    torch.testing.assert_close(figs.scale_to_unit(maps, per_channel=False),
                               torch.tensor([[[0.0, 0.1]], [[0.5, 1.0]]]))
    rgb = figs.colourise(torch.tensor([[0.0, 1.0]]), "Gray")
    assert rgb.shape == (1, 2, 3) and rgb[0, 1].tolist() == [255] * 3


def test_enlarge_keeps_pixels_sharp_and_draw_box_clips():
    big = figs.enlarge(torch.tensor([[0.0, 1.0], [1.0, 0.0]]), "Gray", size=100)
    assert big.size == (100, 100)
    assert np.asarray(big)[10, 10].tolist() == [0] * 3
    assert np.asarray(big)[10, 60].tolist() == [255] * 3
    boxed = figs.draw_box(Image.new("RGB", (10, 10), "white"), (-3, 2, 4, 20), scale=2)
    pixels = np.asarray(boxed)
    assert boxed.size == (20, 20)
    assert pixels[0, 4].tolist() == [255, 40, 40]  # top edge clipped to row 0
    assert pixels[0, 19].tolist() == [255, 40, 40]  # right edge clipped to the last column
    assert pixels[15, 10].tolist() == [255, 255, 255]  # below the box
