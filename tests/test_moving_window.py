"""The slide's moving window: conv2d's output, each step's products, several kernels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer import moving_window as mw
from explorer.kernels import KernelError

SLIDE_OUTPUT = [[4, 3, 4], [2, 4, 3], [2, 3, 4]]


def loops(inputs: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Independent valid cross-correlation with explicit loops."""
    kh, kw = kernel.shape
    out = np.zeros((inputs.shape[0] - kh + 1, inputs.shape[1] - kw + 1))
    for r in range(out.shape[0]):
        for c in range(out.shape[1]):
            out[r, c] = (inputs[r : r + kh, c : c + kw] * kernel).sum()
    return out


@pytest.fixture
def slide():
    return mw.as_grid(mw.SLIDE_INPUT), mw.as_grid(mw.SLIDE_KERNEL)


def test_slide_output_comes_from_conv2d(slide):
    inputs, kernel = slide
    out = mw.full_output(inputs, kernel)
    assert out.tolist() == SLIDE_OUTPUT
    assert np.array_equal(out.numpy(), loops(np.array(mw.SLIDE_INPUT), np.array(mw.SLIDE_KERNEL)))
    assert mw.n_steps(inputs, kernel) == 9


def test_first_step_shows_the_slides_products(slide):
    inputs, kernel = slide
    state = mw.window_state(inputs, kernel, 1)
    assert (state.row, state.col, state.value) == (0, 0, 4.0)
    text = state.input_text(inputs)
    assert text[0][:3] == ["1×1", "1×0", "1×1"]
    assert text[1][:4] == ["0×0", "1×1", "1×0", "1"]
    assert text[3] == ["0", "0", "1", "1", "0"]
    assert state.equation() == "out[0, 0] = 1×1 + 1×0 + 1×1 + 0×0 + 1×1 + 1×0 + 0×1 + 0×0 + 1×1 = 4"
    assert state.filled.sum() == 1
    shown = state.shown_output()
    assert shown[0, 0] == 4 and torch.isnan(shown).sum() == 8


def test_every_step_sum_of_products_equals_conv2d(slide):
    inputs, kernel = slide
    positions = []
    for step in range(1, 10):
        state = mw.window_state(inputs, kernel, step)
        positions.append((state.row, state.col))
        assert float(state.products.sum()) == state.value
        assert state.filled.sum() == step
    assert positions == [(r, c) for r in range(3) for c in range(3)]
    assert mw.window_state(inputs, kernel, 9).done
    assert not torch.isnan(mw.window_state(inputs, kernel, 9).shown_output()).any()


def test_steps_are_clamped_and_step_zero_is_empty(slide):
    inputs, kernel = slide
    start = mw.window_state(inputs, kernel, -3)
    assert start.step == 0 and start.row is None and start.equation() == ""
    assert start.input_text(inputs)[0] == ["1", "1", "1", "0", "0"]
    assert mw.window_state(inputs, kernel, 99).step == 9


def test_edited_grids_step_again():
    rng = np.random.default_rng(3)
    inputs = rng.integers(-3, 4, (6, 7)).astype(np.float32)
    kernel = rng.integers(-2, 3, (2, 4)).astype(np.float32)
    state = mw.window_state(mw.as_grid(inputs), mw.as_grid(kernel), 5)
    assert state.total == 5 * 4
    assert np.array_equal(state.output.numpy(), loops(inputs, kernel))
    assert (state.row, state.col) == (1, 0)


def test_several_kernels_give_one_map_each(slide):
    inputs, _ = slide
    bank = [mw.as_grid(k) for k in mw.KERNEL_BANK.values()]
    maps = mw.several_kernels(inputs, bank)
    assert maps.shape == (len(bank), 3, 3)
    for fmap, kernel in zip(maps, bank, strict=True):
        assert torch.equal(fmap, mw.full_output(inputs, kernel))
    assert maps[0].tolist() == SLIDE_OUTPUT
    with pytest.raises(KernelError, match="at least one"):
        mw.several_kernels(inputs, [])


def test_kernel_that_does_not_fit_is_refused():
    with pytest.raises(KernelError, match="does not fit"):
        mw.window_state(torch.zeros(3, 3), torch.ones(4, 4), 1)
    with pytest.raises(KernelError, match="rows and columns"):
        mw.as_grid([1, 2, 3])


def test_window_box_cell_and_the_output_so_far(slide):
    inputs, kernel = slide
    start = mw.window_state(inputs, kernel, 0)
    assert start.box is None and start.cell is None
    assert start.output_text() == "· · ·\n· · ·\n· · ·"
    first = mw.window_state(inputs, kernel, 1)
    assert first.box == (0, 0, 3, 3) and first.cell == (0, 0)
    assert first.output_text() == "4 · ·\n· · ·\n· · ·"
    sixth = mw.window_state(inputs, kernel, 6)
    assert sixth.box == (1, 2, 3, 3) and sixth.cell == (1, 2)
    assert mw.window_state(inputs, kernel, 9).output_text() == "4 3 4\n2 4 3\n2 3 4"
    wide = mw.window_state(mw.as_grid(np.ones((4, 6))), mw.as_grid([[0.5, 1]]), 2)
    assert wide.box == (0, 1, 1, 2) and wide.output_text().splitlines()[0] == "1.5 1.5 · · ·"


def test_several_kernels_code_states_the_shapes_torch_gives(slide):
    inputs, _ = slide
    bank = [mw.as_grid(k) for k in list(mw.KERNEL_BANK.values())[:3]]
    assert mw.stacked(bank).shape == (3, 1, 3, 3)
    assert mw.several_kernels_code(inputs, bank) == (
        "weight.shape = (3, 1, 3, 3)  # (C_out, C_in, k, k)\n"
        "F.conv2d(x, weight).shape = (1, 3, 3, 3)  # (N, C_out, H', W')")
    bigger = mw.as_grid(np.ones((6, 7)))
    assert "F.conv2d(x, weight).shape = (1, 2, 4, 5)" in mw.several_kernels_code(bigger, bank[:2])
    with pytest.raises(KernelError, match="does not fit"):
        mw.several_kernels_code(mw.as_grid(np.ones((2, 2))), bank)


def test_the_grid_sizes_hold_the_bank_and_bound_the_steps():
    assert mw.INPUT_SIZES[0] >= max(len(k) for k in mw.KERNEL_BANK.values())
    assert mw.WINDOW_SIZES == (1, mw.MAX_WINDOW) and mw.INPUT_SIZES[1] == mw.MAX_INPUT
    largest = mw.as_grid(np.ones((mw.MAX_INPUT, mw.MAX_INPUT)))
    assert mw.n_steps(largest, mw.as_grid([[1]])) == mw.MAX_STEPS
