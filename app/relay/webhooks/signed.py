"""What every signed Twilio webhook shares: the signature check (403
`invalid_signature`), the form as a dict, and the dedupe records of handled events
(`WebhookEvents`)."""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from botocore.exceptions import ClientError
from fastapi import Request

from app.relay import versioned
from app.relay.context import context_of
from app.relay.ddb import is_conditional_failure
from app.relay.errors import ApiError
from app.relay.versioned import Item

if TYPE_CHECKING:
    from app.relay.context import RelayContext

log = logging.getLogger("app.relay.webhooks")

EVENT_TTL_S = 7 * 24 * 3600
TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


async def signed_form(request: Request) -> dict[str, str]:
    """The form of a Twilio webhook whose signature is valid (else 403)."""
    ctx = context_of(request)
    raw = await request.body()
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        pairs = []
    form: dict[str, str] = {}
    for k, v in pairs:
        form.setdefault(k, v)
    url = ctx.settings.public_url + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    signature = request.headers.get("x-twilio-signature", "")
    validator = ctx.webhook_validator
    if not signature or not validator.validate(url, _SignedParams(form), signature):
        log.warning("webhook with a bad signature", extra={"path": request.url.path})
        raise ApiError(403, "invalid_signature", "X-Twilio-Signature is INVALID")
    # These values become DynamoDB keys (never empty, at most 1024/2048 bytes): refuse
    # what cannot be one with a 400 instead of failing the write with a 500.
    for name in _KEY_FIELDS:
        if len(form.get(name, "")) > 256:
            raise ApiError(400, "invalid_request", f"{name} is INVALID - over 256 characters")
    if form.get("EventType") in _MESSAGE_EVENTS and not form.get("MessageSid"):
        raise ApiError(400, "invalid_request", "MessageSid is NONEXISTANT - required")
    return form


class _SignedParams(dict[str, str]):
    """A webhook's form for the twilio validator, with the `getall` it asks for first.

    Given a plain dict, the validator tries `getall` and then `getlist` on it and
    catches two AttributeErrors per field, for each of the two signatures it
    computes (with and without the port): half its time on a webhook. The values
    it reads are the same (one per name, as in `form`).
    """

    def getall(self, name: str) -> list[str]:
        return [self[name]]


_KEY_FIELDS: tuple[str, ...] = ("ConversationSid", "MessageSid", "SmsSid", "DeliveryReceiptSid")
_KEY_FIELDS += ("From", "To", "Status", "StateTo", "StateUpdated", "DateUpdated")
_MESSAGE_EVENTS = ("onMessageAdded", "onMessageUpdated", "onMessageRemoved", "onDeliveryUpdated")


def seen(ctx: RelayContext, key: str) -> bool:
    item = ctx.tables.events.get_item(Key={"EventKey": key}, ConsistentRead=True).get("Item")
    return item is not None


def remember(ctx: RelayContext, key: str, kind: str) -> None:
    try:
        ctx.tables.events.put_item(
            Item={
                "EventKey": key,
                "Kind": kind,
                "At": versioned.now_iso(),
                "ExpiresAt": int(time.time()) + EVENT_TTL_S,
            },
            ConditionExpression="attribute_not_exists(EventKey)",
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise


def attrs(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def publish_lead(ctx: RelayContext, item: Item | None) -> None:
    if item is not None:
        ctx.leads._publish_lead(item)
