"""Training throughput: the engine against the course's own loop and against a bare loop.

Both sides train the zoo's LeNet-5 with AdamW at batch size 128 on mnist-mini, one epoch per
round, alternating, and report training images per second (the test pass is not timed):

* course loop: `torchvision.datasets.MNIST` + `transforms.ToTensor()` +
  `DataLoader(batch_size=128, shuffle=True)`; with augmentation, PIL transforms per sample
  (`RandomRotation(15)` + `RandomResizedCrop(28, scale=(0.8, 1.0))`);
* engine: `explorer.training.engine.train` (whole dataset as one uint8 tensor on the device,
  batched on-device augmentation with the same kind of random rotation and zoom).

    python bench/train_throughput.py [--rounds 3] [--pairs 15] [--threads N] [--no-course]

Prints the median images/s of each side, the ratio with and without augmentation, and
`ratio <engine images/s ÷ course-loop images/s>` for the plain (unaugmented) comparison.

Then the ceiling, judged: a bare loop (fwd + bwd + fused AdamW, a fresh model and optimiser,
one epoch of the same 63 batches over tensors already normalised in memory: no pipeline, no
bookkeeping; eager, as the engine trains on a CPU; `--compiled` also times a compiled one
once) is paired with the engine: `--pairs` interleaved pairs, each an engine epoch and a bare
epoch back to back (which one goes first alternates), so both see the same load. It prints
`ceiling_fraction <median of the pairs' engine ÷ bare ratios>` and exits 1 below
`CEILING_BAR` (0.95). Beside it, `cpu_fraction`: the same pairs in CPU seconds of this
process (bare ÷ engine), which other processes' load inflates far less than wall time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
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
CEILING_BAR = 0.95  # the engine's images/s as a share of the bare loop's


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


def _bare_data() -> tuple[torch.Tensor, torch.Tensor]:
    """The training set normalised in memory, in one shuffled order (the bare loop's input)."""
    data = datasets.load("mnist-mini")
    order = torch.randperm(len(data.train_y), generator=torch.Generator().manual_seed(0))
    x = (data.train_x[order].float() / 255 - data.mean[0]) / data.std[0]
    return x.contiguous(), data.train_y[order].contiguous()


def bare_epoch(x: torch.Tensor, y: torch.Tensor, compiled: bool = False) -> tuple[float, float]:
    """One epoch of the bare loop from a fresh model and optimiser, as the engine starts one.

    Returns (images/s over the whole epoch, seconds spent compiling before it).
    """
    model = zoo.build_seeded("lenet5", seed=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01, fused=True)
    loss_fn = nn.CrossEntropyLoss()

    def step(xb, yb):
        loss = loss_fn(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    fn = torch.compile(step) if compiled else step
    compile_s = 0.0
    if compiled:  # compile for both batch shapes first, then start again from fresh weights
        t0 = time.perf_counter()
        fn(x[:BATCH], y[:BATCH])
        fn(x[:len(y) % BATCH or BATCH], y[:len(y) % BATCH or BATCH])
        compile_s = time.perf_counter() - t0
        model.load_state_dict(zoo.build_seeded("lenet5", seed=0).state_dict())
    start = time.perf_counter()
    for i in range(0, len(y), BATCH):
        fn(x[i:i + BATCH], y[i:i + BATCH])
    return len(y) / (time.perf_counter() - start), compile_s


def engine_epoch(augmented: bool, cpu: list[float] | None = None) -> float:
    """One epoch of the engine on the CPU; returns its measured training images per second.

    `cpu` gets the process's CPU seconds from the phase "training" to "evaluating" (every
    thread's: the timeline's and the writers' too), a figure that other processes' load
    does not inflate.
    """
    aug = (augment.AugmentConfig(rotation=15, scale_min=1.0, scale_max=1.25) if augmented
           else augment.AugmentConfig())
    config = TrainConfig(model="lenet5", dataset="mnist-mini", epochs=1,
                                  batch_size=BATCH, optimizer="adamw", lr=LR,
                                  weight_decay=0.01, schedule="constant", device="cpu",
                                  augment=aug)
    run_dir = engine.prepare_run(config)
    marks: dict[str, float] = {}

    def on_progress(p) -> None:
        marks.setdefault(p.phase, time.process_time())

    status = engine.train(run_dir, on_progress=on_progress)
    assert status["state"] == "finished", status
    if cpu is not None:
        cpu.append(marks["evaluating"] - marks["training"])
    (epoch,) = [m for m in runs.read_metrics(run_dir) if m["kind"] == "epoch"]
    return epoch["images_per_s"]


def course_comparison(rounds: int) -> None:
    """The engine against the course's DataLoader loop, with and without augmentation."""
    ratios = {}
    for augmented in (False, True):
        course_ips, engine_ips = [], []
        course_epoch(augmented)  # warm-up (allocator, PIL, kernels)
        for _ in range(rounds):
            course_ips.append(course_epoch(augmented))
            engine_ips.append(engine_epoch(augmented))
        c, e = statistics.median(course_ips), statistics.median(engine_ips)
        label = "with augmentation" if augmented else "without augmentation"
        print(f"{label}: course loop median {c:,.0f} images/s "
              f"({', '.join(f'{v:,.0f}' for v in course_ips)}); "
              f"engine median {e:,.0f} images/s ({', '.join(f'{v:,.0f}' for v in engine_ips)})")
        ratios[augmented] = e / c
        print(f"ratio {label}: {e / c:.2f}")
    print(f"ratio {ratios[False]:.2f}")


def ceiling(pairs: int, with_compiled: bool = False) -> float:
    """The engine's share of the bare eager loop's images/s: the median of interleaved pairs.

    The engine does not compile on the CPU (`compile="auto"`), so its ceiling is the eager
    loop; `with_compiled` also times a compiled bare loop once, for the record.
    """
    x, y = _bare_data()
    if with_compiled:
        try:
            ips, compile_s = bare_epoch(x, y, compiled=True)
            print(f"bare loop compiled: {ips:,.0f} images/s · compile time {compile_s:.1f} s "
                  "(excluded)")
        except Exception as err:  # no C++ toolchain for inductor, say
            print(f"bare loop compiled: unavailable ({type(err).__name__}: {err})")
    print(f"ceiling: the bare eager loop, {pairs} interleaved pairs with the engine")
    engine_epoch(False)  # warm-up: the first run's one-time costs
    bare_epoch(x, y)
    ratios, engine_ips, bare_ips, cpu_ratios = [], [], [], []
    for i in range(pairs):
        engine_cpu: list[float] = []
        t = time.process_time()
        if i % 2:
            b = bare_epoch(x, y)[0]
            bare_cpu = time.process_time() - t
            e = engine_epoch(False, engine_cpu)
        else:
            e = engine_epoch(False, engine_cpu)
            t = time.process_time()
            b = bare_epoch(x, y)[0]
            bare_cpu = time.process_time() - t
        engine_ips.append(e)
        bare_ips.append(b)
        ratios.append(e / b)
        cpu_ratios.append(bare_cpu / engine_cpu[0])
    print(f"engine median {statistics.median(engine_ips):,.0f} images/s, bare loop median "
          f"{statistics.median(bare_ips):,.0f} images/s; pair ratios "
          f"{', '.join(f'{r:.2f}' for r in ratios)}")
    print(f"cpu_fraction {statistics.median(cpu_ratios):.2f} (bare ÷ engine CPU seconds per "
          f"epoch, median of the pairs: {', '.join(f'{r:.2f}' for r in cpu_ratios)})")
    fraction = statistics.median(ratios)
    print(f"ceiling_fraction {fraction:.2f}")
    return fraction


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--compiled", action="store_true",
                        help="also time a torch.compile'd bare loop once (minutes on a CPU)")
    parser.add_argument("--no-course", action="store_true",
                        help="skip the course-loop comparison (slow: PIL per sample)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ["EXPLORER_RUNS_DIR"] = tempfile.mkdtemp(prefix="bench-runs-")
    datasets.load("mnist-mini")  # decode once, outside the timing (the page caches it too)
    print(f"torch {torch.__version__} · {torch.get_num_threads()} threads · "
          f"{os.cpu_count()} cores · load average {os.getloadavg()[0]:.2f} · LeNet-5 · AdamW · "
          f"batch {BATCH} · mnist-mini (8,000 train)")
    if not args.no_course:
        course_comparison(args.rounds)
    fraction = ceiling(args.pairs, args.compiled)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    if fraction < CEILING_BAR:
        print(f"bar not met: ceiling_fraction {fraction:.2f} < {CEILING_BAR}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
