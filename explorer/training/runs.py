"""The runs folder: every training run leaves a folder that outlives the server.

`<runs_dir>/<run_id>/` holds `config.json` (a `RunConfig`), `status.json` (queued, running,
finished, stopped or failed, and why), `metrics.jsonl` (one JSON object per line, appended as
the run goes) and `checkpoint.pt` (see `checkpoints`). Files are replaced durably (temp file,
fsync, rename: see `durable`) so a reader never sees half a file, not even after a power cut.
`<run>/shared` (`SHARED_FILE`) marks a run the teacher shared with the class. Hidden folders
beside the runs hold the queue (`.queue`, `.claimed`, see `run_queue`) and removed runs on
their way out (`.trash`). Plain file I/O: no torch, no models.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from explorer import REPO_ROOT
from explorer.i18n import N_
from explorer.training import durable, reasons
from explorer.training.config import RunConfig
from explorer.training.records import (  # noqa: F401  (readers name them through runs)
    ACTIVE_STATES,
    STATE_TABLE,
    STATES,
    Curves,
    Evaluation,
    Mistake,
    RunStatus,
    state_doing,
    state_icon,
    state_label,
)

#: A run folder holding this file is shared with the class: retention never removes it.
SHARED_FILE = "shared"
QUEUE_DIR, CLAIMED_DIR, TRASH_DIR = ".queue", ".claimed", ".trash"


def runs_dir() -> Path:
    """`$EXPLORER_RUNS_DIR` if set, else `<repo>/runs` (git-ignored); created on demand."""
    root = Path(os.environ.get("EXPLORER_RUNS_DIR") or REPO_ROOT / "runs")
    root.mkdir(parents=True, exist_ok=True)
    return root


def new_run_id(model: str, dataset: str) -> str:
    """Sortable, unique and readable: `20261121-142501-lenet5-mnist-mini-3fa9`."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{model}-{dataset}").strip("-").lower()[:40]
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{secrets.token_hex(2)}"


def _write_json(path: Path, obj: Any, sync_folder: bool = True) -> None:
    durable.write_bytes(path, json.dumps(obj, indent=2).encode(), sync_folder=sync_folder)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


# --- parsed files, cached by what the file is on disk -------------------------------------------

_T = TypeVar("_T")
#: Parsed config.json and status.json files kept per process (a few hundred bytes each).
PARSED_CACHE_SIZE = 4096
_parsed_cache: OrderedDict[str, tuple[tuple[int, int, int], Any]] = OrderedDict()
_parsed_lock = threading.Lock()


def _file_key(st: os.stat_result) -> tuple[int, int, int]:
    # The inode as well: every replace makes a new file, even within one mtime tick.
    return st.st_ino, st.st_mtime_ns, st.st_size


def _parsed(run_dir: Path | str, file: str, parse: Callable[[bytes], _T]) -> _T:
    """`parse(bytes of run_dir/file)`, reused while the file is unchanged; OSError when it is
    missing. Only the parse is cached, never a verdict that depends on the clock or on other
    files. (Plain string paths: pathlib's parsing was most of a cached listing's time.)
    """
    name = os.path.join(run_dir, file)
    key = _file_key(os.stat(name))
    with _parsed_lock:
        hit = _parsed_cache.get(name)
        if hit is not None and hit[0] == key:
            _parsed_cache.move_to_end(name)
            return hit[1]
    with open(name, "rb") as fh:  # the key of the bytes actually read
        key, value = _file_key(os.fstat(fh.fileno())), parse(fh.read())
    with _parsed_lock:
        _parsed_cache[name] = (key, value)
        _parsed_cache.move_to_end(name)
        while len(_parsed_cache) > PARSED_CACHE_SIZE:
            _parsed_cache.popitem(last=False)
    return value


def _parse_status(data: bytes) -> dict:
    try:
        status = json.loads(data)
    except ValueError:
        return {}
    return status if isinstance(status, dict) else {}


def _parse_config(data: bytes) -> RunConfig | str:
    """The RunConfig, or why it cannot be read (kept in the cache like a good one)."""
    try:
        return RunConfig.from_dict(json.loads(data))
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        return str(err) or type(err).__name__


def create_run(config: RunConfig, root: Path | None = None) -> Path:
    """Make the run's folder with its config and a `queued` status; returns the folder."""
    run_dir = (root or runs_dir()) / config.run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    _write_json(run_dir / "config.json", config.to_dict())
    write_status(run_dir, "queued")
    return run_dir


#: A running run whose status has not been rewritten for this long has lost its process.
STALE_AFTER_S = 30.0
HOST = socket.gethostname()


