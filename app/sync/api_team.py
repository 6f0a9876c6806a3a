"""The engine API's types of staff working together (re-exported by `app.sync.api`):
presence in a conversation, leads waiting for a reply, shared templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """Another staff member views, types in or left a conversation (`state`); it
    lapses by itself at `expires_at` unless renewed. Never stored."""

    conversation_sid: str
    staff_id: str
    staff_name: str
    state: str  # "viewing" | "typing" | "left"
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class WaitingLead:
    """An open lead whose customer waits for a reply: since a new lead came (nobody
    answered yet) or since their first text after the last staff or store reply."""

    lead_id: str
    conversation_sid: str | None
    location_id: str
    name: str
    waiting_since: datetime
    target_minutes: int

    @property
    def due_at(self) -> datetime:
        """When the wait passes the location's target (then it escalates)."""
        return self.waiting_since + timedelta(minutes=self.target_minutes)


@dataclass(frozen=True, slots=True)
class SharedTemplate:
    """A template the dealership shares with a location's staff (`template_id` None:
    a new one, not saved yet)."""

    template_id: str | None
    name: str
    body: str


@dataclass(frozen=True, slots=True)
class SharedTemplates:
    """A location's shared templates as last known here (version 0: none saved).

    `Engine.save_shared_templates` raises `EngineError` `offline` (it is never
    queued: two editors must see each other's changes), `version_conflict` (someone
    saved first: the current ones are stored, `shared_templates` returns them), or
    the relay's reason for a refused list (`invalid_template`, `invalid_field`,
    `too_many_templates`...)."""

    location_id: str
    templates: tuple[SharedTemplate, ...] = ()
    version: int = 0
    updated_by: str | None = None
    updated_at: datetime | None = None
