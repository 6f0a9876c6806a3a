"""The after-hours reply: a customer text that arrives while the conversation's
location is closed (its hours, `admin set-hours`, in its time zone) is answered with
the location's after-hours text, once per closed period per conversation, shown in
the thread as an automatic message.

Called after a customer message is stored (`webhooks/conversation.py`). The reply's
key is `afterhours:<conversation>:<start of the closed period>`: the Twilio send is
at most once per key (`look_first`), and a record in `WebhookEvents` makes later
texts of the same period skip it without asking Twilio. A failure propagates: the
webhook answers 5xx and Twilio's retry (the message is stored already, its effects
idempotent) tries the reply again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.core.hours import HoursError, parse_hours
from app.relay import directory
from app.relay.integrations import record_api_message
from app.relay.versioned import Item
from app.relay.webhooks.signed import remember, seen

if TYPE_CHECKING:
    from app.relay.context import RelayContext

log = logging.getLogger("app.relay.after_hours")


def reply_key(ctx: RelayContext, conv: Item, now: datetime) -> tuple[str, str] | None:
    """(the reply's key, the text) when the conversation's location is closed at `now`."""
    location_id = str(conv.get("LocationId") or "")
    cache = ctx.caches.directory
    location = directory.cached_location(cache, ctx.tables, location_id, ctx.settings.cache_ttl_s)
    if location is None or not location.hours or not location.after_hours_text:
        return None
    try:
        hours = parse_hours(location.hours)
        zone = ZoneInfo(location.timezone or "UTC")
    except (HoursError, ZoneInfoNotFoundError) as exc:
        log.warning("location hours unusable", extra={"location": location_id, "error": str(exc)})
        return None
    local = now.astimezone(zone).replace(tzinfo=None)
    since = hours.closed_since(local)
    if since is None:
        return None
    key = f"afterhours:{conv['ConversationSid']}:{since.isoformat(timespec='minutes')}"
    return key, location.after_hours_text


def maybe_reply(ctx: RelayContext, conv: Item, now: datetime | None = None) -> bool:
    """Send the after-hours text if it is owed; True when this call sent it."""
    if conv.get("OptedOut") or conv.get("State") == "closed":
        return False
    owed = reply_key(ctx, conv, now or datetime.now(UTC))
    if owed is None:
        return False
    key, text = owed
    if seen(ctx, key):
        return False
    sid = str(conv["ConversationSid"])
    msg = ctx.require_twilio().send_message(
        sid,
        author=str(conv.get("Web2TextNumber") or ""),
        body=text,
        key=key,
        attributes={"SystemMessage": True, "AfterHours": True},
        look_first=True,
    )
    ctx.checkpoint("after_after_hours_reply")
    record_api_message(ctx, sid, msg, author_kind="system", key=key)
    remember(ctx, key, "afterhours")
    log.info("after-hours reply sent", extra={"conversation": sid})
    return True
