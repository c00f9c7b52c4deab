"""What a channel looks for, as a job of the queue: asked for once per class, made in a worker.

A feature visualisation (`explorer.feature_visualization`) takes seconds of CPU, so no web
process makes one: the page asks for a job here and shows its frames as the worker writes them.
The jobs have their own queue under `<runs>/.channels/` (its `.queue`, `.claimed` and `.slots`,
so a picture of a few seconds never waits behind a class's training runs) and follow the
training runs' rules through the same code: claims, device slots and reconciling in
`run_queue`, the heartbeat and states of `runs.write_status`, the stop file, and the owner
rules of `access` (only the student who asked, or the teacher, may stop a job; a trained run's
channels only for those who may open that run).

A job's folder is named by a digest of everything its pictures depend on (network, weights,
input size, layer, channel, seed, steps), so a class asking for the same channel finds the one
job, finished or running, and it is computed once. It holds `config.json` (a `ChannelJob`),
`status.json`, `frames.jsonl` with one `frame-<step>.png` per frame (appended as they are
made), and once done `result.json` with the dataset examples' PNGs and the channel's filter.
At most `jobs_kept()` jobs are kept: a new one removes the oldest that have ended.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import re
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from explorer.i18n import N_, _
from explorer.models import zoo
from explorer.training import access, durable, run_queue, runs, scheduler

ROOT_NAME = ".channels"
JOB_ID = re.compile(r"ch-[0-9a-f]{20}")
RANDOM, IMAGENET, RUN_PREFIX = "random", "imagenet", "run:"
FRAMES_FILE, RESULT_FILE = "frames.jsonl", "result.json"


def root(runs_root: Path | None = None) -> Path:
    """The queue of channel jobs, inside the runs folder."""
    path = (runs_root or runs.runs_dir()) / ROOT_NAME
    path.mkdir(parents=True, exist_ok=True)
    return path


def steps() -> int:
    """Optimisation steps of a visualisation (`$EXPLORER_CHANNEL_STEPS`, default 256)."""
    return max(1, int(os.environ.get("EXPLORER_CHANNEL_STEPS") or 256))


def frames() -> int:
    """Frames a visualisation keeps as it grows (`$EXPLORER_CHANNEL_FRAMES`, default 8)."""
    return max(2, int(os.environ.get("EXPLORER_CHANNEL_FRAMES") or 8))


def jobs_kept() -> int:
    """Channel jobs kept in the runs folder (`$EXPLORER_CHANNEL_JOBS_KEPT`, default 500): a
    new one removes the oldest that have ended beyond that."""
    return max(1, int(os.environ.get("EXPLORER_CHANNEL_JOBS_KEPT") or 500))


def jobs_per_owner() -> int:
    """Channel jobs one student may have queued or running (`$EXPLORER_CHANNEL_JOBS_PER_OWNER`,
    default 1)."""
    return max(1, int(os.environ.get("EXPLORER_CHANNEL_JOBS_PER_OWNER") or 1))


@dataclass(frozen=True)
class ChannelRequest:
    """One channel of one network: what a student picks on the page (and its share link)."""

    network: str  # a zoo key
    weights: str  # RANDOM, IMAGENET or "run:<run id>"
    variant: str  # the input size ("mnist", "cifar", "imagenet"); a run's own otherwise
    layer: str
    channel: int
    seed: int = 0  # the random weights' seed, and the visualisation's

    @property
    def run_id(self) -> str | None:
        return self.weights[len(RUN_PREFIX):] if self.weights.startswith(RUN_PREFIX) else None


@dataclass(frozen=True)
class ChannelJob:
    """A job's `config.json`: the request, who asked first, and how it is computed.
    `run_id` is the job's id, as the queue names every job."""

    run_id: str
    request: ChannelRequest
    owner: str
    created: float
    steps: int
    frames: int
    weights_stamp: float = 0.0  # a trained run's checkpoint time: new weights, a new job

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "channel", **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChannelJob:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        return cls(**{**values, "request": ChannelRequest(**values["request"])})


@dataclass(frozen=True)
class JobInfo:
    """A job folder as the page and the owner rules read it."""

    run_id: str
    path: Path
    config: ChannelJob
    status: runs.RunStatus

    @property
    def state(self) -> str:
        return self.status.state


@dataclass(frozen=True)
class FrameRecord:
    """One frame the worker wrote: the step, the channel's response and the PNG."""

    step: int
    activation: float
    path: Path


def _no_such_job() -> access.AccessDenied:
    return access.AccessDenied(_("There is no such channel picture that you can open."))


