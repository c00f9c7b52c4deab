"""The moving window of the course's convolution animation, one output cell at a time.

A k x k kernel slides over a small input grid without padding, stride 1. At each position
the covered input cells are multiplied by the kernel weights and summed into one output cell.
The full output always comes from `torch.nn.functional.conv2d`; the step-by-step products
are recomputed here only to show where each number comes from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from explorer.i18n import N_, _
from explorer.kernels import KernelError, format_number

#: The slide's 5x5 binary input and 3x3 kernel (its output starts with 4).
SLIDE_INPUT: tuple[tuple[int, ...], ...] = (
    (1, 1, 1, 0, 0),
    (0, 1, 1, 1, 0),
    (0, 0, 1, 1, 1),
    (0, 0, 1, 1, 0),
    (0, 1, 1, 0, 0),
)
SLIDE_KERNEL: tuple[tuple[int, ...], ...] = ((1, 0, 1), (0, 1, 0), (1, 0, 1))
#: Largest input grid and largest window the page lets the student type.
MAX_INPUT, MAX_WINDOW = 8, 5
#: (smallest, largest) side of the input grid and of the window: the input holds a 3x3 kernel.
INPUT_SIZES, WINDOW_SIZES = (3, MAX_INPUT), (1, MAX_WINDOW)
#: The most window positions there can be (a 1x1 window on the largest input).
MAX_STEPS = MAX_INPUT**2

#: Small 3x3 kernels for the "several kernels" demonstration, by name.
KERNEL_BANK: dict[str, tuple[tuple[int, ...], ...]] = {
    N_("Slide's X"): SLIDE_KERNEL,
    N_("Vertical line"): ((0, 1, 0), (0, 1, 0), (0, 1, 0)),
    N_("Horizontal line"): ((0, 0, 0), (1, 1, 1), (0, 0, 0)),
    N_("Diagonal ↘"): ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    N_("Diagonal ↙"): ((0, 0, 1), (0, 1, 0), (1, 0, 0)),
    N_("Centre only"): ((0, 0, 0), (0, 1, 0), (0, 0, 0)),
}


def as_grid(values: Sequence[Sequence[float]] | torch.Tensor) -> torch.Tensor:
    """A 2-D float32 tensor from nested lists (or a tensor)."""
    grid = torch.as_tensor(values, dtype=torch.float32)
    if grid.ndim != 2:
        raise KernelError(_("A grid must have rows and columns."))
    return grid


def check_window(inputs: torch.Tensor, kernel: torch.Tensor) -> None:
    """Raise `KernelError` when the kernel does not fit inside the input grid."""
    kh, kw = kernel.shape
    ih, iw = inputs.shape
    if kh > ih or kw > iw:
        raise KernelError(_("The {kh}x{kw} kernel does not fit in the {ih}x{iw} input; make "
                            "the kernel smaller or the input larger.").format(
            kh=kh, kw=kw, ih=ih, iw=iw))


def full_output(inputs: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """conv2d of the input grid with one kernel: no padding, stride 1, shape (H-k+1, W-k+1)."""
    check_window(inputs, kernel)
    with torch.no_grad():
        return F.conv2d(inputs[None, None], kernel[None, None])[0, 0]


def n_steps(inputs: torch.Tensor, kernel: torch.Tensor) -> int:
    """How many window positions (= output cells) there are."""
    check_window(inputs, kernel)
    return (inputs.shape[0] - kernel.shape[0] + 1) * (inputs.shape[1] - kernel.shape[1] + 1)


@dataclass(frozen=True)
class WindowState:
    """The animation after `step` output cells have been filled (0 = nothing yet)."""

    step: int
    total: int
    output: torch.Tensor  # the full output from conv2d
    filled: torch.Tensor  # bool mask of the output cells revealed so far
    row: int | None  # output cell being computed at this step (None at step 0)
    col: int | None
    patch: torch.Tensor | None  # input under the window
    products: torch.Tensor | None  # patch * kernel
    kernel: torch.Tensor

    @property
    def value(self) -> float | None:
        """The current output cell, read from conv2d's output."""
        return None if self.row is None else float(self.output[self.row, self.col])

    @property
    def done(self) -> bool:
        return self.step >= self.total

    @property
    def box(self) -> tuple[int, int, int, int] | None:
        """(row, col, height, width) of the window on the input (None at step 0)."""
        return None if self.row is None else (self.row, self.col, *self.kernel.shape)

    @property
    def cell(self) -> tuple[int, int] | None:
        """(row, col) of the output cell being computed (None at step 0)."""
        return None if self.row is None else (self.row, self.col)

    def output_text(self) -> str:
        """The output so far as lines of numbers, "·" for the cells not yet reached."""
        return "\n".join(" ".join(format_number(v) if filled else "·"
                                  for v, filled in zip(row, mask, strict=True))
                         for row, mask in zip(self.output.tolist(), self.filled.tolist(),
                                              strict=True))

    def shown_output(self) -> torch.Tensor:
        """The output with cells not yet reached as NaN (blank in a grid figure)."""
        return torch.where(self.filled, self.output, torch.full_like(self.output, float("nan")))

    def input_text(self, inputs: torch.Tensor) -> list[list[str]]:
        """Input cell labels: the value, or "value×weight" inside the window (slide notation)."""
        text = [[format_number(v) for v in row] for row in inputs.tolist()]
        if self.row is not None:
            k_rows, k_cols = self.kernel.shape
            for i in range(k_rows):
                for j in range(k_cols):
                    value = text[self.row + i][self.col + j]
                    text[self.row + i][self.col + j] = (
                        f"{value}×{format_number(self.kernel[i, j])}")
        return text

    def equation(self) -> str:
        """'out[r, c] = 1×1 + 1×0 + … = 4' for the current cell ('' at step 0)."""
        if self.row is None or self.patch is None:
            return ""
        terms = " + ".join(f"{format_number(p)}×{format_number(w)}"
                           for p, w in zip(self.patch.flatten().tolist(),
                                           self.kernel.flatten().tolist(), strict=True))
        return f"out[{self.row}, {self.col}] = {terms} = {format_number(self.value)}"


