"""Closing a lead's side of its Twilio conversation.

The lead leaves the conversation's `LeadIds`; the last one out sends the store a
notice, closes the conversation at Twilio, frees its proxy bindings and marks the
pair CLOSED. A lead whose create never finished (its process died mid-way, then
the lead was closed) may have left a conversation half built: if the pair is
still being created by this lead, that conversation is closed too (found by its
sid or its unique name) and the pair marked CLOSED, so no later lead builds on it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from app.core.statuses import SyncStatus
from app.relay import conversation_store, directory, lead_store
from app.relay.ddb import is_conditional_failure
from app.relay.integrations import (
    _json,
    _publish_conversation,
    _step,
    conversation_unique_name,
    record_api_message,
)
from app.relay.versioned import Item, Updates

if TYPE_CHECKING:
    from app.relay.context import RelayContext

log = logging.getLogger("app.relay.twilio_close")


def close_lead(ctx: RelayContext, lead: Item, reason: str) -> dict[str, Any]:
    """The Twilio integration's close: the `Data` to keep."""
    lead_id = str(lead["LeadId"])
    twilio = (lead.get("Integrations") or {}).get("Twilio") or {}
    data = dict(twilio.get("Data") or {})
    if twilio.get("SyncStatus") != SyncStatus.SYNCED:
        data.update(abandon_build(ctx, lead))
    sid = data.get("ConversationSID")
    if not sid:
        return data
    conv = conversation_store.get_conversation(ctx.tables, str(sid))
    if conv is None:
        return data

    def remove(item: Item) -> Updates | None:
        ids = list(item.get("LeadIds") or [])
        if lead_id not in ids:
            return None
        return {"LeadIds": [x for x in ids if x != lead_id]}

    updated = conversation_store.update_conversation(ctx.tables, str(sid), remove)
    if updated is not None:
        _publish_conversation(ctx, updated)
    conv = updated or conversation_store.get_conversation(ctx.tables, str(sid)) or conv
    remaining = list(conv.get("LeadIds") or [])
    if remaining:
        tw = ctx.require_twilio()
        remote = tw.fetch_conversation(str(sid))
        if remote is not None and remote.state != "closed":
            attrs = _json(remote.attributes)
            attrs["LeadIds"] = remaining
            tw.update_conversation(str(sid), attributes=attrs)
        data["ConversationStatus"] = conv.get("State", "active")
        return data
    _step(ctx, lead, "before_close_notice", closing=True)
    # a conversation never finished was never announced to the store: no notice
    notice = f"Web2Text: this lead was closed ({reason})." if conv.get("SetupDone") else None
    close_conversation(ctx, conv, notice=notice)
    data["ConversationStatus"] = "closed"
    return data


def abandon_build(ctx: RelayContext, lead: Item) -> dict[str, Any]:
    """Close the conversation this lead was still creating (pair CREATING, owned by it)."""
    lead_id = str(lead["LeadId"])
    location = directory.get_location(ctx.tables, lead_store.lead_location(lead))
    if location is None or not location.web2text_number:
        return {}
    customer = str((lead.get("Lead") or {}).get("PhoneNumber"))
    pair_key = f"{customer}|{location.web2text_number}"
    pair = ctx.tables.pairs.get_item(Key={"PairKey": pair_key}, ConsistentRead=True).get("Item")
    if not pair or pair.get("State") != "CREATING" or pair.get("Owner") != lead_id:
        return {}
    gen = int(pair.get("Gen", 0))
    sid = pair.get("ConversationSid")
    tw = ctx.require_twilio()
    if not sid:
        remote = tw.fetch_conversation(conversation_unique_name(pair_key, gen))
        sid = remote.sid if remote is not None else None
    if sid:
        conv = conversation_store.get_conversation(ctx.tables, str(sid))
        remote = tw.fetch_conversation(str(sid))
        if remote is not None and remote.state != "closed":
            tw.update_conversation(str(sid), state="closed")
        if conv is not None:
            mark_conversation_closed(ctx, conv)
    try:
        ctx.tables.pairs.update_item(
            Key={"PairKey": pair_key},
            UpdateExpression="SET #s = :closed",
            ConditionExpression="#o = :me AND Gen = :g AND #s = :creating",
            ExpressionAttributeNames={"#s": "State", "#o": "Owner"},
            ExpressionAttributeValues={
                ":closed": "CLOSED",
                ":me": lead_id,
                ":g": gen,
                ":creating": "CREATING",
            },
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
    log.info("unfinished conversation abandoned", extra={"lead": lead_id, "conversation": sid})
    return {"ConversationSID": str(sid), "ConversationStatus": "closed"} if sid else {}


def close_conversation(ctx: RelayContext, conv: Item, *, notice: str | None) -> None:
    """The last lead is out: notify the store, close at Twilio, free the proxy numbers."""
    sid = str(conv["ConversationSid"])
    tw = ctx.require_twilio()
    remote = tw.fetch_conversation(sid)
    if remote is not None and remote.state != "closed":
        if notice:
            msg = tw.send_message(
                sid,
                author=str(conv.get("CustomerPhone")),  # as the customer: the store gets it
                body=notice,
                key=f"{sid}:closed-notice",
                attributes={"SystemMessage": True},
                look_first=True,
            )
            record_api_message(ctx, sid, msg, author_kind="system", key=f"{sid}:closed-notice")
        tw.update_conversation(sid, state="closed")
    mark_conversation_closed(ctx, conv)


def mark_conversation_closed(ctx: RelayContext, conv: Item) -> None:
    sid = str(conv["ConversationSid"])
    updated = conversation_store.update_conversation(
        ctx.tables, sid, lambda item: None if item.get("State") == "closed" else {"State": "closed"}
    )
    if updated is not None:
        _publish_conversation(ctx, updated)
    for address, proxy in (
        (conv.get("CustomerPhone"), conv.get("CustomerProxy")),
        (conv.get("Web2TextNumber"), conv.get("StoreProxy")),
    ):
        if not address:
            continue
        if proxy:
            ctx.pool.release(str(address), str(proxy), sid)
            continue
        # set up only part way: free whatever it bound
        for binding in ctx.pool.bindings(str(address)):
            if binding.get("ConversationSid") == sid:
                ctx.pool.release(str(address), str(binding["Sk"]), sid)
    try:
        # kept (not deleted) so the next conversation of the pair gets a new
        # generation, hence a new Twilio unique name
        ctx.tables.pairs.update_item(
            Key={"PairKey": conv["PairKey"]},
            UpdateExpression="SET #s = :closed",
            ConditionExpression="ConversationSid = :sid",
            ExpressionAttributeNames={"#s": "State"},
            ExpressionAttributeValues={":sid": sid, ":closed": "CLOSED"},
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
