"""Where a text to a pool number goes when it is not an opt-out keyword.

1. It is recorded first (`records.store_text`), so nothing is lost past this point.
2. In an open conversation of (sender, pool number)? Twilio put it there and the
   conversation's webhook carries it: the record says IN_CONVERSATION.
3. A customer the pool number served before (`pairs.pair_history`): a new lead at
   that location (`Lead.Source` "inbound_sms", the earlier lead's name), whose
   processing opens a new conversation where this text is the first customer
   message (`integrations`, step `inbound`). The lead's id is derived from the
   MessageSid, so a redelivery or a resumed routing never makes a second lead.
4. Anybody else (a stranger, a store with no open thread, a location that is gone):
   UNROUTED, listed by `admin unrouted` (`admin route` makes it a lead later), and
   answered once per phone and pool number: the reply is recorded as owed first and
   sent with the Messages API, not in the webhook's TwiML answer, so that a lost
   answer loses no reply (`notices`).

A crash between two steps leaves the record RECEIVED and due: Twilio's retry of the
webhook or the sweeper (`resume_due`) runs the routing again from the top; a reply
owed and not sent is sent by the pair's next webhook or the sweeper."""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import TYPE_CHECKING, Any

from app.core.wire import SCHEMA_VERSION
from app.relay import conversation_store, directory, lead_store, versioned
from app.relay.inbound import notices, records
from app.relay.inbound.pairs import pair_history
from app.relay.logs import mask_phone
from app.relay.versioned import Item

if TYPE_CHECKING:
    from app.relay.context import RelayContext

log = logging.getLogger("app.relay.inbound")

NOT_MONITORED_TEXT = (
    "This number is not monitored. Please contact the store directly. Reply STOP to opt out."
)
STORE_NO_THREAD_TEXT = (
    "This Web2Text conversation has ended. Open the Web2Text app to reach the customer."
)
INBOUND_SOURCE = "inbound_sms"
_LEAD_NAMESPACE = uuid.UUID("6f1d2f0e-2f7a-4c39-9a49-5b0b7a3f1c15")


def inbound_lead_id(message_sid: str) -> str:
    """The lead a routed text becomes: one per MessageSid, whoever routes it."""
    return str(uuid.uuid5(_LEAD_NAMESPACE, message_sid))


def handle_text(ctx: RelayContext, form: dict[str, str]) -> None:
    """Record and route one text (any reply goes with the Messages API)."""
    item = records.store_text(ctx.tables, form, ctx.settings.stuck_after_s)
    ctx.checkpoint("after_inbound_stored")
    if (form.get("OptOutType") or "").upper() == "HELP":
        records.settle(ctx.tables, str(item["Id"]), records.KEYWORD)
        return
    route(ctx, item)


def route(ctx: RelayContext, item: Item) -> None:
    if item.get("State") == records.UNROUTED:
        # a redelivery: nothing to route again, but its reply may still be owed
        _send_owed(ctx, None, str(item["From"]), str(item["To"]))
        return
    if item.get("State") != records.RECEIVED:
        return  # routed already: a redelivery changes nothing
    sid, sender, pool_number = str(item["Id"]), str(item["From"]), str(item["To"])
    conversation = open_conversation(ctx, sender, pool_number)
    if conversation is not None:
        records.settle(ctx.tables, sid, records.IN_CONVERSATION, ConversationSid=conversation)
        return
    if directory.locations_with_number(ctx.tables, sender):
        _unrouted(ctx, item, "store_without_conversation", STORE_NO_THREAD_TEXT)
        return
    history = pair_history(ctx.tables, sender, pool_number)
    if history is None:
        _unrouted(ctx, item, "unknown_sender", NOT_MONITORED_TEXT)
        return
    location = directory.get_location(ctx.tables, history.location_id)
    if location is None or not location.web2text_number:
        _unrouted(ctx, item, "location_gone", NOT_MONITORED_TEXT)
        return
    lead_id = create_inbound_lead(ctx, item, location, history.customer_name)
    ctx.checkpoint("after_inbound_lead")
    records.settle(ctx.tables, sid, records.ROUTED, LeadId=lead_id)
    log.info("text routed to a new lead", extra={"lead": lead_id, "phone": mask_phone(sender)})


def open_conversation(ctx: RelayContext, sender: str, pool_number: str) -> str | None:
    """The non-closed conversation binding (sender, pool number), as Twilio sees it.

    The relay's binding is written before Twilio's and deleted after it, so without
    one there is none at Twilio; with one, Twilio is asked (the close may have
    happened at Twilio before its webhook reached us)."""
    binding = ctx.tables.pool.get_item(
        Key={"Pk": f"BIND#{sender}", "Sk": pool_number}, ConsistentRead=True
    ).get("Item")
    if not binding:
        return None
    sid = str(binding["ConversationSid"])
    conv = conversation_store.get_conversation(ctx.tables, sid)
    if conv is not None and conv.get("State") == "closed":
        return None
    if ctx.twilio is not None:
        remote = ctx.twilio.fetch_conversation(sid)
        if remote is None or str(remote.state) == "closed":
            return None
    return sid


