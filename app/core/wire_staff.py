"""Wire types of the staff API's second round: colleagues, conversations started by
staff, closing, opt-outs recorded by staff.

Same rules as `app.core.wire` (snake_case in Python, camelCase JSON).
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import Field, StringConstraints

from app.core.wire_base import WireModel

#: longest reason staff may give for a close or an opt-out
MAX_REASON_LENGTH: Final = 500


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


__all__ = [
    "MAX_REASON_LENGTH",
    "CloseLeadRequest",
    "NewLeadRequest",
    "StaffMemberView",
    "StaffOptOutRequest",
]
