"""The sync engine's interface for the desktop UI (and anything else embedding it).

Pure Python: dataclasses, enums and Protocols, no I/O and no Qt. The UI codes
against `Engine`; `app.sync.engine.SyncEngine` implements it. The entry points at
the end (`check_staff_key`, `make_engine`, `import_engine`) are how a UI reaches the
relay client and the engine: they import them on use, so importing this module stays
cheap.

Threading contract: every `Engine` coroutine runs on the asyncio loop the engine
was started on (in the desktop, the qasync loop on the Qt thread). The engine
never blocks that loop: its SQLite work runs on a worker thread. Listener
callbacks (`EngineListener.on_event`) are called on that same loop, so a UI may
touch its widgets from them directly; they must return quickly.

Timestamps are timezone-aware UTC `datetime`s. String ids are the relay's
(LeadId UUIDs, Twilio SIDs); `ThreadMessage.local_id` and outbox ids are the
local store's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

from app.sync.api_events import ChangesApplied as ChangesApplied
from app.sync.api_events import InboundMessage as InboundMessage
from app.sync.api_events import InboundMessages as InboundMessages
from app.sync.api_events import OutboxItemDelivered as OutboxItemDelivered
from app.sync.api_events import OutboxItemFailed as OutboxItemFailed
from app.sync.api_rows import MATCH_END as MATCH_END
from app.sync.api_rows import MATCH_START as MATCH_START
from app.sync.api_rows import NewConversation as NewConversation
from app.sync.api_rows import SearchHit as SearchHit
from app.sync.api_rows import StaffMember as StaffMember
from app.sync.api_team import PresenceChanged as PresenceChanged
from app.sync.api_team import SharedTemplate as SharedTemplate
from app.sync.api_team import SharedTemplates as SharedTemplates
from app.sync.api_team import WaitingLead as WaitingLead

# the store's health, part of this interface (re-exported)
from app.sync.health import RepairReport as RepairReport
from app.sync.health import SavedItem as SavedItem
from app.sync.health import StorageProblem as StorageProblem


class SyncState(StrEnum):
    """What the engine's connection to the relay is doing."""

    OFFLINE = "offline"  # relay unreachable; retrying with backoff
    CONNECTING = "connecting"  # (re)connecting, first contact not made yet
    SYNCING = "syncing"  # catching up through /v1/changes
    ONLINE = "online"  # caught up and following /v1/stream
    AUTH_REQUIRED = "auth_required"  # the relay answered 401: the staff key is bad
    STORAGE_PROBLEM = "storage_problem"  # the data folder takes no writes (see `storage`)
    REPAIRING = "repairing"  # the local store was damaged and is being rebuilt
    STOPPED = "stopped"  # not started, or stopped


@dataclass(frozen=True, slots=True)
class SyncStatus:
    state: SyncState
    pending: int = 0  # outbox rows waiting or in flight
    failed: int = 0  # outbox rows stopped on a final error (need retry/discard)
    last_error: str | None = None  # short human text of the last connection/delivery error
    cursor: str | None = None  # change-feed cursor held locally
    last_synced_at: datetime | None = None  # last time a change batch or heartbeat arrived
    #: set while the data folder takes no writes (state `storage_problem`)
    storage: StorageProblem | None = None
    #: a repair of the local store the user has not been told of yet
    repair: RepairReport | None = None
    #: seconds the relay's clock is ahead of this PC's (its `Date` headers); times the
    #: user sees are this PC's clock plus this
    clock_offset: float = 0.0

    @property
    def online(self) -> bool:
        return self.state is SyncState.ONLINE


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class StatusChanged:
    status: SyncStatus


EngineEvent = (
    ChangesApplied
    | StatusChanged
    | InboundMessages
    | OutboxItemFailed
    | OutboxItemDelivered
    | PresenceChanged
)


@runtime_checkable
class EngineListener(Protocol):
    def on_event(self, event: EngineEvent) -> None:
        """Called on the engine's asyncio loop; must not block."""


# --------------------------------------------------------------------------- rows


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