def _unrouted(ctx: RelayContext, item: Item, reason: str, reply: str) -> None:
    """Keep the text unrouted; its pair's reply is owed before the text is settled,
    so a crash in between leaves the text due and the reply on record."""
    sid, sender, pool_number = str(item["Id"]), str(item["From"]), str(item["To"])
    owed = notices.owe(ctx.tables, sender, pool_number, reply, sid, ctx.settings.stuck_after_s)
    ctx.checkpoint("after_notice_owed")
    records.settle(ctx.tables, sid, records.UNROUTED, Reason=reason)
    log.info("text kept unrouted", extra={"reason": reason, "phone": mask_phone(sender)})
    ctx.checkpoint("after_inbound_unrouted")
    _send_owed(ctx, owed, sender, pool_number)


def _send_owed(ctx: RelayContext, owed: Item | None, sender: str, pool_number: str) -> None:
    """Send the reply this call just recorded as owed (`owed`), or else one the pair
    still owes whose holder is gone. A failure leaves it owed for the sweeper."""
    try:
        if owed is not None:
            notices.deliver(ctx, owed, look_first=False)
        else:
            notices.repair(ctx, sender, pool_number)
    except Exception:
        log.exception("the not-monitored reply is still owed", extra={"phone": mask_phone(sender)})


def create_inbound_lead(
    ctx: RelayContext, text: Item, location: directory.Location, name: str
) -> str:
    """The lead a text becomes (created once; its processing is started or resumed)."""
    svc = ctx.leads
    lead_id = inbound_lead_id(str(text["Id"]))
    item = inbound_lead_item(lead_id, text, location, name)
    token = svc.lock_new(item)
    try:
        lead_store.put_new_lead(ctx.tables, item)
    except versioned.AlreadyExists:
        existing = lead_store.get_lead(ctx.tables, lead_id)
        if existing is not None and existing.get("PendingShard"):
            svc.submit(lead_id)  # a crash after the create: make sure it goes on
        return lead_id
    svc._publish_lead(item)
    svc.lock.hold(lead_id, token)
    svc.submit(lead_id, token)
    return lead_id


def inbound_lead_item(lead_id: str, text: Item, location: directory.Location, name: str) -> Item:
    iso = versioned.now_iso()
    body = str(text.get("Body", ""))
    media = list(text.get("Media") or [])
    shown = body or (f"[{len(media)} photo(s)]" if media else "")
    return {
        "LeadId": lead_id,
        "LeadType": "WEB2TEXT",
        "Status": "ACTIVE",
        "SchemaVersion": SCHEMA_VERSION,
        "UniversalRetailerId": location.retailer_id,
        "Lead": {
            "LocationId": location.location_id,
            "PageUrl": "",
            "Name": name,
            "PhoneNumber": str(text["From"]),
            "PreferredMethodOfContact": "text",
            "CustomerMessage": shown,
            "Source": INBOUND_SOURCE,
        },
        "DateSubmitted": iso,
        "Integrations": {"Twilio": {"SyncStatus": "NOT SYNCED", "Data": {}}},
        "LocationId": location.location_id,
        "Version": 1,
        "PipelineStatus": "new",
        "Notes": [],
        "Activity": [lead_store.activity("created", "The customer texted in", iso)],
        "LastActivityAt": iso,
        "PossibleOptOut": False,
        "OptedOut": False,
        "Progress": {},
        "InboundText": {
            "MessageSid": str(text["Id"]),
            "Body": body,
            "Media": media,
            "PoolNumber": str(text["To"]),
        },
    }


def resume_due(ctx: RelayContext, limit: int = 25) -> int:
    """The sweeper's part: route the texts whose handler died before finishing."""
    done = 0
    for item in records.due(ctx.tables, limit):
        try:
            if notices.is_notice(item):
                done += notices.resume(ctx, item)
                continue
            if not records.take(ctx.tables, item, ctx.settings.stuck_after_s):
                continue  # another instance has it
            route(ctx, item)
            done += 1
        except Exception:
            log.exception("routing an inbound text failed", extra={"text": item["Id"]})
    return done


def route_by_hand(tables: Any, text_id: str, location_id: str) -> str:
    """`admin route`: an unrouted text becomes a lead at `location_id`. Written due and
    unlocked: the sweeper of a running relay takes it and processes it."""
    item = records.get_text(tables, text_id)
    if item is None or item.get("State") != records.UNROUTED:
        raise LookupError(f"no unrouted text {text_id}")
    location = directory.get_location(tables, location_id)
    if location is None or not location.web2text_number:
        raise LookupError(f"no location {location_id} with a Web2Text number")
    history = pair_history(tables, str(item["From"]), str(item["To"]))
    lead_id = inbound_lead_id(text_id)
    lead = inbound_lead_item(lead_id, item, location, history.customer_name if history else "")
    lead.update(PendingShard="P", PendingAt=records.due_now(), PendingOp="create", PendingSeq=1)
    # AlreadyExists: routed by hand before, and this is the second try
    with contextlib.suppress(versioned.AlreadyExists):
        lead_store.put_new_lead(tables, lead)
    records.settle(tables, text_id, records.ROUTED, from_state=records.UNROUTED, LeadId=lead_id)
    return lead_id
