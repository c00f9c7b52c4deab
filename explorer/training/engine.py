"""The training engine: one run of a zoo model on a dataset, written into its run folder.

The whole dataset sits on the training device as one uint8 tensor; every epoch shuffles
indices there and slices batches, which `augment.BatchPipeline` turns into normalised floats.
The inner loop never waits for the device: losses and correct counts stay on it and are read
out a few times a second, which is also when divergence (a NaN or infinite loss) is caught.
On CUDA the forward pass runs in bf16 autocast with channels_last tensors; on CUDA and CPU
the optimiser step is one fused kernel. (channels_last is not used on the CPU: for LeNet-5 at
batch 128 on a 2-core x86 CPU it measured ~30% slower than the default layout.)

`train(run_dir)` never raises: whatever happens ends in `status.json` as finished, stopped or
failed with one sentence of reason, and every finished epoch is in `checkpoint.pt`.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from explorer import devices
from explorer.models import zoo
from explorer.training import augment, checkpoints, datasets, runs
from explorer.training.config import RunConfig, TrainConfig

#: A step loss above this many times chance level (ln of the class count) counts as diverged:
#: a network that guesses uniformly scores ln K, so 10× that means huge, confidently wrong logits.
DIVERGENCE_FACTOR = 10.0


@dataclass
class Progress:
    """What a live run reports a few times a second (read by the page and the CLI)."""

    run_id: str
    state: str = "queued"
    epoch: int = 0  # epochs finished
    epochs: int = 0
    step: int = 0  # optimiser steps done
    total_steps: int = 0
    loss: float | None = None
    images_per_s: float | None = None
    elapsed_s: float = 0.0
    eta_s: float | None = None
    memory_mb: float | None = None
    reason: str = ""

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0


class _Diverged(Exception):
    pass


class _Stopped(Exception):
    pass


def prepare_run(config: TrainConfig, root: Path | None = None, owner: str = "") -> Path:
    """Check the settings and the dataset, then create the run folder (state `queued`).

    Raises ValueError (e.g. `datasets.DatasetUnavailable`) with one sentence when the run
    cannot start; nothing is written then.
    """
    config.validate()
    data = datasets.load(config.dataset, folder_size=config.folder_size)
    c, h, w = data.shape
    size = config.image_size
    run_config = RunConfig(
        run_id=runs.new_run_id(config.model, config.dataset.rsplit("/", 1)[-1]),
        settings=config, variant="mnist" if c == 1 else "cifar", in_channels=c,
        height=size or h, width=size or w, num_classes=data.num_classes,
        class_names=tuple(data.class_names), mean=tuple(data.mean), std=tuple(data.std),
        dataset_title=data.title, train_size=len(data.train_y), test_size=len(data.test_y),
        created=time.time(), owner=owner,
    )
    return runs.create_run(run_config, root)


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """SGD (momentum, Nesterov), Adam or AdamW; one fused kernel per step on CUDA and CPU."""
    params = [p for p in model.parameters() if p.requires_grad]
    fused = {"fused": True} if params and params[0].device.type in ("cuda", "cpu") else {}
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                               nesterov=cfg.nesterov and cfg.momentum > 0,
                               weight_decay=cfg.weight_decay, **fused)
    cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **fused)


def make_schedule(optimizer: torch.optim.Optimizer, cfg: TrainConfig,
                  steps_per_epoch: int) -> torch.optim.lr_scheduler.LRScheduler:
    """A per-step schedule (step it after every optimiser step)."""
    total = max(1, cfg.epochs * steps_per_epoch)
    sched = torch.optim.lr_scheduler
    if cfg.schedule == "step":
        return sched.StepLR(optimizer, step_size=max(1, cfg.step_epochs * steps_per_epoch),
                            gamma=cfg.step_gamma)
    if cfg.schedule == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=total)
    if cfg.schedule == "onecycle":
        return sched.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total + 1,
                                pct_start=0.25, cycle_momentum=cfg.optimizer == "sgd")
    return sched.LambdaLR(optimizer, lambda _: 1.0)


def memory_mb(device: torch.device) -> float | None:
    """Memory the run holds: CUDA/MPS allocations, or this process's resident set on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    if device.type == "mps":
        return torch.mps.current_allocated_memory() / 2**20
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _autocast(device: torch.device, enabled: bool):
    if device.type == "cuda" and enabled:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def predict(model: nn.Module, x_uint8: torch.Tensor, pipeline: augment.BatchPipeline,
            batch_size: int, amp: bool = True,
            channels_last: bool = False) -> torch.Tensor:
    """Logits (float32, on the device) for a whole uint8 tensor, batch by batch."""
    model.eval()
    out = []
    for i in range(0, len(x_uint8), batch_size):
        x = pipeline(x_uint8[i:i + batch_size], train=False)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with _autocast(x.device, amp):
            out.append(model(x).float())
    return torch.cat(out) if out else torch.empty(0)


