"""A run's `checkpoint.pt`: its weights and its `RunConfig`, loaded only as plain tensors.

Written atomically at every epoch end and on stop; read with `torch.load(...,
weights_only=True)`, so a checkpoint file can never run code.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import torch
from torch import nn

from explorer.models import zoo
from explorer.training.config import RunConfig


def save(run_dir: Path, model: nn.Module, config: RunConfig, epoch: int) -> Path:
    """Write `checkpoint.pt` atomically: CPU state_dict, config and epochs done."""
    state = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}
    path = Path(run_dir) / "checkpoint.pt"
    tmp = path.with_name(f".checkpoint.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    torch.save({"state_dict": state, "config": config.to_dict(), "epoch": int(epoch)}, tmp)
    os.replace(tmp, path)
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
