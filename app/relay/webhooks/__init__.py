"""Twilio webhooks (compatible paths), one module per webhook family:

- `conversation.py` — `POST /TwilioWebhooks/sync`: conversation-scoped events
  (messages, receipts); `effects.py` the effects of a new message.
- `state.py` — `POST /TwilioWebhooks/close`: onConversationStateUpdated.
- `incoming.py` — `POST /TwilioWebhooks/onIncomingMessage`: the Messaging
  Service's inbound webhook (opt-out keywords).
- `optin.py` — `POST /TwilioWebhooks/checkOptInStatus` (API key).
- `voice.py` — `POST /TwilioWebhooks/onIncomingCall` (masked calling) and
  `/onCallStatus` (the call's outcome in its thread).

Signed webhooks must carry a valid `X-Twilio-Signature` for W2T_PUBLIC_URL +
path (403 `invalid_signature` otherwise, `signed.py`). Everything an event changes
is written before the 2xx; an event already handled (same MessageSid, same
DeliveryReceiptSid+Status, ...) is acknowledged without effect, and statuses only
move forward, so duplicates and reordering are harmless.
"""

from fastapi import APIRouter

from app.relay.webhooks import conversation, incoming, optin, state, voice
from app.relay.webhooks.conversation import (
    delivery_updated,
    event_key,
    handle_sync_event,
    message_added,
)
from app.relay.webhooks.effects import effects_missing, effects_owed, effects_stale
from app.relay.webhooks.incoming import handle_incoming
from app.relay.webhooks.state import handle_state_event

router = APIRouter(prefix="/TwilioWebhooks", tags=["twilio"])
for _family in (conversation, state, incoming, optin, voice):
    router.include_router(_family.router)

__all__ = [
    "delivery_updated",
    "effects_missing",
    "effects_owed",
    "effects_stale",
    "event_key",
    "handle_incoming",
    "handle_state_event",
    "handle_sync_event",
    "message_added",
    "router",
]
