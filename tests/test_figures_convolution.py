"""Figures of the convolution lesson: the outlined photo and the histogram of raw outputs."""

from __future__ import annotations

import io

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image

from explorer import kernels
from explorer.figures import convolution as figures


def test_outline_window_keeps_the_image_and_draws_red():
    image = Image.new("L", (60, 40), 128)
    marked = figures.outline_window(image, 20, 30, 3)
    assert marked.size == (60, 40) and marked.mode == "RGB"
    assert (255, 40, 0) in {marked.getpixel((x, y)) for x in range(60) for y in range(40)}


def test_photo_jpeg_downscales_a_large_photo_and_keeps_a_small_one():
    big = Image.open(io.BytesIO(figures.photo_jpeg(np.zeros((900, 1200, 3), np.uint8),
                                                   (450, 600, 3))))
    assert big.format == "JPEG" and big.size == (figures.SHOWN_MAX_SIDE + 2, 540 + 2)  # frame
    red = np.asarray(big)[..., 0]
    assert red.max() > 200  # the window's red square survives the downscale
    small = Image.open(io.BytesIO(figures.photo_jpeg(np.zeros((40, 60), np.uint8))))
    # enlarged ×6 (to half the shown size), pixels as sharp blocks, in a 1-pixel grey frame
    assert small.size == (6 * 60 + 2, 6 * 40 + 2)
    inside = np.asarray(small)[1:-1, 1:-1]
    assert inside.max() < 10, "no square asked for"
    assert 150 < np.asarray(small)[0, 0].mean() < 190


def test_output_histogram_figure_draws_the_counts_and_the_screen_range():
    hist = kernels.output_histogram(torch.tensor([-5.0, 0.0, 10.0, 300.0]).reshape(1, 1, 2, 2),
                                    bins=8)
    spec = figures.output_histogram_figure(hist).to_dict()
    go.Figure(spec)
    bars = spec["data"][0]
    assert sum(bars["y"]) == 4 and len(bars["x"]) == 8
    assert [s["x0"] for s in spec["layout"]["shapes"][:2]] == [0, 255]
