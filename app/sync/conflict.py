"""A lead edit refused with 412: re-base it on the relay's current lead, or report a conflict.

The other side's change and ours conflict only when both changed the same field
to different values. An edit that touches only fields the other side left alone
(or set to our value), a note, or an edit the user retried anyway ("force") is
re-based on the current version and sent again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.wire import LeadView

#: fields of a queued lead edit that another desktop may have changed meanwhile
_FIELDS = ("status", "assigneeId")
_NAMES = {"status": "pipeline status", "assigneeId": "assignee"}
#: re-bases on a version that did not move before the edit is given up
MAX_STALE_REBASES = 3


@dataclass(frozen=True)
class Rebased:
    """Send again with this payload (its base is the relay's current lead)."""

    payload: dict[str, Any]


@dataclass(frozen=True)
class AlreadyThere:
    """The relay's lead already has every value the edit sets: nothing left to send."""


@dataclass(frozen=True)
class Conflict:
    message: str | None  # None: the relay's own message says it


def resolve(payload: dict[str, Any], current: LeadView, attempt: int
            ) -> Rebased | AlreadyThere | Conflict:
    """What to do with a queued lead edit (`payload`) after a 412."""
    patch = dict(payload["patch"])
    base = dict(payload.get("base", {}))
    now = {"status": current.pipeline_status.value, "assigneeId": current.assignee_id}
    conflicts = [name for name in _FIELDS
                 if name in patch and now[name] != base.get(name) and now[name] != patch[name]]
    if conflicts and not payload.get("force"):
        return Conflict("this lead was changed on another desktop ("
                        + ", ".join(_NAMES[c] for c in conflicts)
                        + "); retry to apply your change anyway")
    for name in _FIELDS:
        if name in patch and now[name] == patch[name]:
            del patch[name]
    if not patch:
        return AlreadyThere()
    if current.version <= int(payload["baseVersion"]) and attempt > MAX_STALE_REBASES:
        return Conflict(None)
    return Rebased({**payload, "patch": patch, "baseVersion": current.version,
                    "base": {k: now[k] for k in patch if k in now}})
