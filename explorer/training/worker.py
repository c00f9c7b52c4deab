"""The worker: one OS process (or one torchrun rank) that trains one run folder.

`python -m explorer.train --run-dir <folder>` runs `main` here: the scheduler of a web server
starts it with the queue claim done and the locks of the claim and the device slot passed on;
started by hand it claims the run (holding the claim's lock) and waits for a slot itself.
Under `torchrun` every rank runs it: the process group comes from torchrun's environment (NCCL
on CUDA, gloo on the CPU) and rank 0 alone writes the run folder. A stop request (the `stop`
file, SIGTERM or Ctrl-C) ends the run at the next step with a checkpoint.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import torch.distributed as dist

from explorer import devices
from explorer.training import durable, engine, reasons, run_queue, runs
from explorer.training.config import TrainConfig

STOP_POLL_S = 0.1


def in_torchrun() -> bool:
    """Started by torchrun (it sets RANK, WORLD_SIZE, MASTER_ADDR… for every rank)."""
    return "TORCHELASTIC_RUN_ID" in os.environ or (
        "RANK" in os.environ and "WORLD_SIZE" in os.environ)


def init_distributed() -> tuple[int, int]:
    """Join torchrun's process group (NCCL on CUDA, else gloo); returns (rank, world)."""
    if not dist.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local % torch.cuda.device_count())
        dist.init_process_group("nccl" if cuda else "gloo",
                                timeout=datetime.timedelta(minutes=10))
    return dist.get_rank(), dist.get_world_size()


def _watch_stop(run_dir: Path, stop: threading.Event, done: threading.Event) -> None:
    while not done.wait(STOP_POLL_S):
        if run_queue.stop_requested(run_dir):
            stop.set()
            return


def cpu_threads(processes: int = 1, cores: int | None = None) -> int:
    """Torch threads per training process on the CPU: one core is left to the web server."""
    cores = cores or os.cpu_count() or 1
    return max(1, (cores - 1) // max(1, processes))


@contextlib.contextmanager
def stop_watch(run_dir: Path) -> Iterator[threading.Event]:
    """An event set by the job's stop file, SIGTERM or Ctrl-C while the `with` lasts (any
    kind of job: a training run, a channel's visualisation)."""
    stop, done = threading.Event(), threading.Event()
    watcher = threading.Thread(target=_watch_stop, args=(run_dir, stop, done), daemon=True)
    watcher.start()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        yield stop
    finally:
        done.set()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def share_cpu(processes: int = 1) -> None:
    """A job started by a server shares the CPU politely (one core left to the web server)."""
    if "EXPLORER_CLAIMED" in os.environ:
        torch.set_num_threads(cpu_threads(processes * run_queue.runs_per_device()))


def train_here(run_dir: Path, on_progress: Callable[[engine.Progress], None] | None = None
               ) -> dict:
    """Train `run_dir` in this process, stopping on its stop file, SIGTERM or Ctrl-C."""
    share_cpu(int(os.environ.get("WORLD_SIZE", "1")))
    with stop_watch(run_dir) as stop:
        return engine.train(run_dir, stop=stop, on_progress=on_progress)


def claim_by_hand(run_dir: Path) -> run_queue.Claim:
    """Claim a queued run for a worker started by hand (held till the worker ends);
    ValueError when it is not waiting."""
    claim = run_queue.claim_by_id(run_dir)
    if claim is None:
        state = runs.read_status(run_dir).state
        raise ValueError(f"run {run_dir.name} is not waiting in the queue (it is {state})")
    return claim


def _run_dir_for_ranks(run_dir: Path | None, make_config: Callable[[], TrainConfig],
                       root: Path | None, rank: int) -> Path:
    """Every rank's run folder: given, or created by rank 0 and broadcast to the others."""
    if run_dir is not None:
        return Path(run_dir)
    box = [str(engine.prepare_run(make_config(), root, owner="cli")) if rank == 0 else None]
    if dist.is_initialized():
        dist.broadcast_object_list(box, src=0)
    return Path(box[0])


def main(run_dir: Path | None, make_config: Callable[[], TrainConfig], root: Path | None,
         on_progress: Callable[[engine.Progress], None] | None = None) -> int:
    """Worker entry: `--run-dir` (claimed by the scheduler or here), or settings under torchrun.

    Exit status 0 when the run finished or was stopped, 1 when it failed (so that torchrun
    ends the other ranks), 2 when it could not start, `reasons.EXIT_DISK_FULL` (3) when the
    disk was too full to write even the run's final status (the scheduler records it then).
    """
    rank, _ = init_distributed() if in_torchrun() else (0, 1)
    slot = claim = None
    try:
        given = run_dir is not None
        run_dir = _run_dir_for_ranks(run_dir, make_config, root, rank)
        if rank == 0 and os.environ.get("EXPLORER_CLAIMED") != "1":
            if given:
                claim = claim_by_hand(run_dir)
            device = runs.read_config(run_dir).settings.device
            slot = run_queue.wait_for_slot(devices.pick_device(device).type, run_dir.parent)
        status = train_here(run_dir, on_progress if rank == 0 else None)
        if rank == 0:
            run_queue.drop_claim(run_dir)  # the run ended: its claim is done with
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        if not durable.disk_full(err):
            raise
        print(f"error: the disk is full, the run's status could not be written: {err}",
              file=sys.stderr)
        return reasons.EXIT_DISK_FULL
    finally:
        for held in (slot, claim):
            if held is not None:
                held.release()
        if dist.is_initialized():
            with contextlib.suppress(Exception):
                dist.destroy_process_group()
    return 0 if status.get("state") in ("finished", "stopped") else 1
