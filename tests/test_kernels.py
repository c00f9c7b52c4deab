"""Kernel presets, parsing, applying and the pixel inspector, checked against plain numpy."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from explorer import kernels
from explorer.kernels import KernelError

NUMPY_PAD = {"zeros": "constant", "reflect": "reflect", "replicate": "edge"}


def reference_correlate(image: np.ndarray, kernel: np.ndarray, padding: str) -> np.ndarray:
    """Independent cross-correlation with 'same' output size: numpy padding and shifted sums."""
    k = kernel.shape[0]
    before, after = (k - 1) // 2, k - 1 - (k - 1) // 2
    padded = np.pad(image.astype(np.float64), ((before, after), (before, after)),
                    mode=NUMPY_PAD[padding])
    out = np.zeros(image.shape, dtype=np.float64)
    for i in range(k):
        for j in range(k):
            out += kernel[i, j] * padded[i : i + image.shape[0], j : j + image.shape[1]]
    return out


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (23, 31, 3), dtype=np.uint8), "RGB")


def test_course_presets_are_exactly_the_slides():
    sharpen = kernels.PRESETS["Sharpen 5x5 (course)"].weights
    assert np.array_equal(sharpen, [[0, 0, 0, 0, 0], [0, 0, -1, 0, 0], [0, -1, 5, -1, 0],
                                    [0, 0, -1, 0, 0], [0, 0, 0, 0, 0]])
    blur = np.array(kernels.PRESETS["Blur 5x5 (course)"].weights)
    assert blur.shape == (5, 5) and blur[1:4, 1:4].tolist() == [[1] * 3] * 3 and blur.sum() == 9
    assert kernels.PRESETS["Edge detect 3x3 (course)"].weights == (
        (0, 1, 0), (1, -4, 1), (0, 1, 0))
    assert {"Identity 3x3", "Box blur 3x3", "Gaussian blur 5x5", "Sobel x 3x3", "Sobel y 3x3",
            "Emboss 3x3", "Outline 3x3"} <= set(kernels.PRESETS)
    assert all(1 <= p.size <= kernels.MAX_SIZE for p in kernels.PRESET_LIST)


@pytest.mark.parametrize("name", list(kernels.PRESETS))
@pytest.mark.parametrize("padding", kernels.PADDING_MODES)
def test_every_preset_matches_an_independent_computation(photo, name, padding):
    preset = kernels.PRESETS[name]
    weights = kernels.prepare_kernel(torch.tensor(preset.weights), preset.normalise).weights
    rgb = kernels.apply_kernel(kernels.image_tensor(photo, "rgb"), weights, padding)
    gray = kernels.apply_kernel(kernels.image_tensor(photo, "grayscale"), weights, padding)
    assert rgb.shape == (1, 3, 23, 31) and gray.shape == (1, 1, 23, 31)
    w = weights.double().numpy()
    pixels = np.asarray(photo)
    for c in range(3):
        expected = reference_correlate(pixels[..., c], w, padding)
        np.testing.assert_allclose(rgb[0, c].numpy(), expected, rtol=1e-5, atol=1e-3)
    expected = reference_correlate(np.asarray(photo.convert("L")), w, padding)
    np.testing.assert_allclose(gray[0, 0].numpy(), expected, rtol=1e-5, atol=1e-3)


def test_identity_returns_the_image_and_blur_brightens_ninefold(photo):
    x = kernels.image_tensor(photo)
    identity = torch.tensor(kernels.PRESETS["Identity 3x3"].weights, dtype=torch.float32)
    assert torch.equal(kernels.apply_kernel(x, identity, "reflect"), x)
    blur = torch.tensor(kernels.PRESETS["Blur 5x5 (course)"].weights, dtype=torch.float32)
    flat = torch.full((1, 3, 10, 10), 20.0)
    assert torch.equal(kernels.apply_kernel(flat, blur, "replicate"), flat * 9)
    normalised = kernels.prepare_kernel(blur, normalise=True).weights
    assert torch.allclose(kernels.apply_kernel(flat, normalised, "replicate"), flat)


@pytest.mark.parametrize("size", [1, 2, 4, 6, 7])
def test_every_size_keeps_the_image_size(photo, size):
    weights = torch.arange(size * size, dtype=torch.float32).reshape(size, size)
    y = kernels.apply_kernel(kernels.image_tensor(photo, "grayscale"), weights, "reflect")
    assert y.shape == (1, 1, 23, 31)
    expected = reference_correlate(np.asarray(photo.convert("L")), weights.numpy(), "reflect")
    np.testing.assert_allclose(y[0, 0].numpy(), expected, rtol=1e-5, atol=1e-2)


@settings(max_examples=40, deadline=None)
@given(row=st.integers(0, 22), col=st.integers(0, 30), channel=st.integers(0, 2),
       size=st.integers(1, 7), padding=st.sampled_from(kernels.PADDING_MODES),
       seed=st.integers(0, 2**16))
def test_inspector_sum_equals_the_output_tensor(photo, row, col, channel, size, padding, seed):
    weights = torch.from_numpy(
        np.random.default_rng(seed).normal(size=(size, size)).astype(np.float32))
    x = kernels.image_tensor(photo)
    y = kernels.apply_kernel(x, weights, padding)
    info = kernels.inspect_pixel(x, weights, padding, row, col, channel)
    assert info.patch.shape == info.products.shape == (size, size)
    assert torch.equal(info.products, (info.patch.double() * weights.double()).float())
    assert info.total == pytest.approx(float(y[0, channel, row, col]), rel=1e-5, abs=1e-3)


def test_inspector_patch_includes_the_padding(photo):
    x = kernels.image_tensor(photo, "grayscale")
    edge = torch.tensor(kernels.PRESETS["Edge detect 3x3 (course)"].weights, dtype=torch.float32)
    info = kernels.inspect_pixel(x, edge, "zeros", 0, 0)
    assert info.patch[0].tolist() == [0, 0, 0] and info.patch[:, 0].tolist() == [0, 0, 0]
    assert info.patch[1, 1] == x[0, 0, 0, 0]
    with pytest.raises(KernelError, match="outside"):
        kernels.inspect_pixel(x, edge, "zeros", 23, 0)


def test_parse_cells_accepts_numbers_and_fractions_and_names_bad_cells():
    assert kernels.parse_cell("1/9") == pytest.approx(1 / 9)
    assert kernels.parse_cell(" −2.5 ") == -2.5
    assert kernels.parse_cell(3) == 3.0
    grid = [["1", "2"], ["3", "abc"]]
    with pytest.raises(KernelError, match="row 2, column 2 of the kernel is “abc”"):
        kernels.parse_kernel(grid)
    for bad, reason in (("", "empty"), ("nan", "finite"), ("1/0", "not a number"),
                        (True, "not a number"), (None, "empty")):
        with pytest.raises(KernelError, match=reason):
            kernels.parse_cell(bad)


def test_parse_kernel_checks_shape_and_size():
    assert kernels.parse_kernel([["0", "1", "0"], ["1", "-4", "1"], ["0", "1", "0"]]).shape == (3,
                                                                                              3)
    with pytest.raises(KernelError, match="1x1 to 7x7"):
        kernels.parse_kernel([["0"] * 8] * 8)
    with pytest.raises(KernelError, match="1x1 to 7x7"):
        kernels.parse_kernel([])
    with pytest.raises(KernelError, match="square"):
        kernels.parse_kernel([["1", "2"], ["3"]])


def test_prepare_kernel_normalises_flips_and_explains():
    blur = torch.ones(3, 3)
    prepared = kernels.prepare_kernel(blur, normalise=True)
    assert torch.allclose(prepared.weights, torch.full((3, 3), 1 / 9))
    assert "9" in prepared.notes[0]
    edge = torch.tensor(kernels.PRESETS["Edge detect 3x3 (course)"].weights)
    zero_sum = kernels.prepare_kernel(edge, normalise=True)
    assert torch.equal(zero_sum.weights, edge.float()) and "sum to 0" in zero_sum.notes[0]
    zeros = kernels.prepare_kernel(torch.zeros(3, 3), normalise=True)
    assert not zeros.weights.any() and "all zeros" in zeros.notes[0]
    sobel = torch.tensor(kernels.PRESETS["Sobel x 3x3"].weights, dtype=torch.float32)
    flipped = kernels.prepare_kernel(sobel, flip=True).weights
    assert torch.equal(flipped, -sobel)  # Sobel x turned by 180° is its negative
    assert not kernels.is_point_symmetric(sobel)
    assert kernels.is_point_symmetric(torch.tensor(kernels.PRESETS["Outline 3x3"].weights))


def test_true_convolution_flips_the_kernel(photo):
    """Flipped weights in conv2d equal the textbook convolution sum x[i-m, j-n]·h[m, n]."""
    x = kernels.image_tensor(photo, "grayscale")
    h = torch.tensor([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0], [4.0, 0.0, 0.0]])
    y = kernels.apply_kernel(x, kernels.prepare_kernel(h, flip=True).weights, "zeros")
    img = np.pad(np.asarray(photo.convert("L"), dtype=np.float64), 1)
    i, j = 5, 7  # an interior output pixel, in padded coordinates i+1, j+1
    textbook = sum(img[i + 1 - (m - 1), j + 1 - (n - 1)] * h[m, n].item()
                   for m in range(3) for n in range(3))
    assert float(y[0, 0, i, j]) == pytest.approx(textbook)


def test_kernel_larger_than_the_image_is_refused():
    tiny = torch.zeros(1, 3, 4, 6)
    with pytest.raises(KernelError, match="larger than the 6x4 image"):
        kernels.apply_kernel(tiny, torch.ones(5, 5), "reflect")
    with pytest.raises(KernelError, match="Unknown padding"):
        kernels.apply_kernel(tiny, torch.ones(3, 3), "circular")


def test_display_mappings():
    y = torch.tensor([-300.0, -10.0, 0.0, 100.0, 400.0]).reshape(1, 1, 1, 5)
    assert kernels.to_display(y, "clip").tolist() == [[0, 0, 0, 100, 255]]
    assert kernels.to_display(y, "abs").tolist() == [[255, 10, 0, 100, 255]]
    assert kernels.to_display(y, "minmax").tolist() == [[0, 106, 109, 146, 255]]
    assert kernels.to_display(torch.full((1, 3, 2, 2), 7.0), "minmax").shape == (2, 2, 3)
    assert not kernels.to_display(torch.full((1, 1, 2, 2), 7.0), "minmax").any()
    with pytest.raises(KernelError):
        kernels.to_display(y, "log")


def test_histogram_counts_every_value_and_the_clipped_fractions():
    y = torch.tensor([-5.0, 0.0, 10.0, 300.0]).reshape(1, 1, 2, 2)
    hist = kernels.output_histogram(y, bins=8)
    assert hist.counts.sum() == 4 and len(hist.edges) == 9
    assert (hist.minimum, hist.maximum) == (-5.0, 300.0)
    assert hist.below_zero == 0.25 and hist.above_255 == 0.25


def test_cells_round_trip_resize_and_edits():
    cells = kernels.kernel_cells(kernels.PRESETS["Edge detect 3x3 (course)"].weights)
    assert cells == [["0", "1", "0"], ["1", "-4", "1"], ["0", "1", "0"]]
    grown = kernels.resize_cells(cells, 5)
    assert grown[2] == ["0", "1", "-4", "1", "0"] and grown[0] == ["0"] * 5
    assert kernels.resize_cells(grown, 3) == cells
    assert kernels.resize_cells(cells, 1) == [["-4"]]
    edited = kernels.apply_edits(cells, {0: {"2": "1/9"}, "1": {"0": None}, 9: {"0": "5"}})
    assert edited[0][2] == "1/9" and edited[1][0] == "" and cells[0][2] == "0"


@pytest.mark.parametrize(("colour", "padding", "normalise", "flip", "display"), [
    ("rgb", "reflect", False, False, "clip"),
    ("grayscale", "zeros", True, True, "abs"),
    ("rgb", "replicate", True, False, "minmax"),
])
def test_code_twin_reproduces_the_page_output(tmp_path, photo, colour, padding, normalise,
                                              flip, display):
    photo.save(tmp_path / "cat.png")
    kernel = torch.tensor(kernels.PRESETS["Emboss 3x3"].weights, dtype=torch.float32)
    weights = kernels.prepare_kernel(kernel, normalise, flip).weights
    expected = kernels.to_display(
        kernels.apply_kernel(kernels.image_tensor(photo, colour), weights, padding), display)
    code = kernels.code_twin("cat.png", kernel, colour, padding, normalise, flip, display)
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        exec(compile(code, "code_twin", "exec"), {})
    finally:
        os.chdir(cwd)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "output.png")), expected)


@pytest.mark.parametrize("bands", [1, 3, 8, 50])
def test_banded_depthwise_equals_plain_conv2d(bands):
    x = torch.rand(1, 3, 19, 12) * 255
    weights = torch.randn(4, 4)
    expected = torch.nn.functional.conv2d(x, weights.expand(3, 1, 4, 4), groups=3)
    got = kernels._banded_depthwise(x, weights, bands)
    assert got.shape == expected.shape == (1, 3, 16, 9)
    assert torch.allclose(got, expected, atol=1e-3)


def test_image_key_is_small_and_tells_different_photos_apart():
    grey = Image.new("RGB", (64, 48), (128, 128, 128))
    key = kernels.image_key(grey, "a.png")
    assert key == kernels.image_key(grey.copy(), "a.png") and len(repr(key)) < 100
    dotted = grey.copy()
    dotted.paste((255, 0, 0), (0, 0, 64, 2))
    assert kernels.image_key(dotted, "a.png") != key != kernels.image_key(grey, "b.png")


def test_preset_or_first_falls_back_to_the_first_preset():
    assert kernels.preset_or_first("Sobel x 3x3").name == "Sobel x 3x3"
    assert kernels.preset_or_first(kernels.CUSTOM) == kernels.PRESET_LIST[0]


def test_prepared_kernel_says_its_sum_and_when_its_first_note_warns():
    zeros = kernels.prepare_kernel(torch.zeros(3, 3), normalise=True, flip=True)
    assert zeros.warns and "all zeros" in zeros.notes[0] and zeros.total == 0
    assert not kernels.prepare_kernel(torch.zeros(3, 3), flip=True).warns
    blur = kernels.prepare_kernel(torch.ones(3, 3), normalise=True)
    assert not blur.warns and blur.total == pytest.approx(1)
    assert kernels.prepare_kernel(torch.ones(3, 3)).total == 9


def test_brightening_is_the_weight_sum_only_when_it_floods_the_picture():
    course_blur = torch.tensor(kernels.PRESETS["Blur 5x5 (course)"].weights)
    assert kernels.brightening(course_blur, normalise=False) == 9
    assert kernels.brightening(course_blur, normalise=True) is None
    assert kernels.brightening(torch.tensor(kernels.PRESETS["Sharpen 5x5 (course)"].weights),
                               normalise=False) is None  # sums to 1


def test_brightness_of_input_and_output(photo):
    x = kernels.image_tensor(photo, "rgb")
    identity = torch.tensor(kernels.PRESETS["Identity 3x3"].weights, dtype=torch.float32)
    same = kernels.brightness(x, kernels.apply_kernel(x, identity))
    assert same.input_mean == pytest.approx(float(x.mean())) and same.ratio == pytest.approx(1)
    nine = kernels.brightness(x, kernels.apply_kernel(x, torch.ones(3, 3), "replicate"))
    assert nine.ratio == pytest.approx(9, rel=1e-3)  # replicate: every pixel sums 9 of them
    black = kernels.brightness(torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2))
    assert black.ratio == pytest.approx(1e9)  # no division by zero


def test_turning_sobel_negates_its_output(photo):
    x = kernels.image_tensor(photo, "grayscale")
    sobel = torch.tensor(kernels.PRESETS["Sobel x 3x3"].weights, dtype=torch.float32)
    assert torch.equal(kernels.turned(sobel), sobel.flip(0, 1))
    plain = kernels.apply_kernel(x, sobel, "reflect")
    turned = kernels.apply_kernel(x, kernels.turned(sobel), "reflect")
    assert torch.allclose(turned, -plain)
    assert kernels.largest_difference(plain, turned) == pytest.approx(
        2 * float(plain.abs().max()))
    assert kernels.largest_difference(plain, plain) == 0


def test_clamp_pixel_keeps_a_pixel_inside_the_image():
    assert kernels.clamp_pixel(3, 4, 10, 20) == (3, 4)
    assert kernels.clamp_pixel(-2, 99, 10, 20) == (0, 19)
    assert kernels.clamp_pixel(10, 20, 10, 20) == (9, 19)


@pytest.mark.parametrize(("row", "col", "size"), [(11, 15, 3), (0, 0, 5), (22, 30, 4),
                                                  (3, 29, 7), (12, 1, 1)])
def test_neighbourhood_cuts_the_input_around_the_pixel(photo, row, col, size):
    x = kernels.image_tensor(photo, "rgb")
    view = kernels.neighbourhood(x, row, col, 1, size)
    radius = max(kernels.NEIGHBOURHOOD_RADIUS, size // 2 + 2)
    assert view.top == max(0, row - radius) and view.left == max(0, col - radius)
    assert torch.equal(view.pixels, x[0, 1, view.top : row + radius + 1,
                                      view.left : col + radius + 1])
    assert view.pixels.untyped_storage().nbytes() == view.pixels.numel() * 4, "a copy"
    assert view.pixel(view.centre) == (row, col)
    assert view.pixels[view.centre] == x[0, 1, row, col]
    # the window is the k x k patch the inspector sums, padding included
    top, left, height, width = view.window
    assert (height, width) == (size, size)
    before = kernels.same_padding(size)[0]
    assert (top, left) == (view.centre[0] - before, view.centre[1] - before)
    rows, cols = view.pixels.shape
    if min(top, left) >= 0 and top + size <= rows and left + size <= cols:  # no padding
        inspected = kernels.inspect_pixel(x, torch.ones(size, size), "zeros", row, col, 1)
        assert torch.equal(view.pixels[top : top + size, left : left + size], inspected.patch)
