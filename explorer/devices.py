"""Which device torch will compute on, and a one-line description of it for the pages."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Literal

import torch

from explorer.i18n import _

DevicePreference = Literal["auto", "cuda", "mps", "cpu"]


def mps_available() -> bool:
    """True on Apple-silicon Macs with a working Metal backend."""
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def pick_device(preference: DevicePreference = "auto", local_rank: int | None = None
                ) -> torch.device:
    """`auto` picks CUDA, else MPS, else CPU; a forced device that is absent raises ValueError.

    `local_rank` (a torch.distributed worker's LOCAL_RANK) picks that worker's own GPU.
    """
    if local_rank is not None and preference in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_available() else torch.device("cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise ValueError(_("CUDA was requested, but torch sees no CUDA GPU on this machine."))
    if preference == "mps" and not mps_available():
        raise ValueError(_("MPS was requested, but this machine has no Apple Metal GPU."))
    return torch.device(preference)


@dataclass(frozen=True)
class DeviceInfo:
    """What the home page and the training page say about the compute device."""

    kind: str
    name: str
    detail: str

    def __str__(self) -> str:
        return f"{self.name} ({self.detail})"


def describe_device(device: torch.device | None = None) -> DeviceInfo:
    """Name and size of `device` (default: the one `auto` picks)."""
    device = device or pick_device()
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        return DeviceInfo(
            "cuda", _("CUDA GPU: {name}").format(name=props.name),
            _("{gib:.0f} GiB memory").format(gib=props.total_memory / 2**30),
        )
    if device.type == "mps":
        return DeviceInfo("mps", "Apple GPU (MPS)", platform.machine())
    cpu = platform.processor() or platform.machine() or "CPU"
    return DeviceInfo("cpu", _("CPU: {cpu}").format(cpu=cpu),
                      _("{n} torch threads").format(n=torch.get_num_threads()))


def available_preferences() -> list[DevicePreference]:
    """The device choices that make sense on this machine, `auto` first."""
    choices: list[DevicePreference] = ["auto"]
    if torch.cuda.is_available():
        choices.append("cuda")
    if mps_available():
        choices.append("mps")
    choices.append("cpu")
    return choices


def cuda_count() -> int:
    """How many CUDA GPUs torch sees (0 without CUDA)."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0
