"""The rows of `app.sync.api.Engine`'s queries, search and staff actions (re-exported
by `app.sync.api`, which is what a UI imports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Me:
    """The staff member the key belongs to (`GET /v1/me`)."""

    staff_id: str
    name: str
    retailer_id: str
    location_ids: tuple[str, ...] = ()
    # the desktop versions the relay accepts (app.core.versions); None: any
    min_app_version: str | None = None
    latest_app_version: str | None = None


@dataclass(frozen=True, slots=True)
class LocationRow:
    location_id: str
    name: str
    web2text_number: str
    store_number: str | None
    timezone: str | None
    unread: int  # unread customer messages over the location's conversations
    unread_conversations: int
    open_leads: int
    hours: str | None = None  # opening hours as the relay has them (app.core.hours)
    reply_target_minutes: int = 5  # how long a waiting lead may wait (then it escalates)


class MessageKind(StrEnum):
    CUSTOMER = "customer"
    STORE = "store"
    STAFF = "staff"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class LeadRow:
    """One row of the inbox."""

    lead_id: str
    conversation_sid: str | None
    location_id: str
    name: str
    phone: str  # E.164
    status: str  # LeadStatus: ACTIVE/SYNCING/CLOSED
    pipeline_status: str  # PipelineStatus: new/contacted/engaged/appointment/won/lost
    last_message_preview: str | None
    last_activity_at: datetime
    unread: int
    assignee_id: str | None
    assignee_name: str | None
    #: when the customer's first contact is still waiting for a staff/store reply
    #: (speed-to-lead); None once someone answered
    awaiting_first_reply_since: datetime | None
    opted_out: bool
    possible_opt_out: bool
    #: where the lead came from (LeadView.source): "web", "inbound_sms" (the customer
    #: texted in: the inbox marks it), "staff"
    source: str = "web"


#: `LeadRow.source`/`LeadDetail.source` of a lead a customer's text made
TEXTED_IN = "inbound_sms"


@dataclass(frozen=True, slots=True)
class LeadFilter:
    location_id: str | None = None  # None: every location of the staff member
    unread_only: bool = False
    mine: bool = False  # assigned to `Engine.me`
    unassigned: bool = False
    pipeline_status: str | None = None
    query: str | None = None  # full-text over names, phones and message bodies
    include_closed: bool = True
    needs_reply_at: datetime | None = None  # only leads waiting past their target then


class ThreadStatus(StrEnum):
    """A message's status as shown; `pending`/`failed_local` exist only on this desktop."""

    PENDING = "pending"  # in the outbox, not yet accepted by the relay
    FAILED_LOCAL = "failed_local"  # the relay refused it (see error_reason); retry or discard
    ACCEPTED = "accepted"  # the relay took it (202); Twilio statuses follow
    SCHEDULED = "scheduled"  # a text for later (`send_at`), waiting on the relay
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    RECEIVED = "received"
    FAILED = "failed"
    UNDELIVERED = "undelivered"


@dataclass(frozen=True, slots=True)
class MediaItem:
    """A photo of a message: `sid` once the relay has it; `local_path` for an
    attachment written here and not sent yet (a copy in the data folder)."""

    sid: str | None
    content_type: str
    filename: str | None = None
    size: int = 0
    local_path: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadMessage:
    local_id: str
    message_sid: str | None
    conversation_sid: str
    author_kind: str  # MessageKind value
    author_name: str
    body: str
    created_at: datetime
    status: str  # ThreadStatus value (or a relay status string the UI can show as is)
    error_reason: str | None = None
    error_message: str | None = None
    outbox_id: str | None = None  # set while pending/failed locally: for retry/discard
    media: tuple[MediaItem, ...] = ()


@dataclass(frozen=True, slots=True)
class NoteItem:
    note_id: str
    author_id: str | None
    author_name: str
    body: str
    at: datetime
    pending: bool = False  # written here, not yet confirmed by the relay


@dataclass(frozen=True, slots=True)
class ActivityItem:
    at: datetime
    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class IntegrationItem:
    """One integration of a lead (Twilio, RLM, DHQ, ...) as the relay last reported it."""

    name: str
    status: str  # NOT SYNCED | SYNCED | ERROR | CLOSED
    last_synced: datetime | None = None
    error: str | None = None
    detail: str | None = None  # the far side's answer in a word: "503", "timeout"
    retrying: bool = False  # the relay tries again by itself
    unconfirmed: int = 0  # steps whose answer was lost (not sent again)


@dataclass(frozen=True, slots=True)
class LeadDetail:
    lead_id: str
    retailer_id: str
    location_id: str
    location_name: str | None
    conversation_sid: str | None
    status: str
    pipeline_status: str
    assignee_id: str | None
    assignee_name: str | None
    # what the customer submitted
    name: str
    phone: str
    preferred_contact: str
    customer_message: str
    page_url: str
    ip_address: str | None
    product: dict[str, str] | None
    traffic: dict[str, str] | None
    date_submitted: datetime
    last_activity_at: datetime
    first_staff_reply_at: datetime | None
    opted_out: bool
    possible_opt_out: bool
    close_reason: str | None
    version: int
    notes: tuple[NoteItem, ...] = ()
    activity: tuple[ActivityItem, ...] = ()
    #: a lead update queued here and not yet accepted (the UI may show "saving…")
    pending_update: bool = False
    other_lead_ids: tuple[str, ...] = field(default=())  # leads sharing the conversation
    #: its lead-tracking integrations, in the relay's order
    integrations: tuple[IntegrationItem, ...] = ()
    source: str = "web"  # as LeadRow.source


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
