"""The durable record of each text to a pool number (`InboundTexts`, Id = its
MessageSid), written before anything else is done with it, so a crash at any later
step loses nothing: the webhook's retry or the sweeper finishes its routing.

States: RECEIVED (routing not finished; `PendingShard`/`PendingAt` make it due for the
sweeper), IN_CONVERSATION (Twilio put it in an open conversation), ROUTED (it became a
lead, `LeadId`), UNROUTED (nobody to route it to; `UnroutedShard` lists it for
`admin unrouted`, `Reason` says why), KEYWORD (HELP, which Twilio answers).
Items `notice:<phone>|<pool number>` hold the one reply owed to a phone that texted a
pool number nobody can route it from (`notices.py`)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from app.relay.ddb import all_items, is_conditional_failure
from app.relay.versioned import Item, now_iso

RECEIVED = "RECEIVED"
IN_CONVERSATION = "IN_CONVERSATION"
ROUTED = "ROUTED"
UNROUTED = "UNROUTED"
KEYWORD = "KEYWORD"  # HELP: Twilio answers it; nothing to route
PENDING = "P"
UNROUTED_SHARD = "U"


def media_of(form: dict[str, str]) -> list[dict[str, str]]:
    """The MMS attachments of an inbound webhook (`MediaUrl{n}`, `MediaContentType{n}`)."""
    count = int(form["NumMedia"]) if form.get("NumMedia", "").isdigit() else 0
    media = []
    for n in range(min(count, 10)):
        url = form.get(f"MediaUrl{n}")
        if url:
            media.append({"Url": url, "ContentType": form.get(f"MediaContentType{n}", "")})
    return media


def store_text(tables: Any, form: dict[str, str], lease_s: float) -> Item:
    """Record the text (once per MessageSid) and return its record as it stands."""
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    item: Item = {
        "Id": sid,
        "From": form.get("From", ""),
        "To": form.get("To", ""),
        "Body": form.get("Body", ""),
        "Media": media_of(form),
        "ReceivedAt": now_iso(),
        "State": RECEIVED,
        "PendingShard": PENDING,
        "PendingAt": due_in(lease_s),
        "Version": 1,
    }
    try:
        tables.inbound.put_item(Item=item, ConditionExpression="attribute_not_exists(Id)")
        return item
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
    existing = get_text(tables, sid)
    return existing if existing is not None else item


def get_text(tables: Any, sid: str) -> Item | None:
    item = tables.inbound.get_item(Key={"Id": sid}, ConsistentRead=True).get("Item")
    return dict(item) if item else None


def settle(tables: Any, sid: str, state: str, *, from_state: str = RECEIVED, **fields: Any) -> bool:
    """Move a record from `from_state` to its outcome (once; False if it had moved)."""
    names = {"#s": "State"}
    values: dict[str, Any] = {":to": state, ":from": from_state}
    sets = ["#s = :to"]
    for n, (key, value) in enumerate(fields.items()):
        names[f"#f{n}"] = key
        values[f":f{n}"] = value
        sets.append(f"#f{n} = :f{n}")
    if state == UNROUTED:
        sets.append("UnroutedShard = :u")
        values[":u"] = UNROUTED_SHARD
    removes = ["PendingShard", "PendingAt"] + (["UnroutedShard"] if state != UNROUTED else [])
    try:
        tables.inbound.update_item(
            Key={"Id": sid},
            UpdateExpression=f"SET {', '.join(sets)} REMOVE {', '.join(removes)}",
            ConditionExpression="#s = :from",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        return True
    except ClientError as exc:
        if is_conditional_failure(exc):
            return False
        raise


def due(tables: Any, limit: int = 25) -> list[Item]:
    """Records whose routing is unfinished and due (their handler died or gave up)."""
    resp = tables.inbound.query(
        IndexName="Pending",
        KeyConditionExpression=Key("PendingShard").eq(PENDING) & Key("PendingAt").lte(due_in(0)),
        Limit=limit,
    )
    return [dict(i) for i in resp.get("Items", [])]


def take(tables: Any, item: Item, lease_s: float) -> bool:
    """Claim a due record for one sweeper (the others see PendingAt moved)."""
    try:
        tables.inbound.update_item(
            Key={"Id": item["Id"]},
            UpdateExpression="SET PendingAt = :next",
            ConditionExpression="PendingAt = :seen AND #s = :received",
            ExpressionAttributeNames={"#s": "State"},
            ExpressionAttributeValues={
                ":next": due_in(lease_s),
                ":seen": item["PendingAt"],
                ":received": RECEIVED,
            },
        )
        return True
    except ClientError as exc:
        if is_conditional_failure(exc):
            return False
        raise


def unrouted(tables: Any, limit: int = 200) -> list[Item]:
    """The texts nobody could be found for, newest first."""
    items = all_items(
        tables.inbound.query,
        IndexName="Unrouted",
        KeyConditionExpression=Key("UnroutedShard").eq(UNROUTED_SHARD),
        ScanIndexForward=False,
    )
    out: list[Item] = []
    for item in items:
        out.append(dict(item))
        if len(out) >= limit:
            break
    return out


def due_now() -> Decimal:
    return due_in(0)


def due_in(seconds: float) -> Decimal:
    return Decimal(str(round(time.time() + seconds, 3)))
