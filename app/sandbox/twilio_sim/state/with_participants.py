"""POST /v1/ConversationWithParticipants: a conversation and its participants, all or
nothing, under one lock."""

from __future__ import annotations

import json
import threading
from typing import Any

from app.sandbox.twilio_sim.errors import TwilioApiError, bad_param, binding_exists
from app.sandbox.twilio_sim.models import Conversation
from app.sandbox.twilio_sim.state.conversations import ConversationStore
from app.sandbox.twilio_sim.state.inputs import Form, getlist
from app.sandbox.twilio_sim.state.participants import ParticipantStore

MAX_PARTICIPANTS = 10


def _participant_form(raw: str) -> dict[str, str]:
    """One `Participant` JSON string as the form fields of a participant create."""
    try:
        item: Any = json.loads(raw)
    except ValueError:
        raise bad_param("Participant must be a JSON object") from None
    if not isinstance(item, dict):
        raise bad_param("Participant must be a JSON object")
    binding = item.get("messaging_binding") or {}
    if not isinstance(binding, dict):
        raise bad_param("Participant messaging_binding must be a JSON object")
    fields = {
        "Identity": item.get("identity"),
        "MessagingBinding.Address": binding.get("address"),
        "MessagingBinding.ProxyAddress": binding.get("proxy_address"),
        "MessagingBinding.ProjectedAddress": binding.get("projected_address"),
        "Attributes": item.get("attributes"),
        "RoleSid": item.get("role_sid"),
    }
    return {k: str(v) for k, v in fields.items() if v is not None}


class ConversationWithParticipants:
    def __init__(
        self,
        lock: threading.RLock,
        conversations: ConversationStore,
        participants: ParticipantStore,
    ) -> None:
        self.lock = lock
        self.conversations = conversations
        self.participants = participants

    def create(self, form: Form, webhook_header: str | None) -> Conversation:
        specs = getlist(form, "Participant")
        if len(specs) > MAX_PARTICIPANTS:
            raise bad_param(
                f"At most {MAX_PARTICIPANTS} participants can be added in a single request"
            )
        parsed = [_participant_form(raw) for raw in specs]
        with self.lock:
            self._check_pairs_free(parsed)
            conv = self.conversations.create(form)
            try:
                for spec in parsed:
                    self.participants.add(conv.sid, spec, webhook_header)
            except TwilioApiError:
                self.conversations.discard(conv.sid)
                raise
            return conv

    def _check_pairs_free(self, parsed: list[dict[str, str]]) -> None:
        """Refuse before creating anything: a pair twice in the request or already held."""
        pairs = [
            (p["MessagingBinding.Address"], p.get("MessagingBinding.ProxyAddress", ""))
            for p in parsed
            if "MessagingBinding.Address" in p
        ]
        if len(set(pairs)) != len(pairs):
            raise TwilioApiError(409, 50437, "Group Participant already exists")
        for address, proxy in pairs:
            owner = self.participants.binding_owner(address, proxy)
            if owner is not None:
                raise binding_exists(owner.sid)
