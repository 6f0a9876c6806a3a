"""The effects of a new message on its conversation and leads (last message, unread
count, activity, pipeline move, possible opt-out), each applied at most once per
MessageSid, and the checks the reconcile uses to finish effects a crash left out."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from app.core.optout import OptOutKind, classify
from app.core.statuses import LeadStatus, PipelineStatus, PipelineTrigger, auto_advance
from app.relay import conversation_store, lead_store, versioned
from app.relay.integrations import _publish_conversation
from app.relay.versioned import Item, Updates
from app.relay.webhooks.signed import publish_lead

if TYPE_CHECKING:
    from app.relay.context import RelayContext


#: a reconcile leaves a message this young to the webhook that is storing it
EFFECTS_LEASE_S = 30
#: how long after it was stored a message's effects are still checked for and
#: completed on a redelivery or by the reconcile (Twilio retries within minutes;
#: the reconcile runs every W2T_RECONCILE_INTERVAL, 5 min)
EFFECTS_RECOVERY_S = 3600


def effects_owed(msg: Item, *, min_age_s: float = 0.0) -> bool:
    """Whether `msg` was stored by a webhook (so it has effects) recently enough
    that they may still be incomplete and can be completed idempotently."""
    pending = msg.get("EffectsPending")
    if pending is None:
        return False
    age = time.time() - float(pending)
    return min_age_s <= age <= EFFECTS_RECOVERY_S


def effects_stale(msg: Item) -> bool:
    """A message the reconcile may finish: owed effects, older than the lease."""
    return effects_owed(msg, min_age_s=EFFECTS_LEASE_S)


def effects_missing(
    ctx: RelayContext, conv: Item, msg: Item, leads: dict[str, Item | None]
) -> bool:
    """Whether a stored message's effects are missing from its conversation or one of
    its open leads (`leads`: a per-conversation cache of lead reads)."""
    sid = str(msg["MessageSid"])
    if sid not in (conv.get(versioned.EFFECTS_ATTR) or []):
        return True
    if msg.get("AuthorKind") not in ("customer", "store", "staff"):
        return False
    created = str(msg.get("CreatedAt") or "")
    for lead_id in [str(x) for x in conv.get("LeadIds") or []]:
        if lead_id not in leads:
            leads[lead_id] = lead_store.get_lead(ctx.tables, lead_id)
        lead = leads[lead_id]
        if lead is None or lead.get("Status") == LeadStatus.CLOSED:
            continue
        if str(lead.get("DateSubmitted") or "") > created:
            continue  # the lead joined after this message
        if sid not in (lead.get(versioned.EFFECTS_ATTR) or []):
            return True
    return False


def apply_message_effects(ctx: RelayContext, conv: Item, msg: Item) -> Item:
    """Conversation and lead updates for a new message (customer text, store reply...),
    each applied at most once per MessageSid; returns the conversation as it is.

    An effect found already applied (a redelivery after a crash, or a DynamoDB call
    retried after it had succeeded) is published again, since a crash before the
    change batch was recorded would have lost its change and receivers ignore
    versions they have; a lead's pipeline move, forward-only, is finished too."""
    kind = msg.get("AuthorKind")
    at = str(msg.get("CreatedAt") or versioned.now_iso())
    photos = len(msg.get("Media") or [])
    preview = str(msg.get("Body", ""))[:120] or (f"[{photos} photo(s)]" if photos else "")
    msg_sid = str(msg["MessageSid"])
    updated = _conversation_effect(ctx, conv, kind, at, preview, msg_sid)
    ctx.checkpoint("after_conversation_effect")
    if kind not in ("customer", "store", "staff"):
        return updated
    possible = (
        kind == "customer" and classify(str(msg.get("Body", ""))) is OptOutKind.POSSIBLE_OPT_OUT
    )
    trigger = (
        PipelineTrigger.INBOUND_MESSAGE if kind == "customer" else PipelineTrigger.OUTBOUND_MESSAGE
    )
    for lead_id in list(updated.get("LeadIds") or []):
        _lead_effect(ctx, str(lead_id), kind, possible, trigger, at, preview, msg_sid)
    return updated


def _conversation_effect(
    ctx: RelayContext, conv: Item, kind: Any, at: str, preview: str, msg_sid: str
) -> Item:
    """The conversation's latest message (and unread count), once per MessageSid."""
    # Nothing here depends on the current item (the unread count is an ADD), so one
    # UpdateItem without a read; it bumps Version like every other update.
    sets: Updates = {"LastMessageAt": at, "LastMessagePreview": preview}
    adds: dict[str, int] = {}
    if kind == "customer":
        adds["UnreadCount"] = 1
        sets["LastInboundAt"] = at
    try:
        updated = conversation_store.bump_conversation(
            ctx.tables,
            conv["ConversationSid"],
            sets,
            adds,
            message_sid=msg_sid,
            recent=ctx.caches.conversations,
        )
        _publish_conversation(ctx, updated)
    except versioned.AlreadyApplied as done:
        updated = done.item
        _publish_conversation(ctx, updated)
    return updated


def _lead_effect(
    ctx: RelayContext,
    lead_id: str,
    kind: Any,
    possible: bool,
    trigger: PipelineTrigger,
    at: str,
    preview: str,
    msg_sid: str,
) -> None:
    """Note the message in one lead (activity, times, pipeline move) and announce it."""
    # One UpdateItem without a read (`lead_store.note_lead_message`): the activity is
    # appended and the times set whatever the lead held; only a pipeline move
    # (the first reply, once per lead) needs a version-guarded read-modify-write.
    lead_sets: Updates = {"LastActivityAt": at}
    if_missing: Updates = {}
    if kind == "customer":
        lead_sets["LastInboundAt"] = at
        if possible:
            lead_sets["PossibleOptOut"] = True
        entry = lead_store.activity("inbound", preview, at)
    else:
        if_missing["FirstStaffReplyAt"] = at
        entry = lead_store.activity("outbound", preview, at)
    lead = lead_store.note_lead_message(
        ctx.tables,
        lead_id,
        entry,
        lead_sets,
        set_if_missing=if_missing,
        message_sid=msg_sid,
    )
    if lead is None:
        # closed, missing, or this message already noted: then its pipeline
        # move may be what a crash left out (or what the first attempt of a
        # retried call never got to), and its change may never have been written
        lead = lead_store.get_lead(ctx.tables, lead_id)
        if lead is None or lead.get("Status") == LeadStatus.CLOSED:
            return
    current = PipelineStatus(str(lead.get("PipelineStatus", "new")))
    if auto_advance(current, trigger) != current:
        try:
            moved = lead_store.update_lead(
                ctx.tables, lead_id, lambda cur: _pipeline_move(cur, trigger, at)
            )
        except versioned.NotFound:
            return
        if moved is not None:
            lead = moved
    publish_lead(ctx, lead)


def _pipeline_move(cur: Item, trigger: PipelineTrigger, at: str) -> Updates | None:
    if cur.get("Status") == LeadStatus.CLOSED:
        return None
    now = PipelineStatus(str(cur.get("PipelineStatus", "new")))
    nxt = auto_advance(now, trigger)
    if nxt == now:
        return None
    note = lead_store.activity("pipeline", f"{now.value} → {nxt.value}", at)
    activity = [*list(cur.get("Activity") or []), note]
    return {
        "PipelineStatus": nxt.value,
        "Activity": lead_store.bounded_activity(activity),
    }
