"""A run's `checkpoint.pt`: its weights and its `RunConfig`, loaded only as plain tensors.

Written durably (see `durable`) at every epoch end and on stop: a write that fails, say on a
full disk, leaves the previous checkpoint whole. Read with `torch.load(...,
weights_only=True)`, so a checkpoint file can never run code.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from explorer.models import zoo
from explorer.training import durable
from explorer.training.config import RunConfig


def save(run_dir: Path, model: nn.Module, config: RunConfig, epoch: int) -> Path:
    """Write `checkpoint.pt` durably: CPU state_dict, config and epochs done.

    OSError (e.g. a full disk) if it cannot; the previous checkpoint is kept then.
    """
    state = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}
    path = Path(run_dir) / "checkpoint.pt"
    payload = {"state_dict": state, "config": config.to_dict(), "epoch": int(epoch)}
    durable.write_with(path, lambda fh: torch.save(payload, fh))
    return path


def load(path: Path | str) -> dict:
    """A checkpoint file (or a run folder's) as a dict, tensors on the CPU."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    return torch.load(path, map_location="cpu", weights_only=True)


def model_from_checkpoint(run_dir: Path | str) -> tuple[nn.Module, RunConfig]:
    """Rebuild the run's zoo model and load its checkpoint strictly; returns (model, config)."""
    ckpt = load(Path(run_dir) / "checkpoint.pt")
    config = RunConfig.from_dict(ckpt["config"])
    model = zoo.build_model(config.model, **config.build_kwargs())
    model.load_state_dict(ckpt["state_dict"], strict=True)
    model.eval()
    return model, config


def initial_model(config: RunConfig) -> nn.Module:
    """The run's model as it was before training: the same seed gives the same weights."""
    return zoo.build_seeded(config.model, seed=config.seed, **config.build_kwargs())