def read_job(job_dir: Path) -> ChannelJob:
    """The job's config; ValueError when it is missing or unreadable."""
    try:
        return ChannelJob.from_dict(json.loads((Path(job_dir) / "config.json").read_text()))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{Path(job_dir).name} has no readable channel job") from err


def job_info(job_dir: Path) -> JobInfo:
    job_dir = Path(job_dir)
    return JobInfo(job_dir.name, job_dir, read_job(job_dir), runs.read_status(job_dir))


@functools.lru_cache(maxsize=64)
def _conv_channels(model: str, kwargs: tuple[tuple[str, Any], ...]) -> dict[str, int]:
    """{conv layer: its channels} of a zoo network, built without weights (the meta device)."""
    with torch.device("meta"):
        net = zoo.build_model(model, **dict(kwargs))
    return {name: m.out_channels for name, m in net.named_modules() if isinstance(m, nn.Conv2d)}


def conv_channels(request: ChannelRequest, config: Any = None) -> dict[str, int]:
    """The conv layers a request may name, and their channels (a run's network if given)."""
    if config is not None:
        kwargs = {k: tuple(v) if isinstance(v, list) else v
                  for k, v in config.build_kwargs().items()}
        return _conv_channels(config.model, tuple(sorted(kwargs.items())))
    return _conv_channels(request.network, (("variant", request.variant),))


def check(request: ChannelRequest, actor: access.Actor, runs_root: Path | None = None
          ) -> float:
    """AccessDenied or ValueError (one sentence) unless `actor` may see this channel; returns
    the weights' stamp (a trained run's checkpoint time, else 0)."""
    stamp, config = 0.0, None
    if request.run_id is not None:
        info = access.open_run(request.run_id, actor, runs_root)
        if not info.has_checkpoint:
            raise access.AccessDenied(_("Run {run} has no checkpoint yet.").format(
                run=info.run_id))
        config = info.config
        stamp = (info.path / "checkpoint.pt").stat().st_mtime
        if request.network != config.model:
            raise _no_such_job()
    elif (request.weights not in (RANDOM, IMAGENET) or request.network not in zoo.list_models()
          or request.variant not in zoo.VARIANTS
          or (request.weights == IMAGENET and request.variant != "imagenet")):
        raise _no_such_job()
    if not 0 <= request.seed <= 9999:
        raise _no_such_job()
    channels = conv_channels(request, config).get(request.layer, 0)
    if not 0 <= request.channel < channels:
        raise ValueError(_("{layer} has no channel {c}: pick a conv layer and one of its "
                           "channels.").format(layer=str(request.layer)[:40], c=request.channel))
    return stamp


def job_id(request: ChannelRequest, n_steps: int, n_frames: int, stamp: float) -> str:
    """The job's name: a digest of everything its pictures depend on."""
    key = json.dumps([dataclasses.asdict(request), n_steps, n_frames, stamp], sort_keys=True)
    return "ch-" + hashlib.sha256(key.encode()).hexdigest()[:20]


def find(request: ChannelRequest, actor: access.Actor, runs_root: Path | None = None
         ) -> JobInfo | None:
    """The job of this channel, if one was ever asked for (by anyone allowed to see it)."""
    stamp = check(request, actor, runs_root)
    path = root(runs_root) / job_id(request, steps(), frames(), stamp)
    with contextlib.suppress(ValueError):
        return job_info(path)
    return None


def live_jobs(owner: str, runs_root: Path | None = None) -> list[JobInfo]:
    """`owner`'s queued and running channel jobs."""
    out = []
    for entry in os.scandir(root(runs_root)):
        if JOB_ID.fullmatch(entry.name):
            with contextlib.suppress(ValueError):
                info = job_info(Path(entry.path))
                if info.status.live and info.config.owner == owner:
                    out.append(info)
    return out


def _trim(base: Path, keep: int) -> None:
    """Remove the oldest ended jobs until at most `keep` remain (a live one is never removed)."""
    folders = []
    for entry in os.scandir(base):
        if JOB_ID.fullmatch(entry.name):
            with contextlib.suppress(OSError):
                folders.append((os.stat(os.path.join(entry.path, "config.json")).st_mtime,
                                Path(entry.path)))
    for _mtime, path in sorted(folders)[:max(0, len(folders) - keep)]:
        with contextlib.suppress(runs.RunIsLive, OSError):
            runs.remove_run(path)


