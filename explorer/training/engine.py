"""The training engine: one run of a zoo model on a dataset, written into its run folder.

The whole dataset sits on the training device as one uint8 tensor; every epoch shuffles
indices there and slices batches, which `augment.BatchPipeline` turns into normalised floats.
The inner loop never waits for the device and does nothing per step that a bare training
loop would not, besides the train accuracy's count: losses and correct counts stay on it and
are read out a few times a second (on CUDA by a non-blocking copy that is picked up once it
has landed), which is also when divergence (a NaN or infinite loss) is caught. Writing the
step losses, epoch records, timeline snapshots and status happens in threads of their own.
On CUDA the forward pass runs in bf16 autocast with channels_last tensors and is compiled
with CUDA graphs (`torch.compile(mode="reduce-overhead")`, falling back to eager); on CUDA and
CPU the optimiser step is one fused kernel. (channels_last is not used on the CPU: for LeNet-5
at batch 128 on a 2-core x86 CPU it measured ~30% slower than the default layout.)

bf16: every zoo network trains under bf16 autocast, none needs float32 throughout. Autocast
keeps the numerically delicate parts in float32 by itself: the loss (computed on float32
logits here), softmax, BatchNorm's statistics, and the `pow` inside AlexNet-style local
response normalisation; `lenet5-classic`'s sigmoids are fine in bf16 (its outputs lie in
[0, 1]). A student's own stack is built from the same layers, so it does too.

`train(run_dir)` never raises: whatever happens ends in `status.json` as finished, stopped or
failed with one sentence of reason, and every finished epoch is in `checkpoint.pt`. (Except
when even that status cannot be written, on a full disk: then the OSError goes to the caller.)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from explorer import devices
from explorer.i18n import N_, _
from explorer.models import zoo
from explorer.training import (
    augment,
    checkpoints,
    datasets,
    durable,
    own_classes,
    predictions,
    reasons,
    runs,
    timeline,
)
from explorer.training.config import RunConfig, TrainConfig
from explorer.training.records import Progress

#: A step loss above this many times chance level (ln of the class count) counts as diverged:
#: a network that guesses uniformly scores ln K, so 10× that means huge, confidently wrong logits.
DIVERGENCE_FACTOR = 10.0
HEARTBEAT_S = 1.0  # status.json is rewritten this often while a run is live
#: A run whose epochs take less than FAST_EPOCH_S (a small network on a GPU does 50 a second)
#: saves its checkpoint at most every CHECKPOINT_EVERY_S, and always after its last epoch:
#: a durable write of even LeNet-5's weights costs milliseconds, a fast epoch not many more.
FAST_EPOCH_S = 0.1
CHECKPOINT_EVERY_S = 1.0
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # torchvision's
INIT_IMAGES = 5000  # the training images a data-dependent first layer is set from
AGREE_LAG = 4  # under DDP, steps between an agreement's launch and the reading of its answer


class _Diverged(reasons.ReasonError):
    pass


class _Stopped(reasons.ReasonError):
    pass


def prepare_run(config: TrainConfig, root: Path | None = None, owner: str = "",
                **run_fields: Any) -> Path:
    """Check the settings and the dataset, then create the run folder (state `queued`).

    `run_fields` set further `RunConfig` fields (an experiment's `experiment`, `arm`,
    `initial_weights`). Raises ValueError (e.g. `datasets.DatasetUnavailable`) with one
    sentence when the run cannot start; nothing is written then.
    """
    config.validate()
    if config.dataset.startswith(datasets.OWN_PREFIX):  # a student's own: theirs alone
        try:
            own_classes.check_use(config.dataset, owner)
        except ValueError as err:
            raise datasets.DatasetUnavailable(str(err)) from None
    data = datasets.load(config.dataset, folder_size=config.folder_size)
    c, h, w = data.shape
    size = config.image_size
    variant, mean, std = ("mnist" if c == 1 else "cifar"), tuple(data.mean), tuple(data.std)
    if config.pretrained:  # the published architecture, fed as its weights were trained
        variant, mean, std = "imagenet", IMAGENET_MEAN[:c], IMAGENET_STD[:c]
        file = zoo.pretrained_file(config.model, config.batchnorm)
        if c != 3 or file is None:
            raise ValueError(_("Fine-tuning starts from ImageNet weights: it needs a network "
                               "that has them and colour images."))
        if not file.is_cached():
            raise ValueError(file.refusal() or _(
                "No pretrained {name} weights on this machine: {by_hand}.").format(
                    name=_(zoo.get_spec(config.model).title), by_hand=file.by_hand()))
    run_config = RunConfig(
        run_id=runs.new_run_id(config.model, config.dataset.rsplit("/", 1)[-1]),
        settings=config, variant=variant, in_channels=c,
        height=size or h, width=size or w, num_classes=data.num_classes,
        class_names=tuple(data.class_names), mean=mean, std=std,
        dataset_title=data.title,
        train_size=len(subset(len(data.train_y), config.train_limit, config.seed)),
        test_size=len(subset(len(data.test_y), config.test_limit, config.seed)),
        created=time.time(), owner=owner, **run_fields,
    )
    if config.model == zoo.CUSTOM:  # a stack that cannot take this dataset fails here, at once
        with torch.device("meta"):
            zoo.build_model(config.model, **run_config.build_kwargs())
    return runs.create_run(run_config, root)


def subset(n: int, limit: int, seed: int) -> torch.Tensor:
    """Indices of a run's images: all `n` in order, or `limit` of them drawn with `seed`.

    Every run with the same seed and limit gets the same images, so paired runs compare.
    """
    if not 0 < limit < n:
        return torch.arange(n)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[:limit].sort().values


def order_fingerprint(perm: torch.Tensor) -> str:
    """A short digest of an epoch's batch order: equal digests, the same batches in order."""
    return hashlib.sha1(perm.to("cpu", torch.int64).numpy().tobytes()).hexdigest()[:12]


