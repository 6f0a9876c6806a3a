"""The composer's quiet-hours warning, from `app.core.quiet_hours`."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.ui import fmt

#: a customer who texted within this window may be answered at any hour
REPLY_WINDOW = timedelta(hours=24)


def quiet_hours_warning(
    now: datetime, *, phone: str, location_tz: str | None, last_inbound_at: datetime | None
) -> str | None:
    """The warning to show above the composer, or None when sending now is fine."""
    if last_inbound_at is not None and now - last_inbound_at < REPLY_WINDOW:
        return None
    try:
        from app.core import quiet_hours as qh
    except ImportError:  # the domain module ships separately; no warning rather than a crash
        return None

    next_at = qh.check(now, phone=phone, timezone=location_tz)
    if next_at is None:
        return None
    when = f"{fmt.day_label(fmt.local(next_at).date())} at {fmt.clock(next_at)}"
    return (
        "It's outside texting hours where this customer lives, and they haven't texted in "
        f"the last 24 hours. The relay will hold this message; next allowed time: {when}."
    )
