"""A drawing prepared the way MNIST was made: 20×20 box, aspect kept, centre of mass at the
centre of 28×28. The conventions are checked on the bundled MNIST digits themselves first."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from explorer import handwriting as hw
from explorer.training import datasets
from explorer.training.config import RunConfig, TrainConfig


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return datasets.load("mnist-mini").test_x[:, 0].numpy()


def _ink_box_sides(image: np.ndarray) -> tuple[int, int]:
    top, left, bottom, right = hw.bounding_box(image, threshold=0)
    return bottom - top + 1, right - left + 1


def test_mnist_itself_follows_the_conventions(digits):
    """What LeCun et al. describe, measured: longer side 20 px, centre of mass at (14, 14)."""
    longer = np.array([max(_ink_box_sides(d)) for d in digits])
    assert (longer == hw.BOX).mean() > 0.99
    com = np.array([hw.centre_of_mass(d) for d in digits])
    assert np.abs(com - hw.CENTRE).max() <= 0.5 + 1e-9  # whole-pixel shifts
    assert abs(com.mean() - hw.CENTRE) < 0.05


def _canvas(size: int = 280) -> np.ndarray:
    return np.zeros((size, size, 4), dtype=np.uint8)  # transparent, as the component sends it


def _stroke(canvas: np.ndarray, rows: slice, cols: slice) -> None:
    canvas[rows, cols] = (255, 255, 255, 255)


def test_a_small_digit_in_a_corner_is_scaled_and_centred():
    canvas = _canvas()
    _stroke(canvas, slice(10, 90), slice(20, 34))  # a "1": 80 tall, 14 wide, top-left corner
    steps = hw.prepare(canvas)
    assert steps.box == (10, 20, 89, 33)
    assert steps.fitted.shape == (20, round(14 * 20 / 80))  # aspect ratio kept
    assert steps.centred.shape == (28, 28) and steps.centred.dtype == np.uint8
    assert max(_ink_box_sides(steps.centred)) == hw.BOX
    cy, cx = steps.centre_of_mass
    assert abs(cy - hw.CENTRE) <= 0.5 and abs(cx - hw.CENTRE) <= 0.5
    assert len(steps.describe()) == 3 and "rows 10–89" in steps.describe()[0]


def test_a_wide_shape_fits_its_width_into_20():
    canvas = _canvas()
    _stroke(canvas, slice(200, 230), slice(40, 240))  # 30 tall, 200 wide
    steps = hw.prepare(canvas)
    assert steps.fitted.shape == (3, 20)
    assert _ink_box_sides(steps.centred)[1] == 20


def test_mass_not_the_box_decides_the_centre():
    """A "T", heavy at the top: the box's middle is not where the mass is."""
    canvas = _canvas()
    _stroke(canvas, slice(40, 70), slice(40, 240))  # a thick bar on top
    _stroke(canvas, slice(70, 160), slice(130, 150))  # a thin stem
    steps = hw.prepare(canvas)
    top, _ = steps.offset
    h = steps.fitted.shape[0]
    assert top + h / 2 > hw.CENTRE + 1, "the box sits low so that the heavy top is central"
    assert abs(steps.centre_of_mass[0] - hw.CENTRE) <= 0.5


def test_real_digits_drawn_big_come_back_as_mnist_has_them(digits):
    """Enlarge MNIST digits ×8 somewhere on a 280×280 canvas: preprocessing restores them."""
    rng = np.random.default_rng(0)
    similarity = []
    for digit in digits[:100]:
        big = np.asarray(Image.fromarray(digit).resize((224, 224), Image.Resampling.NEAREST))
        canvas = np.zeros((280, 280), dtype=np.uint8)
        top, left = rng.integers(0, 57, size=2)
        canvas[top:top + 224, left:left + 224] = big
        steps = hw.prepare(canvas)
        a, b = steps.centred.astype(float), digit.astype(float)
        similarity.append(np.corrcoef(a.ravel(), b.ravel())[0, 1])
        assert np.abs(np.array(steps.centre_of_mass) - hw.centre_of_mass(digit)).max() < 1.0
    # a digit whose faintest edge pixels fall under the ink threshold comes back a bit larger
    assert np.median(similarity) > 0.99 and min(similarity) > 0.8


def test_ink_reads_rgba_rgb_and_gray():
    rgba = _canvas(4)
    rgba[0, 0] = (255, 255, 255, 255)
    rgba[1, 1] = (255, 255, 255, 0)  # fully transparent: no ink whatever its colour
    rgba[2, 2] = (255, 255, 255, 128)
    out = hw.ink(rgba)
    assert out[0, 0] == 255 and out[1, 1] == 0 and out[2, 2] == 128 and out[3, 3] == 0
    assert hw.ink(rgba[..., :3])[1, 1] == 255
    assert hw.ink(np.full((2, 2), 7, np.uint8)).tolist() == [[7, 7], [7, 7]]


