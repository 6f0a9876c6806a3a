"""The inbox holding still: fresh rows shown in the order already on screen.

While the pointer is over the inbox or its list has the keyboard (InboxController),
a refresh must not move rows under a click or a keystroke. The rows on screen keep
their places and take their fresh data (unread counts, previews, times); what the new
order would move up (new leads, leads with new activity) is counted for the "3 new"
pill, and applied when the hold ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from app.sync.api import LeadRow


class HeldUpdate(NamedTuple):
    rows: list[LeadRow]  # the rows on screen, same order, fresh data
    moved: set[str]  # leads the fresh order would bring up: new ones, or new activity
    reordered: bool  # the fresh order differs from the one on screen at all


def held_update(shown: Sequence[LeadRow], fresh: Sequence[LeadRow]) -> HeldUpdate:
    fresh_by_id = {r.lead_id: r for r in fresh}
    place = {r.lead_id: i for i, r in enumerate(shown)}
    rows = [fresh_by_id.get(r.lead_id, r) for r in shown]
    moved: set[str] = set()
    for i, row in enumerate(fresh):
        was = place.get(row.lead_id)
        if was is None:
            moved.add(row.lead_id)  # new to the inbox (or to the loaded pages)
        elif i < was and row.last_activity_at > shown[was].last_activity_at:
            moved.add(row.lead_id)  # new activity brings it up
    reordered = [r.lead_id for r in fresh] != [r.lead_id for r in shown[: len(fresh)]]
    return HeldUpdate(rows, moved, reordered or len(fresh) != len(shown))
