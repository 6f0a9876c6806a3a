"""Participants, and the address-pair rule: an (Address, ProxyAddress) pair lives in at
most one non-closed conversation."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from app.sandbox.twilio_sim.clock import SimClock
from app.sandbox.twilio_sim.errors import TwilioApiError, bad_param, binding_exists, not_found
from app.sandbox.twilio_sim.logutil import mask
from app.sandbox.twilio_sim.models import Conversation, Participant
from app.sandbox.twilio_sim.sids import new_sid
from app.sandbox.twilio_sim.state.conversations import ConversationStore
from app.sandbox.twilio_sim.state.events import ConversationEvents, participant_params
from app.sandbox.twilio_sim.state.inputs import Form, json_attributes, webhooks_enabled
from app.sandbox.twilio_sim.state.messaging import MessagingService

log = logging.getLogger("app.sandbox.twilio_sim")


@dataclass(frozen=True)
class _Binding:
    """Who a new participant is: a chat identity or an SMS address behind a proxy."""

    identity: str | None
    address: str | None
    proxy: str | None
    projected: str | None


def _binding(form: Form) -> _Binding:
    binding = _Binding(
        identity=form.get("Identity") or None,
        address=form.get("MessagingBinding.Address") or None,
        proxy=form.get("MessagingBinding.ProxyAddress") or None,
        projected=form.get("MessagingBinding.ProjectedAddress") or None,
    )
    if binding.identity is None and binding.address is None:
        raise bad_param("Either Identity or MessagingBinding.Address must be provided")
    if binding.address is not None and binding.proxy is None:
        raise bad_param("MessagingBinding.ProxyAddress is required with MessagingBinding.Address")
    if binding.address is not None and binding.identity is not None:
        raise bad_param("Identity cannot be combined with MessagingBinding.Address")
    return binding


class ParticipantStore:
    def __init__(
        self,
        lock: threading.RLock,
        clock: SimClock,
        events: ConversationEvents,
        conversations: ConversationStore,
        messaging: MessagingService,
    ) -> None:
        self.lock = lock
        self.clock = clock
        self.events = events
        self.conversations = conversations
        self.messaging = messaging

    def binding_owner(self, address: str, proxy: str) -> Conversation | None:
        """The non-closed conversation that holds the pair, if any."""
        for conv in self.conversations.all():
            if conv.state == "closed":
                continue
            for part in conv.participants.values():
                if part.address == address and part.proxy_address == proxy:
                    return conv
        return None

    def add(self, conversation_sid: str, form: Form, webhook_header: str | None) -> Participant:
        binding = _binding(form)
        attributes = json_attributes("Attributes", form.get("Attributes"))
        with self.lock:
            conv = self.conversations.get_open(conversation_sid)
            if binding.address is not None and binding.proxy is not None:
                self._check_pair(binding.address, binding.proxy)
            if binding.identity is not None:
                self._check_identity(conv, binding.identity)
            now = self.clock.now()
            part = Participant(
                sid=new_sid("MB"),
                conversation_sid=conv.sid,
                identity=binding.identity,
                address=binding.address,
                proxy_address=binding.proxy,
                projected_address=binding.projected,
                attributes=attributes,
                role_sid=form.get("RoleSid") or None,
                date_created=now,
                date_updated=now,
            )
            conv.participants[part.sid] = part
            log.info(
                "participant %s added to %s (%s via %s)",
                part.sid,
                conv.sid,
                mask(binding.address) if binding.address else "chat",
                mask(binding.proxy),
            )
            if webhooks_enabled(webhook_header):
                self.events.emit(conv, "onParticipantAdded", participant_params(part))
            return part

    def _check_pair(self, address: str, proxy: str) -> None:
        if not self.messaging.accepts_proxy(proxy):
            raise TwilioApiError(
                400,
                50407,
                "Invalid messaging binding proxy address: it is not a number of this account",
            )
        owner = self.binding_owner(address, proxy)
        if owner is not None:
            log.info("50416: %s/%s already in %s", mask(address), mask(proxy), owner.sid)
            raise binding_exists(owner.sid)

    @staticmethod
    def _check_identity(conv: Conversation, identity: str) -> None:
        for part in conv.participants.values():
            if part.identity == identity:
                raise TwilioApiError(409, 50433, "Participant already exists")

    def get(self, conversation_sid: str, sid: str) -> Participant:
        """By SID or identity."""
        with self.lock:
            conv = self.conversations.get(conversation_sid)
            part = conv.participants.get(sid)
            if part is None:
                part = next((p for p in conv.participants.values() if p.identity == sid), None)
            if part is None:
                raise not_found(f"/v1/Conversations/{conversation_sid}/Participants/{sid}")
            return part

    def all(self, conversation_sid: str) -> list[Participant]:
        with self.lock:
            return list(self.conversations.get(conversation_sid).participants.values())

    def update(
        self, conversation_sid: str, sid: str, form: Form, webhook_header: str | None
    ) -> Participant:
        with self.lock:
            conv = self.conversations.get(conversation_sid)
            part = self.get(conversation_sid, sid)
            if "Attributes" in form:
                part.attributes = json_attributes("Attributes", form.get("Attributes"))
            if form.get("MessagingBinding.ProxyAddress"):
                self._move_proxy(part, form["MessagingBinding.ProxyAddress"])
            if "Identity" in form and form.get("Identity"):
                part.identity = form["Identity"]
            if "RoleSid" in form:
                part.role_sid = form.get("RoleSid") or None
            if form.get("LastReadMessageIndex") is not None:
                try:
                    part.last_read_message_index = int(form["LastReadMessageIndex"])
                except ValueError:
                    raise bad_param("LastReadMessageIndex must be an integer") from None
            if "LastReadTimestamp" in form:
                part.last_read_timestamp = form.get("LastReadTimestamp") or None
            part.date_updated = self.clock.now()
            if webhooks_enabled(webhook_header):
                self.events.emit(conv, "onParticipantUpdated", participant_params(part))
            return part

    def _move_proxy(self, part: Participant, proxy: str) -> None:
        if part.address is None:
            raise bad_param("Only an SMS participant has a proxy address")
        if proxy != part.proxy_address:
            owner = self.binding_owner(part.address, proxy)
            if owner is not None:
                raise binding_exists(owner.sid)
            part.proxy_address = proxy

    def delete(self, conversation_sid: str, sid: str, webhook_header: str | None) -> None:
        with self.lock:
            conv = self.conversations.get(conversation_sid)
            part = self.get(conversation_sid, sid)
            del conv.participants[part.sid]
            if webhooks_enabled(webhook_header):
                self.events.emit(conv, "onParticipantRemoved", participant_params(part))

    def conversations_of(
        self, address: str | None, identity: str | None
    ) -> list[tuple[Conversation, Participant]]:
        """GET /v1/ParticipantConversations: every conversation (any state) of a person."""
        if not address and not identity:
            raise bad_param("Either Address or Identity must be provided")
        with self.lock:
            found = []
            for conv in self.conversations.all():
                for part in conv.participants.values():
                    if (address and part.address == address) or (
                        identity and part.identity == identity
                    ):
                        found.append((conv, part))
            return found
