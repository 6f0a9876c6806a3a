"""The one reply a phone gets when it texts a pool number nobody can route it from
("this number is not monitored", or a store told its thread ended): owed once per
(phone, pool number), sent exactly once with the Messages API.

The reply is recorded as owed before the text is settled unrouted (`owe`), in the
InboundTexts table as `notice:<phone>|<pool number>` (State OWED, the reply's Body,
the text that owed it). Whoever records it holds it for `stuck_after_s` (its
`PendingAt`) and sends it; the record then says SENT with the MessageSid. Twilio's
Messages API has no idempotency key, so a reply whose holder died (or timed out)
is taken again only once its hold ran out, by the next webhook for the pair or by
the inbound sweeper, and that taker first looks in the texts sent from the pool
number to the phone for one with the reply's body (there is at most one such
reply per pair) before sending. A reply Twilio refuses for good (the phone opted
out of the number: 21610) is kept as REFUSED with the code and never retried.

Items written before the reply was durable have no State: they were answered in
the webhook's TwiML, and count as sent."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from twilio.base.exceptions import TwilioRestException

from app.relay.ddb import is_conditional_failure
from app.relay.inbound.records import PENDING, due_in, due_now
from app.relay.logs import mask_phone
from app.relay.twilio_client import is_transient
from app.relay.versioned import Item, now_iso

if TYPE_CHECKING:
    from app.relay.context import RelayContext

log = logging.getLogger("app.relay.inbound")

OWED = "OWED"
SENT = "SENT"
REFUSED = "REFUSED"
PREFIX = "notice:"


def notice_id(phone: str, pool_number: str) -> str:
    return f"{PREFIX}{phone}|{pool_number}"


def is_notice(item: Item) -> bool:
    return str(item.get("Id", "")).startswith(PREFIX)


def owe(
    tables: Any, phone: str, pool_number: str, body: str, text_id: str, lease_s: float
) -> Item | None:
    """Record the pair's reply as owed, the first time only. The new record (its
    caller holds it and sends it), or None when the pair has one already."""
    item: Item = {
        "Id": notice_id(phone, pool_number),
        "Phone": phone,
        "PoolNumber": pool_number,
        "Body": body,
        "TextId": text_id,
        "State": OWED,
        "At": now_iso(),
        "PendingShard": PENDING,
        "PendingAt": due_in(lease_s),
        "Attempts": 1,
    }
    try:
        tables.inbound.put_item(Item=item, ConditionExpression="attribute_not_exists(Id)")
        return item
    except ClientError as exc:
        if is_conditional_failure(exc):
            return None
        raise


def get(tables: Any, phone: str, pool_number: str) -> Item | None:
    found = tables.inbound.get_item(
        Key={"Id": notice_id(phone, pool_number)}, ConsistentRead=True
    ).get("Item")
    return dict(found) if found else None


def reply_state(notice: Item | None, text_id: str) -> str:
    """What became of the reply a text owed, for `admin unrouted`: the pair's reply is
    this text's when it names it; a later text of the pair got no reply of its own."""
    if notice is None:
        return "no reply"
    if str(notice.get("TextId", text_id)) != text_id:
        return "replied earlier"
    state = notice.get("State") or SENT  # (older items were answered in the TwiML)
    if state == REFUSED:
        return f"reply refused ({notice.get('ErrorCode', '')})"
    return "reply sent" if state == SENT else "reply owed"


def take(tables: Any, item: Item, lease_s: float) -> bool:
    """Hold an owed reply whose last hold ran out (False: sent, refused or held)."""
    try:
        tables.inbound.update_item(
            Key={"Id": item["Id"]},
            UpdateExpression="SET PendingAt = :next, Attempts = Attempts + :one",
            ConditionExpression="#s = :owed AND PendingAt = :seen AND PendingAt <= :now",
            ExpressionAttributeNames={"#s": "State"},
            ExpressionAttributeValues={
                ":next": due_in(lease_s),
                ":seen": item["PendingAt"],
                ":now": due_now(),
                ":owed": OWED,
                ":one": 1,
            },
        )
        return True
    except ClientError as exc:
        if is_conditional_failure(exc):
            return False
        raise


def _settle(tables: Any, item: Item, state: str, **fields: Any) -> None:
    names = {"#s": "State"}
    values: dict[str, Any] = {":to": state, ":owed": OWED}
    sets = ["#s = :to"]
    for n, (key, value) in enumerate(fields.items()):
        names[f"#f{n}"] = key
        values[f":f{n}"] = value
        sets.append(f"#f{n} = :f{n}")
    try:
        tables.inbound.update_item(
            Key={"Id": item["Id"]},
            UpdateExpression=f"SET {', '.join(sets)} REMOVE PendingShard, PendingAt",
            ConditionExpression="#s = :owed",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise  # otherwise settled already (a look-first taker found it sent)


def deliver(ctx: RelayContext, item: Item, *, look_first: bool) -> None:
    """Send the held reply and record it SENT (or REFUSED). `look_first`: an earlier
    holder may have sent it before it died; find that text instead of a second."""
    phone, pool_number, body = str(item["Phone"]), str(item["PoolNumber"]), str(item["Body"])
    twilio = ctx.require_twilio()
    found = twilio.find_sent_text(to=phone, from_=pool_number, body=body) if look_first else None
    if found is not None:
        _settle(ctx.tables, item, SENT, MessageSid=str(found.sid), SentAt=now_iso())
        return
    ctx.checkpoint("before_notice_sent")
    try:
        msg = twilio.send_text(to=phone, from_=pool_number, body=body)
    except TwilioRestException as exc:
        if is_transient(exc):
            raise  # still owed: taken again once its hold runs out
        _settle(ctx.tables, item, REFUSED, ErrorCode=int(exc.code or exc.status))
        log.warning(
            "not-monitored reply refused",
            extra={"phone": mask_phone(phone), "error": exc.code or exc.status},
        )
        return
    ctx.checkpoint("after_notice_sent")
    _settle(ctx.tables, item, SENT, MessageSid=str(msg.sid), SentAt=now_iso())
    log.info("not-monitored reply sent", extra={"phone": mask_phone(phone)})


def repair(ctx: RelayContext, phone: str, pool_number: str) -> None:
    """On another webhook for the pair: send its reply if it is owed and nobody holds it."""
    item = get(ctx.tables, phone, pool_number)
    if item is None or item.get("State") != OWED:
        return
    if take(ctx.tables, item, ctx.settings.stuck_after_s):
        deliver(ctx, item, look_first=True)


def resume(ctx: RelayContext, item: Item) -> bool:
    """The sweeper's part: an owed reply whose holder died. True if this took it."""
    if not take(ctx.tables, item, ctx.settings.stuck_after_s):
        return False
    deliver(ctx, item, look_first=True)
    return True
