"""Command line: the training page's engine in a terminal, writing the same run folder.

    python -m explorer.train --model lenet5 --dataset mnist-mini --epochs 5

Ctrl-C stops the run cooperatively: the weights of that moment are saved as its checkpoint.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import torch

from explorer.training import augment, datasets, engine, runs
from explorer.training.config import OPTIMIZERS, SCHEDULES, TrainConfig


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="python -m explorer.train", description=__doc__.split("\n")[0])
    p.add_argument("--model", default=d.model, help="a zoo key, e.g. lenet5, resnet18")
    p.add_argument("--dataset", default=d.dataset,
                   help=f"one of {', '.join(datasets.choices())} or folder:<path>")
    p.add_argument("--download", action="store_true", help="download a missing dataset")
    p.add_argument("--batchnorm", action="store_true")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--momentum", type=float, default=d.momentum)
    p.add_argument("--nesterov", action="store_true")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--schedule", choices=SCHEDULES, default=d.schedule)
    p.add_argument("--step-epochs", type=int, default=d.step_epochs)
    p.add_argument("--step-gamma", type=float, default=d.step_gamma)
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", choices=["auto", "cuda", "mps", "cpu"], default=d.device)
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument("--no-amp", action="store_true", help="no bf16 autocast on CUDA")
    g = p.add_argument_group("augmentation (on the device, per sample)")
    g.add_argument("--hflip", action="store_true")
    g.add_argument("--vflip", action="store_true")
    g.add_argument("--rotation", type=float, default=0.0, help="max degrees either way")
    g.add_argument("--rot90", action="store_true")
    g.add_argument("--scale", type=float, nargs=2, default=(1.0, 1.0), metavar=("MIN", "MAX"))
    g.add_argument("--crop-padding", type=int, default=0)
    g.add_argument("--noise", type=float, default=0.0)
    p.add_argument("--runs-dir", type=Path, default=None, help="default: $EXPLORER_RUNS_DIR")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    aug = augment.AugmentConfig(
        hflip=args.hflip, vflip=args.vflip, rotation=args.rotation, rot90=args.rot90,
        scale_min=args.scale[0], scale_max=args.scale[1], crop_padding=args.crop_padding,
        noise=args.noise,
    )
    return TrainConfig(
        model=args.model, dataset=args.dataset, batchnorm=args.batchnorm, epochs=args.epochs,
        batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
        momentum=args.momentum, nesterov=args.nesterov, weight_decay=args.weight_decay,
        schedule=args.schedule, step_epochs=args.step_epochs, step_gamma=args.step_gamma,
        label_smoothing=args.label_smoothing, seed=args.seed, device=args.device, augment=aug,
        image_size=args.image_size, amp=not args.no_amp,
    )


def progress_line(p: engine.Progress, width: int = 30, epoch: int | None = None) -> str:
    """`epoch 2/5 [#######.......]  41%  loss 0.213  5,120 img/s  ETA 0:12`."""
    filled = round(p.fraction * width)
    bar = "#" * filled + "." * (width - filled)
    epoch = min(p.epoch + 1, p.epochs) if epoch is None else epoch
    parts = [f"epoch {epoch}/{p.epochs} [{bar}] {p.fraction:4.0%}"]
    if p.loss is not None:
        parts.append(f"loss {p.loss:.3f}")
    if p.images_per_s:
        parts.append(f"{p.images_per_s:,.0f} img/s")
    if p.eta_s is not None:
        parts.append(f"ETA {int(p.eta_s // 60)}:{int(p.eta_s % 60):02d}")
    return "  ".join(parts)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    config = config_from_args(args)
    try:
        if args.download:
            datasets.load(config.dataset, download=True)
        run_dir = engine.prepare_run(config, args.runs_dir)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"run {run_dir.name} → {run_dir}", file=out)
    stop = threading.Event()
    shown = {"epoch": 0}

    def show(p: engine.Progress) -> None:
        if p.epoch > shown["epoch"]:  # an epoch ended: keep its line, start a new one
            shown["epoch"] = p.epoch
            out.write("\r" + progress_line(p, epoch=p.epoch).ljust(96) + "\n")
        else:
            out.write("\r" + progress_line(p).ljust(96))
        out.flush()

    done = threading.Event()
    result: dict = {}

    def work() -> None:
        result.update(engine.train(run_dir, stop=stop, on_progress=show))
        done.set()

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    try:
        while not done.wait(0.2):
            pass
    except KeyboardInterrupt:
        stop.set()
        done.wait()
    out.write("\n")
    epochs = [m for m in runs.read_metrics(run_dir) if m.get("kind") == "epoch"]
    for m in epochs:
        print(f"epoch {m['epoch']}: train loss {m['train_loss']:.4f} acc {m['train_acc']:.2%}"
              f" · test loss {m['test_loss']:.4f} acc {m['test_acc']:.2%}"
              f" · {m['images_per_s']:,.0f} img/s", file=out)
    print(f"{result.get('state')}{': ' + result['reason'] if result.get('reason') else ''}"
          f" · checkpoint {run_dir / 'checkpoint.pt'}", file=out)
    return 0 if result.get("state") == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
