"""Awkward but valid photo shapes (thin strips, single pixels) in the lessons' own modules."""

from __future__ import annotations

import numpy as np
import pytest
import torchvision.transforms.functional as TF
from PIL import Image

from explorer import feature_maps as fm
from explorer import kernels, predict_first


def _noise(width: int, height: int, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


@pytest.mark.parametrize("variant", ["imagenet", "cifar", "mnist"])
@pytest.mark.parametrize("size", [(1024, 1), (1, 1024), (1000, 7), (9, 1023), (934, 11),
                                  (3, 5000), (400, 300), (1, 1)])
def test_thin_strips_keep_torchvision_preprocessing_without_the_giant_intermediate(variant,
                                                                                    size):
    pre = fm.preprocessing_for(variant)
    image = _noise(*size)
    prepared = fm.prepare(image, pre)
    grey_or_rgb = image.convert("L" if pre.grayscale else "RGB")
    whole = TF.resize(grey_or_rgb, [pre.resize], antialias=True)
    expected = TF.center_crop(whole, [pre.height, pre.width])
    got = np.asarray(prepared.pixels, dtype=int)
    assert np.abs(np.asarray(expected, dtype=int) - got).max() <= 1
    assert max(prepared.resized.size) <= fm.MAX_RESIZED_SIDE
    if min(whole.size) >= min(pre.height, pre.width):
        assert prepared.resized_size == whole.size
    assert prepared.window_only == (max(whole.size) > fm.MAX_RESIZED_SIDE)


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (1000, 4), (4, 1000)])
def test_the_kernel_quiz_says_why_a_tiny_or_thin_photo_has_no_quiz(size):
    with pytest.raises(kernels.KernelError, match=r"leaves \d+×\d+ px here"):
        predict_first.which_kernel(0, _noise(*size))
    assert predict_first.which_kernel(0, _noise(400, 300)).picture is not None
