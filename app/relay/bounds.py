"""Bounds on what grows inside one DynamoDB item (at most 400 KB), so no lead,
conversation or change-feed item ever stops being writable.

- Notes of a lead: at most `MAX_NOTES` (422 `too_many_notes`) and
  `MAX_NOTES_BYTES` of UTF-8 text in all (413 `notes_too_large`); one note is
  at most `app.core.wire.MAX_NOTE_LENGTH` characters.
- Activity (`app.relay.store.bounded_activity`), `EffectsApplied` (the last 50
  to 70 sids) and a conversation's open leads (`app.relay.screening.MAX_OPEN_LEADS`)
  are bounded where they grow.
- A change-feed entry is at most `FEED_MAX_CHANGE_BYTES` of JSON: a bigger lead
  view (a pathological mix of long notes and a long history written in
  characters JSON escapes six to a letter) is trimmed, oldest activity first
  and then the oldest notes' bodies, and marked `"trimmed": true`, so its
  change is still written (the desktop keeps what it has of the rest).
- A write DynamoDB still refuses for size answers 413 `lead_too_large`
  (`item_too_large`), never 500.
"""

from __future__ import annotations

import json
from typing import Any, Final

from app.relay.errors import ApiError

MAX_NOTES: Final = 100
MAX_NOTES_BYTES: Final = 64 * 1024
#: a change's JSON; the change log packs up to 300 KB per item
FEED_MAX_CHANGE_BYTES: Final = 200_000
TRIMMED_NOTE: Final = "[trimmed: too long for the live feed]"


def notes_bytes(notes: list[Any]) -> int:
    return sum(len(str((n or {}).get("body", "")).encode("utf-8")) for n in notes)


def check_new_note(notes: list[Any], body: str) -> None:
    """Raise the 422/413 that refuses adding `body` to a lead holding `notes`."""
    if len(notes) >= MAX_NOTES:
        raise ApiError(
            422,
            "too_many_notes",
            f"This lead already has {len(notes)} notes; at most {MAX_NOTES} are kept",
            maxNotes=MAX_NOTES,
        )
    total = notes_bytes(notes) + len(body.encode("utf-8"))
    if total > MAX_NOTES_BYTES:
        raise ApiError(
            413,
            "notes_too_large",
            f"The lead's notes would hold {total} bytes; at most {MAX_NOTES_BYTES} are kept",
            maxBytes=MAX_NOTES_BYTES,
        )


def item_too_large(exc: BaseException) -> bool:
    """DynamoDB refused a write because the item would pass its size limit."""
    error = getattr(exc, "response", {}).get("Error", {})
    return error.get("Code") == "ValidationException" and "size" in str(
        error.get("Message", "")
    ).lower()


def lead_too_large() -> ApiError:
    return ApiError(413, "lead_too_large", "The lead is too large to store this change")


def _size(data: Any) -> int:
    return len(json.dumps(data, separators=(",", ":"), default=str))


def feed_sized(entity: str, data: dict[str, Any]) -> dict[str, Any]:
    """`data` as a change-feed entry of at most FEED_MAX_CHANGE_BYTES (see the module doc)."""
    if entity != "lead" or _size(data) <= FEED_MAX_CHANGE_BYTES:
        return data
    trimmed = dict(data, trimmed=True)
    activity = list(trimmed.get("activity") or [])
    notes = [dict(n) for n in trimmed.get("notes") or []]
    while activity and _size(dict(trimmed, activity=activity, notes=notes)) > FEED_MAX_CHANGE_BYTES:
        activity = activity[len(activity) // 4 + 1 :]
    for note in notes:
        if _size(dict(trimmed, activity=activity, notes=notes)) <= FEED_MAX_CHANGE_BYTES:
            break
        note["body"] = TRIMMED_NOTE
    trimmed["activity"], trimmed["notes"] = activity, notes
    return trimmed
