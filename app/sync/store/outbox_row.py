"""An outbox row: its kinds, states and columns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# kinds
SEND_MESSAGE = "send_message"
UPDATE_LEAD = "update_lead"
MARK_READ = "mark_read"
OPT_OUT = "opt_out"  # app.sync.store.outbox_staff
CLOSE_LEAD = "close_lead"
CREATE_LEAD = "create_lead"
CANCEL_SCHEDULED = "cancel_scheduled"

# states
PENDING = "pending"
INFLIGHT = "inflight"
FAILED = "failed"

#: the columns `OutboxRow.of` reads, in its order
OUTBOX_COLUMNS = ("seq, outbox_id, kind, lane, conversation_sid, lead_id, idempotency_key, "
                  "payload, state, attempts, next_attempt_at, reason, error_message")


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    outbox_id: str
    kind: str
    lane: str
    conversation_sid: str | None
    lead_id: str | None
    idempotency_key: str
    payload: dict[str, Any]
    state: str
    attempts: int
    next_attempt_at: float
    reason: str | None
    error_message: str | None

    @classmethod
    def of(cls, row: Any) -> OutboxRow:
        """From a row of `SELECT {OUTBOX_COLUMNS}`."""
        (seq, outbox_id, kind, lane, conversation_sid, lead_id, key, payload, state, attempts,
         next_attempt_at, reason, error_message) = row
        return cls(
            seq=seq, outbox_id=outbox_id, kind=kind, lane=lane,
            conversation_sid=conversation_sid, lead_id=lead_id, idempotency_key=key,
            payload=json.loads(payload), state=state, attempts=attempts,
            next_attempt_at=next_attempt_at, reason=reason, error_message=error_message,
        )

    @property
    def local_message_id(self) -> str | None:
        value = self.payload.get("localId")
        return None if value is None else str(value)
