"""When the connectors run besides a lead's own create/sync/close: a new message
of its conversation (the original synced every lead of the conversation on each
message webhook). Costs nothing when no connector notes transcripts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.relay.connectors.records import Item

if TYPE_CHECKING:
    from app.relay.context import RelayContext


def note_for_connectors(ctx: RelayContext, message: Item, conversation: Item) -> None:
    """Ask for a connectors-only sync of each open lead of the conversation (queued:
    the webhook's answer does not wait for RLM or DHQ). A crash before the request is
    recorded is made up by the next message, a "Sync now", or the lead's close, which
    flushes every message not noted yet."""
    if not ctx.connectors.follows_transcript() or message.get("Placeholder"):
        return
    for lead_id in [str(x) for x in conversation.get("LeadIds") or []]:
        ctx.leads.sync_connectors(lead_id)
