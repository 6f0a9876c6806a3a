"""Calls to pool numbers (masked calling, the way Twilio Proxy does it):

- `POST /TwilioWebhooks/onIncomingCall` (signed): the pool numbers' voice webhook.
  A customer calling the pool number of their open conversation is connected to
  the store's phone, shown the pool number the store texts this customer through;
  the store calling that number is connected to the customer, shown the customer's
  pool number. A customer whose thread closed is connected to the store that served
  them (and the call is kept for `admin unrouted`); anyone else hears that the
  number is not monitored (kept too). Nothing is dropped: every call is recorded.
- `POST /TwilioWebhooks/onCallStatus` (signed): the dialed leg's status callback.
  Its final status puts the call's outcome (answered and its length, or missed) in
  the thread as a message; a customer's missed call is a customer message, so the
  desktop notifies staff as for a text. One message per call (`call-<CallSid>`):
  duplicates and reordered callbacks change nothing.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from botocore.exceptions import ClientError
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from twilio.twiml.voice_response import Dial, VoiceResponse

from app.core.calls import CallDirection, call_summary
from app.relay import conversation_store, directory
from app.relay.context import context_of
from app.relay.ddb import is_conditional_failure
from app.relay.errors import ApiError
from app.relay.inbound import records
from app.relay.inbound.pairs import pair_history
from app.relay.inbound.routing import open_conversation
from app.relay.logs import mask_phone
from app.relay.versioned import Item
from app.relay.webhooks.conversation import message_added
from app.relay.webhooks.signed import remember, seen, signed_form

if TYPE_CHECKING:
    from app.relay.context import RelayContext

log = logging.getLogger("app.relay.webhooks")
router = APIRouter()

NOT_MONITORED_SAY = "This number is not monitored. Please contact the store directly. Goodbye."
STORE_NO_THREAD_SAY = (
    "This Web2Text conversation has ended. Open the Web2Text app to reach the customer."
)
#: seconds the dialed phone rings before the call counts as missed
RING_TIMEOUT_S = 25
#: the dialed leg's final statuses (the others report progress)
FINAL_STATUSES = ("completed", "no-answer", "busy", "failed", "canceled")


@router.post("/onIncomingCall")
async def incoming_call(request: Request) -> Response:
    form = await signed_form(request)
    for name in ("From", "To", "CallSid"):
        if not form.get(name):
            raise ApiError(400, "invalid_request", f"{name} is NONEXISTANT - required")
    ctx = context_of(request)
    twiml = await run_in_threadpool(handle_call, ctx, form)
    return Response(twiml, media_type="text/xml")


@router.post("/onCallStatus")
async def call_status(request: Request) -> Response:
    form = await signed_form(request)
    if not form.get("CallStatus") or not (form.get("ParentCallSid") or form.get("CallSid")):
        raise ApiError(400, "invalid_request", "CallStatus and CallSid are required")
    ctx = context_of(request)
    await run_in_threadpool(handle_call_status, ctx, form, dict(request.query_params))
    return Response(status_code=204)


def handle_call(ctx: RelayContext, form: dict[str, str]) -> str:
    """The TwiML that answers one call to a pool number."""
    caller, pool_number, call_sid = form["From"], form["To"], form["CallSid"]
    sid = open_conversation(ctx, caller, pool_number)
    conv = conversation_store.get_conversation(ctx.tables, sid) if sid else None
    if conv is not None:
        return _bridge(ctx, conv, caller, pool_number, call_sid)
    if directory.locations_with_number(ctx.tables, caller):
        _keep_call(ctx, form, "store_without_conversation", "The store called; no open thread")
        return _say(STORE_NO_THREAD_SAY)
    history = pair_history(ctx.tables, caller, pool_number)
    location = directory.get_location(ctx.tables, history.location_id) if history else None
    if location is None or not location.web2text_number:
        _keep_call(ctx, form, "unknown_caller", "A phone call nobody was found for")
        return _say(NOT_MONITORED_SAY)
    # a customer whose thread closed still reaches the store that served them
    _keep_call(ctx, form, "call_without_conversation", "A returning customer called the store")
    log.info("call from a returning customer", extra={"phone": mask_phone(caller)})
    query = {"record": call_sid}
    return _dial(ctx, str(location.web2text_number), pool_number, query)


def _bridge(ctx: RelayContext, conv: Item, caller: str, pool_number: str, call_sid: str) -> str:
    """Connect the conversation's customer and store phone, each shown the pool number
    they text the other through."""
    sid = str(conv["ConversationSid"])
    if caller == conv.get("CustomerPhone"):
        direction = CallDirection.FROM_CUSTOMER
        target = str(conv.get("Web2TextNumber") or "")
        caller_id = str(conv.get("StoreProxy") or pool_number)
    else:
        direction = CallDirection.FROM_STORE
        target = str(conv.get("CustomerPhone") or "")
        caller_id = str(conv.get("CustomerProxy") or pool_number)
    log.info(
        "call connected",
        extra={"conversation": sid, "direction": direction.value, "phone": mask_phone(caller)},
    )
    query = {"conversation": sid, "direction": direction.value, "parent": call_sid}
    return _dial(ctx, target, caller_id, query)


def _dial(ctx: RelayContext, target: str, caller_id: str, query: dict[str, str]) -> str:
    callback = f"{ctx.settings.public_url}/TwilioWebhooks/onCallStatus?{urlencode(query)}"
    dial = Dial(caller_id=caller_id, timeout=RING_TIMEOUT_S, answer_on_bridge=True)
    dial.number(target, status_callback=callback, status_callback_event="answered completed")
    answer = VoiceResponse()
    answer.append(dial)
    return str(answer)


def _say(text: str) -> str:
    answer = VoiceResponse()
    answer.say(text)
    answer.hangup()
    return str(answer)


def _keep_call(ctx: RelayContext, form: dict[str, str], reason: str, body: str) -> None:
    """A call outside an open conversation, kept for `admin unrouted` (once per call)."""
    call_form = {"MessageSid": form["CallSid"], "From": form["From"], "To": form["To"]}
    item = records.store_text(ctx.tables, dict(call_form, Body=body), ctx.settings.stuck_after_s)
    if item.get("State") == records.RECEIVED:
        records.settle(ctx.tables, str(item["Id"]), records.UNROUTED, Reason=reason, Kind="call")
    log.info("call kept unrouted", extra={"reason": reason, "phone": mask_phone(form["From"])})


def handle_call_status(ctx: RelayContext, form: dict[str, str], query: dict[str, str]) -> None:
    """The dialed leg's progress: its final status becomes the call's message."""
    status = form.get("CallStatus", "")
    if status not in FINAL_STATUSES:
        return  # progress (ringing, answered): the final status says it all
    parent = query.get("parent") or form.get("ParentCallSid") or form.get("CallSid", "")
    duration = int(form["CallDuration"]) if form.get("CallDuration", "").isdigit() else 0
    if query.get("record"):
        _note_kept_call(ctx, query["record"], status, duration)
        return
    sid = query.get("conversation", "")
    conv = conversation_store.get_conversation(ctx.tables, sid) if sid else None
    if conv is None:
        log.warning("call status for an unknown conversation", extra={"conversation": sid})
        return
    direction = CallDirection(query.get("direction") or CallDirection.FROM_CUSTOMER.value)
    message_added(ctx, conv, call_message_form(conv, parent, direction, status, duration))


def call_message_form(
    conv: Item, parent: str, direction: CallDirection, status: str, duration: int
) -> dict[str, str]:
    """The call as a conversation message (the form `message_added` stores)."""
    summary = call_summary(direction, status, duration)
    attributes: dict[str, object] = {"Call": summary.to_attributes(parent)}
    if not summary.notify:
        attributes["SystemMessage"] = True
    # a missed call from the customer is the customer's: staff are notified as for a text
    author = str(conv.get("CustomerPhone") or "") if summary.notify else "system"
    return {
        "EventType": "onMessageAdded",
        "ConversationSid": str(conv["ConversationSid"]),
        "MessageSid": f"call-{parent}",
        "Author": author,
        "Body": summary.text,
        "Attributes": json.dumps(attributes),
    }


def _note_kept_call(ctx: RelayContext, call_sid: str, status: str, duration: int) -> None:
    key = f"callstatus:{call_sid}"
    if seen(ctx, key):
        return
    summary = call_summary(CallDirection.FROM_CUSTOMER, status, duration)
    try:
        ctx.tables.inbound.update_item(
            Key={"Id": call_sid},
            UpdateExpression="SET Body = :b, CallOutcome = :o",
            ConditionExpression="attribute_exists(Id)",
            ExpressionAttributeValues={":b": summary.text, ":o": summary.outcome.value},
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
        log.warning("call status for an unknown call record", extra={"call": call_sid})
    remember(ctx, key, "call")
