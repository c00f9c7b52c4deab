"""The worker of a channel job: `python -m explorer.training.channel_worker --job-dir <folder>`.

Started by a server's channel scheduler (claim and slot passed on, as for a training run), or
by hand (it claims the job and waits for a slot itself). It builds the network with the job's
weights, optimises the picture (`feature_visualization.visualise`), writing every frame as it
comes, then ranks the dataset's test images for the channel and writes the result. The stop
file, SIGTERM or Ctrl-C end it at the next step; a heartbeat keeps its status fresh.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from explorer import devices
from explorer import feature_maps as fm
from explorer import feature_visualization as fv
from explorer.figures import feature_maps as figs
from explorer.figures.encoding import png
from explorer.i18n import N_
from explorer.models import zoo
from explorer.training import (
    channel_jobs,
    checkpoints,
    datasets,
    durable,
    engine,
    reasons,
    run_queue,
    runs,
    worker,
)
from explorer.training.channel_jobs import ChannelJob

#: Lucid's square root of ImageNet's colour correlation (Olah et al.): ImageNet has no data
#: on this machine to measure it from.
IMAGENET_COLOURS = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
EXAMPLES = 6  # most and least exciting test images kept
MAX_TEST_IMAGES = 2000
MAX_FILTER_WEIGHTS = 16 * 5 * 5  # a filter is drawn only when it is this small


def _picture(image: torch.Tensor) -> bytes:
    """[C, H, W] in [0, 1] (or uint8) as a PNG."""
    array = image.float().div(255 if image.dtype == torch.uint8 else 1).clamp(0, 1)
    array = (array.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return png(array[..., 0] if array.shape[-1] == 1 else array)


def _network(job: ChannelJob, runs_root: Path) -> tuple[nn.Module, fm.Preprocessing, str | None]:
    """The model with the job's weights, its input preprocessing and its dataset (if any)."""
    request = job.request
    if request.run_id is not None:
        model, config = checkpoints.model_from_checkpoint(runs_root / request.run_id)
        return model, fm.preprocessing_for(config.variant, config=config), config.settings.dataset
    pre = fm.preprocessing_for(request.variant)
    if request.weights == channel_jobs.IMAGENET:
        return zoo.build_pretrained(request.network), pre, None
    model = zoo.build_seeded(request.network, seed=request.seed, variant=request.variant)
    data = {"mnist": "mnist-mini", "cifar": "cifar10"}.get(request.variant)
    return model, pre, data if data and datasets.is_available(data) else None


class _Job:
    """One job as it goes: what the heartbeat writes, and the files."""

    def __init__(self, job_dir: Path) -> None:
        self.dir = job_dir
        self.job = channel_jobs.read_job(job_dir)
        self.progress: dict[str, Any] = {"phase": "starting", "step": 0,
                                         "total_steps": self.job.steps}
        self.lock = threading.Lock()

    def beat(self) -> None:
        with self.lock:
            runs.write_status(self.dir, "running", **self.progress)

    def frame(self, frame: fv.Frame) -> None:
        durable.write_bytes(self.dir / f"frame-{frame.step:05d}.png", _picture(frame.image),
                            sync_folder=False)
        durable.append_bytes(self.dir / channel_jobs.FRAMES_FILE, (json.dumps(
            {"step": frame.step, "activation": frame.activation}) + "\n").encode())
        with self.lock:
            self.progress.update(step=frame.step, activation=frame.activation)


def _examples(model: nn.Module, layer: str, channel: int, data: datasets.ArrayDataset,
              normalise, job_dir: Path) -> dict[str, Any]:
    """The test images that excite the channel most and least, saved beside the frames, and
    the mean test image's response (what the picture's response is compared with)."""
    images = data.test_x[:MAX_TEST_IMAGES]
    most, least = fv.dataset_examples(model, layer, channel, images, normalise, EXAMPLES)
    out: dict[str, Any] = {}
    for name, examples in (("most", most), ("least", least)):
        out[name] = []
        for rank, example in enumerate(examples):
            file = f"{name}-{rank}.png"
            durable.write_bytes(job_dir / file, _picture(images[example.index]),
                                sync_folder=False)
            out[name].append({"file": file, "response": example.response,
                              "patch": list(example.patch),
                              "label": data.class_names[int(data.test_y[example.index])]})
    mean_image = normalise(images.float().mean(0, keepdim=True).round().byte())
    out["mean_image_response"] = float(fv.channel_response(model, layer, channel, mean_image))
    out["dataset"] = data.title
    return out


