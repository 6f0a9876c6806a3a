"""Conversation-scoped webhooks (`/v1/Conversations/{sid}/Webhooks`). Only target
`webhook` is ever delivered (see events.py); trigger and studio are stored."""

from __future__ import annotations

import threading

from app.sandbox.twilio_sim.clock import SimClock
from app.sandbox.twilio_sim.errors import bad_param, not_found
from app.sandbox.twilio_sim.models import ScopedWebhook
from app.sandbox.twilio_sim.sids import new_sid
from app.sandbox.twilio_sim.state.conversations import ConversationStore
from app.sandbox.twilio_sim.state.events import WEBHOOK_FILTERS
from app.sandbox.twilio_sim.state.inputs import Form, getlist

TARGETS = ("webhook", "trigger", "studio")


def _method(value: str) -> str:
    method = value.upper()
    if method not in ("GET", "POST"):
        raise bad_param("Configuration.Method must be GET or POST")
    return method


def _filters(form: Form) -> list[str]:
    filters = getlist(form, "Configuration.Filters")
    unknown = [f for f in filters if f not in WEBHOOK_FILTERS]
    if unknown:
        raise bad_param(f"Unknown Configuration.Filters value: {unknown[0]}")
    return filters


def _replay_after(form: Form) -> int | None:
    replay = form.get("Configuration.ReplayAfter")
    try:
        return int(replay) if replay not in (None, "") else None
    except ValueError:
        raise bad_param("Configuration.ReplayAfter must be an integer") from None


class WebhookStore:
    def __init__(
        self, lock: threading.RLock, clock: SimClock, conversations: ConversationStore
    ) -> None:
        self.lock = lock
        self.clock = clock
        self.conversations = conversations

    def add(self, conversation_sid: str, form: Form) -> ScopedWebhook:
        target = form.get("Target")
        if target not in TARGETS:
            raise bad_param("Target must be one of webhook, trigger, studio")
        url = form.get("Configuration.Url") or None
        if target in ("webhook", "trigger") and not url:
            raise bad_param("Configuration.Url is required for this Target")
        if url is not None and not url.startswith(("http://", "https://")):
            raise bad_param("Configuration.Url must be an absolute http(s) URL")
        method = _method(form.get("Configuration.Method") or "POST")
        filters = _filters(form)
        replay_after = _replay_after(form)
        with self.lock:
            conv = self.conversations.get(conversation_sid)
            now = self.clock.now()
            hook = ScopedWebhook(
                sid=new_sid("WH"),
                conversation_sid=conv.sid,
                target=target,
                url=url,
                method=method,
                filters=filters,
                triggers=getlist(form, "Configuration.Triggers"),
                flow_sid=form.get("Configuration.FlowSid") or None,
                replay_after=replay_after,
                date_created=now,
                date_updated=now,
            )
            conv.webhooks[hook.sid] = hook
            return hook

    def get(self, conversation_sid: str, sid: str) -> ScopedWebhook:
        with self.lock:
            hook = self.conversations.get(conversation_sid).webhooks.get(sid)
            if hook is None:
                raise not_found(f"/v1/Conversations/{conversation_sid}/Webhooks/{sid}")
            return hook

    def all(self, conversation_sid: str) -> list[ScopedWebhook]:
        with self.lock:
            return list(self.conversations.get(conversation_sid).webhooks.values())

    def update(self, conversation_sid: str, sid: str, form: Form) -> ScopedWebhook:
        """Only the fields given change; an empty list or value keeps the old one."""
        with self.lock:
            hook = self.get(conversation_sid, sid)
            if form.get("Configuration.Url"):
                hook.url = form["Configuration.Url"]
            if form.get("Configuration.Method"):
                hook.method = _method(form["Configuration.Method"])
            filters = _filters(form)
            if filters:
                hook.filters = filters
            triggers = getlist(form, "Configuration.Triggers")
            if triggers:
                hook.triggers = triggers
            hook.date_updated = self.clock.now()
            return hook

    def delete(self, conversation_sid: str, sid: str) -> None:
        with self.lock:
            conv = self.conversations.get(conversation_sid)
            hook = self.get(conversation_sid, sid)
            del conv.webhooks[hook.sid]
