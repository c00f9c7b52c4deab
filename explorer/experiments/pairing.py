"""Paired runs: one shared start for an experiment's arms, queued together, read back together.

The arms of an experiment differ in one thing. Everything else starts equal:

- Weights: the first arm's network is built from the seed; every other arm is built from the
  same seed and then gets the first arm's tensors for each layer that matches it (the same
  kind of layer, in the same order, with the same shapes). Each arm's start is saved as
  `initial.pt` in its run folder (a plain state_dict, read with `weights_only=True`) and
  `shared_start.json` lists which of its tensors came from the first arm, so the page can
  check them against each other.
- Data: the same seed picks the same training subset and shuffles it the same way every
  epoch; the engine records a digest of each epoch's batch order, so that is checked too.

The arms go through the training queue as one submission (`run_queue.submit_group`): ordinary
run folders that survive reloads, show up in Training's runs list and carry the experiment id.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from explorer.experiments.designs import QUICK_IMAGES, Experiment, Size
from explorer.i18n import _
from explorer.models import zoo
from explorer.models.modules import leaf_modules
from explorer.training import run_queue, runs

INITIAL = "initial.pt"
SHARED = "shared_start.json"


def new_experiment_id(key: str) -> str:
    """`batchnorm-20261121-142501-3fa9`: the experiment's key, a time and a random suffix."""
    return f"{key}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def experiment_key(experiment_id: str) -> str:
    return experiment_id.split("-", 1)[0]


def _weighted_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, m) for name, m in leaf_modules(model).items()
            if next(m.parameters(), None) is not None]


def copy_shared_layers(reference: nn.Module, model: nn.Module) -> list[tuple[str, str]]:
    """Give `model` the tensors of `reference`'s matching layers; returns (model, reference)
    tensor name pairs copied.

    Layers match when they are of the same type, come in the same order among that type's
    layers, and every parameter and buffer has the same shape (BatchNorm layers that only
    one network has keep their own start).
    """
    pool: dict[type, list[tuple[str, nn.Module]]] = {}
    for name, layer in _weighted_layers(reference):
        pool.setdefault(type(layer), []).append((name, layer))
    copied: list[tuple[str, str]] = []
    with torch.no_grad():
        for name, layer in _weighted_layers(model):
            candidates = pool.get(type(layer), [])
            if not candidates:
                continue
            ref_name, ref_layer = candidates.pop(0)
            mine, theirs = layer.state_dict(), ref_layer.state_dict()
            if mine.keys() != theirs.keys() or any(
                    mine[k].shape != theirs[k].shape for k in mine):
                continue
            for key, tensor in mine.items():
                tensor.copy_(theirs[key])
                copied.append((f"{name}.{key}", f"{ref_name}.{key}"))
    return copied


def _seeded_model(run_dir: Path) -> nn.Module:
    config = runs.read_config(run_dir)
    return zoo.build_seeded(config.model, seed=config.seed, **config.build_kwargs())


def write_shared_start(run_dirs: list[Path]) -> None:
    """Save every arm's initial weights, the first arm's shared wherever the layers match."""
    reference = _seeded_model(run_dirs[0])
    for i, run_dir in enumerate(run_dirs):
        model = reference if i == 0 else _seeded_model(run_dir)
        copied = [] if i == 0 else copy_shared_layers(reference, model)
        torch.save(model.state_dict(), run_dir / INITIAL)
        (run_dir / SHARED).write_text(json.dumps(
            {"reference": run_dirs[0].name, "copied": copied}, indent=1))


def submit(experiment: Experiment, size: Size, owner: str, root: Path | None = None) -> str:
    """Queue the experiment's arms as one submission of `owner`; returns the experiment id.

    ValueError (one sentence) when they cannot be queued, e.g. while `owner` has a live run.
    """
    experiment_id = new_experiment_id(experiment.key)
    arms = experiment.sized(size)
    run_queue.submit_group(
        [arm.settings for arm in arms], owner, root,
        run_fields=[{"experiment": experiment_id, "arm": arm.label, "initial_weights": INITIAL}
                    for arm in arms],
        before_queue=write_shared_start)
    return experiment_id


# --- reading an experiment back -----------------------------------------------------------