def window_state(inputs: torch.Tensor, kernel: torch.Tensor, step: int) -> WindowState:
    """Where the window is after `step` steps (clamped to 0..n_steps) and what it computes."""
    output = full_output(inputs, kernel)
    total = output.numel()
    step = min(max(int(step), 0), total)
    filled = (torch.arange(total) < step).reshape(output.shape)
    if step == 0:
        return WindowState(0, total, output, filled, None, None, None, None, kernel)
    row, col = divmod(step - 1, output.shape[1])
    k_rows, k_cols = kernel.shape
    patch = inputs[row : row + k_rows, col : col + k_cols]
    return WindowState(step, total, output, filled, row, col, patch, patch * kernel, kernel)


def stacked(kernels: Sequence[torch.Tensor]) -> torch.Tensor:
    """C_out kernels of the same shape as one conv2d weight (C_out, 1, k, k)."""
    if not kernels:
        raise KernelError("Choose at least one kernel.")
    return torch.stack([as_grid(k) for k in kernels])[:, None]


def several_kernels(inputs: torch.Tensor, kernels: Sequence[torch.Tensor]) -> torch.Tensor:
    """One conv2d with C_out kernels stacked as weight (C_out, 1, k, k): C_out output maps."""
    weight = stacked(kernels)
    check_window(inputs, weight[0, 0])
    with torch.no_grad():
        return F.conv2d(inputs[None, None], weight)[0]


def several_kernels_code(inputs: torch.Tensor, kernels: Sequence[torch.Tensor]) -> str:
    """Two lines of PyTorch giving the weight's and the output's shapes, read off the tensors
    one conv2d of the stacked kernels uses and returns."""
    weight = stacked(kernels)
    check_window(inputs, weight[0, 0])
    with torch.no_grad():
        out = F.conv2d(inputs[None, None], weight)
    return (f"weight.shape = {tuple(weight.shape)}  # (C_out, C_in, k, k)\n"
            f"F.conv2d(x, weight).shape = {tuple(out.shape)}  # (N, C_out, H', W')")
