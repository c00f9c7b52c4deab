"""Training throughput: the engine against the course's own loop, in one process.

Both sides train the zoo's LeNet-5 with AdamW at batch size 128 on mnist-mini, one epoch per
round, alternating, and report training images per second (the test pass is not timed):

* course loop: `torchvision.datasets.MNIST` + `transforms.ToTensor()` +
  `DataLoader(batch_size=128, shuffle=True)`; with augmentation, PIL transforms per sample
  (`RandomRotation(15)` + `RandomResizedCrop(28, scale=(0.8, 1.0))`);
* engine: `explorer.training.engine.train` (whole dataset as one uint8 tensor on the device,
  batched on-device augmentation with the same kind of random rotation and zoom).

    python bench/train_throughput.py [--rounds 3] [--threads N]

Prints the median images/s of each side, the ratio with and without augmentation, and ends
with `ratio <engine images/s ÷ course-loop images/s>` for the plain (unaugmented) comparison,
then the ceiling: a bare fwd+bwd+fused-AdamW loop over tensors already in memory (same model,
optimiser and batch), eager and `torch.compile`d (compile time printed, not counted), and
`ceiling_fraction <engine ÷ fastest bare loop>`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets as tvd
from torchvision import transforms

from explorer.models import zoo
from explorer.training import augment, datasets, engine, runs
from explorer.training.config import TrainConfig

BATCH = 128
LR = 1e-3


def course_epoch(augmented: bool) -> float:
    """One epoch of the course's loop; returns images per second."""
    steps = [transforms.RandomRotation(15), transforms.RandomResizedCrop(28, scale=(0.8, 1.0))]
    tf = transforms.Compose([*(steps if augmented else []), transforms.ToTensor()])
    train = tvd.MNIST(str(datasets.MNIST_MINI_DIR), train=True, download=False, transform=tf)
    loader = DataLoader(train, batch_size=BATCH, shuffle=True)
    torch.manual_seed(0)
    model = zoo.build_model("lenet5")
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    seen, start = 0, time.perf_counter()
    for x, y in loader:
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seen += len(y)
    return seen / (time.perf_counter() - start)


def bare_loop(compiled: bool, steps: int = 60) -> tuple[float, float]:
    """The ceiling: LeNet-5 fwd+bwd+fused AdamW over tensors already in memory, no pipeline.

    Returns (images/s at steady state, seconds spent compiling before it).
    """
    data = datasets.load("mnist-mini")
    x = (data.train_x[: BATCH * 8].float() / 255 - data.mean[0]) / data.std[0]
    y = data.train_y[: BATCH * 8]
    model = zoo.build_seeded("lenet5", seed=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01, fused=True)
    loss_fn = nn.CrossEntropyLoss()

    def step(xb, yb):
        loss = loss_fn(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    fn = torch.compile(step) if compiled else step
    t0 = time.perf_counter()
    fn(x[:BATCH], y[:BATCH])  # compiles here when compiled
    compile_s = time.perf_counter() - t0 if compiled else 0.0
    for i in range(5):
        fn(x[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH])
    start = time.perf_counter()
    for i in range(steps):
        j = i % 8
        fn(x[j * BATCH:(j + 1) * BATCH], y[j * BATCH:(j + 1) * BATCH])
    return steps * BATCH / (time.perf_counter() - start), compile_s


def engine_epoch(augmented: bool) -> float:
    """One epoch of the engine on the CPU; returns its measured training images per second."""
    aug = (augment.AugmentConfig(rotation=15, scale_min=1.0, scale_max=1.25) if augmented
           else augment.AugmentConfig())
    config = TrainConfig(model="lenet5", dataset="mnist-mini", epochs=1,
                                  batch_size=BATCH, optimizer="adamw", lr=LR,
                                  weight_decay=0.01, schedule="constant", device="cpu",
                                  augment=aug)
    run_dir = engine.prepare_run(config)
    status = engine.train(run_dir)
    assert status["state"] == "finished", status
    (epoch,) = [m for m in runs.read_metrics(run_dir) if m["kind"] == "epoch"]
    return epoch["images_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ["EXPLORER_RUNS_DIR"] = tempfile.mkdtemp(prefix="bench-runs-")
    datasets.load("mnist-mini")  # decode once, outside the timing (the page caches it too)
    print(f"torch {torch.__version__} · {torch.get_num_threads()} threads · "
          f"{os.cpu_count()} cores · LeNet-5 · AdamW · batch {BATCH} · mnist-mini (8,000 train)")
    ratios = {}
    engine_ips_plain: list[float] = []
    for augmented in (False, True):
        course_ips, engine_ips = [], []
        course_epoch(augmented)  # warm-up (allocator, PIL, kernels)
        for _ in range(args.rounds):
            course_ips.append(course_epoch(augmented))
            engine_ips.append(engine_epoch(augmented))
        c, e = statistics.median(course_ips), statistics.median(engine_ips)
        label = "with augmentation" if augmented else "without augmentation"
        print(f"{label}: course loop median {c:,.0f} images/s "
              f"({', '.join(f'{v:,.0f}' for v in course_ips)}); "
              f"engine median {e:,.0f} images/s ({', '.join(f'{v:,.0f}' for v in engine_ips)})")
        ratios[augmented] = e / c
        if not augmented:
            engine_ips_plain = engine_ips
        print(f"ratio {label}: {e / c:.2f}")
    print(f"ratio {ratios[False]:.2f}")
    ceilings = {}
    for compiled in (False, True):
        try:
            runs_ = [bare_loop(compiled) for _ in range(args.rounds)]
        except Exception as err:  # no C++ toolchain for inductor, say: report eager only
            print(f"bare loop compiled: unavailable ({type(err).__name__}: {err})")
            continue
        ips = statistics.median(r[0] for r in runs_)
        ceilings["compiled" if compiled else "eager"] = ips
        extra = f" · compile time {runs_[0][1]:.1f} s (excluded)" if compiled else ""
        print(f"bare loop {'compiled' if compiled else 'eager'}: median {ips:,.0f} images/s"
              f"{extra}")
    best = max(ceilings, key=ceilings.get)
    engine_plain = statistics.median(engine_ips_plain)
    print(f"ceiling: the fastest bare loop ({best}, {ceilings[best]:,.0f} images/s)")
    print(f"ceiling_fraction {engine_plain / ceilings[best]:.2f}")


if __name__ == "__main__":
    main()
