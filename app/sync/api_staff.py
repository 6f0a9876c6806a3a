"""Rows of the staff actions of `app.sync.api.Engine` (re-exported by `app.sync.api`,
which is what a UI imports)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StaffMember:
    """A colleague a lead can be assigned to (`GET /v1/staff`)."""

    staff_id: str
    name: str
    location_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NewConversation:
    """What staff type to start a conversation (`Engine.create_lead`)."""

    location_id: str
    name: str
    phone: str  # as typed; checked and made E.164 by the engine
    note: str | None = None


__all__ = ["NewConversation", "StaffMember"]
