"""Texts the account sends with Programmable Messaging (`POST .../Messages.json`), outside
any conversation: From a pool number (or the Messaging Service's, when only
`MessagingServiceSid` is given) to a phone, carried like the auto-replies. Twilio's
refusals the relay acts on: a From the account does not own (21606) and a recipient
who texted STOP to that number (21610)."""

from __future__ import annotations

import threading
from typing import Any

from app.sandbox.twilio_sim.clock import SimClock, iso
from app.sandbox.twilio_sim.config import SimConfig
from app.sandbox.twilio_sim.errors import TwilioApiError, bad_param
from app.sandbox.twilio_sim.sids import new_sid
from app.sandbox.twilio_sim.state.carrier import Carrier
from app.sandbox.twilio_sim.state.inputs import is_e164
from app.sandbox.twilio_sim.state.messaging import MessagingService
from app.sandbox.twilio_sim.state.phones import Phones

NOT_OWNED_CODE = 21606
UNSUBSCRIBED_CODE = 21610
MAX_BODY_CHARS = 1600


class OutboundTexts:
    def __init__(
        self,
        lock: threading.RLock,
        config: SimConfig,
        clock: SimClock,
        messaging: MessagingService,
        phones: Phones,
        carrier: Carrier,
    ) -> None:
        self.lock = lock
        self.config = config
        self.clock = clock
        self.messaging = messaging
        self.phones = phones
        self.carrier = carrier
        self.sent: list[dict[str, Any]] = []

    def reset(self) -> None:
        with self.lock:
            self.sent.clear()

    def send(
        self, to: str, from_: str | None, service_sid: str | None, body: str
    ) -> dict[str, Any]:
        """Create (and carry) one text; its record as the Messages API shows it."""
        if not to or not is_e164(to):
            raise TwilioApiError(400, 21604, "A 'To' phone number is required.")
        if not body.strip():
            raise TwilioApiError(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY_CHARS:
            raise TwilioApiError(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        with self.lock:
            sender = self._sender(to, from_, service_sid)
            if self.phones.blocks(to, sender):
                raise TwilioApiError(
                    400, UNSUBSCRIBED_CODE, "Attempt to send to unsubscribed recipient"
                )
            record = {
                "sid": new_sid("SM"),
                "from": sender,
                "to": to,
                "body": body,
                "status": "queued",
                "direction": "outbound-api",
                "date_created": iso(self.clock.now()),
            }
            self.sent.append(record)
        self.carrier.text_handset(to, sender, body)
        return dict(record)

    def _sender(self, to: str, from_: str | None, service_sid: str | None) -> str:
        pool = sorted(self.messaging.pool)
        if from_:
            if from_ not in pool:
                raise TwilioApiError(
                    400,
                    NOT_OWNED_CODE,
                    f"The 'From' phone number provided ({from_}) is not a valid "
                    "message-capable Twilio phone number for this destination/account",
                )
            return from_
        if not service_sid:
            raise bad_param("A 'From' phone number or a MessagingServiceSid is required.")
        if service_sid != self.config.messaging_service_sid or not pool:
            raise TwilioApiError(400, 21701, "The Messaging Service Sid is invalid.")
        return pool[0]

    def get(self, sid: str) -> dict[str, Any] | None:
        with self.lock:
            return next((dict(r) for r in self.sent if r["sid"] == sid), None)

    def find(self, to: str | None, from_: str | None) -> list[dict[str, Any]]:
        """The sent texts matching the list filters, newest first (as Twilio lists)."""
        with self.lock:
            return [
                dict(r)
                for r in reversed(self.sent)
                if (not to or r["to"] == to) and (not from_ or r["from"] == from_)
            ]
