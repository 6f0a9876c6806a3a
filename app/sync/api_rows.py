"""Rows of `app.sync.api.Engine`'s search and staff actions (re-exported by
`app.sync.api`, which is what a UI imports)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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


@dataclass(frozen=True, slots=True)
class SearchHit:
    lead_id: str | None
    conversation_sid: str | None
    kind: str  # "lead" (name/phone matched) | "message"
    snippet: str  # matched text with the match wrapped in MATCH_START … MATCH_END
    title: str  # customer name, for the result list
    at: datetime | None = None
    message_sid: str | None = None


#: markers around matched terms in `SearchHit.snippet`
MATCH_START = "\u0002"
MATCH_END = "\u0003"


__all__ = ["MATCH_END", "MATCH_START", "NewConversation", "SearchHit", "StaffMember"]