def request(request: ChannelRequest, actor: access.Actor, runs_root: Path | None = None,
            device: str = "cpu") -> JobInfo:
    """The channel's job: the one already asked for (finished or live), else a new one queued
    for `actor`. A stopped or failed one is asked for again. ValueError (one sentence) if
    `actor` may not, or already has `jobs_per_owner()` live jobs."""
    stamp = check(request, actor, runs_root)
    base = root(runs_root)
    name = job_id(request, steps(), frames(), stamp)
    path = base / name
    with run_queue.owner_lock(name, base):  # one creation per channel, across processes
        with contextlib.suppress(ValueError):
            info = job_info(path)
            if info.state in ("queued", "running", "finished"):
                return info
            runs.remove_run(path)  # stopped or failed: made again, by whoever asks now
        with run_queue.owner_lock(actor.owner, base):
            live = live_jobs(actor.owner, runs_root)
            if len(live) >= jobs_per_owner():
                raise ValueError(_("You already have a channel picture being made: stop it or "
                                   "let it finish first."))
            _trim(base, jobs_kept() - 1)
            job = ChannelJob(name, request, actor.owner, time.time(), steps(), frames(), stamp)
            path.mkdir()
            try:
                durable.write_bytes(path / "config.json", json.dumps(job.to_dict()).encode())
                runs.write_status(path, "queued")
                run_queue.enqueue(path, job, device)  # last: a worker finds it complete
            except BaseException:
                shutil.rmtree(path, ignore_errors=True)
                raise
    return job_info(path)


def open_job(name: object, actor: access.Actor, runs_root: Path | None = None) -> JobInfo:
    """The job `name`, if `actor` may see it (its trained run's rules); else AccessDenied.
    Only the shape the queue makes, and a folder directly inside the jobs' root."""
    if not isinstance(name, str) or not JOB_ID.fullmatch(name):
        raise _no_such_job()
    base = root(runs_root).resolve()
    path = base / name
    if path.is_symlink() or path.resolve().parent != base:
        raise _no_such_job()
    try:
        info = job_info(path)
    except ValueError:
        raise _no_such_job() from None
    run_id = info.config.request.run_id
    if run_id is not None:
        try:
            access.open_run(run_id, actor, runs_root)
        except access.AccessDenied:
            raise _no_such_job() from None
    return info


def stop(name: object, actor: access.Actor, runs_root: Path | None = None) -> str:
    """Ask a job to stop: its owner or the teacher only (`access.AccessDenied` otherwise)."""
    info = open_job(name, actor, runs_root)
    return run_queue.request_stop(info.path, actor, info)


def read_frames(job_dir: Path) -> list[FrameRecord]:
    """The frames written so far, in order (a line being written is skipped)."""
    out = []
    with contextlib.suppress(OSError):
        for line in (Path(job_dir) / FRAMES_FILE).read_text().splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                record = json.loads(line)
                out.append(FrameRecord(int(record["step"]), float(record["activation"]),
                                       Path(job_dir) / f"frame-{int(record['step']):05d}.png"))
    return out


def read_result(job_dir: Path) -> dict[str, Any]:
    """What a finished job found besides the frames (examples, filter, the mean image's
    response); {} before."""
    try:
        data = json.loads((Path(job_dir) / RESULT_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def position(info: JobInfo) -> int | None:
    """1 for the next channel job to start; None when it is not waiting."""
    return run_queue.position(info.run_id, info.path.parent)


def worker_command(job_dir: Path, _processes: int = 1) -> list[str]:
    return [sys.executable, "-m", "explorer.training.channel_worker", "--job-dir", str(job_dir)]


#: The channel jobs' kind for the scheduler: one process, `channel_worker`.
KIND = scheduler.JobKind("channel", lambda _job_dir: 1, worker_command, ends=(
    N_("The worker making this picture ended unexpectedly (signal {signal}, {name}); the frames "
       "it made are kept."),
    N_("The worker making this picture ended unexpectedly (signal {signal})."),
    N_("The worker making this picture ended unexpectedly (exit code {code}); the frames it "
       "made are kept."),
))

_SCHEDULERS: dict[str, scheduler.Scheduler] = {}
_SCHEDULERS_LOCK = threading.Lock()


def ensure_scheduler(runs_root: Path | None = None) -> scheduler.Scheduler:
    """This process's thread that starts queued channel jobs, started on first use."""
    base = root(runs_root)
    with _SCHEDULERS_LOCK:
        if str(base) not in _SCHEDULERS:
            _SCHEDULERS[str(base)] = scheduler.Scheduler(base, KIND).start()
        return _SCHEDULERS[str(base)]