def start_from_imagenet(model: nn.Module, cfg: TrainConfig) -> list[nn.Parameter]:
    """Copy the network's ImageNet weights into `model` (same architecture, its own head for
    this dataset's classes, which keeps its fresh weights); returns the parameters copied
    (the backbone), frozen when `cfg.freeze_backbone`. Raises zoo.PretrainedMissing."""
    published = zoo.build_pretrained(cfg.model, cfg.batchnorm).state_dict()
    own = model.state_dict()
    fitting = {k: v for k, v in published.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(fitting, strict=False)
    backbone = [p for name, p in model.named_parameters() if name in fitting]
    for p in backbone:
        p.requires_grad_(not cfg.freeze_backbone)
    return backbone


def param_groups(model: nn.Module, cfg: TrainConfig,
                 backbone: list[nn.Parameter] | None = None) -> list[dict[str, Any]]:
    """The trainable parameters: one group; or with a fine-tuned `backbone` learning, the
    head at lr and the backbone at lr × backbone_lr_scale (d2l's fine-tuning); or with
    `bias_lr_scale` ≠ 1 the weights first and the one-dimensional ones (biases, BatchNorm's
    scales and shifts) at lr × scale and weight decay ÷ scale, as airbench trains its biases."""
    params = [p for p in model.parameters() if p.requires_grad]
    slow = {id(p) for p in backbone or () if p.requires_grad}
    if slow:
        groups = [{"params": [p for p in params if id(p) not in slow], "lr": cfg.lr,
                   "weight_decay": cfg.weight_decay},
                  {"params": [p for p in params if id(p) in slow],
                   "lr": cfg.lr * cfg.backbone_lr_scale, "weight_decay": cfg.weight_decay}]
        return [g for g in groups if g["params"]]
    if cfg.bias_lr_scale == 1:
        return [{"params": params, "lr": cfg.lr, "weight_decay": cfg.weight_decay}]
    weights, biases = [p for p in params if p.ndim > 1], [p for p in params if p.ndim <= 1]
    groups = [{"params": weights, "lr": cfg.lr, "weight_decay": cfg.weight_decay},
              {"params": biases, "lr": cfg.lr * cfg.bias_lr_scale,
               "weight_decay": cfg.weight_decay / cfg.bias_lr_scale}]
    return [g for g in groups if g["params"]]


def make_optimizer(model: nn.Module, cfg: TrainConfig,
                   backbone: list[nn.Parameter] | None = None) -> torch.optim.Optimizer:
    """SGD (momentum, Nesterov), Adam or AdamW; one fused kernel per step on CUDA and CPU."""
    groups = param_groups(model, cfg, backbone)
    first = groups[0]["params"]
    fused = {"fused": True} if first and first[0].device.type in ("cuda", "cpu") else {}
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum,
                               nesterov=cfg.nesterov and cfg.momentum > 0, **fused)
    cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
    return cls(groups, lr=cfg.lr, **fused)


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
        # (at least 8 steps: below that its warm-up phase has no step, and it divides by 0)
        return sched.OneCycleLR(optimizer, max_lr=[g["lr"] for g in optimizer.param_groups],
                                total_steps=max(total + 1, 8),
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
            batch_size: int, amp: bool = True, channels_last: bool = False,
            flips: bool = False) -> torch.Tensor:
    """Logits (float32, on the device) for a whole uint8 tensor, batch by batch; with `flips`,
    the mean of each image's and its mirror image's (test-time augmentation)."""
    model.eval()
    out = []
    for i in range(0, len(x_uint8), batch_size):
        x = pipeline(x_uint8[i:i + batch_size], train=False)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with _autocast(x.device, amp):
            logits = model(x).float()
            if flips:
                logits = (logits + model(x.flip(-1)).float()) / 2
        out.append(logits)
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


