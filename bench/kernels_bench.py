"""How long one kernel application takes on a 1024x1024 RGB photo, on this CPU.

For each preset size (3x3, 5x5, 7x7) it times `kernels.apply_kernel` (what the convolution
page runs, padding included) in RGB and grayscale, plus the page's whole pipeline
(apply + display mapping + histogram), against two references run in the same process:
plain NCHW `conv2d` (no channels_last) and a numpy shifted-sum implementation.
Prints medians in milliseconds and the speed-up ratios. Target: under 50 ms per application.

    .venv/bin/python bench/kernels_bench.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from explorer import images, kernels

SIZE = 1024
TARGET_MS = 50.0


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: oneDNN builds its kernel for this shape on the first call
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def plain_nchw(x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Reference 1: the obvious conv2d call, without the channels_last layout."""
    size, channels = weights.shape[-1], x.shape[1]
    padded = F.pad(x, kernels.same_padding(size), mode="reflect")
    with torch.no_grad():
        return F.conv2d(padded, weights.expand(channels, 1, size, size), groups=channels)


def numpy_shifted_sum(pixels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Reference 2: no torch at all; k*k shifted, weighted copies of the padded image."""
    size = weights.shape[0]
    before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
    padded = np.pad(pixels, ((before, after), (before, after), (0, 0)), mode="reflect")
    out = np.zeros(pixels.shape, dtype=np.float32)
    height, width = pixels.shape[:2]
    for i in range(size):
        for j in range(size):
            out += weights[i, j] * padded[i : i + height, j : j + width]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    photo = images.load_path(images.sample_images()["Astronaut"]).image
    photo = photo.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    rgb = kernels.image_tensor(photo, "rgb")
    gray = kernels.image_tensor(photo, "grayscale")
    pixels = np.asarray(photo, dtype=np.float32)
    seven = torch.ones(7, 7) / 49
    cases = {
        "3x3": torch.tensor(kernels.PRESETS["Edge detect 3x3 (course)"].weights),
        "5x5": torch.tensor(kernels.PRESETS["Sharpen 5x5 (course)"].weights),
        "7x7": seven,
    }
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{SIZE}x{SIZE} RGB photo, median of {args.repeats} runs (ms)")
    header = ("kernel", "rgb", "gray", "page", "nchw ref", "numpy ref", "vs nchw", "vs numpy")
    print(" ".join(f"{h:>10}" for h in header))
    worst = 0.0
    for name, weights in cases.items():
        weights = weights.to(torch.float32)
        ours = median_ms(lambda w=weights: kernels.apply_kernel(rgb, w, "reflect"), args.repeats)
        ours_gray = median_ms(lambda w=weights: kernels.apply_kernel(gray, w, "reflect"),
                              args.repeats)

        def page(w: torch.Tensor = weights) -> None:
            y = kernels.apply_kernel(rgb, w, "reflect")
            kernels.to_display(y, "clip")
            kernels.output_histogram(y)

        whole = median_ms(page, args.repeats)
        nchw = median_ms(lambda w=weights: plain_nchw(rgb, w), args.repeats)
        ref = median_ms(lambda w=weights: numpy_shifted_sum(pixels, w.numpy()),
                        max(3, args.repeats // 3))
        worst = max(worst, ours, ours_gray)
        row = (name, f"{ours:.1f}", f"{ours_gray:.1f}", f"{whole:.1f}", f"{nchw:.1f}",
               f"{ref:.1f}", f"{nchw / ours:.1f}x", f"{ref / ours:.1f}x")
        print(" ".join(f"{c:>10}" for c in row))
    verdict = "meets" if worst < TARGET_MS else "MISSES"
    print(f"slowest application {worst:.1f} ms: {verdict} the {TARGET_MS:.0f} ms target")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