def compute(job_dir: Path, stop: threading.Event) -> dict:
    """Make the job's pictures; returns the status written at the end."""
    run = _Job(job_dir)
    job, request = run.job, run.job.request
    with engine.Heartbeat(run.beat, stop) as heartbeat:
        model, pre, dataset = _network(job, job_dir.parent.parent)
        device = devices.pick_device("auto")
        model = model.to(device)
        data = datasets.load(dataset) if dataset else None
        if data is not None:
            basis = fv.colour_basis(data.train_x[:256].float() / 255)
        else:
            basis = IMAGENET_COLOURS if pre.in_channels == 3 else torch.ones(1, 1)
        settings = fv.Settings(steps=job.steps, frames=job.frames, seed=request.seed)
        with run.lock:
            run.progress["phase"] = "optimising"
        last, calls = None, itertools.count()

        def should_stop() -> bool:  # asked once a step: the step the page shows
            run.progress["step"] = min(job.steps, next(calls))
            return stop.is_set()

        for frame in fv.visualise(model, request.layer, request.channel,
                                  (pre.in_channels, pre.height, pre.width), pre.mean, pre.std,
                                  basis, settings, should_stop):
            run.frame(frame)
            last = frame
        result: dict[str, Any] = {"activation": last.activation if last else 0.0}
        conv = dict(model.named_modules())[request.layer]
        weight = conv.weight[request.channel].detach().cpu()  # [in channels, k, k]
        if weight.numel() <= MAX_FILTER_WEIGHTS:
            # an RGB (or grey) kernel as one picture, else one tile per input channel
            tiles = weight[None] if weight.shape[0] in (1, 3) else weight[:, None]
            durable.write_bytes(job_dir / "filter.png", png(figs.filter_grid(
                tiles, tile=96 if len(tiles) == 1 else 48)), sync_folder=False)
            result.update(filter="filter.png", kernels=len(tiles))
        if data is not None and not stop.is_set():
            with run.lock:
                run.progress["phase"] = "examples"
            m = torch.tensor(pre.mean, device=device).view(1, -1, 1, 1)
            s = torch.tensor(pre.std, device=device).view(1, -1, 1, 1)
            result.update(_examples(model, request.layer, request.channel, data,
                                    lambda x: (x.to(device).float() / 255 - m) / s, job_dir))
        durable.write_bytes(job_dir / channel_jobs.RESULT_FILE, json.dumps(result).encode())
        if heartbeat.error is not None:
            raise heartbeat.error
        done = dict(run.progress, phase="done", step=last.step if last else 0)
    if stop.is_set():
        return runs.write_status(job_dir, "stopped", **done, **reasons.fields(
            N_("Stopped at step {step} of {steps}."), step=done["step"], steps=job.steps))
    return runs.write_status(job_dir, "finished", **done)


def main(argv: list[str] | None = None) -> int:
    """Exit status 0 when the job finished or was stopped, 1 when it failed, 2 when it
    could not start."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job-dir", type=Path, required=True)
    job_dir = parser.parse_args(argv).job_dir.resolve()
    slot = claim = None
    try:
        if "EXPLORER_CLAIMED" not in os.environ:
            claim = worker.claim_by_hand(job_dir)
            slot = run_queue.wait_for_slot(devices.pick_device("auto").type, job_dir.parent)
        worker.share_cpu()
        with worker.stop_watch(job_dir) as stop:
            try:
                status = compute(job_dir, stop)
            except Exception as err:  # one sentence for the page; the traceback in the log
                error = str(err).replace(str(job_dir.parent.parent), "…")  # no server paths
                status = runs.write_status(job_dir, "failed", **reasons.fields(
                    N_("The picture could not be made: {error}"), error=error[:200]))
                raise
            finally:
                run_queue.drop_claim(job_dir)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        for held in (slot, claim):
            if held is not None:
                held.release()
    return 0 if status.get("state") in ("finished", "stopped") else 1


if __name__ == "__main__":
    sys.exit(main())
