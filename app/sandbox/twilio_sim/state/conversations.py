"""Conversations: create, fetch, update, delete, their states and their timers."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from app.sandbox.twilio_sim.clock import SimClock, iso
from app.sandbox.twilio_sim.config import SimConfig
from app.sandbox.twilio_sim.errors import (
    TwilioApiError,
    bad_param,
    conversation_closed,
    not_found,
)
from app.sandbox.twilio_sim.models import Conversation
from app.sandbox.twilio_sim.sids import new_sid
from app.sandbox.twilio_sim.state.events import ConversationEvents, conversation_params
from app.sandbox.twilio_sim.state.inputs import (
    Form,
    json_attributes,
    parse_duration,
    webhooks_enabled,
)

log = logging.getLogger("app.sandbox.twilio_sim")

STATES = ("active", "inactive", "closed")


def _unique_name_taken() -> TwilioApiError:
    return TwilioApiError(409, 50353, "Conversation with provided unique name already exists")


def _timer(form: Form, name: str) -> timedelta | None:
    """A timer field: absent or empty means no timer."""
    value = form.get(name)
    return parse_duration(name, value) if value else None


def _checked_state(value: str) -> str:
    if value not in STATES:
        raise bad_param("State must be one of active, inactive, closed")
    return value


class ConversationStore:
    def __init__(
        self,
        lock: threading.RLock,
        config: SimConfig,
        clock: SimClock,
        events: ConversationEvents,
    ) -> None:
        self.lock = lock
        self.config = config
        self.clock = clock
        self.events = events
        self.by_sid: dict[str, Conversation] = {}

    def reset(self) -> None:
        with self.lock:
            self.by_sid.clear()

    # ------------------------------------------------------------------ reading
    def get(self, sid: str) -> Conversation:
        """By SID or UniqueName, as Twilio resolves the path segment."""
        with self.lock:
            conv = self.by_sid.get(sid) or self.by_unique_name(sid)
            if conv is None:
                raise not_found(f"/v1/Conversations/{sid}")
            return conv

    def get_open(self, sid: str) -> Conversation:
        """A conversation that may still gain participants and messages."""
        conv = self.get(sid)
        if conv.state == "closed":
            raise conversation_closed(conv.sid)
        return conv

    def all(self, state: str | None = None) -> list[Conversation]:
        with self.lock:
            return [c for c in self.by_sid.values() if state is None or c.state == state]

    def by_unique_name(self, name: str) -> Conversation | None:
        for conv in self.by_sid.values():
            if conv.unique_name == name:
                return conv
        return None

    # ------------------------------------------------------------------ writing
    def create(self, form: Form) -> Conversation:
        """POST /v1/Conversations (creating one fires no conversation webhook)."""
        now = self.clock.now()
        state = _checked_state(form.get("State") or "active")
        unique_name = form.get("UniqueName") or None
        timer_inactive = _timer(form, "Timers.Inactive")
        timer_closed = _timer(form, "Timers.Closed")
        with self.lock:
            if unique_name and self.by_unique_name(unique_name) is not None:
                raise _unique_name_taken()
            conv = Conversation(
                sid=new_sid("CH"),
                account_sid=self.config.account_sid,
                chat_service_sid=self.config.chat_service_sid,
                messaging_service_sid=form.get("MessagingServiceSid")
                or self.config.messaging_service_sid,
                friendly_name=form.get("FriendlyName") or None,
                unique_name=unique_name,
                attributes=json_attributes("Attributes", form.get("Attributes")),
                state=state,
                date_created=now,
                date_updated=now,
                timer_inactive=timer_inactive,
                timer_closed=timer_closed,
                last_activity=now,
            )
            self.by_sid[conv.sid] = conv
            log.info("conversation %s created (%s)", conv.sid, state)
            return conv

    def update(self, sid: str, form: Form, webhook_header: str | None) -> Conversation:
        with self.lock:
            conv = self.get(sid)
            now = self.clock.now()
            changed = self._apply_fields(conv, form)
            changed = self._apply_timers(conv, form, now) or changed
            emit = webhooks_enabled(webhook_header)
            if form.get("State"):
                self._apply_state(conv, form["State"], now, emit)
            if changed:
                conv.date_updated = now
                if emit:
                    self.events.emit(conv, "onConversationUpdated", conversation_params(conv))
            return conv

    def delete(self, sid: str, webhook_header: str | None) -> None:
        with self.lock:
            conv = self.get(sid)
            del self.by_sid[conv.sid]
            if webhooks_enabled(webhook_header):
                params = conversation_params(conv)
                params["DateRemoved"] = iso(self.clock.now()) or ""
                self.events.emit(conv, "onConversationRemoved", params)
            log.info("conversation %s deleted", conv.sid)

    def discard(self, sid: str) -> None:
        """Forget a conversation without webhooks (undoing a create that failed later)."""
        with self.lock:
            self.by_sid.pop(sid, None)

    def _apply_fields(self, conv: Conversation, form: Form) -> bool:
        changed = False
        if "Attributes" in form:
            conv.attributes = json_attributes("Attributes", form.get("Attributes"))
            changed = True
        if "FriendlyName" in form:
            conv.friendly_name = form.get("FriendlyName") or None
            changed = True
        if "UniqueName" in form:
            name = form.get("UniqueName") or None
            other = self.by_unique_name(name) if name else None
            if other is not None and other.sid != conv.sid:
                raise _unique_name_taken()
            conv.unique_name = name
            changed = True
        if "MessagingServiceSid" in form:
            conv.messaging_service_sid = form.get("MessagingServiceSid")
            changed = True
        return changed

    @staticmethod
    def _apply_timers(conv: Conversation, form: Form, now: datetime) -> bool:
        """A timer update (an empty value removes the timer) restarts the count."""
        changed = False
        if form.get("Timers.Inactive") is not None:
            conv.timer_inactive = _timer(form, "Timers.Inactive")
            conv.last_activity = now
            changed = True
        if form.get("Timers.Closed") is not None:
            conv.timer_closed = _timer(form, "Timers.Closed")
            conv.last_activity = now
            changed = True
        return changed

    def _apply_state(self, conv: Conversation, value: str, now: datetime, emit: bool) -> None:
        new_state = _checked_state(value)
        if conv.state == "closed" and new_state != "closed":
            raise bad_param("A closed conversation cannot be reopened")
        if new_state != conv.state:
            if new_state == "active":
                conv.last_activity = now
            self.set_state(conv, new_state, "API", emit=emit)

    # -------------------------------------------------------------------- state
    def set_state(self, conv: Conversation, new_state: str, reason: str, emit: bool) -> None:
        """Move `conv` to `new_state`; `reason` is API, TIMER or EVENT as on Twilio."""
        old = conv.state
        if old == new_state:
            return
        now = self.clock.now()
        conv.state = new_state
        conv.date_updated = now
        log.info("conversation %s %s -> %s (%s)", conv.sid, old, new_state, reason)
        if emit:
            self.events.emit(
                conv,
                "onConversationStateUpdated",
                {
                    "MessagingServiceSid": conv.messaging_service_sid,
                    "StateFrom": old,
                    "StateTo": new_state,
                    "StateUpdated": iso(now) or "",
                    "Reason": reason,
                    "DateCreated": iso(conv.date_created) or "",
                    "DateUpdated": iso(now) or "",
                },
            )

    def run_timers(self) -> int:
        """Move every conversation whose timer is due; returns how many changed."""
        changed = 0
        with self.lock:
            now = self.clock.now()
            for conv in list(self.by_sid.values()):
                if conv.state == "closed":
                    continue
                date_closed = conv.date_closed
                if date_closed is not None and now >= date_closed:
                    self.set_state(conv, "closed", "TIMER", emit=True)
                    changed += 1
                    continue
                date_inactive = conv.date_inactive
                if date_inactive is not None and now >= date_inactive:
                    self.set_state(conv, "inactive", "TIMER", emit=True)
                    changed += 1
        return changed
