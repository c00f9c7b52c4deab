"""Why a run did not finish, told in the language of whoever reads it.

The sentence is written by a training process and read later, maybe by a student whose
language differs, so `status.json` keeps it in three fields: `reason` (the English sentence,
for the CLI and older readers), `reason_id` (its `N_()`-marked English template, a catalog
message id) and `reason_args` (the template's named values). `shown` translates at display
time; a status without an id (an older run folder, or PyTorch's own error) shows its English.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

from explorer.i18n import N_, _

COMPILE_FELL_BACK = N_("Compilation failed ({error}); training without torch.compile.")
#: Templates of the live notes a training process writes into its progress (plain English).
NOTES = (COMPILE_FELL_BACK,)

DISK_FULL = N_("The server's disk is full (writing {file} failed); the last finished epoch is "
               "kept.")
#: When not even the failure could be written: the worker's exit status says it instead.
DISK_FULL_EXITED = N_("The server's disk is full, so the training process ended; its last "
                      "finished epoch is kept.")
EXIT_DISK_FULL = 3  # the worker's exit status when its final status could not be written


class ReasonError(Exception):
    """An exception whose message is a catalog template and its values."""

    def __init__(self, template: str, **args: Any) -> None:
        super().__init__(template.format(**args))
        self.template, self.values = template, args


def fields(template: str, **args: Any) -> dict[str, Any]:
    """The status fields of one reason: `template` must be marked with `N_()` by the caller."""
    return {"reason": template.format(**args), "reason_id": template, "reason_args": args}


def disk_full(err: OSError) -> dict[str, Any]:
    """The status fields of a write that failed because the disk is full."""
    return fields(DISK_FULL, file=Path(str(err.filename)).name if err.filename else "?")


def of_error(err: ReasonError) -> dict[str, Any]:
    """The status fields of the reason an exception carries."""
    return fields(err.template, **err.values)


def shown(status: dict[str, Any]) -> str:
    """The status's reason in the current language (its English when it carries no id)."""
    template, args = status.get("reason_id"), status.get("reason_args")
    if isinstance(template, str) and isinstance(args, dict):
        with contextlib.suppress(KeyError, IndexError, ValueError):
            return _(template).format(**args)
    return str(status.get("reason") or "")


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    return re.compile("".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)"
                              for i, part in enumerate(parts)))


def shown_note(note: str) -> str:
    """A live note from the training process in the reader's language (as written when it
    matches no known template)."""
    for template in NOTES:
        match = _pattern(template).fullmatch(note)
        if match:
            return _(template).format(**match.groupdict())
    return note
