"""state_dict I/O for the save & load lesson: bytes to download, a safe reader for uploads
(`torch.load(weights_only=True)`: tensors only, no code runs), and a strict key check that
says what does not fit."""

from __future__ import annotations

import io
import pickle
import zipfile

import torch
from torch import nn

from explorer.i18n import _


class StateDictError(ValueError):
    """A state_dict file that cannot be loaded; `str(err)` is one clear message."""


def state_dict_bytes(model: nn.Module) -> bytes:
    """`torch.save(model.state_dict())` into bytes: the .pt file the page offers."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def read_state_dict(data: bytes) -> dict[str, torch.Tensor]:
    """Read a .pt file with `torch.load(weights_only=True)`: tensors only, no code runs.

    A file that holds other pickled objects is refused before anything in it runs.
    """
    if not data:
        raise StateDictError(_("The file is empty (0 bytes)."))
    if not zipfile.is_zipfile(io.BytesIO(data)):  # torch.save writes a zip archive
        raise StateDictError(_("This is not a PyTorch .pt file (torch.save writes a zip "
                               "archive); save one with torch.save(model.state_dict(), path)."))
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise StateDictError(_(
            "Refused: the file contains pickled Python objects, not just tensors, and "
            "torch.load(weights_only=True) will not run them (nothing in the file was executed). "
            "Save with torch.save(model.state_dict(), path). Detail: {detail}"
        ).format(detail=str(err).splitlines()[0])) from None
    except Exception as err:  # torch raises many types for files that are not .pt at all
        raise StateDictError(_(
            "This is not a PyTorch .pt file ({error}); save one with "
            "torch.save(model.state_dict(), path)."
        ).format(error=type(err).__name__)) from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise StateDictError(_(
            "The file holds a {kind}, not a state_dict (a dict of name → "
            "tensor); save one with torch.save(model.state_dict(), path)."
        ).format(kind=type(state).__name__))
    return state


def _listing(label: str, items: list[str], limit: int = 6) -> str:
    """`label` (a sentence part with {n} and {shown}) for `items`, the first `limit` named."""
    shown = ", ".join(items[:limit])
    if len(items) > limit:
        shown = _("{shown} and {n} more").format(shown=shown, n=len(items) - limit)
    return label.format(n=len(items), shown=shown)


def key_mismatches(model: nn.Module, state: dict[str, torch.Tensor]) -> str | None:
    """The strict key and shape check of `load_state_dict`, as one message (None: all match)."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k}: file {list(state[k].shape)} vs model {list(v.shape)}"
              for k, v in expected.items() if k in state and state[k].shape != v.shape]
    parts = []
    if missing:
        parts.append(_listing(_("{n} missing keys ({shown})"), missing))
    if unexpected:
        parts.append(_listing(_("{n} unexpected keys ({shown})"), unexpected))
    if shapes:
        parts.append(_listing(_("{n} shape mismatches ({shown})"), shapes, limit=3))
    if not parts:
        return None
    return _("This state_dict does not fit the model (strict check): {problems}. Was it saved "
             "from the same network and configuration?").format(problems="; ".join(parts))


def load_checked(model: nn.Module, state: dict[str, torch.Tensor]) -> nn.Module:
    """`model.load_state_dict(state, strict=True)` after a check that explains any mismatch."""
    problem = key_mismatches(model, state)
    if problem:
        raise StateDictError(problem)
    model.load_state_dict(state, strict=True)
    return model


def max_output_difference(a: nn.Module, b: nn.Module, input_shape: tuple[int, ...],
                          seed: int = 0) -> float:
    """max |a(x) − b(x)| in eval mode on one seeded random input."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(2, *input_shape, generator=generator)
    with torch.no_grad():
        return float((a.eval()(x) - b.eval()(x)).abs().max())
