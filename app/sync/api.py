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
from dataclasses import dataclass
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
from app.sync.api_rows import TEXTED_IN as TEXTED_IN
from app.sync.api_rows import ActivityItem as ActivityItem
from app.sync.api_rows import IntegrationItem as IntegrationItem
from app.sync.api_rows import LeadDetail as LeadDetail
from app.sync.api_rows import LeadFilter as LeadFilter
from app.sync.api_rows import LeadRow as LeadRow
from app.sync.api_rows import LocationRow as LocationRow
from app.sync.api_rows import Me as Me
from app.sync.api_rows import MediaItem as MediaItem
from app.sync.api_rows import MessageKind as MessageKind
from app.sync.api_rows import NewConversation as NewConversation
from app.sync.api_rows import NoteItem as NoteItem
from app.sync.api_rows import SearchHit as SearchHit
from app.sync.api_rows import StaffMember as StaffMember
from app.sync.api_rows import ThreadMessage as ThreadMessage
from app.sync.api_rows import ThreadStatus as ThreadStatus
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

    async def waiting_for_reply(
        self, among: ChangesApplied | None = None
    ) -> Sequence[WaitingLead]:
        """Open leads whose customer waits for a reply, longest wait first; `among`:
        only those of the leads these changes name (by lead id, by conversation in
        `conversation_sids` or `thread_sids`, by location), which reads only their
        threads (a lead of theirs not returned waits no more)."""

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
