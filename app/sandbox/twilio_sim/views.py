"""Twilio's JSON shapes for each resource (snake_case, as the REST API answers)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from app.sandbox.twilio_sim.clock import iso
from app.sandbox.twilio_sim.models import (
    Conversation,
    Media,
    Message,
    Participant,
    Receipt,
    ScopedWebhook,
)


def conversation(c: Conversation, base: str) -> dict[str, Any]:
    url = f"{base}/v1/Conversations/{c.sid}"
    timers: dict[str, Any] = {}
    if c.date_inactive is not None:
        timers["date_inactive"] = iso(c.date_inactive)
    if c.date_closed is not None:
        timers["date_closed"] = iso(c.date_closed)
    return {
        "sid": c.sid,
        "account_sid": c.account_sid,
        "chat_service_sid": c.chat_service_sid,
        "messaging_service_sid": c.messaging_service_sid,
        "friendly_name": c.friendly_name,
        "unique_name": c.unique_name,
        "attributes": c.attributes,
        "state": c.state,
        "date_created": iso(c.date_created),
        "date_updated": iso(c.date_updated),
        "timers": timers,
        "bindings": None,
        "url": url,
        "links": {
            "participants": f"{url}/Participants",
            "messages": f"{url}/Messages",
            "webhooks": f"{url}/Webhooks",
        },
    }


def participant(p: Participant, account_sid: str, base: str) -> dict[str, Any]:
    binding: dict[str, Any] | None = None
    if p.address:
        binding = {"type": "sms", "address": p.address, "proxy_address": p.proxy_address}
    elif p.projected_address:
        binding = {"type": "sms", "projected_address": p.projected_address}
    return {
        "account_sid": account_sid,
        "conversation_sid": p.conversation_sid,
        "sid": p.sid,
        "identity": p.identity,
        "attributes": p.attributes,
        "messaging_binding": binding,
        "role_sid": p.role_sid,
        "date_created": iso(p.date_created),
        "date_updated": iso(p.date_updated),
        "url": f"{base}/v1/Conversations/{p.conversation_sid}/Participants/{p.sid}",
        "last_read_message_index": p.last_read_message_index,
        "last_read_timestamp": p.last_read_timestamp,
    }


def _delivery(m: Message) -> dict[str, Any] | None:
    receipts = list(m.receipts.values())
    if not receipts:
        return None

    def agg(status: str) -> str:
        n = sum(1 for r in receipts if r.status == status)
        return "all" if n == len(receipts) else ("some" if n else "none")

    return {
        "total": len(receipts),
        "sent": agg("sent"),
        "delivered": agg("delivered"),
        "read": agg("read"),
        "failed": agg("failed"),
        "undelivered": agg("undelivered"),
    }


def message(m: Message, account_sid: str, base: str) -> dict[str, Any]:
    url = f"{base}/v1/Conversations/{m.conversation_sid}/Messages/{m.sid}"
    return {
        "account_sid": account_sid,
        "conversation_sid": m.conversation_sid,
        "sid": m.sid,
        "index": m.index,
        "author": m.author,
        "body": m.body,
        "media": [media_ref(x) for x in m.media] or None,
        "attributes": m.attributes,
        "participant_sid": m.participant_sid,
        "date_created": iso(m.date_created),
        "date_updated": iso(m.date_updated),
        "delivery": _delivery(m),
        "content_sid": None,
        "url": url,
        "links": {
            "delivery_receipts": f"{url}/Receipts",
            "channel_metadata": f"{url}/ChannelMetadata",
        },
    }


def media_ref(m: Media) -> dict[str, Any]:
    """A media entry of a message, as Conversations lists it."""
    return {
        "sid": m.sid,
        "size": m.size,
        "content_type": m.content_type,
        "filename": m.filename,
        "category": "media",
    }


def media(m: Media, account_sid: str, base: str, temporary_query: str) -> dict[str, Any]:
    """An MCS media resource, with the temporary URL of its content."""
    path = f"/v1/Services/{m.service_sid}/Media/{m.sid}"
    return {
        "sid": m.sid,
        "account_sid": account_sid,
        "service_sid": m.service_sid,
        "date_created": iso(m.date_created),
        "date_upload_updated": iso(m.date_created),
        "date_updated": iso(m.date_created),
        "links": {
            "content": f"{path}/Content",
            "content_direct_temporary": f"{base}/media/{m.sid}?{temporary_query}",
        },
        "size": m.size,
        "content_type": m.content_type,
        "filename": m.filename,
        "author": m.author,
        "category": "media",
        "message_sid": m.message_sid,
        "channel_sid": m.conversation_sid,
        "url": path,
        "is_multipart_upstream": False,
    }


def receipt(r: Receipt, account_sid: str, base: str) -> dict[str, Any]:
    return {
        "account_sid": account_sid,
        "conversation_sid": r.conversation_sid,
        "sid": r.sid,
        "message_sid": r.message_sid,
        "channel_message_sid": r.channel_message_sid,
        "participant_sid": r.participant_sid,
        "status": r.status,
        "error_code": r.error_code or 0,  # the spec: an integer, 0 when there is no error
        "date_created": iso(r.date_created),
        "date_updated": iso(r.date_updated),
        "url": f"{base}/v1/Conversations/{r.conversation_sid}/Messages/{r.message_sid}"
        f"/Receipts/{r.sid}",
    }


def webhook(w: ScopedWebhook, account_sid: str, base: str) -> dict[str, Any]:
    configuration: dict[str, Any] = {"method": w.method, "filters": w.filters}
    if w.url:
        configuration["url"] = w.url
    if w.triggers:
        configuration["triggers"] = w.triggers
    if w.flow_sid:
        configuration["flow_sid"] = w.flow_sid
    if w.replay_after is not None:
        configuration["replay_after"] = w.replay_after
    return {
        "account_sid": account_sid,
        "conversation_sid": w.conversation_sid,
        "sid": w.sid,
        "target": w.target,
        "url": f"{base}/v1/Conversations/{w.conversation_sid}/Webhooks/{w.sid}",
        "configuration": configuration,
        "date_created": iso(w.date_created),
        "date_updated": iso(w.date_updated),
    }


def participant_conversation(c: Conversation, p: Participant, base: str) -> dict[str, Any]:
    binding: dict[str, Any] | None = None
    if p.address:
        binding = {"type": "sms", "address": p.address, "proxy_address": p.proxy_address}
    conv = conversation(c, base)
    return {
        "account_sid": c.account_sid,
        "chat_service_sid": c.chat_service_sid,
        "participant_sid": p.sid,
        "participant_user_sid": None,
        "participant_identity": p.identity,
        "participant_messaging_binding": binding,
        "conversation_sid": c.sid,
        "conversation_unique_name": c.unique_name,
        "conversation_friendly_name": c.friendly_name,
        "conversation_attributes": c.attributes,
        "conversation_date_created": iso(c.date_created),
        "conversation_date_updated": iso(c.date_updated),
        "conversation_created_by": "system",
        "conversation_state": c.state,
        "conversation_timers": conv["timers"],
        "links": {
            "participant": f"{base}/v1/Conversations/{c.sid}/Participants/{p.sid}",
            "conversation": f"{base}/v1/Conversations/{c.sid}",
        },
    }


def page(
    items: list[dict[str, Any]],
    key: str,
    base: str,
    path: str,
    page_size: int,
    page_number: int,
    extra_query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One page of a Twilio list, with absolute next/previous URLs on the simulator."""
    start = page_number * page_size
    chunk = items[start : start + page_size]

    def url(n: int) -> str:
        query = {**(extra_query or {}), "PageSize": str(page_size), "Page": str(n)}
        if n > 0:
            query["PageToken"] = f"PT{n}"
        return f"{base}{path}?{urlencode(query)}"

    has_next = start + page_size < len(items)
    return {
        key: chunk,
        "meta": {
            "page": page_number,
            "page_size": page_size,
            "first_page_url": url(0),
            "previous_page_url": url(page_number - 1) if page_number > 0 else None,
            "url": url(page_number),
            "next_page_url": url(page_number + 1) if has_next else None,
            "key": key,
        },
    }
