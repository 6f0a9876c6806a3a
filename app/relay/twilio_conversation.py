"""Building the pair's Twilio conversation for the Twilio integration.

One conversation per (customer, Web2Text number) pair. A lead claims the pair
with a conditional write (`Gen` guards every step), creates the conversation,
adds the two SMS participants and the scoped webhooks, then marks the pair
`READY`. Each step is listed or keyed first so that a resumed run (the same
lead, or one that took over a crashed creator) never repeats a side effect.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from twilio.base.exceptions import TwilioRestException

from app.relay import conversation_store, directory, lead_store, versioned
from app.relay.ddb import is_conditional_failure
from app.relay.integrations import (
    RetryLater,
    _publish_conversation,
    _sms_parts,
    _step,
    _with_twilio_data,
    conversation_unique_name,
    inbound_pool_number,
)
from app.relay.pool import BindingTaken, PoolExhausted
from app.relay.twilio_client import BINDING_EXISTS, PARTICIPANT_EXISTS
from app.relay.versioned import Item

if TYPE_CHECKING:
    from app.relay.context import RelayContext
    from app.relay.twilio_client import TwilioGateway

log = logging.getLogger("app.relay.twilio_conversation")

SYNC_FILTERS = ["onMessageAdded", "onMessageUpdated", "onMessageRemoved", "onDeliveryUpdated"]
CLOSE_FILTERS = ["onConversationStateUpdated"]
PAIR_WAIT_S = 10.0


def ensure_conversation(
    ctx: RelayContext,
    pair_key: str,
    lead: Item,
    location: directory.Location,
    customer: str,
) -> str:
    lead_id = str(lead["LeadId"])
    # a resumed run: the conversation this lead already joined or created
    known = ((lead.get("Integrations") or {}).get("Twilio") or {}).get("Data") or {}
    if known.get("ConversationSID"):
        conv = conversation_store.get_conversation(ctx.tables, str(known["ConversationSID"]))
        if conv is not None and conv.get("SetupDone") and conv.get("State") != "closed":
            return str(known["ConversationSID"])
    deadline = time.monotonic() + PAIR_WAIT_S
    lease_ms = max(ctx.settings.stuck_after_s, 1.0) * 1000
    while True:
        pair = _read_pair(ctx, pair_key)
        if pair is None:
            pair = _claim_pair(ctx, pair_key, lead_id, None)
            if pair is None:
                continue
        if pair["State"] == "CLOSED":
            if _claim_pair(ctx, pair_key, lead_id, pair) is None:
                continue
            pair = _read_pair(ctx, pair_key) or pair
        if pair["State"] == "READY":
            conv = conversation_store.get_conversation(ctx.tables, str(pair["ConversationSid"]))
            if conv is not None and conv.get("State") != "closed":
                return str(pair["ConversationSid"])
            if _claim_pair(ctx, pair_key, lead_id, pair) is None:
                continue
            pair = _read_pair(ctx, pair_key) or pair
        if pair["State"] == "CREATING":
            age_ms = time.time_ns() // 1_000_000 - int(pair.get("ClaimedAt", 0))
            if pair.get("Owner") == lead_id:
                return build_conversation(ctx, pair, lead, location, customer)
            if age_ms > lease_ms and _take_over(ctx, pair, lead_id):
                continue
            if time.monotonic() > deadline:
                raise RetryLater("another lead is creating this conversation")
            time.sleep(0.05)


def _read_pair(ctx: RelayContext, pair_key: str) -> Item | None:
    item = ctx.tables.pairs.get_item(Key={"PairKey": pair_key}, ConsistentRead=True).get("Item")
    return dict(item) if item else None


def _claim_pair(ctx: RelayContext, pair_key: str, lead_id: str, seen: Item | None) -> Item | None:
    """Make this lead the creator of the pair's conversation (conditional write)."""
    gen = int(seen.get("Gen", 0)) + 1 if seen else 1
    item = {
        "PairKey": pair_key,
        "State": "CREATING",
        "Owner": lead_id,
        "Gen": gen,
        "ClaimedAt": time.time_ns() // 1_000_000,
    }
    try:
        if seen is None:
            ctx.tables.pairs.put_item(
                Item=item, ConditionExpression="attribute_not_exists(PairKey)"
            )
        else:
            ctx.tables.pairs.put_item(
                Item=item,
                ConditionExpression="Gen = :g",
                ExpressionAttributeValues={":g": int(seen.get("Gen", 0))},
            )
        return item
    except ClientError as exc:
        if is_conditional_failure(exc):
            return None
        raise


