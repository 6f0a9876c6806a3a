"""Events of `app.sync.api.Engine` that carry no engine type (re-exported by
`app.sync.api`, which is what a UI imports): what changed, what arrived, what the
outbox delivered or stopped on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ChangesApplied:
    """Changes were written to the local store; refresh what shows these ids."""

    lead_ids: frozenset[str] = frozenset()
    conversation_sids: frozenset[str] = frozenset()
    message_sids: frozenset[str] = frozenset()  # relay message SIDs
    location_ids: frozenset[str] = frozenset()
    #: the conversations those messages belong to (an open thread refreshes only for
    #: its own; a change from an engine that does not fill it names none)
    thread_sids: frozenset[str] = frozenset()
    #: true while the engine catches up after start/reconnect: UIs may refresh
    #: whole lists instead of item by item
    initial_catch_up: bool = False
    #: true when the change came from this desktop (outbox effect, mark read)
    local: bool = False


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A new message from a customer (for notifications)."""

    message_sid: str
    conversation_sid: str
    lead_id: str | None
    customer_name: str
    location_id: str
    body: str
    at: datetime


@dataclass(frozen=True, slots=True)
class InboundMessages:
    messages: tuple[InboundMessage, ...]
    #: the messages arrived while catching up (e.g. after a night offline): a UI
    #: should summarise rather than pop one notification per message
    during_catch_up: bool = False


@dataclass(frozen=True, slots=True)
class OutboxItemFailed:
    """An outbox operation stopped on a final error; the UI offers retry/discard."""

    outbox_id: str
    kind: str  # "send_message" | "update_lead" | "mark_read"
    conversation_sid: str | None
    lead_id: str | None
    #: the relay's stable code: recipient_opted_out, quiet_hours, forbidden, version_conflict …
    reason: str
    message: str  # human text from the relay
    local_message_id: str | None = None  # for send_message: the pending ThreadMessage


@dataclass(frozen=True, slots=True)
class OutboxItemDelivered:
    outbox_id: str
    kind: str
    conversation_sid: str | None
    lead_id: str | None
    local_message_id: str | None = None
    message_sid: str | None = None  # the relay's message SID once known


__all__ = [
    "ChangesApplied",
    "InboundMessage",
    "InboundMessages",
    "OutboxItemDelivered",
    "OutboxItemFailed",
]
