"""A phone texts a pool number: opt-out keywords, the message in the conversation that
binds the pair, the Messaging Service inbound webhook and Twilio's automatic replies."""

from __future__ import annotations

import logging
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx
import phonenumbers

from app.core.optout import twilio_opt_out_type
from app.core.segments import analyze as analyze_segments
from app.sandbox.twilio_sim.clock import SimClock, iso
from app.sandbox.twilio_sim.config import SimConfig
from app.sandbox.twilio_sim.errors import bad_param
from app.sandbox.twilio_sim.logutil import mask
from app.sandbox.twilio_sim.models import Media
from app.sandbox.twilio_sim.sids import new_sid
from app.sandbox.twilio_sim.state.carrier import Carrier
from app.sandbox.twilio_sim.state.inputs import is_e164
from app.sandbox.twilio_sim.state.media import MediaInput, MediaStore
from app.sandbox.twilio_sim.state.messages import MessageStore
from app.sandbox.twilio_sim.state.messaging import MessagingService
from app.sandbox.twilio_sim.state.participants import ParticipantStore
from app.sandbox.twilio_sim.state.phones import Phones
from app.sandbox.twilio_sim.webhooks import WebhookDispatcher, WebhookEvent

log = logging.getLogger("app.sandbox.twilio_sim")


class InboundTexts:
    def __init__(
        self,
        lock: threading.RLock,
        config: SimConfig,
        dispatcher: WebhookDispatcher,
        messaging: MessagingService,
        phones: Phones,
        participants: ParticipantStore,
        messages: MessageStore,
        carrier: Carrier,
        clock: SimClock,
        media: MediaStore,
        base_url: Callable[[], str],
    ) -> None:
        self.lock = lock
        self.clock = clock
        self.config = config
        self.dispatcher = dispatcher
        self.messaging = messaging
        self.phones = phones
        self.participants = participants
        self.messages = messages
        self.carrier = carrier
        self.media = media
        self.base_url = base_url
        self.log: list[dict[str, Any]] = []  # every text, as /_sim/inbound answered it
        self.media_of: dict[str, list[Media]] = {}  # SM sid -> its MMS media

    def reset(self) -> None:
        with self.lock:
            self.log.clear()
            self.media_of.clear()

    def message_media(self, sms_sid: str, media_sid: str) -> Media | None:
        """One attachment of a received text (Programmable Messaging's Media resource)."""
        with self.lock:
            return next((m for m in self.media_of.get(sms_sid, []) if m.sid == media_sid), None)

    def inbound(
        self, from_: str, to: str, body: str, media: list[MediaInput] | None = None
    ) -> dict[str, Any]:
        """`from_` texts pool number `to`; returns what `/_sim/inbound` answers."""
        for name, value in (("from", from_), ("to", to)):
            if not is_e164(value):
                raise bad_param(f"{name} must be an E.164 phone number")
        if not self.messaging.serves(to):
            raise bad_param("to must be one of the simulator's pool numbers")
        kind = twilio_opt_out_type(body)
        service = self.media.config.chat_service_sid
        uploads = [
            self.media.upload(service, m.content_type, m.filename, m.data, from_)
            for m in media or []
        ]
        with self.lock:
            record = self._receive(new_sid("SM"), from_, to, body, kind, uploads)
            webhook_url = self.messaging.webhook_url
        log.info(
            "inbound %s -> %s%s%s",
            mask(from_),
            mask(to),
            f" ({kind})" if kind else "",
            f" into {record['conversation_sid']}" if record["conversation_sid"] else "",
        )
        reply = self._keyword_reply(kind)
        if reply:
            self.carrier.text_handset(from_, to, reply)
        if webhook_url:
            self._post_webhook(webhook_url, record)
        return record

    def _receive(
        self, sms_sid: str, from_: str, to: str, body: str, kind: str | None, media: list[Media]
    ) -> dict[str, Any]:
        """Apply the keyword and add the text to the conversation of (from_, to), if any."""
        self.phones.keyword(from_, to, kind)
        conv = self.participants.binding_owner(from_, to)
        message_sid = None
        if media:
            self.media_of[sms_sid] = media
        if conv is not None:
            form = {"Author": from_, "Body": body}
            msg = self.messages.add(conv.sid, form, None, "SMS", media=media)
            message_sid = msg.sid
        record = {
            "sid": sms_sid,
            "from": from_,
            "to": to,
            "body": body,
            "opt_out_type": kind,
            "conversation_sid": conv.sid if conv else None,
            "message_sid": message_sid,
            "date_created": iso(self.clock.now()),  # the Messages API's time (2010 API)
            "media": [
                {
                    "sid": m.sid,
                    "contentType": m.content_type,
                    "filename": m.filename,
                    "size": m.size,
                }
                for m in media
            ],
        }
        self.log.append(record)
        return record

    def message(self, sid: str) -> dict[str, Any] | None:
        """The inbound text `sid` as `/_sim/inbound` answered it, or None."""
        with self.lock:
            return next((dict(r) for r in self.log if r["sid"] == sid), None)

    def _keyword_reply(self, kind: str | None) -> str | None:
        return {
            "HELP": self.config.help_reply,
            "STOP": self.config.stop_reply,
            "START": self.config.start_reply,
        }.get(kind or "")

    def _post_webhook(self, url: str, record: dict[str, Any]) -> None:
        from_, to, body, sms_sid = record["from"], record["to"], record["body"], record["sid"]
        params = {
            "ToCountry": _region(to),
            "FromCountry": _region(from_),
            "SmsMessageSid": sms_sid,
            "SmsSid": sms_sid,
            "MessageSid": sms_sid,
            "SmsStatus": "received",
            "NumMedia": str(len(record["media"])),
            "NumSegments": str(_segments(body)),
            "Body": body,
            "To": to,
            "From": from_,
            "AccountSid": self.config.account_sid,
            "MessagingServiceSid": self.config.messaging_service_sid,
            "ApiVersion": "2010-04-01",
        }
        if record["opt_out_type"]:
            params["OptOutType"] = record["opt_out_type"]
        account = self.config.account_sid
        for n, media in enumerate(record["media"]):
            params[f"MediaUrl{n}"] = (
                f"{self.base_url()}/2010-04-01/Accounts/{account}/Messages/{sms_sid}"
                f"/Media/{media['sid']}"
            )
            params[f"MediaContentType{n}"] = media["contentType"]
        self.dispatcher.submit(
            WebhookEvent(
                url=url,
                method="POST",
                params=params,
                kind="onIncomingMessage",
                key=f"inbound:{from_}",
                with_retry_count=False,
                on_success=partial(self._twiml_reply, from_, to),
            )
        )

    def _twiml_reply(self, phone: str, pool_number: str, response: httpx.Response) -> None:
        """A TwiML <Message> answer to the inbound webhook is texted back, as Twilio does."""
        text = response.text.strip()
        if not text.startswith("<"):
            return
        try:
            root = ET.fromstring(text)
        except ET.ParseError:
            return
        for element in root.iter("Message"):
            body = "".join(element.itertext()).strip()
            if body:
                self.carrier.text_handset(phone, pool_number, body)


def _region(e164: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164)) or "US"
    except phonenumbers.NumberParseException:
        return "US"


def _segments(body: str) -> int:
    return max(int(analyze_segments(body).segments), 1)