def shard_indices(n: int, rank: int, world: int, seed: int) -> torch.Tensor:
    """Rank `rank`'s share of `n` training images: disjoint shards that together cover all n.

    One seeded permutation is cut into `world` nearly equal parts (sizes differ by at most 1),
    so every rank keeps its own part of the device-resident dataset.
    """
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    bounds = [n * r // world for r in range(world + 1)]
    return order[bounds[rank]:bounds[rank + 1]]


def _distributed() -> tuple[int, int]:
    """(rank, world size) of the torch.distributed group, (0, 1) outside one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def use_compile(cfg: TrainConfig, device: torch.device) -> bool:
    """Compile the training step? `auto` compiles on CUDA only (slower on this CPU, see bench)."""
    return cfg.compile == "on" or (cfg.compile == "auto" and device.type == "cuda")


def compile_mode(device: torch.device, world: int) -> str:
    """torch.compile's mode for a compiled step: CUDA graphs on one CUDA device.

    Every batch of an epoch has one shape but the last, so "reduce-overhead" records two
    graphs and replays them, which removes the kernel launches a small network is bound by.
    Under DDP the gradients' all-reduce hooks do not go into a graph: plain compilation there.
    """
    return "reduce-overhead" if device.type == "cuda" and world == 1 else "default"


def _json_number(value: float) -> str:
    return repr(value) if math.isfinite(value) else json.dumps(value)  # NaN, Infinity


def step_lines(epoch: int, first_step: int, losses: list[float], lrs: list[float]) -> bytes:
    """metrics.jsonl lines of consecutive steps, as `json.dumps` of their records would be."""
    return "".join(
        f'{{"kind": "step", "epoch": {epoch}, "step": {first_step + i}, '
        f'"loss": {_json_number(loss)}, "lr": {_json_number(lr)}}}\n'
        for i, (loss, lr) in enumerate(zip(losses, lrs, strict=True))).encode()


class _MetricsWriter:
    """Appends to metrics.jsonl in a thread of its own, in order (an fsync per batch costs
    milliseconds). The first error is kept; `check` raises it in the training loop, so a full
    disk still ends the run with its sentence."""

    def __init__(self, run_dir: Path, enabled: bool) -> None:
        self.path = run_dir / "metrics.jsonl"
        self.run_dir = run_dir
        self.pool = (ThreadPoolExecutor(1, thread_name_prefix="metrics-writer")
                     if enabled else None)
        self.error: OSError | None = None

    def _run(self, write: Callable[[], None]) -> None:
        if self.error is None:
            try:
                write()
            except OSError as err:
                self.error = err

    def steps(self, epoch: int, first_step: int, losses: list[float], lrs: list[float]) -> None:
        if self.pool is not None:
            self.pool.submit(self._run, lambda: durable.append_bytes(
                self.path, step_lines(epoch, first_step, losses, lrs)))

    def records(self, records: list[dict[str, Any]]) -> None:
        if self.pool is not None:
            self.pool.submit(self._run, lambda: runs.append_metrics(self.run_dir, records))

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Wait until everything handed over is written (errors stay in `error`)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)


class _Readout:
    """Step losses stacked on the device, on their way to the host.

    On CUDA the copy goes into pinned memory without blocking and is taken once its event has
    completed, so the training loop never waits for the GPU; elsewhere it is a plain copy.
    """

    def __init__(self, epoch: int, first_step: int, first_index: int,
                 losses: list[torch.Tensor], lrs: list[float]) -> None:
        self.epoch, self.first_step, self.first_index, self.lrs = (epoch, first_step,
                                                                   first_index, lrs)
        stacked = torch.stack(losses).float()
        self.event: torch.cuda.Event | None = None
        if stacked.device.type == "cuda":
            self.host = torch.empty(stacked.shape, pin_memory=True)
            self.host.copy_(stacked, non_blocking=True)
            self.event = torch.cuda.Event()
            self.event.record()
        else:
            self.host = stacked.cpu()

    def ready(self) -> bool:
        return self.event is None or self.event.query()

    def values(self) -> list[float]:
        if self.event is not None:
            self.event.synchronize()
        return self.host.tolist()


class Heartbeat:
    """Calls `write()` (a job's live status) at once and then every `period_s` until the
    `with` ends. A disk too full for it ends the job: the error is kept in `self.error` and
    `stop` is set."""

    def __init__(self, write: Callable[[], None], stop: threading.Event,
                 period_s: float = HEARTBEAT_S) -> None:
        self.write, self.stop, self.period_s = write, stop, period_s
        self.error: OSError | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self.done.wait(self.period_s):
            try:
                self.write()
            except OSError as err:
                if durable.disk_full(err):  # the job cannot keep its results: end it now
                    self.failed(err)
                    return

    def failed(self, err: OSError) -> None:
        self.error = err
        self.stop.set()

    def __enter__(self) -> Heartbeat:
        self.write()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()


class _Heartbeat(Heartbeat):
    """The training run's heartbeat (rank 0): its error is the run's `write_error`."""

    def __init__(self, run: _Run, period_s: float = HEARTBEAT_S) -> None:
        super().__init__(run.write_live_status, run.stop, period_s)
        self.run = run

    def failed(self, err: OSError) -> None:
        self.run.write_error = err  # before the stop that the loop reads it after
        super().failed(err)


class _Agreement:
    """Under DDP, whether every rank goes on: all stop together, on a stop request or a bad
    loss anywhere, so no rank is left waiting in a collective the others have abandoned.

    Every step launches one small asynchronous all-reduce (MAX of two flags: stop asked here,
    a bad loss here) and takes the answer of the one launched AGREE_LAG steps before, which
    has long arrived: the loop never waits for it, and on CUDA the host stays free to run
    ahead of the device (a blocking all-reduce per step drained the queue at every step).
    Every rank takes the same answers at the same steps, and all of them at an epoch's end.
    """

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.local: torch.Tensor | None = None  # [stop asked here, bad loss seen here]
        self.in_flight: list[tuple[Any, torch.Tensor, torch.Tensor, int, int]] = []
        self.bad: tuple[float, int, int] | None = None  # the first bad loss a readout saw
        self.stop = False  # agreed: every rank stops at the top of its next step
        self.stop_sent = False

    def note_bad(self, loss: float, step: int, epoch: int) -> None:
        """A readout's bad loss: it ends the run on every rank at the next answer."""
        if self.bad is None:
            self.bad = (loss, step, epoch)
            if self.local is not None:
                self.local[1] = 1.0

    def step(self, loss: torch.Tensor, step: int, epoch: int, last: bool) -> None:
        """Launch this step's agreement; take the answers that are due (all of them if `last`)."""
        if self.local is None:
            self.local = torch.zeros(2, device=loss.device)
            self.local[1] = float(self.bad is not None)
        if self.run.stop.is_set() and not self.stop_sent:
            self.local[0], self.stop_sent = 1.0, True
        limit = DIVERGENCE_FACTOR * max(2.0, math.log(self.run.run_config.num_classes))
        bad = (~torch.isfinite(loss) | (loss > limit)).float()
        flags = torch.maximum(self.local, torch.stack([torch.zeros_like(bad), bad]))
        work = dist.all_reduce(flags, op=dist.ReduceOp.MAX, async_op=True)
        self.in_flight.append((work, flags, loss, step, epoch))
        while len(self.in_flight) > (0 if last else AGREE_LAG):
            self._take(*self.in_flight.pop(0))

    def _take(self, work: Any, flags: torch.Tensor, loss: torch.Tensor, step: int,
              epoch: int) -> None:
        work.wait()
        stop, diverged = flags.tolist()
        if diverged:
            self.drain()
            self.run.flush_quietly()
            value = float(loss)
            at = self.bad or (value if math.isfinite(value) else float("nan"), step, epoch)
            raise self.run.divergence(*at)
        if stop:
            self.stop = True
            self.run.stop.set()

    def drain(self) -> None:
        """Wait for every agreement still in flight, their answers unread (leaving the loop)."""
        for work, *_rest in self.in_flight:
            with contextlib.suppress(Exception):
                work.wait()
        self.in_flight.clear()


class _Run:
    """The state of one training run while it goes (one per process; rank 0 writes)."""

    def __init__(self, run_dir: Path, stop: threading.Event,
                 on_progress: Callable[[Progress], None] | None) -> None:
        self.run_dir = run_dir
        self.stop = stop
        self.on_progress = on_progress
        self.run_config = runs.read_config(run_dir)
        self.cfg = self.run_config.settings
        self.rank, self.world = _distributed()
        self.main = self.rank == 0
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.progress = Progress(self.run_config.run_id, epochs=self.cfg.epochs,
                                 processes=self.world)
        # This readout's step losses (device scalars) and learning rates, from step
        # `pending_from` (its index in the epoch `pending_index`); readouts still in flight.
        self.pending: list[torch.Tensor] = []
        self.pending_lrs: list[float] = []
        self.pending_from = self.pending_index = 0
        self.in_flight: list[_Readout] = []
        self.epoch_loss = 0.0  # Σ loss × batch size over this epoch's steps read out so far
        self.batch_size = self.train_size = 0  # per process
        self.epoch = 0  # the epoch in progress
        self.metrics = _MetricsWriter(run_dir, self.main)
        self.last_checkpoint = -math.inf
        self.train_time = 0.0
        self.images_done = 0
        self.model: nn.Module | None = None
        self.order = ""  # this epoch's batch order, as `order_fingerprint` digests it
        self.train_data: tuple[torch.Tensor, torch.Tensor] | None = None
        self.timeline: timeline.Recorder | None = None
        self.t0 = time.monotonic()
        self._status_lock = threading.Lock()
        self.write_error: OSError | None = None  # a heartbeat that found the disk full
        self.agreement = _Agreement(self) if self.world > 1 else None

    def write_live_status(self) -> None:
        with self._status_lock:
            if self.main and self.progress.state in runs.ACTIVE_STATES:
                runs.write_status(self.run_dir, "running", epochs_done=self.progress.epoch,
                                  **self.progress.live_fields())

    def report(self, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(self.progress, key, value)
        if self.on_progress is not None and self.main:
            with contextlib.suppress(Exception):  # a broken listener must not kill the run
                self.on_progress(self.progress)

    def flush(self, t_epoch: float, wait: bool = True) -> None:
        """Send the pending step losses to the host, and take every readout that has arrived
        (all of them with `wait`, as at an epoch's end): log them, check them, report."""
        if self.pending:
            self.in_flight.append(_Readout(self.epoch, self.pending_from, self.pending_index,
                                           self.pending, self.pending_lrs))
            self.pending, self.pending_lrs = [], []
        taken = []
        while self.in_flight and (wait or self.in_flight[0].ready()):
            taken.append(self.in_flight.pop(0))
        self.metrics.check()
        if not taken:
            return
        last = 0.0
        for readout in taken:
            losses = readout.values()
            self.metrics.steps(readout.epoch, readout.first_step, losses, readout.lrs)
            bs, n = self.batch_size, self.train_size
            self.epoch_loss += sum(loss * min(bs, n - (readout.first_index + i) * bs)
                                   for i, loss in enumerate(losses))
            bad = next((i for i, loss in enumerate(losses) if self.diverged(loss)), None)
            if bad is not None and self.agreement is not None:  # all ranks end at an answer
                self.agreement.note_bad(losses[bad], readout.first_step + bad, readout.epoch)
            elif bad is not None:
                raise self.divergence(losses[bad], readout.first_step + bad, readout.epoch)
            last = losses[-1]
        now = time.monotonic()
        ips = self.world * self.images_done / max(self.train_time + now - t_epoch, 1e-9)
        done = self.progress.step
        elapsed = now - self.t0
        eta = elapsed / done * (self.progress.total_steps - done) if done else None
        self.report(loss=last, images_per_s=ips, elapsed_s=elapsed, eta_s=eta,
                    memory_mb=memory_mb(self.device))

    def diverged(self, loss: float) -> bool:
        limit = DIVERGENCE_FACTOR * max(2.0, math.log(self.run_config.num_classes))
        return not math.isfinite(loss) or loss > limit

    def divergence(self, loss: float, step: int, epoch: int) -> _Diverged:
        """The exception that ends a run whose loss blew up, with its advice."""
        template = (N_("Diverged. The loss exploded to {loss} at step {step} (epoch {epoch}): "
                       "the learning rate {lr} is too high for this network; try a smaller "
                       "one (÷10).") if math.isfinite(loss) else
                    N_("Diverged. The loss became {loss} at step {step} (epoch {epoch}): the "
                       "learning rate {lr} is too high for this network; try a smaller one "
                       "(÷10)."))
        return _Diverged(template, loss=f"{loss:.3g}" if math.isfinite(loss) else str(loss),
                         step=step, epoch=epoch, lr=f"{self.cfg.lr:g}")

    def flush_quietly(self) -> None:
        with contextlib.suppress(_Diverged):
            self.flush(time.monotonic())

    def _data(self, dev: torch.device):
        cfg = self.cfg
        data = datasets.load(cfg.dataset, folder_size=cfg.folder_size)
        keep = subset(len(data.train_y), cfg.train_limit, cfg.seed)
        train_x, train_y = data.train_x[keep], data.train_y[keep]
        held = subset(len(data.test_y), cfg.test_limit, cfg.seed)
        test_x, test_y = data.test_x[held], data.test_y[held]
        if self.world > 1:
            part = shard_indices(len(train_y), self.rank, self.world, cfg.seed)
            train_x, train_y = train_x[part], train_y[part]
        n_all = len(keep)
        return train_x.to(dev), train_y.to(dev), test_x.to(dev), test_y.to(dev), n_all

    def _steps_per_epoch(self, n_all: int, bs: int) -> int:
        n = n_all // self.world  # the smallest shard: every rank takes the same number of steps
        return max(1, n // bs + (1 if n % bs > 1 else 0))  # a last batch of one upsets BatchNorm

    def execute(self) -> dict:
        cfg, rc = self.cfg, self.run_config
        self.device = dev = devices.pick_device(
            cfg.device, local_rank=self.local_rank if self.world > 1 else None)
        self.report(state="running", phase="loading data", device=str(dev))
        if dev.type == "cuda":
            torch.backends.cudnn.benchmark = True
        train_x, train_y, test_x, test_y, n_all = self._data(dev)
        self.train_data = (train_x, train_y)
        model = zoo.build_seeded(rc.model, seed=rc.seed, **rc.build_kwargs())
        backbone = None
        if rc.initial_weights:  # an experiment's arm: the start its partner shares
            model.load_state_dict(checkpoints.load(self.run_dir / rc.initial_weights))
        elif cfg.pretrained:
            backbone = start_from_imagenet(model, cfg)
        model = model.to(dev)
        pipeline = augment.BatchPipeline(rc.mean, rc.std, cfg.augment, dev, cfg.image_size,
                                         seed=cfg.seed + 7919 * self.rank)
        if callable(getattr(model, "init_from_data", None)) and not rc.initial_weights:
            # (airbench's whitening layer; before DDP, which then hands rank 0's to every rank)
            model.init_from_data(pipeline(train_x[:INIT_IMAGES], train=False))
        cl = dev.type == "cuda" and cfg.channels_last
        if cl:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        step_model: nn.Module = model
        if self.world > 1:
            step_model = DistributedDataParallel(
                model, device_ids=[dev.index] if dev.type == "cuda" else None)
        eager_model = step_model
        compiling = use_compile(cfg, dev)
        graphs = compiling and compile_mode(dev, self.world) == "reduce-overhead"
        if compiling:
            step_model = torch.compile(step_model, mode=compile_mode(dev, self.world))
        n, bs = len(train_y), max(1, cfg.batch_size // self.world)
        self.batch_size, self.train_size = bs, n
        steps = self._steps_per_epoch(n_all, bs)
        optimizer = make_optimizer(model, cfg, backbone)
        # A constant schedule changes nothing: not stepping it saves a Python call per step.
        schedule = make_schedule(optimizer, cfg, steps) if cfg.schedule != "constant" else None
        criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        shuffle = torch.Generator(device=dev).manual_seed(cfg.seed + 7919 * self.rank)
        interval = 1.0 / max(cfg.readouts_per_s, 0.1)
        self.report(phase="compiling" if compiling else "training",
                    total_steps=steps * cfg.epochs)
        if self.main:  # snapshots of one fixed test image's maps; step 0 is the untrained net
            self.timeline = timeline.Recorder(
                self.run_dir, model, pipeline(test_x[:1], train=False), test_x[0], 0,
                int(test_y[0]), steps * cfg.epochs, steps, background=True)
            self.timeline.record(0)
        due = self.timeline.steps if self.timeline is not None else set()
        step = 0
        next_readout = time.monotonic()  # across epochs: 50 short ones a second read out 50×
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            perm = torch.randperm(n, generator=shuffle, device=dev)
            self.order = order_fingerprint(perm)
            correct = torch.zeros((), device=dev, dtype=torch.int64)
            self.epoch, self.epoch_loss = epoch, 0.0
            self.pending_from, self.pending_index = step + 1, 0
            t_epoch = time.monotonic()
            self.images_done, self.train_time = 0, 0.0
            for i in range(steps):
                if self.agreement.stop if self.agreement is not None else self.stop.is_set():
                    if self.agreement is not None:
                        self.agreement.drain()
                    self.flush_quietly()
                    if self.write_error is not None:
                        raise self.write_error
                    raise _Stopped(N_("Stopped during epoch {epoch}, after {step} steps."),
                                   epoch=epoch, step=step)
                idx = perm[i * bs:(i + 1) * bs]  # index_select: 10× faster than x[idx] here
                x, y = pipeline(train_x.index_select(0, idx)), train_y.index_select(0, idx)
                if cl:
                    x = x.contiguous(memory_format=torch.channels_last)
                if step_model is eager_model:
                    logits, loss = self._step(step_model, x, y, criterion, optimizer)
                else:
                    t_compile = time.monotonic()
                    try:
                        if graphs:  # a new iteration: the graphs' previous outputs are dead
                            torch.compiler.cudagraph_mark_step_begin()
                        logits, loss = self._step(step_model, x, y, criterion, optimizer)
                    except Exception as err:  # (re)compilation failed: train eagerly instead
                        step_model = eager_model
                        optimizer.zero_grad(set_to_none=True)
                        self.report(note=reasons.COMPILE_FELL_BACK.format(
                            error=type(err).__name__))
                        logits, loss = self._step(step_model, x, y, criterion, optimizer)
                    else:
                        if compiling:
                            self.report(compile_s=time.monotonic() - t_compile)
                    if compiling:  # the first step is behind: time the epoch from here
                        compiling = False
                        self.report(phase="training")
                        t_epoch = next_readout = time.monotonic()
                        self.images_done = 0
                self.pending_lrs.append(optimizer.param_groups[0]["lr"])
                if schedule is not None:
                    schedule.step()
                step += 1
                correct += (logits.argmax(1) == y).sum()
                self.images_done += len(y)
                self.pending.append(loss)
                self.progress.step = step
                if step in due:
                    self.timeline.record(step)
                if self.agreement is not None:
                    self.agreement.step(loss, step, epoch, last=i == steps - 1)
                if time.monotonic() >= next_readout:
                    next_readout = time.monotonic() + interval
                    self.flush(t_epoch, wait=False)
                    self.pending_from, self.pending_index = step + 1, i + 1
                    if self.timeline is not None:
                        self.timeline.tick()
            self.flush(t_epoch)
            self.train_time = time.monotonic() - t_epoch
            if self.timeline is not None:  # the epoch's held snapshots: a fixed cost per epoch
                self.timeline.flush()
            seen = min(n, steps * bs)
            bad_seen = float(self.agreement is not None and self.agreement.bad is not None)
            totals = torch.stack([torch.tensor(self.epoch_loss, device=dev), correct.float(),
                                  torch.tensor(float(seen), device=dev),
                                  torch.tensor(bad_seen, device=dev)])
            if self.world > 1:  # (a bad loss in the epoch's last readout: every rank ends here)
                dist.all_reduce(totals)
            loss_total, correct_total, seen_total, bad_total = totals.tolist()
            train_loss = loss_total / seen_total
            if bad_total:
                raise self.divergence(*(self.agreement.bad or (float("nan"), step, epoch)))
            if not math.isfinite(train_loss):
                raise _Diverged(N_("Diverged. The training loss of epoch {epoch} is {loss}."),
                                epoch=epoch, loss=str(train_loss))
            self.report(phase="evaluating")
            if self.main:
                self._end_epoch(epoch, step, train_loss, correct_total / seen_total,
                                seen_total, optimizer, (test_x, test_y, pipeline, bs, cl))
            self.report(phase="training")
        self.metrics.close()
        self.metrics.check()
        if not self.main:
            return {"state": "finished"}
        logits = predict(model, test_x, pipeline, max(bs, 256), cfg.amp, cl, cfg.test_flips)
        result = evaluation(logits, test_y, list(rc.class_names), cfg.misclassified)
        runs.write_evaluation(self.run_dir, result)
        predictions.write(self.run_dir, logits, test_y)
        self.progress.test_acc = result["accuracy"]
        return {"test_acc": result["accuracy"], "elapsed_s": time.monotonic() - self.t0}

    def _step(self, step_model: nn.Module, x: torch.Tensor, y: torch.Tensor,
              criterion: nn.Module, optimizer: torch.optim.Optimizer
              ) -> tuple[torch.Tensor, torch.Tensor]:
        with _autocast(x.device, self.cfg.amp):
            logits = step_model(x)
        loss = criterion(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return logits, loss.detach()

    def _end_epoch(self, epoch: int, step: int, train_loss: float, train_acc: float,
                   seen: float, optimizer: torch.optim.Optimizer, test: tuple) -> None:
        test_x, test_y, pipeline, bs, cl = test
        model = self.model
        logits = predict(model, test_x, pipeline, max(bs, 256), self.cfg.amp, cl,
                         self.cfg.test_flips)
        test_loss = float(nn.functional.cross_entropy(logits, test_y))
        test_acc = float((logits.argmax(1) == test_y).float().mean())
        record = {
            "kind": "epoch", "epoch": epoch, "step": step, "train_loss": train_loss,
            "train_acc": train_acc, "test_loss": test_loss, "test_acc": test_acc,
            "lr": optimizer.param_groups[0]["lr"],
            "images_per_s": seen / max(self.train_time, 1e-9),
            "memory_mb": memory_mb(self.device), "time_s": time.monotonic() - self.t0,
            "order": self.order,
        }
        if self.cfg.eval_train:  # the training images as the test set is scored: no augmentation
            train_x, train_y = self.train_data
            logits = predict(model, train_x, pipeline, max(bs, 256), self.cfg.amp, cl)
            record["train_eval_loss"] = float(nn.functional.cross_entropy(logits, train_y))
            record["train_eval_acc"] = float((logits.argmax(1) == train_y).float().mean())
        self.metrics.records([record])
        now = time.monotonic()
        if (self.train_time >= FAST_EPOCH_S or epoch == self.cfg.epochs
                or now - self.last_checkpoint >= CHECKPOINT_EVERY_S):
            checkpoints.save(self.run_dir, model, self.run_config, epoch)
            self.last_checkpoint = now
        self.report(epoch=epoch, test_acc=test_acc, images_per_s=record["images_per_s"],
                    memory_mb=record["memory_mb"])


def _failure(err: Exception) -> dict[str, Any]:
    """The status fields of an unexpected error: a full disk says so, others name the error."""
    if durable.disk_full(err):
        return reasons.disk_full(err)
    return {"reason": str(err) if isinstance(err, ValueError) else f"{type(err).__name__}: {err}"}


def train(run_dir: Path | str, *, stop: threading.Event | None = None,
          on_progress: Callable[[Progress], None] | None = None) -> dict:
    """Run the training described by `run_dir/config.json`; returns the final status.

    Inside a torch.distributed group every rank calls this; rank 0 alone writes the run
    folder. Never raises: divergence, out-of-memory, a full disk, a stop request or any other
    error end the run with a status and one sentence of reason; only an OSError from writing
    that final status (the disk is full) reaches the caller. Finished epochs stay in
    `checkpoint.pt`;
    a stop also saves the weights of that moment. While it runs, a heartbeat rewrites
    status.json every second, so any process can show its progress and notice its death.
    """
    run_dir = Path(run_dir)
    run = _Run(run_dir, stop or threading.Event(), on_progress)
    state, why, extra = "failed", {"reason": ""}, {}
    with _Heartbeat(run):
        try:
            extra = run.execute()
            state = "finished"
            run.report(step=run.progress.total_steps)
        except _Stopped as err:
            state, why = "stopped", reasons.of_error(err)
            if run.model is not None and run.main:
                try:
                    checkpoints.save(run_dir, run.model, run.run_config, run.progress.epoch)
                except Exception as save_err:  # the checkpoint of the last epoch is kept
                    state, why = "failed", _failure(save_err)
                else:
                    if run.timeline is not None:
                        run.timeline.record(run.progress.step)
                    why = reasons.fields(N_("Stopped during epoch {epoch}, after {step} steps. "
                                            "The checkpoint holds the weights of that "
                                            "moment."), **err.values)
        except _Diverged as err:
            state, why = "failed", reasons.of_error(err)
        except torch.OutOfMemoryError:
            bs = run.cfg.batch_size
            why = reasons.fields(N_("The GPU ran out of memory at batch size {batch}: try a batch "
                                    "size of {smaller} or smaller, or a smaller network."),
                                 batch=bs, smaller=max(1, bs // 2))
        except Exception as err:  # anything else ends the run, never the app
            why = _failure(err)
        finally:
            if run.timeline is not None:
                run.timeline.close()
            run.metrics.close()
            run.model = None
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            with run._status_lock:
                run.progress.state = state  # the heartbeat writes nothing after this
    run.report(state=state, reason=why["reason"])
    fields_out = {**run.progress.live_fields(), **extra}
    fields_out.pop("phase", None)
    if not run.main:
        return {"state": state, **why}
    return runs.write_status(run_dir, state, **why, epochs_done=run.progress.epoch,
                             **fields_out)
