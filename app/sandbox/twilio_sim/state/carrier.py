"""The carrier: takes a conversation message to each SMS recipient's handset, one
receipt per recipient (`sent`, then `delivered`, `undelivered` or `failed`).

Each hop runs on the carrier's scheduler thread, never inside the API request.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from functools import partial

from app.sandbox.twilio_sim.clock import SimClock
from app.sandbox.twilio_sim.config import SimConfig
from app.sandbox.twilio_sim.faults import FaultState
from app.sandbox.twilio_sim.logutil import mask
from app.sandbox.twilio_sim.models import (
    Conversation,
    HandsetMessage,
    Message,
    Participant,
    Receipt,
)
from app.sandbox.twilio_sim.scheduler import Scheduler
from app.sandbox.twilio_sim.sids import new_sid
from app.sandbox.twilio_sim.state.conversations import ConversationStore
from app.sandbox.twilio_sim.state.events import ConversationEvents, receipt_params
from app.sandbox.twilio_sim.state.phones import Phones

log = logging.getLogger("app.sandbox.twilio_sim")

# Carrier codes that end a message as `undelivered` (the carrier took it, the handset
# did not get it); any other code ends it as `failed`.
UNDELIVERED_CODES = {30003, 30004, 30005, 30006, 30007, 30008}
OPTED_OUT_CODE = 21610
NOT_SMS_CODE = 30005


class Carrier:
    def __init__(
        self,
        lock: threading.RLock,
        config: SimConfig,
        clock: SimClock,
        faults: FaultState,
        jobs: Scheduler,
        events: ConversationEvents,
        conversations: ConversationStore,
        phones: Phones,
    ) -> None:
        self.lock = lock
        self.config = config
        self.clock = clock
        self.faults = faults
        self.jobs = jobs
        self.events = events
        self.conversations = conversations
        self.phones = phones

    def reset(self) -> None:
        self.jobs.clear()

    def route(self, conv: Conversation, msg: Message) -> None:
        """Send `msg` to every SMS participant of `conv` except its author."""
        for part in conv.participants.values():
            if not part.is_sms:
                continue
            if msg.participant_sid == part.sid or msg.author in (part.address, part.identity):
                continue
            self.jobs.call_later(0, partial(self._send, conv.sid, msg.sid, part.sid))

    def text_handset(self, phone: str, from_: str, body: str) -> None:
        """A text from a pool number outside any conversation (auto-replies)."""

        def deliver() -> None:
            self.phones.deliver(phone, HandsetMessage(from_, body, self.clock.now()))

        self.jobs.call_later(self.config.carrier_delay, deliver)

    def _send(self, conversation_sid: str, message_sid: str, participant_sid: str) -> None:
        with self.lock:
            conv = self.conversations.by_sid.get(conversation_sid)
            msg = conv.messages.get(message_sid) if conv else None
            part = conv.participants.get(participant_sid) if conv else None
            if conv is None or msg is None or part is None:
                return  # removed before the carrier got to it
            assert part.address is not None and part.proxy_address is not None
            receipt = self._new_receipt(conv, msg, part, self.clock.now())
            if self.phones.blocks(part.address, part.proxy_address):
                receipt.status = "failed"
                receipt.error_code = OPTED_OUT_CODE
                log.info(
                    "message %s to %s blocked: opted out of %s",
                    msg.sid,
                    mask(part.address),
                    mask(part.proxy_address),
                )
                self.events.emit(conv, "onDeliveryUpdated", receipt_params(conv, receipt))
                return
            self.events.emit(conv, "onDeliveryUpdated", receipt_params(conv, receipt))
            error = self.faults.carrier_error(part.address)
        self.jobs.call_later(
            self.config.carrier_delay,
            partial(self._finish, conversation_sid, message_sid, receipt.sid, error),
        )

    @staticmethod
    def _new_receipt(conv: Conversation, msg: Message, part: Participant, now: datetime) -> Receipt:
        receipt = Receipt(
            sid=new_sid("DY"),
            conversation_sid=conv.sid,
            message_sid=msg.sid,
            participant_sid=part.sid,
            channel_message_sid=new_sid("SM"),
            status="sent",
            error_code=None,
            date_created=now,
            date_updated=now,
        )
        msg.receipts[receipt.sid] = receipt
        return receipt

    def _finish(
        self, conversation_sid: str, message_sid: str, receipt_sid: str, error: int | None
    ) -> None:
        with self.lock:
            conv = self.conversations.by_sid.get(conversation_sid)
            msg = conv.messages.get(message_sid) if conv else None
            receipt = msg.receipts.get(receipt_sid) if msg else None
            if conv is None or msg is None or receipt is None:
                return
            part = conv.participants.get(receipt.participant_sid)
            now = self.clock.now()
            receipt.date_updated = now
            if error is not None:
                receipt.status = "undelivered" if error in UNDELIVERED_CODES else "failed"
                receipt.error_code = error
            elif part is None or not part.is_sms:
                receipt.status = "undelivered"
                receipt.error_code = NOT_SMS_CODE
            else:
                assert part.address is not None and part.proxy_address is not None
                self.phones.deliver(
                    part.address,
                    HandsetMessage(part.proxy_address, msg.body or "", now, list(msg.media)),
                )
                receipt.status = "delivered"
            self.events.emit(conv, "onDeliveryUpdated", receipt_params(conv, receipt))
