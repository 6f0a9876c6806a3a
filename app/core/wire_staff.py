"""Wire types of the staff API's second round: colleagues, conversations started by
staff, closing, opt-outs recorded by staff, and texts scheduled for later.

Same rules as `app.core.wire` (snake_case in Python, camelCase JSON).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final

from pydantic import Field, StringConstraints

from app.core.wire_base import UtcDatetime, Version, WireModel

#: longest reason staff may give for a close or an opt-out
MAX_REASON_LENGTH: Final = 500
#: how far ahead a text may be scheduled
MAX_SCHEDULE_DAYS: Final = 30


class StaffMemberView(WireModel):
    """One entry of `GET /v1/staff`: a colleague the caller may assign a lead to."""

    staff_id: str
    name: str
    location_ids: list[str] = Field(default_factory=list)


class NewLeadRequest(WireModel):
    """`POST /v1/leads`: a conversation started by staff (`Lead.Source` "staff").

    `lead_id` is optional: the desktop names the lead it shows as pending while
    offline, so the relay's lead replaces that row instead of appearing beside it.
    """

    location_id: str
    name: str
    phone: str
    note: str | None = None
    lead_id: str | None = None


class CloseLeadRequest(WireModel):
    """`POST /v1/leads/{LeadId}/close`."""

    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_REASON_LENGTH)
    ]


class StaffOptOutRequest(WireModel):
    """`POST /v1/conversations/{sid}/opt-out`: the customer asked not to be texted."""

    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_REASON_LENGTH)
    ]


class ScheduledStatus(StrEnum):
    SCHEDULED = "scheduled"  # waiting for its time
    SENDING = "sending"  # claimed by a relay instance that is sending it now
    SENT = "sent"  # sent: `sent_message_sid` names the message in the conversation
    CANCELED = "canceled"
    FAILED = "failed"  # could not be sent (e.g. the customer opted out meanwhile)


#: the states after which a scheduled text never changes again
SCHEDULED_FINAL: Final = frozenset(
    {ScheduledStatus.SENT, ScheduledStatus.CANCELED, ScheduledStatus.FAILED}
)


class ScheduledView(WireModel):
    """A text scheduled for later (`entity: "scheduled"` in the change feed; the 202 of a
    send with `sendAt`). `message_sid` is the relay's id of the scheduled text (what
    `DELETE /v1/scheduled/{MessageSid}` takes), not Twilio's: the text sent at
    `send_at` is a message of its own, `sent_message_sid`."""

    message_sid: str
    conversation_sid: str
    location_id: str
    body: str
    status: ScheduledStatus = ScheduledStatus.SCHEDULED
    #: when it goes (after any move for quiet hours)
    send_at: UtcDatetime
    #: when the staff member asked for it
    requested_send_at: UtcDatetime
    #: `send_at` was moved to the customer's next allowed minute
    moved_for_quiet_hours: bool = False
    staff_id: str | None = None
    staff_name: str | None = None
    idempotency_key: str | None = None
    sent_message_sid: str | None = None
    error_reason: str | None = None
    error_message: str | None = None
    created_at: UtcDatetime
    version: Version = 0


__all__ = [
    "MAX_REASON_LENGTH",
    "MAX_SCHEDULE_DAYS",
    "SCHEDULED_FINAL",
    "CloseLeadRequest",
    "NewLeadRequest",
    "ScheduledStatus",
    "ScheduledView",
    "StaffMemberView",
    "StaffOptOutRequest",
]
