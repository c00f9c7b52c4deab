"""A trained run taken home: its weights as a `.pt` state_dict and as ONNX, with the code
that loads each.

Both are made from the run's checkpoint by the functions here, which first check that the
asker may open the run (`access.open_run`). The `.pt` file holds the state_dict alone (tensors
under their names: no config, no owner), so `torch.load(..., weights_only=True)` reads it; the
ONNX file is `torch.onnx.export` of the same network, taking a batch of normalised images.
Neither names the student or a server folder.
"""

from __future__ import annotations

import functools
import io
import tempfile
import threading
import warnings
from pathlib import Path

import torch

from explorer.i18n import _
from explorer.models import zoo
from explorer.training import access, checkpoints
from explorer.training.config import RunConfig


def _checkpoint(run_id: object, actor: access.Actor) -> tuple[dict, RunConfig]:
    info = access.open_run(run_id, actor)
    try:
        ckpt = checkpoints.load(info.path)
    except FileNotFoundError:
        raise access.AccessDenied(_("Run {run} has no checkpoint yet.").format(
            run=info.run_id)) from None
    return ckpt, RunConfig.from_dict(ckpt["config"])


def state_dict_file(run_id: object, actor: access.Actor) -> bytes:
    """The run's trained state_dict as `.pt` bytes: tensors only, loadable with
    `weights_only=True`."""
    ckpt, _config = _checkpoint(run_id, actor)
    out = io.BytesIO()
    torch.save({k: v.contiguous() for k, v in ckpt["state_dict"].items()}, out)
    return out.getvalue()


ONNX_KEPT = 4  # exported files this process keeps, the latest asked for (a few MB each)
# An export takes 1-19 s of a web process's CPU: a class pressing the button at once waits in
# turn (and asks again for the same checkpoint get the kept file) instead of exporting 30 times.
_ONNX_TURN = threading.Lock()


def onnx_file(run_id: object, actor: access.Actor) -> bytes:
    """The run's network as ONNX bytes: input `image` [batch, C, H, W] (normalised as the
    loading code says), output `logits` [batch, classes]. One export at a time per process;
    the last few are kept, by checkpoint."""
    info = access.open_run(run_id, actor)  # checked before anything is read or kept
    checkpoint = Path(info.path) / "checkpoint.pt"
    try:
        stamp = checkpoint.stat().st_mtime_ns
    except FileNotFoundError:
        raise access.AccessDenied(_("Run {run} has no checkpoint yet.").format(
            run=info.run_id)) from None
    with _ONNX_TURN:
        return _onnx_of(str(checkpoint), stamp)


@functools.lru_cache(maxsize=ONNX_KEPT)
def _onnx_of(checkpoint: str, _stamp: int) -> bytes:
    ckpt = checkpoints.load(checkpoint)
    config = RunConfig.from_dict(ckpt["config"])
    model = zoo.build_model(config.model, **config.build_kwargs())
    model.load_state_dict(ckpt["state_dict"], strict=True)
    return to_onnx(model.eval(), config.input_shape)


def to_onnx(model: torch.nn.Module, input_shape: tuple[int, int, int]) -> bytes:
    """`model` exported by torch.onnx.export (the torch.export-based exporter), one batch
    dimension free."""
    example = torch.zeros(1, *input_shape)
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on its own internals
        program = torch.onnx.export(
            model, (example,), dynamo=True, verbose=False, input_names=["image"],
            output_names=["logits"], dynamic_shapes=({0: torch.export.Dim("batch")},))
        path = Path(folder) / "model.onnx"
        program.save(str(path))
        return path.read_bytes()


def file_stem(config: RunConfig) -> str:
    """A download's file name without its suffix: the network and the run id."""
    return f"{config.model}-{config.run_id}"


def _preprocess_code(config: RunConfig) -> str:
    c, h, w = config.input_shape
    mode = "L" if c == 1 else "RGB"
    mean = [round(float(m), 4) for m in config.mean]
    std = [round(float(v), 4) for v in config.std]
    return (f'image = ImageOps.fit(Image.open("photo.jpg").convert("{mode}"), ({w}, {h}))\n'
            f"x = torch.tensor(numpy.asarray(image), dtype=torch.float32) / 255\n"
            f"x = x.reshape({h}, {w}, {c}).permute(2, 0, 1)\n"
            f"mean, std = torch.tensor({mean!r}), torch.tensor({std!r})\n"
            f"x = (x - mean.view(-1, 1, 1)) / std.view(-1, 1, 1)\n")


def loading_code(config: RunConfig, kind: str) -> str:
    """A few lines of Python that load the downloaded `kind` ("pt" or "onnx") file and
    classify a photo with it (this run's input size, normalisation and class names)."""
    stem = file_stem(config)
    names = list(config.class_names)
    head = "import numpy, torch\nfrom PIL import Image, ImageOps\n"
    if kind == "pt":
        kwargs = ", ".join(f"{k}={v!r}" for k, v in config.build_kwargs().items())
        return (head + "from explorer.models import zoo  # this app's package\n\n"
                f'model = zoo.build_model("{config.model}", {kwargs})\n'
                f'model.load_state_dict(torch.load("{stem}.pt", weights_only=True))\n'
                "model.eval()\n" + _preprocess_code(config)
                + f"classes = {names!r}\n"
                "with torch.no_grad():\n"
                "    probabilities = model(x[None]).softmax(1)[0]\n"
                "print(classes[int(probabilities.argmax())], probabilities.tolist())\n")
    return (head + "import onnxruntime  # pip install onnxruntime\n\n"
            f'session = onnxruntime.InferenceSession("{stem}.onnx")\n'
            + _preprocess_code(config) + f"classes = {names!r}\n"
            '(logits,) = session.run(None, {"image": x[None].numpy()})\n'
            "print(classes[int(logits.argmax())], torch.tensor(logits).softmax(1)[0].tolist())\n")
