"""The training timeline: filters and feature maps as the network learns (Zeiler & Fergus's
"evolution of features during training", for the student's own run).

While a run trains, rank 0 takes about `COUNT` snapshots evenly spread over its steps,
whatever its length (step 0, before any update, is the first; the last step, or the moment
of a stop, the last). Each holds the first layer's filters and the feature maps that one
fixed test image (the probe) produces in two or three conv layers, as float16 with at most
`MAX_CHANNELS` channels of at most `MAX_SIDE`² pixels per layer and a budget of numbers per
layer and for the filters, so a whole timeline stays under 5 MB whatever the network.
The folder `<run>/timeline/`:

- `meta.json`: the layers, the probe's test-set index and label, the planned steps;
- `probe.pt`: the probe image as uint8 [C, H, W];
- `step-0000123.pt`: one snapshot, written durably (temp file, fsync, rename: see `durable`),
  so a page can read a running run's timeline at any moment;
- `frames-0000001-0000049.pt`: the planned snapshots from step 1 to step 49, stacked (a
  batched recorder's; see `Recorder`). Everything is read with `weights_only=True`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, vmap

from explorer.feature_maps import first_layer_weights
from explorer.training import durable

FOLDER = "timeline"
COUNT = 50
MAX_CHANNELS = 16
MAX_SIDE = 32
LAYER_NUMBERS = 16 * 28 * 28  # per layer and snapshot: 25 kB as float16
FILTER_NUMBERS = 8192  # per snapshot: 16 kB as float16
MAX_LAYERS = 3
MIN_SIDE = 4  # maps smaller than 4×4 say little as pictures
#: In the background, snapshots are taken from copies of the model ("shadows"): two of them, for
#: networks of up to SHADOW_MAX_BYTES of weights; larger ones are snapshotted in the loop.
SHADOWS = 2
SHADOW_MAX_BYTES = 128 * 2**20
#: A batched recorder holds the weights of at most this many bytes of snapshots before taking
#: them all in one pass, and holds none longer than FLUSH_S (so a live page sees them soon).
BATCH_MAX_BYTES = 64 * 2**20
FLUSH_S = 1.0


def schedule(total_steps: int, count: int = COUNT) -> list[int]:
    """The steps to snapshot: `count` (or fewer, for short runs) evenly spread over 0…total."""
    total = max(0, int(total_steps))
    if total + 1 <= count:
        return list(range(total + 1))
    return sorted({round(i * total / (count - 1)) for i in range(count)})


def _conv_outputs(model: nn.Module, x: torch.Tensor) -> list[tuple[str, tuple[int, ...]]]:
    """(name, output shape) of every Conv2d call in one forward pass, in execution order."""
    seen: list[tuple[str, tuple[int, ...]]] = []
    handles = [m.register_forward_hook(lambda _m, _i, out, n=name: seen.append(
        (n, tuple(out.shape[1:])))) for name, m in model.named_modules()
        if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def choose_layers(model: nn.Module, x: torch.Tensor, limit: int = MAX_LAYERS) -> list[str]:
    """Up to `limit` conv layers spread through the network (first, middle, last) whose maps
    are at least `MIN_SIDE` pixels on a side; none for a network without convolutions."""
    convs = [name for name, shape in dict(_conv_outputs(model, x)).items()
             if min(shape[-2:]) >= MIN_SIDE]
    if len(convs) <= limit:
        return convs
    picks = [round(i * (len(convs) - 1) / (limit - 1)) for i in range(limit)]
    return [convs[i] for i in picks]


def _shrink(maps: torch.Tensor) -> torch.Tensor:
    """[C, H, W] (or [K, C, H, W]: K snapshots') → at most MAX_SIDE × MAX_SIDE, and as many
    of the first MAX_CHANNELS channels as fit in LAYER_NUMBERS values (16 at 28×28, 12 at
    32×32), float16 on the CPU."""
    maps = maps.float()
    if max(maps.shape[-2:]) > MAX_SIDE:
        maps = nn.functional.adaptive_avg_pool2d(maps, (min(maps.shape[-2], MAX_SIDE),
                                                        min(maps.shape[-1], MAX_SIDE)))
    keep = max(1, min(MAX_CHANNELS, LAYER_NUMBERS // (maps.shape[-2] * maps.shape[-1])))
    return maps[..., :keep, :, :].to("cpu", torch.float16).clone()


def _few_filters(weight: torch.Tensor, budget: int = FILTER_NUMBERS, stacked: bool = False
                 ) -> torch.Tensor:
    """As many filters as fit in `budget` numbers (all of a small conv's; a few of an MLP's
    first layer, whose "filters" are whole images), float16; `stacked`: of each snapshot in
    a [K, out, ...] stack."""
    one = weight[0] if stacked else weight
    per_filter = max(1, one[0].numel())
    keep = max(1, min(64, budget // per_filter))
    picked = weight[:, :keep] if stacked else weight[:keep]
    return picked.to("cpu", torch.float16).contiguous()


def _save_atomic(obj: Any, path: Path) -> None:
    durable.write_with(path, lambda fh: torch.save(obj, fh))


def _state_tensors(model: nn.Module) -> list[torch.Tensor]:
    return [*model.parameters(), *model.buffers()]


def _shadows(model: nn.Module, count: int) -> queue.Queue | None:
    """`count` frozen copies of `model` in eval mode, or None when it is too large to copy."""
    size = sum(t.numel() * t.element_size() for t in _state_tensors(model))
    if size > SHADOW_MAX_BYTES:
        return None
    pool: queue.Queue = queue.Queue()
    for _ in range(count):
        shadow = copy.deepcopy(model).eval().requires_grad_(False)
        pool.put(shadow)
    return pool


class Recorder:
    """Takes a run's snapshots (rank 0 only). A failure turns it off, never the run.

    `background=True` writes the snapshots in a thread of their own (call `close` at the end):
    a durable write costs about a millisecond, and a short run takes a snapshot at almost
    every step of its training loop. With `shadows` (default: for a model on a GPU) the
    snapshot is taken there too: the loop only copies the weights into a shadow model (one
    fused asynchronous copy) and the probe's forward pass, the maps' shrinking and their trip
    to the host (a sync) happen beside it. Not on the CPU: there the thread's forward pass
    would take a core from the training's OpenMP threads, which then all wait for it (LeNet-5
    on 2 cores trained at 0.57 of the bare loop's speed so, at 0.9 with the pass in the loop).

    Instead, in the background without shadows, snapshots are *batched*: at a planned step the
    loop only copies the weights into a slot of a pool allocated once (LeNet-5: 46 µs), and
    every `FLUSH_S` (`tick`), after an epoch's timed steps (`flush`, with the test pass: a
    fixed cost per epoch, 7 ms for 50 LeNet-5 snapshots) or when the pool is full, one
    pass of the probe through all the held weights at once (`torch.func.vmap` over the stacked
    weights: a grouped convolution instead of dozens of batch-1 passes, each mostly overhead)
    makes their pictures, written as one file. The pictures are the same as one snapshot at a
    time would make (to float rounding). A network too large to hold twice is snapshotted
    one step at a time, as is a snapshot off the plan (a stop's).
    """

    def __init__(self, run_dir: Path, model: nn.Module, probe_input: torch.Tensor,
                 probe_pixels: torch.Tensor, probe_index: int, probe_label: int,
                 total_steps: int, steps_per_epoch: int, count: int = COUNT,
                 background: bool = False, shadows: bool | None = None) -> None:
        self.writer = (ThreadPoolExecutor(1, thread_name_prefix="timeline-writer")
                       if background else None)
        self.folder = Path(run_dir) / FOLDER
        self.model = model
        self.x = probe_input[:1].detach()
        self.steps = set(schedule(total_steps, count))
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.last_step: int | None = None
        self.error = ""
        self.shadows: queue.Queue | None = None
        self.live = _state_tensors(model)
        self.state_names = [name for name, _ in model.named_parameters()] + [
            name for name, _ in model.named_buffers()]
        self.state_bytes = sum(t.numel() * t.element_size() for t in self.live)
        # A batched recorder's held weights: slot i of each pool tensor [P, *shape] holds the
        # weights of step held[i]. Allocated (and touched) once, before the first step: fresh
        # memory costs page faults (on this VM ~2.6 ms per MB), a clone per snapshot and a
        # stack per flush cost LeNet-5 about 5% of a 63-step epoch.
        self.held: list[int] = []
        self.pool: list[torch.Tensor] = []
        self.slots: list[list[torch.Tensor]] = []
        self.held_since = 0.0
        self.scratch: nn.Module | None = None  # for one-at-a-time captures of held weights
        self.batched = False
        try:
            was_training = model.training
            model.eval()
            self.layers = choose_layers(model, self.x)
            model.train(was_training)
            if shadows is None:  # see the class's docstring
                shadows = any(t.device.type == "cuda" for t in self.live)
            if background and shadows:
                self.shadows = _shadows(model, SHADOWS)
            self.batched = background and not shadows and 2 * self.state_bytes <= BATCH_MAX_BYTES
            if self.batched:
                # (one spare: the pool of a short run never fills, it is taken at epoch end)
                slots = min(len(self.steps) + 1, BATCH_MAX_BYTES // max(1, self.state_bytes))
                self.pool = [torch.zeros((slots, *t.shape), dtype=t.dtype, device=t.device)
                             for t in self.live]
                self.slots = [[t[i] for t in self.pool] for i in range(slots)]  # views
            self.folder.mkdir(parents=True, exist_ok=True)
            # clone: a row of the test set is a view that would save the whole set
            _save_atomic(probe_pixels.detach().to("cpu", torch.uint8).clone(),
                         self.folder / "probe.pt")
            meta = {"layers": self.layers, "probe_index": probe_index,
                    "probe_label": probe_label, "total_steps": total_steps,
                    "steps_per_epoch": self.steps_per_epoch, "planned": sorted(self.steps)}
            durable.write_bytes(self.folder / "meta.json", json.dumps(meta, indent=1).encode())
        except Exception as err:  # the timeline is a view on the run: it must not end it
            self._give_up(err)

    def _give_up(self, err: Exception) -> None:
        self.error = f"The timeline stopped taking snapshots ({type(err).__name__}: {err})."
        self.steps = set()
        with contextlib.suppress(OSError):  # the page shows why the timeline ends early
            durable.write_bytes(self.folder / "error.txt", self.error.encode())

    def due(self, step: int) -> bool:
        return step in self.steps

    def record(self, step: int) -> None:
        """Snapshot the model as it is now, at `step` (once per step)."""
        if self.error or step == self.last_step:
            return
        self.last_step = step
        if self.batched:
            if step in self.steps:
                self._hold(step)
                return
            self.flush()  # off the plan (a stop): the held ones go first
        if self.shadows is not None and self.writer is not None:
            shadow = self.shadows.get()  # waits only while every shadow is being captured
            try:
                torch._foreach_copy_(_state_tensors(shadow), self.live)
            except Exception as err:
                self.shadows.put(shadow)
                self._give_up(err)
                return
            self.writer.submit(self._capture_shadow, shadow, step)
            return
        was_training = self.model.training
        try:
            self.model.eval()
            snapshot = self._capture(self.model, step)
        except Exception as err:
            self._give_up(err)
            return
        finally:
            self.model.train(was_training)
        if self.writer is not None:  # the tensors are copies: the model may train on
            self.writer.submit(self._write, snapshot, step)
        else:
            self._write(snapshot, step)

    def _hold(self, step: int) -> None:
        try:
            with torch.no_grad():
                torch._foreach_copy_(self.slots[len(self.held)], self.live)
        except Exception as err:
            self._give_up(err)
            return
        if not self.held:
            self.held_since = time.monotonic()
        self.held.append(step)
        if len(self.held) == len(self.pool[0]):
            self.flush()

    def tick(self) -> None:
        """Take the held snapshots if the oldest has waited FLUSH_S (call it now and then)."""
        if self.held and time.monotonic() - self.held_since >= FLUSH_S:
            self.flush()

    def flush(self) -> None:
        """Take every held snapshot now, in one pass, and hand them to the writer."""
        if not self.held:
            return
        steps, self.held = self.held, []
        if self.error:
            return
        try:  # (the frames are copies: the pool's slots are free again once this returns)
            frames = self._capture_held(steps)
        except Exception as err:
            self._give_up(err)
            return
        self.writer.submit(self._write_frames, frames)

    def _capture_held(self, steps: list[int]) -> dict[str, Any]:
        """The snapshots of the held weights, stacked: one vmapped pass, or one pass each
        where vmap cannot take the network."""
        k = len(steps)
        stacked = {name: t[:k] for name, t in zip(self.state_names, self.pool, strict=True)}
        was_training = self.model.training
        self.model.eval()
        try:
            maps = self._vmapped_maps(stacked)
        except Exception:  # an operation without a batching rule, say: one at a time
            maps = None
        finally:
            self.model.train(was_training)
        if maps is None:
            return _stack_snapshots([self._capture_state([t[i] for t in self.pool], step)
                                     for i, step in enumerate(steps)])
        first = first_layer_weights(self.model, tuple(self.x.shape[1:]))
        filters = torch.empty(k, 0)
        if first:
            weights = stacked[f"{first[0]}.weight"].float().reshape(k, *first[1].shape)
            filters = _few_filters(weights, stacked=True)
        return {"steps": steps, "epochs": [s / self.steps_per_epoch for s in steps],
                "filter_layer": first[0] if first else "", "filters": filters, "maps": maps}

    def _vmapped_maps(self, stacked: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        modules = dict(self.model.named_modules())

        def probe_maps(state: dict[str, torch.Tensor], x: torch.Tensor) -> tuple:
            outs: dict[str, torch.Tensor] = {}
            handles = [modules[name].register_forward_hook(
                lambda _m, _i, out, n=name: outs.__setitem__(n, out)) for name in self.layers]
            try:
                functional_call(self.model, state, (x,))
            finally:
                for handle in handles:
                    handle.remove()
            return tuple(outs[name][0] for name in self.layers)

        with torch.no_grad():
            outs = vmap(probe_maps, in_dims=(0, None))(stacked, self.x)
        return {name: _shrink(out) for name, out in zip(self.layers, outs, strict=True)}

    def _capture_state(self, state: list[torch.Tensor], step: int) -> dict[str, Any]:
        if self.scratch is None:
            self.scratch = copy.deepcopy(self.model).eval().requires_grad_(False)
        torch._foreach_copy_(_state_tensors(self.scratch), state)
        return self._capture(self.scratch, step)

    def _capture(self, model: nn.Module, step: int) -> dict[str, Any]:
        """The snapshot of `model` (in eval mode): its first filters and the probe's maps."""
        maps: dict[str, torch.Tensor] = {}
        modules = dict(model.named_modules())
        handles = [modules[name].register_forward_hook(
            lambda _m, _i, out, n=name: maps.__setitem__(n, _shrink(out[0].detach())))
            for name in self.layers]
        try:
            with torch.no_grad():
                model(self.x)
        finally:
            for handle in handles:
                handle.remove()
        first = first_layer_weights(model, tuple(self.x.shape[1:]))
        return {"step": step, "epoch": step / self.steps_per_epoch,
                "filter_layer": first[0] if first else "",
                "filters": (_few_filters(first[1]) if first else torch.empty(0)),
                "maps": maps}

    def _capture_shadow(self, shadow: nn.Module, step: int) -> None:
        try:
            snapshot = self._capture(shadow, step)
        except Exception as err:
            self._give_up(err)
            return
        finally:
            self.shadows.put(shadow)
        self._write(snapshot, step)

    def _write(self, snapshot: dict[str, Any], step: int) -> None:
        try:
            _save_atomic(snapshot, self.folder / f"step-{step:07d}.pt")
        except Exception as err:
            self._give_up(err)

    def _write_frames(self, frames: dict[str, Any]) -> None:
        steps = frames["steps"]
        try:
            _save_atomic(frames, self.folder / f"frames-{steps[0]:07d}-{steps[-1]:07d}.pt")
        except Exception as err:
            self._give_up(err)

    def close(self) -> None:
        """Take the held snapshots, and wait until every snapshot taken is written."""
        if self.batched:
            self.flush()
        if self.writer is not None:
            self.writer.shutdown(wait=True)


def _stack_snapshots(snapshots: list[dict[str, Any]]) -> dict[str, Any]:
    """Single snapshots in the stacked form of a frames file."""
    return {"steps": [s["step"] for s in snapshots], "epochs": [s["epoch"] for s in snapshots],
            "filter_layer": snapshots[0]["filter_layer"],
            "filters": torch.stack([s["filters"] for s in snapshots]),
            "maps": {name: torch.stack([s["maps"][name] for s in snapshots])
                     for name in snapshots[0]["maps"]}}


# --- reading (any process) --------------------------------------------------------------------


@dataclass(frozen=True)
class Timeline:
    """A run's timeline as written so far."""

    folder: Path
    meta: dict[str, Any]
    steps: list[int]  # of the snapshots on disk, ascending
    frames: dict[int, Path]  # the frames file of each step that is in one

    @property
    def layers(self) -> list[str]:
        return list(self.meta.get("layers", []))

    def path(self, step: int) -> Path:
        """The file that holds `step`'s snapshot."""
        return self.frames.get(step) or self.folder / f"step-{step:07d}.pt"

    def probe(self) -> torch.Tensor | None:
        """The probe image, uint8 [C, H, W]."""
        with contextlib.suppress(OSError, RuntimeError, EOFError):
            return torch.load(self.folder / "probe.pt", map_location="cpu", weights_only=True)
        return None

    def snapshot(self, step: int) -> dict[str, Any]:
        """One snapshot: step, epoch, filter_layer, filters [N, C, k, k], maps {layer: CHW}."""
        if step not in self.frames:
            return torch.load(self.path(step), map_location="cpu", weights_only=True)
        frames = torch.load(self.frames[step], map_location="cpu", weights_only=True, mmap=True)
        i = frames["steps"].index(step)
        return {"step": step, "epoch": frames["epochs"][i],
                "filter_layer": frames["filter_layer"], "filters": frames["filters"][i].clone(),
                "maps": {name: maps[i].clone() for name, maps in frames["maps"].items()}}

    def error(self) -> str:
        """Why snapshots stopped early, if they did."""
        with contextlib.suppress(OSError):
            return (self.folder / "error.txt").read_text()
        return ""

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file())


def read(run_dir: Path) -> Timeline | None:
    """The run's timeline, or None when it has none (yet, or from before timelines)."""
    folder = Path(run_dir) / FOLDER
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    steps = {int(p.stem.split("-")[1]) for p in folder.glob("step-*.pt")}
    planned, frames = meta.get("planned", []), {}
    for path in folder.glob("frames-*.pt"):  # the planned steps from its first to its last
        first, last = (int(part) for part in path.stem.split("-")[1:3])
        frames.update({step: path for step in planned if first <= step <= last})
    return Timeline(folder, meta, sorted(steps | frames.keys()), frames)