def _take_over(ctx: RelayContext, pair: Item, lead_id: str) -> bool:
    """A creator that crashed: continue its work (same generation, same unique name)."""
    try:
        ctx.tables.pairs.update_item(
            Key={"PairKey": pair["PairKey"]},
            UpdateExpression="SET #o = :me, ClaimedAt = :now",
            ConditionExpression="#o = :old AND Gen = :g AND #s = :creating",
            ExpressionAttributeNames={"#o": "Owner", "#s": "State"},
            ExpressionAttributeValues={
                ":me": lead_id,
                ":now": time.time_ns() // 1_000_000,
                ":old": pair.get("Owner"),
                ":g": int(pair["Gen"]),
                ":creating": "CREATING",
            },
        )
        return True
    except ClientError as exc:
        if is_conditional_failure(exc):
            return False
        raise


def build_conversation(
    ctx: RelayContext,
    pair: Item,
    lead: Item,
    location: directory.Location,
    customer: str,
) -> str:
    """Create (or finish creating) the pair's conversation; resumable at every step."""
    tw = ctx.require_twilio()
    sid = _create_remote_conversation(ctx, tw, pair, lead, location, customer)
    created = _record_conversation(ctx, pair, lead, location, customer, sid)
    proxies = _add_participants(ctx, tw, sid, lead, customer, str(location.web2text_number))
    _add_webhooks(ctx, tw, sid)
    conv = _mark_ready(ctx, pair, sid, proxies)
    if conv is not None:
        _publish_conversation(ctx, conv)
    log.info("conversation ready", extra={"conversation": sid, "new": created})
    return sid


def _create_remote_conversation(
    ctx: RelayContext,
    tw: TwilioGateway,
    pair: Item,
    lead: Item,
    location: directory.Location,
    customer: str,
) -> str:
    """The Twilio conversation under the generation's unique name (found again on resume)."""
    attributes = {
        "LeadIds": [lead["LeadId"]],
        "LocationId": location.location_id,
        "UniversalRetailerId": location.retailer_id,
        "CustomerPhoneNumber": customer,
        "Web2TextPhoneNumber": str(location.web2text_number),
    }
    _step(ctx, lead, "before_conversation_create")
    remote = tw.create_conversation(
        unique_name=conversation_unique_name(str(pair["PairKey"]), int(pair["Gen"])),
        friendly_name=f"Web2Text {location.name}",
        attributes=attributes,
    )
    sid = str(remote.sid)
    _step(ctx, lead, "after_conversation_create")
    return sid


def _record_conversation(
    ctx: RelayContext,
    pair: Item,
    lead: Item,
    location: directory.Location,
    customer: str,
    sid: str,
) -> bool:
    """Store the conversation and point the pair and the lead at it; True when new."""
    pair_key = str(pair["PairKey"])
    created = conversation_store.put_conversation(
        ctx.tables,
        {
            "ConversationSid": sid,
            "PairKey": pair_key,
            "UniqueName": conversation_unique_name(pair_key, int(pair["Gen"])),
            "CreatedAt": versioned.now_iso(),
            "LocationId": location.location_id,
            "LocationIds": [location.location_id],
            "RetailerId": location.retailer_id,
            "CustomerPhone": customer,
            "Web2TextNumber": str(location.web2text_number),
            "State": "active",
            "LeadIds": [],
            "UnreadCount": 0,
            "OptedOut": False,
            "Version": 1,
        },
    )
    ctx.tables.pairs.update_item(
        Key={"PairKey": pair_key},
        UpdateExpression="SET ConversationSid = :sid",
        ConditionExpression="Gen = :g",
        ExpressionAttributeValues={":sid": sid, ":g": int(pair["Gen"])},
    )
    lead_store.update_lead(
        ctx.tables,
        str(lead["LeadId"]),
        lambda item: _with_twilio_data(
            item, {"ConversationSID": sid, "ConversationStatus": "active"}
        ),
    )
    return created