def test_nothing_drawn_is_none():
    assert hw.prepare(_canvas()) is None
    faint = _canvas()
    faint[5:9, 5:9] = (255, 255, 255, 5)  # anti-aliasing dust only
    assert hw.prepare(faint) is None


def _config(dataset: str = "mnist-mini", size: int = 28, channels: int = 1) -> RunConfig:
    return RunConfig("r", TrainConfig(dataset=dataset), "mnist", channels, size, size, 10,
                     tuple("0123456789"), (0.1307,) * channels, (0.3081,) * channels,
                     dataset_title="Fashion-MNIST (download)")


def test_input_is_normalised_like_the_test_set():
    centred = np.zeros((28, 28), np.uint8)
    centred[10:18, 12:16] = 255
    x = hw.to_input(centred, _config())
    assert x.shape == (1, 1, 28, 28)
    assert torch.allclose(x[0, 0, 0, 0], torch.tensor((0 - 0.1307) / 0.3081))
    assert torch.allclose(x[0, 0, 12, 13], torch.tensor((1 - 0.1307) / 0.3081))
    assert hw.to_input(centred, _config(size=32)).shape == (1, 1, 32, 32)


def test_what_a_run_was_trained_on():
    assert hw.trained_on(_config()) == "28×28 handwritten digits"
    assert hw.trained_on(_config("fashion-mnist")) == "28×28 images of Fashion-MNIST (download)"
    assert hw.takes_drawings(_config()) and not hw.takes_drawings(_config(channels=3))


# --- photos of handwritten digits -----------------------------------------------------------


def _read(model, config, pre, photo: Image.Image) -> int:
    from explorer import feature_maps as fm

    with torch.no_grad():
        return int(model(fm.prepare(photo, pre).tensor).argmax())


def test_photos_of_digits_are_read_right_through_the_photo_pipeline(lenet_run):
    """30 generated photos (10 digits × ballpoint, marker, pencil: strokes on textured grey
    paper, tilted, blurred, noisy) through a LeNet-5 trained on mnist-mini: prepared as MNIST
    was, at least 80% are read right; the plain path's figures are printed beside."""
    from explorer import feature_maps as fm
    from explorer.training import checkpoints
    from tests.digit_photos import every_photo

    model, config = checkpoints.model_from_checkpoint(lenet_run)
    model.eval()
    paths = {"photo pipeline": fm.preprocessing_for("mnist", config=config, digit_photo=True),
             "plain": fm.preprocessing_for("mnist", config=config),
             "plain, inverted": fm.preprocessing_for("mnist", config=config, invert=True)}
    photos = every_photo()
    right = {name: sum(_read(model, config, pre, p) == d for d, _s, p in photos)
             for name, pre in paths.items()}
    print(" · ".join(f"{name}: {n}/{len(photos)}" for name, n in right.items()))
    assert right["photo pipeline"] >= 0.8 * len(photos), right
    assert right["photo pipeline"] > max(right["plain"], right["plain, inverted"]), right


def test_the_photo_pipeline_inverts_dark_ink_and_runs_the_canvas_steps():
    from tests.digit_photos import STYLES, photo

    dark_on_light = np.asarray(photo(7, STYLES[0]))
    steps = hw.prepare_photo(dark_on_light)
    assert steps.dark_ink and steps.steps is not None
    assert steps.steps.centred.shape == (28, 28)
    assert max(_ink_box_sides(steps.steps.centred)) == hw.BOX
    assert (steps.soft == 0).mean() > 0.8, "the paper is cleared"
    light_on_dark = hw.prepare_photo(255 - dark_on_light)
    assert not light_on_dark.dark_ink
    assert np.abs(light_on_dark.soft.astype(int) - steps.soft).mean() < 2
    assert len(steps.describe()) == 4 and "inverted" in steps.describe()[1]


def test_a_blank_page_has_no_digit():
    rng = np.random.default_rng(0)
    paper = np.clip(rng.normal(180, 3, (120, 90)), 0, 255).astype(np.uint8)
    assert hw.prepare_photo(paper).steps is None


def test_a_big_photo_is_shrunk_first():
    from tests.digit_photos import STYLES, photo

    big = photo(3, STYLES[1]).resize((1200, 850))
    steps = hw.prepare_photo(np.asarray(big))
    assert max(steps.grey.shape) == hw.PHOTO_SIDE and steps.steps is not None
