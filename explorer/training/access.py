"""Who may do what with a run: the rules, checked inside the functions that act.

A run belongs to the browser that started it (`RunConfig.owner` holds that browser's owner
tag, see `explorer.classroom.identity`). The owner and the signed-in teacher may open, stop,
download and delete it; the teacher may also share it with the class, and a shared run may be
opened and downloaded by every student. Anyone else is told there is no such run: a refusal
says nothing about whether the run exists.

Run ids come from URLs and widgets, so `run_path` accepts only the shape `runs.new_run_id`
makes, and only a folder that resolves inside the runs folder (no `..`, no absolute path, no
symbolic link out).
"""

from __future__ import annotations

import hmac
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from explorer.i18n import _
from explorer.training import reasons, runs
from explorer.training.config import RunConfig

RUN_ID = re.compile(r"\d{8}-\d{6}-[a-z0-9]+(?:-[a-z0-9]+)*-[0-9a-f]{4}")
MAX_RUN_ID = 80
#: What a run created from the command line records as its owner.
OPERATOR = "cli"


class AccessDenied(ValueError):
    """One sentence for the user: the run cannot be found or the action is not theirs."""


@dataclass(frozen=True)
class Actor:
    """Who is asking: a browser's owner tag, and whether its session is the signed-in teacher."""

    owner: str
    teacher: bool = False

    @classmethod
    def operator(cls) -> Actor:
        """The person at the server's terminal (the CLI): every power the teacher has."""
        return cls(OPERATOR, teacher=True)

    def owns(self, config: RunConfig) -> bool:
        return bool(self.owner) and hmac.compare_digest(config.owner.encode(),
                                                         self.owner.encode())

    def may_manage(self, config: RunConfig) -> bool:
        """Stop, delete: the owner or the teacher."""
        return self.teacher or self.owns(config)


def _shown(run_id: object) -> str:
    text = str(run_id)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= 40 else text[:39] + "…"


def _no_such_run(run_id: object) -> AccessDenied:
    return AccessDenied(_("There is no run {run} that you can open.").format(
        run=repr(_shown(run_id))))


def may_view(actor: Actor, info: runs.RunInfo) -> bool:
    """Open and download: the owner, the teacher, or anyone once the run is shared."""
    return actor.may_manage(info.config) or runs.is_shared(info.path)


def run_path(run_id: object, root: Path | None = None) -> Path:
    """The folder of run `run_id` inside the runs folder; AccessDenied for anything else.

    Checks the id's shape, then that the resolved folder is a direct child of the resolved
    runs folder and no symbolic link. Touches nothing outside the runs folder.
    """
    if not isinstance(run_id, str) or len(run_id) > MAX_RUN_ID or not RUN_ID.fullmatch(run_id):
        raise _no_such_run(run_id)
    base = (root or runs.runs_dir()).resolve()
    candidate = base / run_id
    if candidate.is_symlink():
        raise _no_such_run(run_id)
    resolved = candidate.resolve()
    if resolved.parent != base or not resolved.is_relative_to(base):
        raise _no_such_run(run_id)
    if not (resolved / "config.json").is_file():
        raise _no_such_run(run_id)
    return resolved


def open_run(run_id: object, actor: Actor, root: Path | None = None) -> runs.RunInfo:
    """The run, if `actor` may see it; else AccessDenied (the same sentence as for no run)."""
    path = run_path(run_id, root)
    try:
        info = runs.run_info(path)
    except ValueError:
        raise _no_such_run(run_id) from None
    if not may_view(actor, info):
        raise _no_such_run(run_id)
    return info


def visible_runs(actor: Actor, root: Path | None = None) -> list[runs.RunInfo]:
    """The runs `actor` may see, newest first: their own and shared ones; all for the teacher."""
    listed = runs.list_runs(root)
    return listed if actor.teacher else [r for r in listed if may_view(actor, r)]


class Owned(Protocol):
    """Any job of the queue as the rules see it: its id and a config naming its owner."""

    @property
    def run_id(self) -> str: ...

    @property
    def config(self) -> Any: ...


def authorise_manage(info: Owned, actor: Actor, what: str) -> None:
    """AccessDenied unless `actor` may stop or delete the job (`what` names the action)."""
    if not actor.may_manage(info.config):
        raise AccessDenied(_("Only the student who started run {run} or the signed-in teacher "
                             "may {what} it.").format(run=info.run_id, what=what))


def public_config(config: dict) -> dict:
    """A run's config as it leaves the server: without the owner."""
    return {**config, "owner": ""}


def checkpoint_download(run_id: object, actor: Actor, root: Path | None = None) -> bytes:
    """`checkpoint.pt` of a run `actor` may see, as bytes, with the owner stripped from it.

    Loaded with `weights_only=True` and saved again, so what leaves is only tensors and plain
    values, whatever the file held.
    """
    info = open_run(run_id, actor, root)
    try:
        ckpt = torch.load(info.path / "checkpoint.pt", map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise AccessDenied(_("Run {run} has no checkpoint yet.").format(
            run=info.run_id)) from None
    if isinstance(ckpt.get("config"), dict):
        ckpt["config"] = public_config(ckpt["config"])
    out = io.BytesIO()
    torch.save(ckpt, out)
    return out.getvalue()


def delete_run(run_id: object, actor: Actor, root: Path | None = None) -> None:
    """Remove a finished run's folder; its owner or the teacher only, never a live run."""
    info = open_run(run_id, actor, root)
    authorise_manage(info, actor, _("delete"))
    if info.state in runs.ACTIVE_STATES:
        raise AccessDenied(_("Run {run} is still queued or running: stop it first.").format(
            run=info.run_id))
    try:
        runs.remove_run(info.path)
    except runs.RunIsLive as err:  # it was queued again or claimed a moment ago
        raise AccessDenied(reasons.shown(reasons.of_error(err))) from None


def set_shared(run_id: object, actor: Actor, shared: bool, root: Path | None = None) -> None:
    """Share a run with the class (or take it back): the teacher only."""
    info = open_run(run_id, actor, root)
    if not actor.teacher:
        raise AccessDenied(_("Only the signed-in teacher may share a run with the class."))
    flag = info.path / runs.SHARED_FILE
    if shared:
        flag.touch()
    else:
        flag.unlink(missing_ok=True)
