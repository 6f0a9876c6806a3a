"""Conversation messages and their delivery receipts. A new message is handed to the
carrier, which writes the receipts."""

from __future__ import annotations

import threading

from app.sandbox.twilio_sim.clock import SimClock, iso
from app.sandbox.twilio_sim.errors import bad_param, not_found
from app.sandbox.twilio_sim.models import Conversation, Media, Message, Participant, Receipt
from app.sandbox.twilio_sim.sids import new_sid
from app.sandbox.twilio_sim.state.carrier import Carrier
from app.sandbox.twilio_sim.state.conversations import ConversationStore
from app.sandbox.twilio_sim.state.events import ConversationEvents, message_params
from app.sandbox.twilio_sim.state.inputs import (
    Form,
    getlist,
    json_attributes,
    webhooks_enabled,
)
from app.sandbox.twilio_sim.state.media import MediaStore


def _author_participant(conv: Conversation, author: str) -> Participant | None:
    for part in conv.participants.values():
        if author in (part.identity, part.address):
            return part
    return None


class MessageStore:
    def __init__(
        self,
        lock: threading.RLock,
        clock: SimClock,
        events: ConversationEvents,
        conversations: ConversationStore,
        carrier: Carrier,
        media: MediaStore,
    ) -> None:
        self.lock = lock
        self.clock = clock
        self.events = events
        self.conversations = conversations
        self.carrier = carrier
        self.media = media

    def add(
        self,
        conversation_sid: str,
        form: Form,
        webhook_header: str | None,
        source: str = "API",
        media: list[Media] | None = None,
    ) -> Message:
        """`source` is `SMS` for a text from a phone: that always fires onMessageAdded.
        `media`: what a phone attached (an API caller names uploads by `MediaSid`)."""
        author = form.get("Author") or "system"
        body = form.get("Body")
        attached = list(media or []) + self.media.for_message(getlist(form, "MediaSid"))
        if body is None and not attached and not form.get("ContentSid"):
            raise bad_param("A message needs a Body, MediaSid or ContentSid")
        attributes = json_attributes("Attributes", form.get("Attributes"))
        with self.lock:
            conv = self.conversations.get_open(conversation_sid)
            now = self.clock.now()
            author_part = _author_participant(conv, author)
            msg = Message(
                sid=new_sid("IM"),
                conversation_sid=conv.sid,
                index=conv.next_index,
                author=author,
                body=body,
                attributes=attributes,
                participant_sid=author_part.sid if author_part else None,
                source=source,
                date_created=now,
                date_updated=now,
                media=attached,
            )
            self.media.attach(attached, conv.sid, msg.sid)
            conv.next_index += 1
            conv.messages[msg.sid] = msg
            conv.last_activity = now
            conv.date_updated = now
            if conv.state == "inactive":
                # A new message wakes an inactive conversation up, as on Twilio.
                self.conversations.set_state(conv, "active", "EVENT", emit=True)
            if source != "API" or webhooks_enabled(webhook_header):
                self.events.emit(conv, "onMessageAdded", message_params(conv, msg))
            self.carrier.route(conv, msg)
            return msg

    def get(self, conversation_sid: str, sid: str) -> Message:
        """By SID or index."""
        with self.lock:
            conv = self.conversations.get(conversation_sid)
            msg = conv.messages.get(sid)
            if msg is None and sid.isdigit():
                msg = next((m for m in conv.messages.values() if m.index == int(sid)), None)
            if msg is None:
                raise not_found(f"/v1/Conversations/{conversation_sid}/Messages/{sid}")
            return msg

    def all(self, conversation_sid: str, order: str | None) -> list[Message]:
        with self.lock:
            msgs = list(self.conversations.get(conversation_sid).messages.values())
        if (order or "asc").lower() == "desc":
            msgs.reverse()
        return msgs

    def update(
        self, conversation_sid: str, sid: str, form: Form, webhook_header: str | None
    ) -> Message:
        with self.lock:
            conv = self.conversations.get(conversation_sid)
            msg = self.get(conversation_sid, sid)
            if "Body" in form:
                msg.body = form.get("Body")
            if "Attributes" in form:
                msg.attributes = json_attributes("Attributes", form.get("Attributes"))
            if form.get("Author"):
                msg.author = form["Author"]
            msg.date_updated = self.clock.now()
            if webhooks_enabled(webhook_header):
                params = message_params(conv, msg)
                params["DateUpdated"] = iso(msg.date_updated) or ""
                params["ModifiedBy"] = "system"
                self.events.emit(conv, "onMessageUpdated", params)
            return msg

    def delete(self, conversation_sid: str, sid: str, webhook_header: str | None) -> None:
        with self.lock:
            conv = self.conversations.get(conversation_sid)
            msg = self.get(conversation_sid, sid)
            del conv.messages[msg.sid]
            if webhooks_enabled(webhook_header):
                params = message_params(conv, msg)
                params["DateRemoved"] = iso(self.clock.now()) or ""
                params["RemovedBy"] = "system"
                self.events.emit(conv, "onMessageRemoved", params)

    def get_receipt(self, conversation_sid: str, message_sid: str, sid: str) -> Receipt:
        with self.lock:
            msg = self.get(conversation_sid, message_sid)
            receipt = msg.receipts.get(sid)
            if receipt is None:
                raise not_found(
                    f"/v1/Conversations/{conversation_sid}/Messages/{message_sid}/Receipts/{sid}"
                )
            return receipt

    def receipts(self, conversation_sid: str, message_sid: str) -> list[Receipt]:
        with self.lock:
            return list(self.get(conversation_sid, message_sid).receipts.values())
