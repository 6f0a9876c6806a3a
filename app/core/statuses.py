"""Lead, integration, pipeline and conversation statuses, and which lead-service
handler may run in which lead status.

The string values are part of the public contract (DESIGN.md, "Lead state") and
of the shared DynamoDB items other company systems read: never rename them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from app.core.errors import ErrorReason


class LeadStatus(StrEnum):
    """`Status` of a lead state item (compatible with the original service)."""

    ACTIVE = "ACTIVE"
    SYNCING = "SYNCING"
    CLOSED = "CLOSED"


#: What `GET /Lead/{id}/status` answers for an unknown LeadId (the original's spelling).
NONEXISTANT: Final = "NONEXISTANT"


class SyncStatus(StrEnum):
    """`Integrations.<name>.SyncStatus` of a lead state item."""

    NOT_SYNCED = "NOT SYNCED"
    SYNCED = "SYNCED"
    ERROR = "ERROR"
    CLOSED = "CLOSED"


class ContactMethod(StrEnum):
    """`Lead.PreferredMethodOfContact`."""

    TEXT = "text"
    PHONE = "phone"


class ConversationState(StrEnum):
    """Twilio Conversations `state`."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    CLOSED = "closed"


class AuthorKind(StrEnum):
    """Who wrote a message in a conversation."""

    CUSTOMER = "customer"
    STORE = "store"  # the store's own phone, texting through its proxy number
    STAFF = "staff"  # a staff member from the desktop app
    SYSTEM = "system"  # greeting, lead details, warnings written by the relay


class PipelineStatus(StrEnum):
    """The sales pipeline a dealer's staff moves a lead through (desktop app)."""

    NEW = "new"
    CONTACTED = "contacted"
    ENGAGED = "engaged"
    APPOINTMENT = "appointment"
    WON = "won"
    LOST = "lost"

    @property
    def rank(self) -> int:
        """Position in the pipeline; won and lost share the last rank."""
        return _PIPELINE_RANK[self]

    @property
    def is_outcome(self) -> bool:
        """Won or lost: automatic moves never leave these."""
        return self in (PipelineStatus.WON, PipelineStatus.LOST)


_PIPELINE_RANK: Final[dict[PipelineStatus, int]] = {
    PipelineStatus.NEW: 0,
    PipelineStatus.CONTACTED: 1,
    PipelineStatus.ENGAGED: 2,
    PipelineStatus.APPOINTMENT: 3,
    PipelineStatus.WON: 4,
    PipelineStatus.LOST: 4,
}

#: Pipeline statuses in display order.
PIPELINE_ORDER: Final[tuple[PipelineStatus, ...]] = tuple(PipelineStatus)


class PipelineTrigger(StrEnum):
    """Events that move a lead's pipeline status automatically."""

    #: the store or a staff member texted the customer
    OUTBOUND_MESSAGE = "outbound_message"
    #: the customer texted back
    INBOUND_MESSAGE = "inbound_message"


_TRIGGER_TARGET: Final[dict[PipelineTrigger, PipelineStatus]] = {
    PipelineTrigger.OUTBOUND_MESSAGE: PipelineStatus.CONTACTED,
    PipelineTrigger.INBOUND_MESSAGE: PipelineStatus.ENGAGED,
}


def can_move_pipeline(current: PipelineStatus, new: PipelineStatus, *, by_staff: bool) -> bool:
    """Whether `current -> new` is allowed.

    Staff may move a lead anywhere (they correct mistakes, reopen a lost lead).
    Automatic moves only go forward and never leave an outcome (won/lost), so a
    late webhook cannot undo what staff decided.
    """
    if by_staff:
        return True
    if current.is_outcome:
        return False
    return new.rank > current.rank


def auto_advance(current: PipelineStatus, trigger: PipelineTrigger) -> PipelineStatus:
    """The pipeline status after an automatic event (unchanged when it would go back)."""
    target = _TRIGGER_TARGET[trigger]
    return target if can_move_pipeline(current, target, by_staff=False) else current


class LeadHandler(StrEnum):
    """The lead service's handlers (`POST /Lead/{LeadId}/<handler>`)."""

    CREATE = "create"
    STATUS = "status"
    SYNC = "sync"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class HandlerDecision:
    """Whether a handler may run; when not, the HTTP answer to give."""

    allowed: bool
    http_status: int = 200
    reason: ErrorReason | None = None
    message: str | None = None


_OK: Final = HandlerDecision(allowed=True)

#: The handler table: lead statuses each handler may run in. `None` stands for
#: "no such lead". STATUS always runs (it answers `{"Status": "NONEXISTANT"}`);
#: CLOSE runs on a closed lead too (as the original: it closes what is left open
#: and keeps the first reason).
HANDLER_ALLOWED: Final[dict[LeadHandler, frozenset[LeadStatus | None]]] = {
    LeadHandler.CREATE: frozenset({None}),
    LeadHandler.STATUS: frozenset({None, *LeadStatus}),
    LeadHandler.SYNC: frozenset({LeadStatus.ACTIVE, LeadStatus.SYNCING}),
    LeadHandler.CLOSE: frozenset({LeadStatus.ACTIVE, LeadStatus.SYNCING, LeadStatus.CLOSED}),
}


def handler_refusal(lead_id: str, status: LeadStatus | str | None) -> str:
    """The original's words when a handler may not run on a lead in `status`."""
    shown = status.value if isinstance(status, LeadStatus) else (status or NONEXISTANT)
    return f"Lead ID '{lead_id}' doesn't exist or is in incorrect status '{shown}'"


def check_handler(
    handler: LeadHandler, status: LeadStatus | None, lead_id: str = ""
) -> HandlerDecision:
    """May `handler` run on a lead in `status` (`None`: the lead does not exist)?

    Every refusal is a 409 with the original's message (`handler_refusal`):
    - create: only when the LeadId is new (`lead_exists`);
    - status: always;
    - sync: ACTIVE or SYNCING (`invalid_status`; `lead_not_found` if missing);
    - close: any existing lead (`lead_not_found` if missing).
    """
    if status in HANDLER_ALLOWED[handler]:
        return _OK
    if handler is LeadHandler.CREATE:
        reason = ErrorReason.LEAD_EXISTS
    elif status is None:
        reason = ErrorReason.LEAD_NOT_FOUND
    else:
        reason = ErrorReason.INVALID_STATUS
    return HandlerDecision(False, 409, reason, handler_refusal(lead_id, status))


def handler_allowed(handler: LeadHandler, status: LeadStatus | None) -> bool:
    """Shorthand for `check_handler(handler, status).allowed`."""
    return check_handler(handler, status).allowed
