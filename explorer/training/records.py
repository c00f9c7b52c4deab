"""What a run's files say, as typed records for the pages that read them.

The writers (the engine, the scheduler, the queue) write plain JSON objects into a run's
`status.json` and `evaluation.json`; readers get `RunStatus` and `Evaluation` from
`runs.read_status` / `runs.read_evaluation`, and `Curves` from `runs.curves`. `STATE_TABLE`
is the one list of run states with their labels and icons. Plain Python: no torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from explorer.i18n import N_, _
from explorer.training import reasons


@dataclass(frozen=True)
class State:
    """One run state: its name in status.json, how a page names it, and its icon."""

    name: str
    label: str  # N_()-marked: "queued"
    doing: str  # N_()-marked, what the run is doing: "waiting in the queue"
    icon: str


STATE_TABLE: dict[str, State] = {s.name: s for s in (
    State("queued", N_("queued"), N_("waiting in the queue"), ":material/hourglass_top:"),
    State("running", N_("running"), N_("training"), ":material/play_circle:"),
    State("finished", N_("finished"), N_("finished"), ":material/check_circle:"),
    State("stopped", N_("stopped"), N_("stopped"), ":material/stop_circle:"),
    State("failed", N_("failed"), N_("failed"), ":material/error:"),
)}
STATES = tuple(STATE_TABLE)
ACTIVE_STATES = ("queued", "running")


def state_label(state: str) -> str:
    """The state's short name in the current language ("queued"); unknown ones as written."""
    return _(STATE_TABLE[state].label) if state in STATE_TABLE else state


def state_doing(state: str) -> str:
    """What a run in this state is doing, in the current language ("waiting in the queue")."""
    return _(STATE_TABLE[state].doing) if state in STATE_TABLE else state


def state_icon(state: str) -> str:
    """The state's Material icon, "" for an unknown state."""
    return STATE_TABLE[state].icon if state in STATE_TABLE else ""


@dataclass
class Progress:
    """What a live run reports a few times a second (its status.json, read by any process)."""

    run_id: str
    state: str = "queued"
    phase: str = ""  # "loading data", "compiling", "training", "evaluating"
    epoch: int = 0  # epochs finished
    epochs: int = 0
    step: int = 0  # optimiser steps done
    total_steps: int = 0
    loss: float | None = None
    images_per_s: float | None = None
    elapsed_s: float = 0.0
    eta_s: float | None = None
    memory_mb: float | None = None
    test_acc: float | None = None  # of the last finished epoch
    compile_s: float | None = None
    processes: int = 1
    device: str = ""
    note: str = ""  # e.g. why compilation fell back to eager
    reason: str = ""

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    def live_fields(self) -> dict[str, Any]:
        """The fields status.json carries while the run is live."""
        return {k: v for k, v in asdict(self).items() if k not in ("run_id", "state", "reason",
                                                                    "epoch")}

    @classmethod
    def from_status(cls, run_id: str, status: dict[str, Any]) -> Progress:
        """Rebuild the progress a worker wrote into status.json (in any process)."""
        known = {f.name for f in fields(cls)} - {"run_id", "epoch"}
        kwargs = {k: v for k, v in status.items() if k in known}
        return cls(run_id, epoch=int(status.get("epochs_done", 0)), **kwargs)


@dataclass(frozen=True)
class RunStatus:
    """A run's status.json as read: its state and why, who trains it, and its live progress.

    `progress` holds the live fields (phase, step, total_steps, loss, …) a worker writes
    beside the state; `test_acc` is the last finished epoch's (or the run's) test accuracy.
    """

    state: str
    progress: Progress
    reason: str = ""
    reason_id: str = ""
    reason_args: dict[str, Any] = field(default_factory=dict)
    epochs_done: int = 0
    pid: int | None = None
    host: str = ""
    updated: float = 0.0
    requeued: int = 0  # how often the queue put the run back after a server stop
    written: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, run_id: str, data: dict[str, Any]) -> RunStatus:
        """Read status.json's object (written by `runs.write_status`)."""
        args = data.get("reason_args")
        pid = data.get("pid")
        return cls(state=str(data.get("state", "failed")),
                   progress=Progress.from_status(run_id, data),
                   reason=str(data.get("reason") or ""),
                   reason_id=str(data.get("reason_id") or ""),
                   reason_args=dict(args) if isinstance(args, dict) else {},
                   epochs_done=int(data.get("epochs_done") or 0),
                   pid=pid if isinstance(pid, int) else None, host=str(data.get("host") or ""),
                   updated=float(data.get("updated") or 0), requeued=int(data.get("requeued") or 0),
                   written=dict(data))

    @property
    def test_acc(self) -> float | None:
        return self.progress.test_acc

    @property
    def total_steps(self) -> int:
        return int(self.progress.total_steps or 0)

    @property
    def live(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def shown_reason(self) -> str:
        """Why the run did not finish, in the current language ("" when it says nothing)."""
        return reasons.shown(self.written)

    def to_dict(self) -> dict[str, Any]:
        """The status as written, with what `runs.read_status` decided (a copy)."""
        return dict(self.written)


@dataclass(frozen=True)
class Mistake:
    """One misclassified test image: its index in the test set, true and predicted class."""

    index: int
    true: int
    pred: int
    confidence: float


@dataclass(frozen=True)
class Evaluation:
    """A finished run's evaluation.json: confusion matrix (rows true, columns predicted),
    per-class accuracy and the most confident mistakes."""

    class_names: list[str]
    confusion: list[list[int]]
    per_class_accuracy: list[float]
    accuracy: float
    misclassified: list[Mistake]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evaluation:
        return cls(list(data["class_names"]), [list(r) for r in data["confusion"]],
                   list(data["per_class_accuracy"]), float(data["accuracy"]),
                   [Mistake(int(m["index"]), int(m["true"]), int(m["pred"]),
                            float(m["confidence"])) for m in data.get("misclassified", [])])

    @property
    def test_images(self) -> int:
        """How many test images the matrix counts."""
        return sum(map(sum, self.confusion))


@dataclass(frozen=True)
class Curves:
    """A run's metrics split for plotting: per-step loss (raw and EMA-smoothed) and learning
    rate, and the per-epoch records (dicts with epoch, test_acc, train_loss, …)."""

    step: list[int]
    loss: list[float]
    loss_smooth: list[float]
    lr: list[float]
    epochs: list[dict[str, Any]]

    @property
    def last_epoch(self) -> dict[str, Any] | None:
        return self.epochs[-1] if self.epochs else None
