"""The composer's quiet-hours warning, from `app.core.quiet_hours.check`."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from app.core import quiet_hours as qh
from app.ui import fmt


def quiet_hours_warning(
    now: datetime, *, phone: str, location_tz: str | None, last_inbound_at: datetime | None
) -> str | None:
    """The warning to show above the composer, or None when sending now is fine.

    The rule (24-hour customer-contact exemption, the customer's time zones and state
    window) lives in core; this only words it for staff. Times are the customer's (the
    first zone of their area code; one that spans several allows only what all allow).
    """
    decision = qh.check(now, last_inbound_at, location_tz, phone)
    if decision.allowed:
        return None
    theirs = decision.next_allowed_at.astimezone(ZoneInfo(decision.tz))
    day = fmt.day_label(theirs.date(), decision.local_time.date())
    hour = theirs.hour % 12 or 12
    when = (
        f"{day.lower() if day in ('Today', 'Tomorrow') else day} at {hour}:{theirs.minute:02d} "
        f"{'AM' if theirs.hour < 12 else 'PM'}"
    )
    local_now = decision.local_time
    lhour = local_now.hour % 12 or 12
    spans = (
        " Their area code spans time zones: texts go only when it is allowed in all of them."
        if len(decision.zones) > 1
        else ""
    )
    return (
        f"Quiet hours: it's {lhour}:{local_now.minute:02d} {'AM' if local_now.hour < 12 else 'PM'} "
        "for this customer and they haven't texted in 24 hours. "
        f"Next allowed time: {when} their time.{spans}"
    )
