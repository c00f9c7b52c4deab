"""Pooling, strided conv, interpolation and activations: checked against direct computation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from PIL import Image

from explorer import sampling


def test_grey_tensor_shape_range_and_downscale():
    image = Image.new("RGB", (600, 300), (255, 0, 0))
    x = sampling.grey_tensor(image, max_side=256)
    assert x.shape == (1, 1, 128, 256) and x.dtype == torch.float32
    assert 0 <= float(x.min()) <= float(x.max()) <= 1


def test_four_by_four_max_and_average_by_hand():
    x = torch.tensor([[1.0, 2, 5, 0], [3, 4, 1, 1], [0, 0, 9, 8], [7, 1, 6, 2]])[None, None]
    maxed = sampling.pool_frame(x, sampling.pool_layer("maxpool", (4, 4), 2, 2, 0, False))
    assert maxed.out.tolist() == [[4, 5], [7, 9]]
    assert maxed.winners == [[(1, 1), (0, 2)], [(3, 0), (2, 2)]]
    assert maxed.windows[0][1] == [(0, 2), (0, 3), (1, 2), (1, 3)]
    averaged = sampling.pool_frame(x, sampling.pool_layer("avgpool", (4, 4), 2, 2, 0, False))
    assert averaged.out.tolist() == [[2.5, 1.75], [2.0, 6.25]] and averaged.winners is None


@pytest.mark.parametrize(("k", "s", "p", "ceil"),
                         [c for c in itertools.product((1, 2, 3, 4), (1, 2, 3), (0, 1, 2),
                                                       (False, True)) if c[2] <= c[0] // 2])
def test_average_is_window_sum_over_pytorchs_divisor(k, s, p, ceil):
    x = sampling.number_grid(6)
    layer = sampling.pool_layer("avgpool", (6, 6), k, s, p, ceil)
    frame = sampling.pool_frame(x, layer)
    for i, j in itertools.product(range(frame.out.shape[0]), range(frame.out.shape[1])):
        total = sum(float(frame.x[r, c]) for r, c in frame.windows[i][j])
        assert total / sampling.avg_divisor(layer, i, j) == pytest.approx(float(frame.out[i, j]))
    maxed = sampling.pool_frame(x, sampling.pool_layer("maxpool", (6, 6), k, s, p, ceil))
    for i, j in itertools.product(range(maxed.out.shape[0]), range(maxed.out.shape[1])):
        assert maxed.winners[i][j] in maxed.windows[i][j]
        assert max(float(maxed.x[r, c]) for r, c in maxed.windows[i][j]) == maxed.out[i, j]


def test_strided_conv_keeps_one_pixel_in_s_and_pooling_reads_all():
    x = torch.rand(1, 1, 12, 16)
    down = sampling.strided_vs_pool(x, 4)
    assert torch.equal(down.strided, x[:, :, ::4, ::4])
    assert down.strided.shape == down.maxpool.shape == down.avgpool.shape == (1, 1, 3, 4)
    assert down.strided_reads == pytest.approx(1 / 16) and down.pool_reads == 1.0
    assert sampling.read_fraction((7, 10), 2, 2) == pytest.approx(6 * 10 / 70)  # row 6 dropped


def test_shape_trace_is_the_course_trace():
    assert sampling.shape_trace() == [
        ("x", [1, 16, 14, 14]), ("nn.MaxPool2d(2, 2)(x)", [1, 16, 7, 7]),
        ("F.interpolate(·, scale_factor=2)", [1, 16, 14, 14]),
        ("F.interpolate(·, scale_factor=3)", [1, 16, 21, 21]),
    ]


@pytest.mark.parametrize("mode", sampling.UP_MODES)
def test_upsample_modes(mode):
    patch = torch.rand(1, 1, 5, 5)
    up = sampling.upsample(patch, 3, mode)
    assert up.shape == (1, 1, 15, 15)
    if mode == "nearest":
        assert torch.equal(up, patch.repeat_interleave(3, 2).repeat_interleave(3, 3))
    assert sampling.patch_for_upsampling(torch.rand(1, 1, 100, 70)).shape == (1, 1, 16, 16)
    assert sampling.patch_for_upsampling(torch.rand(1, 1, 3, 9)).shape == (1, 1, 3, 9)


def test_relu_zeroes_negatives_and_histograms_count_every_pixel():
    ramps = np.tile(np.r_[0:250:25], (10, 2)).astype(np.uint8)  # rising, then a drop to 0
    edges = sampling.edge_map(sampling.grey_tensor(Image.fromarray(ramps)))
    assert float(edges.min()) < 0 < float(edges.max())
    after = sampling.activate(edges, "ReLU")
    assert float(after.min()) == 0 and torch.equal(after[edges > 0], edges[edges > 0])
    leaky = sampling.activate(edges, "LeakyReLU(0.1)")
    assert torch.allclose(leaky[edges < 0], 0.1 * edges[edges < 0])
    centres, counts = sampling.value_histogram(edges, 20, float(edges.min()),
                                               float(edges.max()))
    assert sum(counts) == edges.numel() and len(centres) == 20


def test_inplace_shares_storage_and_saves_one_map():
    x = torch.randn(1, 1, 32, 32)
    report = sampling.inplace_report(x)
    assert report.inplace_shares_memory and not report.out_of_place_shares_memory
    assert report.map_bytes == 32 * 32 * 4 == report.saved_bytes
    assert report.negatives_zeroed == int((x < 0).sum())


def test_to_uint8_signed_puts_zero_at_mid_grey():
    img = sampling.to_uint8(torch.tensor([[-2.0, 0.0, 2.0]]), signed=True)
    assert img.tolist() == [[0, 128, 255]]  # a one-row map stays 2-D for st.image


def test_the_pool_settings_fit_the_number_grid():
    values, limits = sampling.pool_settings("maxpool", 6, 6, 3)
    assert values["kernel"] == 6 and values["padding"] == 3 and limits["padding"] == (0, 3)
    values, limits = sampling.pool_settings("avgpool", 1, 2, 2)
    assert values["padding"] == 0 and limits["padding"] == (0, 0)  # at most half the kernel


def test_a_window_is_worked_out_from_its_own_numbers():
    grid = torch.arange(16.0).reshape(1, 1, 4, 4)
    for kind, expected in (("maxpool", "max(0, 1, 4, 5) = 5"),
                           ("avgpool", "(0 + 1 + 4 + 5) / 4 = 2.50")):
        layer = sampling.pool_layer(kind, (4, 4), 2, 2, 0, False)
        assert sampling.window_arithmetic(sampling.pool_frame(grid, layer), layer, 0, 0) \
            == expected


def test_shrink_limit_size_and_negative_share():
    x = torch.tensor([[[[-1.0, 2.0, -3.0, 4.0]]]])
    assert sampling.image_size(x) == (1, 4)
    assert sampling.max_shrink(x) == 1 and sampling.max_shrink(torch.zeros(1, 1, 50, 30)) == 8
    assert sampling.negative_share(x) == 0.5
