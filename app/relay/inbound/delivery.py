"""Posting a routed text into its new conversation as the customer's first message:
its photos are copied from the received MMS into the conversation's media (a Twilio
conversation message names its one attachment by MediaSid), the first message carries
the text and the first photo, each further photo a message of its own. Each message
is sent at most once (its key in the message attributes, looked up on a resume)."""

from __future__ import annotations

import mimetypes
from typing import TYPE_CHECKING, Any

from app.relay import conversation_store
from app.relay.versioned import Item

if TYPE_CHECKING:
    from app.relay.context import RelayContext


def post_inbound_text(
    ctx: RelayContext, sid: str, lead: Item, customer: str, *, look_first: bool
) -> None:
    text = lead.get("InboundText") or {}
    lead_id = str(lead["LeadId"])
    body = str(text.get("Body", ""))
    media = list(text.get("Media") or [])
    parts: list[tuple[str, str, dict[str, Any] | None]] = []
    if media:
        parts.append((f"{lead_id}:inbound", body, media[0]))
        parts.extend((f"{lead_id}:inbound:{n}", "", m) for n, m in enumerate(media[1:], 1))
    else:
        parts.append((f"{lead_id}:inbound", body, None))
    for key, part_body, attachment in parts:
        found = ctx.require_twilio().find_message_by_key(sid, key) if look_first else None
        if found is not None:
            _store_as_received(ctx, sid, found)  # sent before a crash, maybe not stored
            continue
        media_sid = _copy_media(ctx, attachment, key) if attachment else None
        msg = ctx.require_twilio().send_message(
            sid,
            author=customer,
            body=part_body,
            key=key,
            attributes={"InboundSms": str(text.get("MessageSid", ""))},
            look_first=look_first,
            webhook=True,  # stored and counted like any text from the customer
            media_sid=media_sid,
        )
        _store_as_received(ctx, sid, msg)


def _store_as_received(ctx: RelayContext, sid: str, msg: Any) -> None:
    """Store the message as its webhook would (the same path, idempotent per
    MessageSid): a webhook lost to a crash right after the send loses nothing."""
    from app.relay.background import message_form
    from app.relay.webhooks import message_added

    conv = conversation_store.get_conversation(ctx.tables, sid)
    if conv is not None:
        message_added(ctx, conv, message_form(sid, msg))


def _copy_media(ctx: RelayContext, attachment: dict[str, Any], key: str) -> str:
    content = ctx.require_twilio().media.fetch_mms(str(attachment["Url"]))
    content_type = str(attachment.get("ContentType") or content.content_type)
    extension = mimetypes.guess_extension(content_type) or ""
    name = f"photo-{key.rsplit(':', 1)[-1]}{extension}"
    uploaded = ctx.require_twilio().media.upload(content.data, content_type, name)
    return str(uploaded["sid"])