def evaluation(logits: torch.Tensor, labels: torch.Tensor, class_names: list[str],
               keep: int) -> dict[str, Any]:
    """Confusion matrix (rows: true, columns: predicted), per-class accuracy, worst mistakes."""
    k = len(class_names)
    probs = logits.softmax(1)
    conf, pred = probs.max(1)
    matrix = torch.bincount(labels * k + pred, minlength=k * k).view(k, k).cpu()
    per_class = (matrix.diag().float() / matrix.sum(1).clamp_min(1).float()).tolist()
    wrong = (pred != labels).nonzero().flatten()
    order = wrong[conf[wrong].argsort(descending=True)][:keep].cpu().tolist()
    pred_c, labels_c, conf_c = pred.cpu(), labels.cpu(), conf.cpu()
    return {
        "class_names": class_names,
        "confusion": matrix.tolist(),
        "per_class_accuracy": per_class,
        "accuracy": float(matrix.diag().sum() / matrix.sum().clamp_min(1)),
        "misclassified": [{"index": i, "true": int(labels_c[i]), "pred": int(pred_c[i]),
                           "confidence": float(conf_c[i])} for i in order],
    }


class _Run:
    """The state of one training run while it goes."""

    def __init__(self, run_dir: Path, stop: threading.Event,
                 on_progress: Callable[[Progress], None] | None) -> None:
        self.run_dir = run_dir
        self.stop = stop
        self.on_progress = on_progress
        self.run_config = runs.read_config(run_dir)
        self.cfg = self.run_config.settings
        self.progress = Progress(self.run_config.run_id, epochs=self.cfg.epochs)
        self.pending: list[tuple[int, int, torch.Tensor, float]] = []
        self.epochs_done = 0
        self.last: dict[str, Any] = {}  # the last finished epoch's test accuracy, for status
        self.train_time = 0.0
        self.images_done = 0

    def report(self, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(self.progress, key, value)
        if self.on_progress is not None:
            with contextlib.suppress(Exception):  # a broken listener must not kill the run
                self.on_progress(self.progress)

    def flush(self, t_epoch: float) -> None:
        """Read the pending step losses off the device (one sync), log them, check them."""
        if not self.pending:
            return
        losses = torch.stack([p[2] for p in self.pending]).float().cpu().tolist()
        records = [{"kind": "step", "epoch": e, "step": s, "loss": loss, "lr": lr}
                   for (e, s, _, lr), loss in zip(self.pending, losses, strict=True)]
        self.pending.clear()
        runs.append_metrics(self.run_dir, records)
        now = time.monotonic()
        ips = self.images_done / max(self.train_time + now - t_epoch, 1e-9)
        done = self.progress.step
        elapsed = now - self.t0
        eta = elapsed / done * (self.progress.total_steps - done) if done else None
        self.report(loss=losses[-1], images_per_s=ips, elapsed_s=elapsed, eta_s=eta,
                    memory_mb=memory_mb(self.device))
        limit = DIVERGENCE_FACTOR * max(2.0, math.log(self.run_config.num_classes))
        bad = next((r for r in records if not math.isfinite(r["loss"]) or r["loss"] > limit),
                   None)
        if bad is not None:
            what = (f"exploded to {bad['loss']:.3g}" if math.isfinite(bad["loss"])
                    else f"became {bad['loss']}")
            raise _Diverged(
                f"The loss {what} at step {bad['step']} (epoch {bad['epoch']}): "
                f"the learning rate {self.cfg.lr:g} is too high for this network; try a "
                "smaller one (÷10)."
            )

    def execute(self) -> dict:
        cfg, rc = self.cfg, self.run_config
        self.t0 = time.monotonic()
        self.device = devices.pick_device(cfg.device)
        data = datasets.load(cfg.dataset, folder_size=cfg.folder_size)
        dev = self.device
        cuda = dev.type == "cuda"
        if cuda:
            torch.backends.cudnn.benchmark = True
        train_x, train_y = data.train_x.to(dev), data.train_y.to(dev)
        test_x, test_y = data.test_x.to(dev), data.test_y.to(dev)
        model = zoo.build_seeded(rc.model, seed=rc.seed, **rc.build_kwargs()).to(dev)
        cl = dev.type == "cuda" and cfg.channels_last
        if cl:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        pipeline = augment.BatchPipeline(rc.mean, rc.std, cfg.augment, dev,
                                         cfg.image_size, seed=cfg.seed)
        n, bs = len(train_y), cfg.batch_size
        steps = n // bs + (1 if n % bs > 1 else 0)  # a last batch of one would upset BatchNorm
        optimizer = make_optimizer(model, cfg)
        schedule = make_schedule(optimizer, cfg, steps)
        criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        shuffle = torch.Generator(device=dev).manual_seed(cfg.seed)
        interval = 1.0 / max(cfg.readouts_per_s, 0.1)
        self.report(state="running", total_steps=steps * cfg.epochs)
        runs.write_status(self.run_dir, "running", device=str(dev))
        step = 0
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            perm = torch.randperm(n, generator=shuffle, device=dev)
            loss_sum = torch.zeros((), device=dev)
            correct = torch.zeros((), device=dev, dtype=torch.int64)
            seen = 0
            t_epoch = next_readout = time.monotonic()
            self.images_done, self.train_time = 0, 0.0
            for i in range(steps):
                if self.stop.is_set():
                    self.flush(t_epoch)
                    raise _Stopped(f"Stopped during epoch {epoch}, after {step} steps.")
                idx = perm[i * bs:(i + 1) * bs]
                x, y = pipeline(train_x[idx]), train_y[idx]
                if cl:
                    x = x.contiguous(memory_format=torch.channels_last)
                with _autocast(dev, cfg.amp):
                    logits = model(x)
                loss = criterion(logits.float(), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                lr = optimizer.param_groups[0]["lr"]
                schedule.step()
                step += 1
                loss = loss.detach()
                loss_sum += loss * len(y)
                correct += (logits.argmax(1) == y).sum()
                seen += len(y)
                self.images_done += len(y)
                self.pending.append((epoch, step, loss, lr))
                self.progress.step = step
                if time.monotonic() >= next_readout:
                    next_readout = time.monotonic() + interval
                    self.flush(t_epoch)
            self.flush(t_epoch)
            self.train_time = time.monotonic() - t_epoch
            train_loss = float(loss_sum) / seen
            if not math.isfinite(train_loss):
                raise _Diverged(f"The training loss of epoch {epoch} is {train_loss}.")
            logits = predict(model, test_x, pipeline, max(bs, 256), cfg.amp, cl)
            test_loss = float(nn.functional.cross_entropy(logits, test_y))
            test_acc = float((logits.argmax(1) == test_y).float().mean())
            record = {
                "kind": "epoch", "epoch": epoch, "step": step, "train_loss": train_loss,
                "train_acc": float(correct) / seen, "test_loss": test_loss, "test_acc": test_acc,
                "lr": optimizer.param_groups[0]["lr"],
                "images_per_s": seen / max(self.train_time, 1e-9),
                "memory_mb": memory_mb(dev), "time_s": time.monotonic() - self.t0,
            }
            runs.append_metrics(self.run_dir, [record])
            checkpoints.save(self.run_dir, model, rc, epoch)
            self.epochs_done = epoch
            self.last = {"test_acc": test_acc}
            runs.write_status(self.run_dir, "running", epochs_done=epoch, device=str(dev),
                              test_acc=test_acc)
            self.report(epoch=epoch, images_per_s=record["images_per_s"],
                        memory_mb=record["memory_mb"])
        logits = predict(model, test_x, pipeline, max(bs, 256), cfg.amp, cl)
        result = evaluation(logits, test_y, list(rc.class_names), cfg.misclassified)
        runs.write_evaluation(self.run_dir, result)
        return runs.write_status(
            self.run_dir, "finished", epochs_done=self.epochs_done, device=str(dev),
            test_acc=result["accuracy"], elapsed_s=time.monotonic() - self.t0,
        )


def train(run_dir: Path | str, *, stop: threading.Event | None = None,
          on_progress: Callable[[Progress], None] | None = None) -> dict:
    """Run the training described by `run_dir/config.json`; returns the final status.

    Never raises: divergence, CUDA out-of-memory, a stop request or any other error end the
    run with a status and one sentence of reason. Finished epochs stay in `checkpoint.pt`;
    a stop also saves the weights of the moment.
    """
    run_dir = Path(run_dir)
    run = _Run(run_dir, stop or threading.Event(), on_progress)
    state, reason = "failed", ""
    try:
        status = run.execute()
        run.report(state="finished", step=run.progress.total_steps)
        return status
    except _Stopped as err:
        state, reason = "stopped", str(err)
        if getattr(run, "model", None) is not None:
            checkpoints.save(run_dir, run.model, run.run_config, run.epochs_done)
            reason += " The checkpoint holds the weights of that moment."
    except _Diverged as err:
        state, reason = "failed", f"Diverged. {err}"
    except torch.OutOfMemoryError:
        bs = run.cfg.batch_size
        reason = (f"The GPU ran out of memory at batch size {bs}: try a batch size of "
                  f"{max(1, bs // 2)} or smaller, or a smaller network.")
    except Exception as err:  # anything else ends the run, never the app
        reason = str(err) if isinstance(err, ValueError) else f"{type(err).__name__}: {err}"
    finally:
        run.model = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    run.report(state=state, reason=reason)
    return runs.write_status(run_dir, state, reason, epochs_done=run.epochs_done, **run.last)
