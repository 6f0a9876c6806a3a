"""Voice: a phone calls a pool number. The number's voice webhook (signed, like every
webhook) answers TwiML; a `<Dial>` rings the dialed phone with the `callerId` it names,
and the dialed leg's status callback (`<Number statusCallback=… statusCallbackEvent=…>`)
reports its progress, as on Twilio. The simulated phone answers and talks for
`duration` seconds, or does not answer."""

from __future__ import annotations

import logging
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import httpx

from app.sandbox.twilio_sim.clock import SimClock
from app.sandbox.twilio_sim.config import SimConfig
from app.sandbox.twilio_sim.errors import bad_param
from app.sandbox.twilio_sim.logutil import mask
from app.sandbox.twilio_sim.models import HandsetCall
from app.sandbox.twilio_sim.sids import new_sid
from app.sandbox.twilio_sim.state.inputs import is_e164
from app.sandbox.twilio_sim.state.messaging import MessagingService
from app.sandbox.twilio_sim.state.phones import Phones
from app.sandbox.twilio_sim.webhooks import WebhookDispatcher, WebhookEvent, compute_signature

log = logging.getLogger("app.sandbox.twilio_sim")

#: the events a `<Number>` reports when its `statusCallbackEvent` names none
DEFAULT_EVENTS = ("completed",)


@dataclass(frozen=True)
class DialPlan:
    """What the TwiML answer asks for: one number to ring, as whom, who to tell."""

    number: str | None
    caller_id: str | None
    status_callback: str | None
    status_method: str
    events: tuple[str, ...]
    said: tuple[str, ...]


def parse_twiml(text: str) -> DialPlan:
    """The `<Dial>` (its first `<Number>`, or its text) and the `<Say>` texts."""
    root = ET.fromstring(text)
    said = tuple("".join(e.itertext()).strip() for e in root.iter("Say"))
    dial = next(root.iter("Dial"), None)
    if dial is None:
        return DialPlan(None, None, None, "POST", (), said)
    number = next(dial.iter("Number"), None)
    target = (number.text if number is not None else dial.text) or ""
    attrs = number.attrib if number is not None else {}
    events = tuple(attrs.get("statusCallbackEvent", "").split()) or DEFAULT_EVENTS
    return DialPlan(
        target.strip() or None,
        dial.attrib.get("callerId"),
        attrs.get("statusCallback"),
        attrs.get("statusCallbackMethod", "POST").upper(),
        events,
        said,
    )


class Calls:
    def __init__(
        self,
        lock: threading.RLock,
        config: SimConfig,
        clock: SimClock,
        dispatcher: WebhookDispatcher,
        messaging: MessagingService,
        phones: Phones,
    ) -> None:
        self.lock = lock
        self.config = config
        self.clock = clock
        self.dispatcher = dispatcher
        self.messaging = messaging
        self.phones = phones
        self.voice_url = config.voice_url
        self.log: list[dict[str, Any]] = []

    def reset(self) -> None:
        with self.lock:
            self.log.clear()

    def set_voice_url(self, url: str | None) -> None:
        with self.lock:
            self.voice_url = url

    def call(self, from_: str, to: str, answer: bool = True, duration: int = 30) -> dict[str, Any]:
        """`from_` calls pool number `to`; returns what `/_sim/call` answers. Runs the
        voice webhook in the caller's thread (never on the API's event loop)."""
        for name, value in (("from", from_), ("to", to)):
            if not is_e164(value):
                raise bad_param(f"{name} must be an E.164 phone number")
        if not self.messaging.serves(to):
            raise bad_param("to must be one of the simulator's pool numbers")
        with self.lock:
            url = self.voice_url
        if not url:
            raise bad_param("no voice URL is set (SimConfig.voice_url or /_sim/voice-url)")
        call_sid = new_sid("CA")
        twiml, error = self._voice_webhook(url, call_sid, from_, to)
        result: dict[str, Any] = {
            "callSid": call_sid,
            "twiml": twiml,
            "dialed": None,
            "callerId": None,
            "said": [],
            "status": "failed" if error else "completed",
            "duration": 0,
        }
        if error is None and twiml:
            self._follow(result, twiml, from_, to, answer, max(int(duration), 0))
        elif error:
            result["error"] = error
        with self.lock:
            self.log.append(result)
        log.info("call %s -> %s: %s", mask(from_), mask(to), result["status"])
        return result

    def _voice_webhook(
        self, url: str, call_sid: str, from_: str, to: str
    ) -> tuple[str | None, str | None]:
        """The signed voice webhook; the TwiML it answered, or why there is none."""
        params = {
            "AccountSid": self.config.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": call_sid,
            "CallStatus": "ringing",
            "Direction": "inbound",
            "From": from_,
            "Caller": from_,
            "To": to,
            "Called": to,
        }
        headers = {"X-Twilio-Signature": compute_signature(self.config.auth_token, url, params)}
        try:
            response = httpx.post(
                url, data=params, headers=headers, timeout=self.config.webhook_timeout
            )
        except httpx.HTTPError as exc:
            return None, type(exc).__name__
        if not 200 <= response.status_code < 300:
            return None, f"HTTP {response.status_code}"
        return response.text, None

    def _follow(
        self, result: dict[str, Any], twiml: str, from_: str, to: str, answer: bool, duration: int
    ) -> None:
        try:
            plan = parse_twiml(twiml)
        except ET.ParseError:
            result.update(status="failed", error="invalid TwiML")
            return
        result["said"] = list(plan.said)
        if plan.number is None:
            return
        caller_id = plan.caller_id or from_
        status = "completed" if answer else "no-answer"
        talked = duration if answer else 0
        result.update(dialed=plan.number, callerId=caller_id, status=status, duration=talked)
        now = self.clock.now()
        self.phones.ring(plan.number, HandsetCall(caller_id, now, status, talked))
        if plan.status_callback:
            self._status_callbacks(plan, result, caller_id)

    def _status_callbacks(self, plan: DialPlan, result: dict[str, Any], caller_id: str) -> None:
        """The dialed leg's progress events that `statusCallbackEvent` asked for, in order
        (the dispatcher's faults may duplicate or reorder them, as on Twilio)."""
        assert plan.status_callback is not None and plan.number is not None
        child = new_sid("CA")
        start = self.clock.now()
        answered = result["status"] == "completed"
        steps = [("initiated", "initiated"), ("ringing", "ringing")]
        if answered:
            steps.append(("answered", "in-progress"))
        steps.append(("completed", result["status"]))
        sequence = 0
        for event, status in steps:
            if event not in plan.events:
                continue
            at = start + timedelta(seconds=result["duration"] if event == "completed" else 0)
            params = {
                "AccountSid": self.config.account_sid,
                "ApiVersion": "2010-04-01",
                "CallSid": child,
                "ParentCallSid": result["callSid"],
                "CallStatus": status,
                "Direction": "outbound-dial",
                "From": caller_id,
                "To": plan.number,
                "Caller": caller_id,
                "Called": plan.number,
                "CallbackSource": "call-progress-events",
                "SequenceNumber": str(sequence),
                "Timestamp": format_datetime(at),
            }
            if event == "completed":
                params["CallDuration"] = str(result["duration"])
            sequence += 1
            self.dispatcher.submit(
                WebhookEvent(
                    url=plan.status_callback,
                    method=plan.status_method,
                    params=params,
                    kind="callStatus",
                    key=f"call:{result['callSid']}",
                    with_retry_count=False,
                )
            )
