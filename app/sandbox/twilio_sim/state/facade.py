"""SimState: the one simulated Twilio account, built from one part per resource.

Every part shares the account's lock (an RLock), so API handlers, the carrier thread,
the timer loop and tests may call in from any thread; take `lock` to read several
things at once. Work Twilio does asynchronously (carrier hops, receipts, webhooks)
is queued on worker threads and never runs inside the caller's request.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

from app.sandbox.twilio_sim.clock import SimClock
from app.sandbox.twilio_sim.config import SimConfig
from app.sandbox.twilio_sim.faults import FaultState
from app.sandbox.twilio_sim.models import (
    Conversation,
    Media,
    Message,
    Participant,
    Receipt,
    RecordedRequest,
    ScopedWebhook,
)
from app.sandbox.twilio_sim.scheduler import Scheduler
from app.sandbox.twilio_sim.state.calls import Calls
from app.sandbox.twilio_sim.state.carrier import Carrier
from app.sandbox.twilio_sim.state.conversation_webhooks import WebhookStore
from app.sandbox.twilio_sim.state.conversations import ConversationStore
from app.sandbox.twilio_sim.state.events import ConversationEvents
from app.sandbox.twilio_sim.state.inbound import InboundTexts
from app.sandbox.twilio_sim.state.inputs import Form
from app.sandbox.twilio_sim.state.lookups import Lookups
from app.sandbox.twilio_sim.state.media import MediaInput, MediaStore
from app.sandbox.twilio_sim.state.messages import MessageStore
from app.sandbox.twilio_sim.state.messaging import MessagingService
from app.sandbox.twilio_sim.state.outbound import OutboundTexts
from app.sandbox.twilio_sim.state.participants import ParticipantStore
from app.sandbox.twilio_sim.state.phones import Phones
from app.sandbox.twilio_sim.state.with_participants import ConversationWithParticipants
from app.sandbox.twilio_sim.webhooks import WebhookDispatcher

REQUEST_LOG_SIZE = 10_000


class SimState:
    """The parts, wired once. The methods below are the account's public operations
    (the HTTP routes and the tests call them); each hands over to its part."""

    def __init__(
        self,
        config: SimConfig,
        clock: SimClock,
        faults: FaultState,
        dispatcher: WebhookDispatcher,
        carrier: Scheduler,
    ) -> None:
        self.config = config
        self.clock = clock
        self.faults = faults
        self.dispatcher = dispatcher
        self.lock = threading.RLock()
        lock = self.lock
        self.requests: deque[RecordedRequest] = deque(maxlen=REQUEST_LOG_SIZE)
        # The simulator's own address (for the media URLs of inbound webhooks); set
        # when its server listens, or from the first request it serves.
        self.public_url = ""
        self.events = ConversationEvents(dispatcher)
        self.messaging = MessagingService(lock, config.pool, clock.now(), config.webhook_url)
        self.phones = Phones(lock)
        self.lookups = Lookups(lock)
        self.conversation_store = ConversationStore(lock, config, clock, self.events)
        convs = self.conversation_store
        self.participant_store = ParticipantStore(lock, clock, self.events, convs, self.messaging)
        self.with_participants = ConversationWithParticipants(lock, convs, self.participant_store)
        self.webhook_store = WebhookStore(lock, clock, convs)
        self.carrier = Carrier(
            lock, config, clock, faults, carrier, self.events, convs, self.phones
        )
        self.media = MediaStore(lock, config, clock)
        self.message_store = MessageStore(lock, clock, self.events, convs, self.carrier, self.media)
        self.inbound_texts = InboundTexts(
            lock,
            config,
            dispatcher,
            self.messaging,
            self.phones,
            self.participant_store,
            self.message_store,
            self.carrier,
            clock,
            self.media,
            lambda: self.public_url,
        )
        self.calls = Calls(lock, config, clock, dispatcher, self.messaging, self.phones)
        self.outbound_texts = OutboundTexts(
            lock, config, clock, self.messaging, self.phones, self.carrier
        )

    # ------------------------------------------------- the account as a whole
    def reset(self) -> None:
        """Forget all traffic; the pool and the webhook URL stay."""
        with self.lock:
            for part in (
                self.conversation_store,
                self.phones,
                self.lookups,
                self.inbound_texts,
                self.outbound_texts,
                self.media,
                self.calls,
            ):
                part.reset()
            self.requests.clear()
        self.faults.clear()
        self.carrier.reset()
        self.dispatcher.clear()

    def note_public_url(self, url: str) -> None:
        """The simulator's address as its first caller reached it (unless set)."""
        if not self.public_url:
            self.public_url = url

    def record_request(self, request: RecordedRequest) -> None:
        with self.lock:
            self.requests.append(request)

    def run_timers(self) -> int:
        return self.conversation_store.run_timers()

    # The data views tests and the demo read (take `lock` around several reads).
    @property
    def conversations(self) -> dict[str, Conversation]:
        return self.conversation_store.by_sid

    @property
    def opted_out(self) -> set[tuple[str, str]]:
        return self.phones.opted_out

    @property
    def line_types(self) -> dict[str, str]:
        return self.lookups.line_types

    @property
    def inbound_log(self) -> list[dict[str, Any]]:
        return self.inbound_texts.log

    @property
    def pool(self) -> dict[str, str]:
        return self.messaging.pool

    @property
    def webhook_url(self) -> str | None:
        return self.messaging.webhook_url

    def set_webhook_url(self, url: str | None) -> None:
        self.messaging.set_webhook_url(url)

    # ---------------------------------------------------------- conversations
    def create_conversation(self, form: Form, webhook_enabled: str | None) -> Conversation:
        return self.conversation_store.create(form)

    def create_conversation_with_participants(
        self, form: Form, webhook_enabled: str | None
    ) -> Conversation:
        return self.with_participants.create(form, webhook_enabled)

    def get_conversation(self, sid: str) -> Conversation:
        return self.conversation_store.get(sid)

    def list_conversations(self, state: str | None = None) -> list[Conversation]:
        return self.conversation_store.all(state)

    def update_conversation(
        self, sid: str, form: Form, webhook_enabled: str | None
    ) -> Conversation:
        return self.conversation_store.update(sid, form, webhook_enabled)

    def delete_conversation(self, sid: str, webhook_enabled: str | None) -> None:
        self.conversation_store.delete(sid, webhook_enabled)

    # ----------------------------------------------------------- participants
    def add_participant(
        self, conversation_sid: str, form: Form, webhook_enabled: str | None
    ) -> Participant:
        return self.participant_store.add(conversation_sid, form, webhook_enabled)

    def get_participant(self, conversation_sid: str, sid: str) -> Participant:
        return self.participant_store.get(conversation_sid, sid)

    def list_participants(self, conversation_sid: str) -> list[Participant]:
        return self.participant_store.all(conversation_sid)

    def update_participant(
        self, conversation_sid: str, sid: str, form: Form, webhook_enabled: str | None
    ) -> Participant:
        return self.participant_store.update(conversation_sid, sid, form, webhook_enabled)

    def delete_participant(
        self, conversation_sid: str, sid: str, webhook_enabled: str | None
    ) -> None:
        self.participant_store.delete(conversation_sid, sid, webhook_enabled)

    def participant_conversations(
        self, address: str | None, identity: str | None
    ) -> list[tuple[Conversation, Participant]]:
        return self.participant_store.conversations_of(address, identity)

    # --------------------------------------------------------------- messages
    def add_message(
        self,
        conversation_sid: str,
        form: Form,
        webhook_enabled: str | None,
        source: str = "API",
    ) -> Message:
        return self.message_store.add(conversation_sid, form, webhook_enabled, source)

    def get_message(self, conversation_sid: str, sid: str) -> Message:
        return self.message_store.get(conversation_sid, sid)

    def list_messages(self, conversation_sid: str, order: str | None) -> list[Message]:
        return self.message_store.all(conversation_sid, order)

    def update_message(
        self, conversation_sid: str, sid: str, form: Form, webhook_enabled: str | None
    ) -> Message:
        return self.message_store.update(conversation_sid, sid, form, webhook_enabled)

    def delete_message(self, conversation_sid: str, sid: str, webhook_enabled: str | None) -> None:
        self.message_store.delete(conversation_sid, sid, webhook_enabled)

    def get_receipt(self, conversation_sid: str, message_sid: str, sid: str) -> Receipt:
        return self.message_store.get_receipt(conversation_sid, message_sid, sid)

    def list_receipts(self, conversation_sid: str, message_sid: str) -> list[Receipt]:
        return self.message_store.receipts(conversation_sid, message_sid)

    # --------------------------------------------------------------- webhooks
    def add_webhook(self, conversation_sid: str, form: Form) -> ScopedWebhook:
        return self.webhook_store.add(conversation_sid, form)

    def get_webhook(self, conversation_sid: str, sid: str) -> ScopedWebhook:
        return self.webhook_store.get(conversation_sid, sid)

    def list_webhooks(self, conversation_sid: str) -> list[ScopedWebhook]:
        return self.webhook_store.all(conversation_sid)

    def update_webhook(self, conversation_sid: str, sid: str, form: Form) -> ScopedWebhook:
        return self.webhook_store.update(conversation_sid, sid, form)

    def delete_webhook(self, conversation_sid: str, sid: str) -> None:
        self.webhook_store.delete(conversation_sid, sid)

    # ------------------------------------------------------ phones and lookup
    def inbound(
        self, from_: str, to: str, body: str, media: list[MediaInput] | None = None
    ) -> dict[str, Any]:
        """A phone texts a pool number (with MMS `media`)."""
        return self.inbound_texts.inbound(from_, to, body, media)

    def inbound_message(self, sid: str) -> dict[str, Any] | None:
        """An inbound text as the Messages API (2010-04-01) knows it."""
        return self.inbound_texts.message(sid)

    def send_text(
        self, to: str, from_: str | None, service_sid: str | None, body: str
    ) -> dict[str, Any]:
        """A text sent with the Messages API (2010-04-01), outside any conversation."""
        return self.outbound_texts.send(to, from_, service_sid, body)

    def sent_texts(self, to: str | None = None, from_: str | None = None) -> list[dict[str, Any]]:
        """The texts the Messages API sent, newest first (its list filters)."""
        return self.outbound_texts.find(to, from_)

    def sent_text(self, sid: str) -> dict[str, Any] | None:
        return self.outbound_texts.get(sid)

    def handset(self, phone: str) -> list[dict[str, Any]]:
        return self.phones.handset(phone)

    def call_log(self, phone: str) -> list[dict[str, Any]]:
        return self.phones.call_log(phone)

    # ------------------------------------------------------------ media, voice
    def upload_media(
        self, service_sid: str, content_type: str, filename: str | None, data: bytes
    ) -> Media:
        return self.media.upload(service_sid, content_type, filename, data, "system")

    def get_media(self, service_sid: str, sid: str) -> Media:
        return self.media.get(service_sid, sid)

    def call(self, from_: str, to: str, answer: bool = True, duration: int = 30) -> dict[str, Any]:
        """A phone calls a pool number (blocks on the voice webhook)."""
        return self.calls.call(from_, to, answer, duration)

    def set_voice_url(self, url: str | None) -> None:
        self.calls.set_voice_url(url)

    def set_line_types(self, mapping: dict[str, str]) -> None:
        """Line types Lookup reports from now on (`invalid` makes a number invalid)."""
        self.lookups.set_line_types(mapping)

    def lookup(self, raw: str, fields: Iterable[str], country: str | None) -> dict[str, Any]:
        return self.lookups.lookup(raw, fields, country)