class EngineError(Exception):
    """A command refused locally, with a stable snake_case reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class KeyCheckError(EngineError):
    """`check_staff_key` got no staff member: `reason` is unauthorized (401), forbidden
    (403: not a staff key), relay_timeout, relay_unreachable, relay_error (another error
    status, in `status`), relay_bad_answer, or insecure_relay_url / relay_url_invalid
    (`app.core.relay_url`: the key is never sent over plain http to another host)."""

    def __init__(self, reason: str, message: str, status: int | None = None) -> None:
        super().__init__(reason, message)
        self.status = status


class _Unset(Enum):
    """Sentinel type for "leave unchanged" in `Engine.update_lead`."""

    UNSET = "__unset__"


UNSET = _Unset.UNSET


# --------------------------------------------------------------------------- engine


class Engine(Protocol):
    async def start(self) -> None:
        """Open the store (migrations), requeue in-flight outbox rows, start syncing.

        Returns once the store is open; network work continues in the background.
        """

    async def stop(self) -> None:
        """Stop network work and close the store; pending outbox rows stay queued."""

    def add_listener(self, listener: EngineListener) -> None: ...

    def remove_listener(self, listener: EngineListener) -> None: ...

    def status(self) -> SyncStatus: ...

    @property
    def me(self) -> Me | None:
        """The staff member, once `/v1/me` answered (cached across restarts)."""

    # ---- commands: each writes its local effect and outbox row in one transaction

    async def send_message(
        self, conversation_sid: str, body: str, attachment: Path | None = None,
        send_at: datetime | None = None,
    ) -> ThreadMessage:
        """Queue a message; it is returned (and shown) at once as `pending`. With
        `send_at` the relay sends it then (`scheduled` once it took it).

        `attachment`: a JPEG, PNG or GIF of at most 5 MB, copied into the data folder
        at once and sent with the text, exactly once, like any outbox row. Raises
        `EngineError("empty_body", ...)` for a blank body without a photo, and
        `unsupported_media_type` / `media_too_large` / `attachment_unreadable`.
        """

    async def media_file(self, sid: str) -> Path:
        """A message photo's file in the data folder, fetched from the relay once
        (`GET /v1/media/{sid}`). Raises `EngineError("media_unavailable", ...)`."""

    async def cancel_scheduled(self, message_sid: str) -> None:
        """Cancel a text for later before it goes (its bubble goes at once)."""

    async def update_lead(
        self,
        lead_id: str,
        *,
        status: str | _Unset = UNSET,
        assignee_id: str | _Unset | None = UNSET,
        note: str | None = None,
    ) -> LeadDetail:
        """Change pipeline status / assignee (None = unassign) / add a note.

        Applied locally at once, delivered with If-Match on the version it was
        based on. Raises `EngineError("lead_not_found", ...)` for an unknown lead.
        """

    async def mark_read(self, conversation_sid: str) -> None: ...

    async def sync_lead(self, lead_id: str) -> None:
        """Ask the relay to run the lead's integrations again ("Sync now"). Not queued:
        raises `EngineError` (reason `offline`, `lead_not_found`, `forbidden`,
        `relay_error`) when the relay cannot take it now."""

    async def set_presence(self, conversation_sid: str, state: str) -> None:
        """Tell colleagues: "viewing", "typing" or "left"; best effort, never queued."""

    async def waiting_for_reply(self) -> Sequence[WaitingLead]:
        """Open leads whose customer waits for a reply, longest wait first."""

    async def shared_templates(self, location_id: str) -> SharedTemplates:
        """The location's shared templates as the feed last brought them (offline too)."""

    async def save_shared_templates(
        self, location_id: str, templates: Sequence[SharedTemplate], version: int
    ) -> SharedTemplates:
        """Replace them if still at `version` (online only; see `SharedTemplates`)."""

    async def dismiss_possible_opt_out(self, lead_id: str) -> None:
        """"Not an opt-out": the banner goes on every desktop (`possibleOptOut: false`)."""

    async def opt_out(self, conversation_sid: str, reason: str) -> None:
        """Record that the customer asked not to be texted: texting is off at once
        here, the relay records it and closes the leads. Raises `EngineError`
        (reason_required, reason_too_long, conversation_not_found)."""

    async def close_lead(self, lead_id: str, reason: str) -> None:
        """Close the lead with a reason (If-Match the version shown)."""

    async def create_lead(self, new: NewConversation) -> str:
        """Start a conversation: the lead shows at once (pending) and is delivered once;
        returns its id. Raises `EngineError` (name_required, invalid_phone)."""

    async def list_staff(self) -> Sequence[StaffMember]:
        """The colleagues of the staff member's locations (the relay's answer, or the
        last one kept when it cannot be reached)."""

    async def retry(self, outbox_id: str) -> None:
        """Requeue a failed outbox row (same idempotency key: never a second SMS)."""

    async def discard(self, outbox_id: str) -> None:
        """Drop a failed or pending outbox row and undo its local effect."""

    async def acknowledge_repair(self) -> None:
        """The user has been told of `SyncStatus.repair`: it is not reported again."""

    # ---- queries

    async def list_locations(self) -> Sequence[LocationRow]: ...

    async def list_leads(
        self, filter: LeadFilter, offset: int = 0, limit: int = 100
    ) -> Sequence[LeadRow]:
        """Most recent activity first."""

    async def count_leads(self, filter: LeadFilter) -> int: ...

    async def get_lead(self, lead_id: str) -> LeadDetail | None: ...

    async def thread(
        self, conversation_sid: str, limit: int = 200, before: datetime | None = None
    ) -> Sequence[ThreadMessage]:
        """Messages oldest first; the last `limit` before `before` (None: the newest)."""

    async def search(self, query: str, limit: int = 50) -> Sequence[SearchHit]: ...


# --------------------------------------------------------------------------- entry points
# What a UI needs before, or to make, an engine. The engine's modules (SQLAlchemy,
# httpx) are imported on the first call, not with this module.


async def check_staff_key(relay_url: str, key: str, *, timeout: float = 10.0) -> Me:
    """Who a staff key belongs to, asked of the relay once (`GET /v1/me`): a sign-in's
    check before any engine exists. Raises `KeyCheckError`."""
    from app.sync.client import check_staff_key as check

    return await check(relay_url, key, timeout=timeout)


def make_engine(data_dir: Path, relay_url: str, token: str) -> Engine:
    """The sync engine for one staff member's store, not started yet."""
    from app.sync.engine import SyncEngine

    return SyncEngine(data_dir=data_dir, relay_url=relay_url, token=token)


def import_engine() -> None:
    """Import the engine's modules without making an engine (blocking: a warm-up for a
    worker thread, so that `make_engine` is quick)."""
    import app.sync.engine  # noqa: F401
