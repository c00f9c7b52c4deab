"""How much the BatchNorm lab's bookkeeping costs over bare forward passes.

Reference: 100 forward passes of a plain nn.BatchNorm1d(16) on x = torch.randn(100, 16) + 0.5
(the course's experiment). Measured: BatchNormLab.step(100) with the same settings, which also
records running_mean/running_var and the batch statistics after every step. Both run in this
process, interleaved; prints medians and the ratio.
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from explorer import batchnorm as bn

REPEATS = 15


def bare_forwards() -> None:
    layer = nn.BatchNorm1d(16)
    x = torch.randn(100, 16, generator=torch.Generator().manual_seed(0)) + 0.5
    with torch.no_grad():
        for _ in range(100):
            layer(x)


def lab_run_100() -> None:
    bn.BatchNormLab().step(100)


def lab_run_100_2d() -> None:
    bn.BatchNormLab(bn.LabConfig(kind="2d", channels=16, batch_size=32, size=8)).step(100)


def bare_forwards_2d() -> None:
    layer = nn.BatchNorm2d(16)
    x = torch.randn(32, 16, 8, 8, generator=torch.Generator().manual_seed(0)) + 0.5
    with torch.no_grad():
        for _ in range(100):
            layer(x)


def main() -> None:
    cases = {"bare 100 forwards 1d": bare_forwards, "lab Run 100 1d": lab_run_100,
             "bare 100 forwards 2d": bare_forwards_2d, "lab Run 100 2d": lab_run_100_2d}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():  # warm-up: first-call dispatch costs are not the lab's
        fn()
    for _ in range(REPEATS):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {REPEATS} repeats")
    for name, value in med.items():
        print(f"  {name:<22} median {value * 1e3:8.2f} ms")
    for kind in ("1d", "2d"):
        ratio = med[f"lab Run 100 {kind}"] / med[f"bare 100 forwards {kind}"]
        print(f"  ratio lab / bare ({kind}): {ratio:.2f}x")


if __name__ == "__main__":
    main()
