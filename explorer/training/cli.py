"""Command line: the training page's engine in a terminal, writing the same run folder.

    python -m explorer.train --model lenet5 --dataset mnist-mini --epochs 5
    python -m explorer.train --nproc-per-node 2 ...      # DDP, launched under torchrun
    python -m explorer.train --stop <run-id>
    python -m explorer.train --run-dir runs/<run-id>     # a queued run (what workers run)

It waits for a free slot of its device, so the per-device limit holds with the web servers.
Ctrl-C stops the run cooperatively: the weights of that moment are saved as its checkpoint.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

import torch

from explorer import devices
from explorer.training import access, augment, datasets, engine, run_queue, runs, scheduler, worker
from explorer.training.config import OPTIMIZERS, SCHEDULES, TrainConfig
from explorer.training.engine import Progress


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
    p.add_argument("--compile", choices=["auto", "on", "off"], default=d.compile,
                   help="torch.compile the training step (auto: on CUDA only)")
    p.add_argument("--nproc-per-node", type=int, default=1, metavar="N",
                   help="train with N processes (DDP: one GPU each, or CPU processes with "
                   "gloo), launched under torchrun; --batch-size stays the global batch")
    p.add_argument("--runs-dir", type=Path, default=None, help="default: $EXPLORER_RUNS_DIR")
    p.add_argument("--run-dir", type=Path, default=None,
                   help="train this queued run folder (what the web servers' workers run)")
    p.add_argument("--stop", metavar="RUN_ID", default=None,
                   help="ask a queued or running run to stop, then exit")
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
        image_size=args.image_size, amp=not args.no_amp, compile=args.compile,
        nproc=args.nproc_per_node,
    )


def progress_line(p: Progress, width: int = 30, epoch: int | None = None) -> str:
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


def _progress_printer(out: TextIO) -> Callable[[Progress], None]:
    shown = {"epoch": 0}

    def show(p: Progress) -> None:
        if p.epoch > shown["epoch"]:  # an epoch ended: keep its line, start a new one
            shown["epoch"] = p.epoch
            out.write("\r" + progress_line(p, epoch=p.epoch).ljust(96) + "\n")
        else:
            out.write("\r" + progress_line(p).ljust(96))
        out.flush()

    return show


def _summary(run_dir: Path, status: dict, out: TextIO) -> int:
    out.write("\n")
    epochs = [m for m in runs.read_metrics(run_dir) if m.get("kind") == "epoch"]
    for m in epochs:
        print(f"epoch {m['epoch']}: train loss {m['train_loss']:.4f} acc {m['train_acc']:.2%}"
              f" · test loss {m['test_loss']:.4f} acc {m['test_acc']:.2%}"
              f" · {m['images_per_s']:,.0f} img/s", file=out)
    reason = status.get("reason")
    print(f"{status.get('state')}{': ' + reason if reason else ''}"
          f" · checkpoint {run_dir / 'checkpoint.pt'}", file=out)
    return 0 if status.get("state") == "finished" else 1


def _stop(run_id: str, root: Path | None, out: TextIO) -> int:
    try:
        run_dir = access.run_path(run_id, root)
    except access.AccessDenied:
        print(f"error: there is no run {run_id!r} in {root or runs.runs_dir()}", file=sys.stderr)
        return 2
    what = run_queue.request_stop(run_dir, access.Actor.operator())
    print({"dropped": f"{run_id} left the queue (it had not started).",
           "requested": f"{run_id} was asked to stop; it saves a checkpoint and ends.",
           "not live": f"{run_id} is not running ({runs.read_status(run_dir).state})."}[what],
          file=out)
    return 0


def _torchrun(run_dir: Path, nproc: int, slot: run_queue.Slot, out: TextIO) -> int:
    """Train `run_dir` with `nproc` processes under torchrun; the slot passes to it."""
    env = dict(os.environ, EXPLORER_CLAIMED="1", EXPLORER_PROGRESS="1",
               EXPLORER_RUNS_DIR=str(run_dir.parent), PYTHONUNBUFFERED="1")
    child = subprocess.Popen(scheduler.worker_command(run_dir, nproc), env=env,
                             pass_fds=(slot.fd,))
    slot.release()
    try:
        code = child.wait()
    except KeyboardInterrupt:  # the ranks got the same Ctrl-C: they stop and save
        (run_dir / run_queue.STOP_FILE).touch()
        code = child.wait()
    status = runs.read_status(run_dir, check_process=False).to_dict()
    if status.get("state") in runs.ACTIVE_STATES:
        status = runs.write_status(run_dir, "failed", **scheduler.exit_reason(code))
    return _summary(run_dir, status, out)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.stop:
        return _stop(args.stop, args.runs_dir, out)
    if worker.in_torchrun() or args.run_dir is not None:
        show = (_progress_printer(out) if os.environ.get("EXPLORER_PROGRESS") == "1"
                or out.isatty() else None)
        code = worker.main(args.run_dir, lambda: config_from_args(args), args.runs_dir, show)
        if show is not None and int(os.environ.get("RANK", "0")) == 0:
            out.write("\n")
        return code
    config = config_from_args(args)
    try:
        if args.download:
            datasets.load(config.dataset, download=True)
        device = devices.pick_device(config.device).type
        run_dir = engine.prepare_run(config, args.runs_dir, owner="cli")
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"run {run_dir.name} → {run_dir}", file=out)
    slot = run_queue.wait_for_slot(device, run_dir.parent, on_wait=lambda: print(
        f"waiting for a free {device} slot ({run_queue.runs_per_device()} run(s) at a time)…",
        file=out, flush=True))
    if config.nproc > 1:
        return _torchrun(run_dir, config.nproc, slot, out)
    try:
        status = worker.train_here(run_dir, _progress_printer(out))
    except OSError as err:  # not even the final status could be written: a full disk, say
        print(f"\nerror: {run_dir.name} ended and its status could not be written ({err}); "
              "its last finished epoch is in checkpoint.pt", file=sys.stderr)
        return 3
    finally:
        slot.release()
    return _summary(run_dir, status, out)