@dataclass(frozen=True)
class ArmRun:
    """One arm as its run folder has it now."""

    label: str
    info: runs.RunInfo
    epochs: tuple[dict, ...]  # the epoch records of metrics.jsonl
    steps: tuple[int, ...]
    loss: tuple[float, ...]  # per step, smoothed

    @property
    def state(self) -> str:
        return self.info.state

    @property
    def last(self) -> dict | None:
        return self.epochs[-1] if self.epochs else None

    @property
    def measures_training_accuracy(self) -> bool:
        """Its last epoch measured accuracy on training images too (the augmentation arms)."""
        return bool(self.last and "train_eval_acc" in self.last)

    @property
    def gaps(self) -> list[dict[str, float]]:
        """Per epoch that measured both: training minus test accuracy."""
        return [{"epoch": e["epoch"], "gap": e["train_eval_acc"] - e["test_acc"]}
                for e in self.epochs if "train_eval_acc" in e]


@dataclass(frozen=True)
class Group:
    """The runs of one experiment id, in arm order."""

    experiment_id: str
    owner: str
    created: float
    runs: tuple[runs.RunInfo, ...]

    @property
    def live(self) -> bool:
        return any(r.state in runs.ACTIVE_STATES for r in self.runs)

    @property
    def quick(self) -> bool:
        """Run at the quick-check size (too small to judge the claim)."""
        return all(r.config.settings.train_limit == QUICK_IMAGES for r in self.runs)


def all_groups(root: Path | None = None) -> dict[str, list[Group]]:
    """Every experiment's runs in the runs folder (one scan), by experiment key, newest first."""
    found: dict[str, list[runs.RunInfo]] = {}
    for info in runs.list_runs(root):
        if info.config.experiment:
            found.setdefault(info.config.experiment, []).append(info)
    out: dict[str, list[Group]] = {}
    for eid, infos in found.items():
        infos.sort(key=lambda r: (r.config.created, r.run_id))
        group = Group(eid, infos[0].config.owner, infos[0].config.created, tuple(infos))
        out.setdefault(experiment_key(eid), []).append(group)
    for listed in out.values():
        listed.sort(key=lambda g: g.created, reverse=True)
    return out


def groups(key: str, root: Path | None = None) -> list[Group]:
    """Every run of experiment `key`, grouped by experiment id, newest first."""
    return all_groups(root).get(key, [])


def arm_runs(group: Group) -> list[ArmRun]:
    """Each arm's metrics as recorded so far."""
    out = []
    for info in group.runs:
        c = runs.curves(runs.read_metrics(info.path))
        out.append(ArmRun(info.config.arm or info.run_id, info, tuple(c.epochs),
                          tuple(c.step), tuple(c.loss_smooth)))
    return out


@dataclass(frozen=True)
class Fairness:
    """What the arms of a group were checked to share."""

    tensors_checked: int  # tensor pairs compared between each arm and the first
    tensors_equal: int
    epochs_compared: int  # epochs every arm finished
    orders_equal: bool

    def sentence(self) -> str:
        if self.tensors_checked:
            start = (_("identical initial weights in every layer the arms share ({equal} of "
                       "{checked} tensors compared now are equal)")
                     if self.tensors_equal == self.tensors_checked else
                     _("initial weights differ in {differ} of {checked} shared tensors")).format(
                equal=self.tensors_equal, checked=self.tensors_checked,
                differ=self.tensors_checked - self.tensors_equal)
        else:
            start = _("no layers to share")
        if not self.epochs_compared:
            order = _("batch order not yet recorded")
        elif self.orders_equal:
            order = _("the same batches in the same order in all {n} epoch(s)").format(
                n=self.epochs_compared)
        else:
            order = _("different batch orders")
        return _("Checked: {start}; {order}.").format(start=start, order=order)


def fairness(group: Group, arms: list[ArmRun]) -> Fairness:
    """Compare the arms' saved starts tensor by tensor and their batch-order digests."""
    checked = equal = 0
    states: dict[str, dict[str, torch.Tensor]] = {}

    def state(run_dir: Path) -> dict[str, torch.Tensor]:
        if run_dir.name not in states:
            states[run_dir.name] = torch.load(run_dir / INITIAL, map_location="cpu",
                                              weights_only=True)
        return states[run_dir.name]

    for info in group.runs[1:]:
        try:
            shared = json.loads((info.path / SHARED).read_text())
            reference = info.path.parent / shared["reference"]
            mine, theirs = state(info.path), state(reference)
        except (OSError, ValueError, KeyError, RuntimeError):
            continue
        for name, ref_name in shared["copied"]:
            checked += 1
            equal += bool(name in mine and ref_name in theirs
                          and torch.equal(mine[name], theirs[ref_name]))
    n = min((len(a.epochs) for a in arms), default=0)
    orders = [[e.get("order") for e in a.epochs[:n]] for a in arms]
    return Fairness(checked, equal, n, all(o == orders[0] for o in orders))
