"""Closing conversations whose customer never wrote back, so they give their proxy
numbers back to the pool (a flood of leads for numbers nobody answers from must
not hold the pool for good).

A non-closed conversation whose customer's last contact (its creation or the end of
its setup, a lead submitted into it, or a text from the customer) is older than
`W2T_IDLE_CLOSE_AFTER` is closed the normal way: each of its leads is closed
with `IDLE_CLOSE_REASON` and its integrations run, so the last lead out closes
the conversation at Twilio, tells the store and frees the proxy bindings. A
conversation without leads is closed directly. A conversation still being set up
(no `SetupDone`: its lead waits for a free pool number, or its build is under way)
is the lead runner's, never idle: its customer has not been texted yet, and closing
it would fail the lead's build at Twilio. Run by the background workers of
one instance at a time (a lease, as the reconcile); times come from
`ctx.clock` so tests move it instead of waiting.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from app.relay import conversation_store, versioned
from app.relay.ddb import all_items
from app.relay.sends import _parse_time, conversation_leads, last_customer_contact

if TYPE_CHECKING:
    from app.relay.context import RelayContext

log = logging.getLogger("app.relay.idle")

IDLE_CLOSE_REASON = "No reply from the customer"


def last_contact(conv: versioned.Item, leads: list[versioned.Item]) -> datetime | None:
    """The customer's latest sign of life in this conversation (or its creation, or
    the end of its setup: a lead that waited for a pool number starts afresh)."""
    times = [
        last_customer_contact(conv, leads),
        _parse_time(conv.get("CreatedAt")),
        _parse_time(conv.get("ReadyAt")),
    ]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def close_idle_conversations(ctx: RelayContext) -> int:
    """Close every idle conversation (see the module doc); how many were closed."""
    idle_after = ctx.settings.idle_close_after_s
    if idle_after <= 0 or ctx.twilio is None:
        return 0
    now = ctx.clock()
    closed = 0
    open_conversations = all_items(
        ctx.tables.conversations.scan,
        FilterExpression="#s <> :closed",
        ExpressionAttributeNames={"#s": "State"},
        ExpressionAttributeValues={":closed": "closed"},
    )
    for conv in list(open_conversations):
        if not conv.get("SetupDone"):
            continue
        leads = conversation_leads(ctx.tables, conv)
        last = last_contact(conv, leads)
        if last is None or now - last.timestamp() <= idle_after:
            continue
        try:
            _close(ctx, conv, leads)
            closed += 1
        except Exception:
            log.exception("idle close failed", extra={"conversation": conv["ConversationSid"]})
    if closed:
        log.info("idle conversations closed", extra={"count": closed})
    return closed


def _close(ctx: RelayContext, conv: versioned.Item, leads: list[versioned.Item]) -> None:
    from app.relay.twilio_close import close_conversation

    open_leads = [str(lead["LeadId"]) for lead in leads if lead.get("Status") != "CLOSED"]
    # each lead closes the normal way (its lock; a busy one when its holder lets go)
    ctx.leads.close_owed(open_leads, IDLE_CLOSE_REASON)
    fresh = conversation_store.get_conversation(ctx.tables, str(conv["ConversationSid"])) or conv
    if fresh.get("State") != "closed" and not fresh.get("LeadIds"):
        close_conversation(ctx, fresh, notice=None)