def _add_participants(
    ctx: RelayContext, tw: TwilioGateway, sid: str, lead: Item, customer: str, w2t: str
) -> dict[str, str]:
    """The customer and the store as SMS participants; their proxy number by role.
    Listed first: a resumed run must not add one twice."""
    existing = {
        str(p.messaging_binding.get("address")): p for p in _sms_parts(tw.participants(sid))
    }
    proxies: dict[str, str] = {}
    for role, address in (("customer", customer), ("store", w2t)):
        if address in existing:
            proxies[role] = str(existing[address].messaging_binding.get("proxy_address"))
            continue
        proxies[role] = _add_participant(ctx, tw, sid, lead, role, address)
        _step(ctx, lead, f"after_participant_{role}")
    return proxies


def _add_participant(
    ctx: RelayContext, tw: TwilioGateway, sid: str, lead: Item, role: str, address: str
) -> str:
    """Add one participant through a pool number; the proxy it actually got."""

    def attach(proxy: str) -> Any:
        try:
            return tw.add_sms_participant(sid, address, proxy, role)
        except TwilioRestException as exc:
            if exc.code not in (BINDING_EXISTS, PARTICIPANT_EXISTS):
                raise
            # An earlier attempt whose answer was lost may have added it.
            mine = tw.participant_with_address(sid, address)
            if mine is not None:
                return mine
            raise BindingTaken(exc.code) from None

    # a store takes one proxy per open conversation: its nearest
    # W2T_MAX_OPEN_CONVERSATIONS numbers cap them; an exhausted pool waits
    limit = ctx.settings.max_open_conversations if role == "store" else None
    prefer = inbound_pool_number(lead) if role == "customer" else None
    try:
        proxy, part = ctx.pool.allocate(address, sid, attach, limit=limit, prefer=prefer)
    except PoolExhausted as exc:
        raise RetryLater(f"waiting for a free pool number: {exc}") from exc
    actual = str(((part and part.messaging_binding) or {}).get("proxy_address") or proxy)
    if actual != proxy:
        ctx.pool.claim(address, actual, sid)
        ctx.pool.release(address, proxy, sid)
    return actual


def _add_webhooks(ctx: RelayContext, tw: TwilioGateway, sid: str) -> None:
    """The conversation's scoped webhooks (listed first: never added twice)."""
    base = ctx.settings.public_url
    have = {str((w.configuration or {}).get("url", "")) for w in tw.webhooks(sid)}
    for path, filters in (
        ("/TwilioWebhooks/sync", SYNC_FILTERS),
        ("/TwilioWebhooks/close", CLOSE_FILTERS),
    ):
        if base + path not in have:
            tw.add_webhook(sid, base + path, filters)


def _mark_ready(ctx: RelayContext, pair: Item, sid: str, proxies: dict[str, str]) -> Item | None:
    """Setup done: the conversation knows its proxies, the pair turns READY."""
    conv = conversation_store.update_conversation(
        ctx.tables,
        sid,
        lambda item: {
            "CustomerProxy": proxies["customer"],
            "StoreProxy": proxies["store"],
            "SetupDone": True,
            "ReadyAt": versioned.iso_at(ctx.clock()),  # the idle time counts from here
        },
    )
    ctx.tables.pairs.update_item(
        Key={"PairKey": str(pair["PairKey"])},
        UpdateExpression="SET #s = :ready",
        ConditionExpression="Gen = :g",
        ExpressionAttributeNames={"#s": "State"},
        ExpressionAttributeValues={":ready": "READY", ":g": int(pair["Gen"])},
    )
    return conv
