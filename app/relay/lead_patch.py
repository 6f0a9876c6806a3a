"""A staff member's edit of a lead (`PATCH /v1/leads/{id}`): the body checked into a
`LeadPatch`, and the patch turned into the lead item's updates and activity."""

from __future__ import annotations

from typing import Any

import ulid
from pydantic import ValidationError

from app.core.safe_text import unsafe_character
from app.core.statuses import PipelineStatus
from app.core.wire import LeadPatch
from app.relay import lead_store
from app.relay.auth import Principal
from app.relay.bounds import check_new_note
from app.relay.errors import ApiError
from app.relay.staff_access import ID_RE, parse_json_object

__all__ = ["apply_patch", "parse_patch"]


def parse_patch(raw: bytes) -> LeadPatch:
    data = parse_json_object(raw)
    unknown = set(data) - {"status", "assigneeId", "assignee_id", "note", "possibleOptOut"}
    if unknown:
        raise ApiError(400, "invalid_request", f"Unknown fields: {', '.join(sorted(unknown))}")
    try:
        patch = LeadPatch.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(x) for x in first.get("loc", ())) or "body"
        raise ApiError(400, "invalid_request", f"{field}: {first.get('msg', 'invalid')}") from None
    if patch.is_empty:
        raise ApiError(
            400,
            "empty_patch",
            "Nothing to change: give status, assigneeId, note or possibleOptOut",
        )
    bad = unsafe_character(patch.note, multiline=True) if patch.note is not None else None
    if bad is not None:
        raise ApiError(400, "invalid_field", f"note is INVALID - contains a {bad}")
    if patch.assignee_id is not None and not ID_RE.match(patch.assignee_id):
        raise ApiError(400, "invalid_request", "assigneeId is not a valid staff id")
    return patch


def apply_patch(
    patch: LeadPatch, staff: Principal, now: str, assignee_name: str | None = None
) -> Any:
    """`assignee_name`: the new assignee's name from the staff directory, if known."""
    name = staff.name or staff.staff_id or ""

    def fn(item: dict[str, Any]) -> dict[str, Any] | None:
        updates: dict[str, Any] = {}
        history = list(item.get("Activity") or [])
        if patch.status is not None:
            current = str(item.get("PipelineStatus", PipelineStatus.NEW.value))
            if current != patch.status.value:
                updates["PipelineStatus"] = patch.status.value
                history.append(
                    lead_store.activity(
                        "pipeline", f"{name}: {current} → {patch.status.value}", now
                    )
                )
        if patch.assignee_given:
            new_id = patch.assignee_id
            if (item.get("AssigneeId") or None) != new_id:
                updates["AssigneeId"] = new_id
                shown = name if new_id == staff.staff_id else (assignee_name or new_id or None)
                updates["AssigneeName"] = shown
                text = f"{name} assigned {shown}" if new_id else f"{name} unassigned"
                history.append(lead_store.activity("assignment", text, now))
        if patch.note is not None:
            notes = list(item.get("Notes") or [])
            check_new_note(notes, patch.note)  # 422/413: a lead item stays writable
            notes.append(
                {
                    "noteId": str(ulid.ULID()),
                    "authorId": staff.staff_id or "",
                    "authorName": name,
                    "body": patch.note,
                    "at": now,
                }
            )
            updates["Notes"] = notes
            history.append(lead_store.activity("note", f"{name} added a note", now))
        if patch.possible_opt_out is False and item.get("PossibleOptOut"):
            updates["PossibleOptOut"] = False  # dismissed on every desktop
            history.append(
                lead_store.activity("opt_out_dismissed", f"{name}: not an opt-out request", now)
            )
        if not updates:
            return None
        updates["Activity"] = lead_store.bounded_activity(history)
        updates["LastActivityAt"] = now
        return updates

    return fn