def write_status(run_dir: Path, state: str, reason: str = "", epochs_done: int = 0,
                 **extra: Any) -> dict:
    """Replace `status.json`; `reason` is one sentence for the user when a run did not finish.

    `pid` (default: this process) and `host` name the process that trains the run. The file
    is always fsynced; the folder too, except for `running` (the heartbeat, every second).
    OSError (e.g. a full disk) if it cannot be written; the previous status is kept then.
    """
    if state not in STATES:
        raise ValueError(f"unknown run state {state!r}")
    status = {"state": state, "reason": reason, "epochs_done": epochs_done,
              "pid": os.getpid(), "host": HOST, "updated": time.time(), **extra}
    _write_json(Path(run_dir) / "status.json", status, sync_folder=state != "running")
    return status


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists on this machine (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def read_status(run_dir: Path, check_process: bool = True) -> RunStatus:
    """The run's status; a running run whose process is gone reads as `failed`.

    A worker rewrites its status every second (a heartbeat). On the same machine a vanished
    process is noticed at once; from another machine, by a heartbeat older than
    `STALE_AFTER_S`. Queued runs wait on disk and need no process.
    """
    return RunStatus.from_dict(Path(run_dir).name, _status_fields(run_dir, check_process))


def _status_fields(run_dir: Path, check_process: bool) -> dict[str, Any]:
    """`read_status`'s verdict as the plain fields of status.json."""
    try:
        status = dict(_parsed(run_dir, "status.json", _parse_status))
    except OSError:
        status = {}
    status = status or {"state": "failed", **reasons.fields(N_("status.json is missing."))}
    if status.get("state") != "running" or not check_process:
        return status
    pid, age = status.get("pid"), time.time() - float(status.get("updated", 0))
    gone = (status.get("host") == HOST and isinstance(pid, int) and pid != os.getpid()
            and not pid_alive(pid))
    if gone or age > STALE_AFTER_S:
        why = (reasons.fields(N_("The training process ended unexpectedly (its process is "
                                 "gone); its last finished epoch is kept.")) if gone else
               reasons.fields(N_("The training process ended unexpectedly (no sign of life for "
                                 "{seconds} s); its last finished epoch is kept."),
                              seconds=f"{age:.0f}"))
        status = {**status, "state": "failed", **why}
    return status


def read_config(run_dir: Path) -> RunConfig:
    """The run's `config.json`; ValueError if it is missing or unreadable."""
    try:
        config = _parsed(run_dir, "config.json", _parse_config)
    except OSError as err:
        config = err.strerror or type(err).__name__
    if isinstance(config, str):
        raise ValueError(f"{Path(run_dir).name} has no readable config.json ({config}).")
    return config


def record_if_dead(run_dir: Path, min_age_s: float = 0.0) -> dict | None:
    """Write `failed` for a `running` run whose process is gone (as `read_status` reads it).

    Only when its last heartbeat is at least `min_age_s` old (the scheduler that launched it
    records the exit status first). Returns the status written, or None.
    """
    raw = read_status(run_dir, check_process=False)
    if raw.state != "running" or time.time() - raw.updated < min_age_s:
        return None
    verdict = _status_fields(run_dir, check_process=True)
    if verdict["state"] == "running":
        return None
    kept = {k: v for k, v in verdict.items() if k not in ("state", "updated", "phase")}
    return write_status(run_dir, "failed", **kept)


def append_metrics(run_dir: Path, records: list[dict]) -> None:
    """Append records to `metrics.jsonl`, one JSON object per line, fsynced; on OSError
    (a full disk) none of them is appended and the error is raised."""
    if records:
        durable.append_bytes(Path(run_dir) / "metrics.jsonl",
                             "".join(json.dumps(r) + "\n" for r in records).encode())


def read_metrics(run_dir: Path) -> list[dict]:
    """Every complete line of `metrics.jsonl` (a line being written is skipped)."""
    path = Path(run_dir) / "metrics.jsonl"
    try:
        text = path.read_text()
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def write_evaluation(run_dir: Path, evaluation: dict) -> None:
    """The end-of-run evaluation (confusion matrix, per-class accuracy, misclassified)."""
    _write_json(Path(run_dir) / "evaluation.json", evaluation)


def read_evaluation(run_dir: Path) -> Evaluation | None:
    """The end-of-run evaluation, or None before a run finished (or if it is unreadable)."""
    data = _read_json(Path(run_dir) / "evaluation.json")
    try:
        return Evaluation.from_dict(data) if data else None
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class RunInfo:
    """One run folder as the pages list it."""

    run_id: str
    path: Path
    config: RunConfig
    status: RunStatus
    has_checkpoint: bool

    @property
    def state(self) -> str:
        return self.status.state

    @property
    def label(self) -> str:
        """A run in a legend: network, dataset, BN, augmentation and the id's last 4."""
        cfg = self.config
        return (f"{cfg.model} · {cfg.settings.dataset}{' · BN' if cfg.batchnorm else ''}"
                f" · aug {cfg.settings.augment.describe()} · {self.run_id[-4:]}")


def run_info(run_dir: Path) -> RunInfo:
    run_dir = Path(run_dir)
    return RunInfo(run_dir.name, run_dir, read_config(run_dir), read_status(run_dir),
                   os.path.exists(os.path.join(run_dir, "checkpoint.pt")))


def list_runs(root: Path | None = None) -> list[RunInfo]:
    """Every run folder with a config, newest first.

    Cheap to call on every page rerun: a run's config and status are parsed again only when
    their files change (see `_parsed`); whether a running run's process is alive is decided
    afresh at every call.
    """
    root = root or runs_dir()
    try:
        names = [e.name for e in os.scandir(root) if not e.name.startswith(".")]
    except OSError:
        return []
    out = []
    for name in names:
        with contextlib.suppress(ValueError):  # a half-written or foreign folder is skipped
            out.append(run_info(root / name))
    return sorted(out, key=lambda r: (r.config.created, r.run_id), reverse=True)


# --- removing runs ------------------------------------------------------------------------------


class RunIsLive(reasons.ReasonError, ValueError):
    """A queued or running run cannot be removed."""


def markers(root: Path, run_id: str) -> list[Path]:
    """The run's queue markers, waiting (`.queue`) or claimed (`.claimed`), if any."""
    out: list[Path] = []
    for folder in (QUEUE_DIR, CLAIMED_DIR):
        with contextlib.suppress(OSError):
            out += [e for e in (root / folder).iterdir() if e.name.endswith(f"-{run_id}")]
    return out


def marker_locked(marker: Path) -> bool:
    """Whether a live process holds the marker's flock (a claimer or the run's worker)."""
    try:
        fd = os.open(marker, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def is_live(run_dir: Path) -> bool:
    """Queued or running (as `read_status` reads it), or held by a live claimer or worker."""
    run_dir = Path(run_dir)
    return (read_status(run_dir).live
            or any(marker_locked(m) for m in markers(run_dir.parent, run_dir.name)))


def is_shared(run_dir: Path) -> bool:
    """Whether the teacher shared the run with the class (`<run>/shared` exists)."""
    return (Path(run_dir) / SHARED_FILE).exists()


def remove_run(run_dir: Path) -> bool:
    """Delete a run's folder and its queue markers; False when it was already gone.

    No permission check: the caller authorises. `RunIsLive` (a ValueError with a catalog
    sentence) for a queued or running run. The folder leaves the listing at once (it is
    renamed into `.trash/` first), so nobody sees it half deleted.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return False
    if is_live(run_dir):
        raise RunIsLive(N_("Run {run} is still queued or running: stop it before deleting it."),
                        run=run_dir.name)
    trash = run_dir.parent / TRASH_DIR
    trash.mkdir(exist_ok=True)
    target = trash / f"{run_dir.name}.{os.getpid()}.{secrets.token_hex(3)}"
    try:
        os.rename(run_dir, target)
    except FileNotFoundError:  # another process removed it just now
        return False
    for marker in markers(run_dir.parent, run_dir.name):
        with contextlib.suppress(OSError):
            marker.unlink()
    shutil.rmtree(target, ignore_errors=True)
    return True


def empty_trash(root: Path | None = None) -> None:
    """Finish removals that a process died in the middle of."""
    with contextlib.suppress(OSError):
        for entry in ((root or runs_dir()) / TRASH_DIR).iterdir():
            shutil.rmtree(entry, ignore_errors=True)


def ema(values: list[float], alpha: float = 0.9) -> list[float]:
    """Exponential moving average with bias correction (the smoothed loss curve)."""
    out, avg = [], 0.0
    for i, v in enumerate(values, start=1):
        avg = alpha * avg + (1 - alpha) * v
        out.append(avg / (1 - alpha**i))
    return out


def curves(records: list[dict]) -> Curves:
    """Metrics split for plotting: per-step loss (raw and smoothed) and per-epoch records."""
    steps = [r for r in records if r.get("kind") == "step"]
    loss = [r["loss"] for r in steps]
    return Curves(step=[r["step"] for r in steps], loss=loss, loss_smooth=ema(loss),
                  lr=[r["lr"] for r in steps],
                  epochs=[r for r in records if r.get("kind") == "epoch"])
