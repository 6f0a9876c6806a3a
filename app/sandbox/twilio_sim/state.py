"""The simulated Twilio account: conversations, routing, handsets, opt-outs, timers.

Every public method takes the state lock, so API handlers, the carrier worker, the
timer loop and tests may call in from any thread. Side effects that Twilio performs
asynchronously (carrier delivery, receipts, webhooks) are queued on worker threads
and never run inside the caller's request.
"""

from __future__ import annotations

import json
import logging
import threading
import xml.etree.ElementTree as ET
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import httpx
import phonenumbers
from pydantic import TypeAdapter, ValidationError

from app.core.optout import twilio_opt_out_type
from app.core.segments import analyze as analyze_segments
from app.sandbox.twilio_sim.clock import SimClock, iso
from app.sandbox.twilio_sim.config import SimConfig
from app.sandbox.twilio_sim.errors import (
    TwilioApiError,
    bad_param,
    binding_exists,
    not_found,
)
from app.sandbox.twilio_sim.faults import FaultState
from app.sandbox.twilio_sim.logutil import mask
from app.sandbox.twilio_sim.models import (
    Conversation,
    HandsetMessage,
    Message,
    Participant,
    Receipt,
    RecordedRequest,
    ScopedWebhook,
)
from app.sandbox.twilio_sim.scheduler import Scheduler
from app.sandbox.twilio_sim.sids import new_sid
from app.sandbox.twilio_sim.webhooks import WebhookDispatcher, WebhookEvent

log = logging.getLogger("app.sandbox.twilio_sim")

STATES = ("active", "inactive", "closed")
LINE_TYPES = (
    "mobile",
    "landline",
    "fixedVoip",
    "nonFixedVoip",
    "personal",
    "tollFree",
    "premium",
    "sharedCost",
    "uan",
    "voicemail",
    "pager",
    "unknown",
)
WEBHOOK_FILTERS = (
    "onMessageAdded",
    "onMessageUpdated",
    "onMessageRemoved",
    "onDeliveryUpdated",
    "onConversationUpdated",
    "onConversationRemoved",
    "onConversationStateUpdated",
    "onParticipantAdded",
    "onParticipantUpdated",
    "onParticipantRemoved",
)
# Carrier codes that end a message as `undelivered` (the carrier took it, the handset
# did not get it); any other code ends it as `failed`.
UNDELIVERED_CODES = {30003, 30004, 30005, 30006, 30007, 30008}
OPTED_OUT_CODE = 21610

_duration = TypeAdapter(timedelta)

Form = Any  # starlette FormData or any mapping with get()/getlist()


class LineTypeError(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def parse_duration(name: str, value: str) -> timedelta:
    """ISO-8601 duration such as PT1M or P7D (Twilio's timer format)."""
    if not value.startswith("P"):
        raise bad_param(f"{name} must be an ISO 8601 duration such as PT1M or P7D")
    try:
        result = _duration.validate_python(value)
    except ValidationError:
        raise bad_param(f"{name} must be an ISO 8601 duration such as PT1M or P7D") from None
    if result <= timedelta(0):
        raise bad_param(f"{name} must be a positive duration")
    return result


def _json_attributes(name: str, value: str | None, default: str = "{}") -> str:
    if value is None:
        return default
    try:
        json.loads(value)
    except ValueError:
        raise bad_param(f"{name} must be a valid JSON string") from None
    return value


def _webhook_enabled(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


class SimState:
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
        self.carrier = carrier
        self.lock = threading.RLock()
        self.webhook_url = config.webhook_url
        self.pool: dict[str, str] = {n: new_sid("PN") for n in config.pool}
        self.pool_created = clock.now()
        self.conversations: dict[str, Conversation] = {}
        self.handsets: dict[str, list[HandsetMessage]] = defaultdict(list)
        self.opted_out: set[tuple[str, str]] = set()  # (phone, pool number)
        self.line_types: dict[str, str] = {}
        self.inbound_log: list[dict[str, Any]] = []
        self.requests: deque[RecordedRequest] = deque(maxlen=10_000)

    # ------------------------------------------------------------------ control
    def reset(self) -> None:
        with self.lock:
            self.conversations.clear()
            self.handsets.clear()
            self.opted_out.clear()
            self.line_types.clear()
            self.inbound_log.clear()
            self.requests.clear()
        self.faults.clear()
        self.carrier.clear()
        self.dispatcher.clear()

    def set_webhook_url(self, url: str | None) -> None:
        with self.lock:
            self.webhook_url = url

    def record_request(self, request: RecordedRequest) -> None:
        with self.lock:
            self.requests.append(request)

    def handset(self, phone: str) -> list[dict[str, str]]:
        with self.lock:
            return [
                {"from": m.from_, "body": m.body, "at": _iso_ms(m.at)}
                for m in self.handsets.get(phone, [])
            ]

    def set_line_types(self, mapping: dict[str, str]) -> None:
        """Line types Lookup reports from now on (`invalid` makes a number invalid)."""
        for number, line_type in mapping.items():
            if not is_e164(number):
                raise LineTypeError("invalid_phone", "Lookup keys must be E.164 numbers")
            if line_type not in (*LINE_TYPES, "invalid"):
                raise LineTypeError(
                    "invalid_line_type",
                    f"Line type must be one of {', '.join((*LINE_TYPES, 'invalid'))}",
                )
        with self.lock:
            self.line_types.update(mapping)

    # ------------------------------------------------------------ conversations
    def create_conversation(self, form: Form, webhook_enabled: str | None) -> Conversation:
        now = self.clock.now()
        state = form.get("State") or "active"
        if state not in STATES:
            raise bad_param("State must be one of active, inactive, closed")
        unique_name = form.get("UniqueName") or None
        timer_inactive = (
            parse_duration("Timers.Inactive", form["Timers.Inactive"])
            if form.get("Timers.Inactive")
            else None
        )
        timer_closed = (
            parse_duration("Timers.Closed", form["Timers.Closed"])
            if form.get("Timers.Closed")
            else None
        )
        with self.lock:
            if unique_name and self._by_unique_name(unique_name) is not None:
                raise TwilioApiError(
                    409, 50353, "Conversation with provided unique name already exists"
                )
            conv = Conversation(
                sid=new_sid("CH"),
                account_sid=self.config.account_sid,
                chat_service_sid=self.config.chat_service_sid,
                messaging_service_sid=form.get("MessagingServiceSid")
                or self.config.messaging_service_sid,
                friendly_name=form.get("FriendlyName") or None,
                unique_name=unique_name,
                attributes=_json_attributes("Attributes", form.get("Attributes")),
                state=state,
                date_created=now,
                date_updated=now,
                timer_inactive=timer_inactive,
                timer_closed=timer_closed,
                last_activity=now,
            )
            self.conversations[conv.sid] = conv
            log.info("conversation %s created (%s)", conv.sid, state)
            return conv

    def create_conversation_with_participants(
        self, form: Form, webhook_enabled: str | None
    ) -> Conversation:
        """POST /v1/ConversationWithParticipants: all or nothing, under one lock."""
        specs = _getlist(form, "Participant")
        if len(specs) > 10:
            raise bad_param("At most 10 participants can be added in a single request")
        parsed: list[dict[str, str]] = []
        for raw in specs:
            try:
                item = json.loads(raw)
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
            parsed.append({k: str(v) for k, v in fields.items() if v is not None})
        with self.lock:
            pairs = [
                (p["MessagingBinding.Address"], p.get("MessagingBinding.ProxyAddress", ""))
                for p in parsed
                if "MessagingBinding.Address" in p
            ]
            if len(set(pairs)) != len(pairs):
                raise TwilioApiError(409, 50437, "Group Participant already exists")
            for address, proxy in pairs:
                owner = self._binding_owner(address, proxy)
                if owner is not None:
                    raise binding_exists(owner.sid)
            conv = self.create_conversation(form, webhook_enabled)
            try:
                for spec in parsed:
                    self.add_participant(conv.sid, spec, webhook_enabled)
            except TwilioApiError:
                del self.conversations[conv.sid]  # all or nothing
                raise
            return conv

    def _by_unique_name(self, name: str) -> Conversation | None:
        for conv in self.conversations.values():
            if conv.unique_name == name:
                return conv
        return None

    def get_conversation(self, sid: str) -> Conversation:
        with self.lock:
            conv = self.conversations.get(sid) or self._by_unique_name(sid)
            if conv is None:
                raise not_found(f"/v1/Conversations/{sid}")
            return conv

    def list_conversations(self, state: str | None = None) -> list[Conversation]:
        with self.lock:
            return [c for c in self.conversations.values() if state is None or c.state == state]

    def update_conversation(
        self, sid: str, form: Form, webhook_enabled: str | None
    ) -> Conversation:
        with self.lock:
            conv = self.get_conversation(sid)
            now = self.clock.now()
            changed = False
            if "Attributes" in form:
                conv.attributes = _json_attributes("Attributes", form.get("Attributes"))
                changed = True
            if "FriendlyName" in form:
                conv.friendly_name = form.get("FriendlyName") or None
                changed = True
            if "UniqueName" in form:
                name = form.get("UniqueName") or None
                other = self._by_unique_name(name) if name else None
                if other is not None and other.sid != conv.sid:
                    raise TwilioApiError(
                        409, 50353, "Conversation with provided unique name already exists"
                    )
                conv.unique_name = name
                changed = True
            if "MessagingServiceSid" in form:
                conv.messaging_service_sid = form.get("MessagingServiceSid")
                changed = True
            if form.get("Timers.Inactive") is not None:
                conv.timer_inactive = (
                    parse_duration("Timers.Inactive", form["Timers.Inactive"])
                    if form["Timers.Inactive"]
                    else None
                )
                conv.last_activity = now
                changed = True
            if form.get("Timers.Closed") is not None:
                conv.timer_closed = (
                    parse_duration("Timers.Closed", form["Timers.Closed"])
                    if form["Timers.Closed"]
                    else None
                )
                conv.last_activity = now
                changed = True
            api_hooks = _webhook_enabled(webhook_enabled)
            if form.get("State"):
                new_state = form["State"]
                if new_state not in STATES:
                    raise bad_param("State must be one of active, inactive, closed")
                if conv.state == "closed" and new_state != "closed":
                    raise bad_param("A closed conversation cannot be reopened")
                if new_state != conv.state:
                    if new_state == "active":
                        conv.last_activity = now
                    self._set_state(conv, new_state, "API", emit=api_hooks)
            if changed:
                conv.date_updated = now
                if api_hooks:
                    self._emit(conv, "onConversationUpdated", self._conversation_params(conv))
            return conv

    def delete_conversation(self, sid: str, webhook_enabled: str | None) -> None:
        with self.lock:
            conv = self.get_conversation(sid)
            del self.conversations[conv.sid]
            if _webhook_enabled(webhook_enabled):
                params = self._conversation_params(conv)
                params["DateRemoved"] = iso(self.clock.now()) or ""
                self._emit(conv, "onConversationRemoved", params)
            log.info("conversation %s deleted", conv.sid)

    def _set_state(self, conv: Conversation, new_state: str, reason: str, emit: bool) -> None:
        old = conv.state
        if old == new_state:
            return
        now = self.clock.now()
        conv.state = new_state
        conv.date_updated = now
        log.info("conversation %s %s -> %s (%s)", conv.sid, old, new_state, reason)
        if emit:
            self._emit(
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
            for conv in list(self.conversations.values()):
                if conv.state == "closed":
                    continue
                date_closed = conv.date_closed
                if date_closed is not None and now >= date_closed:
                    self._set_state(conv, "closed", "TIMER", emit=True)
                    changed += 1
                    continue
                date_inactive = conv.date_inactive
                if date_inactive is not None and now >= date_inactive:
                    self._set_state(conv, "inactive", "TIMER", emit=True)
                    changed += 1
        return changed

    # ------------------------------------------------------------- participants
    def _binding_owner(self, address: str, proxy: str) -> Conversation | None:
        for conv in self.conversations.values():
            if conv.state == "closed":
                continue
            for part in conv.participants.values():
                if part.address == address and part.proxy_address == proxy:
                    return conv
        return None

    def add_participant(
        self, conversation_sid: str, form: Form, webhook_enabled: str | None
    ) -> Participant:
        identity = form.get("Identity") or None
        address = form.get("MessagingBinding.Address") or None
        proxy = form.get("MessagingBinding.ProxyAddress") or None
        projected = form.get("MessagingBinding.ProjectedAddress") or None
        if identity is None and address is None:
            raise bad_param("Either Identity or MessagingBinding.Address must be provided")
        if address is not None and proxy is None:
            raise bad_param(
                "MessagingBinding.ProxyAddress is required with MessagingBinding.Address"
            )
        if address is not None and identity is not None:
            raise bad_param("Identity cannot be combined with MessagingBinding.Address")
        attributes = _json_attributes("Attributes", form.get("Attributes"))
        with self.lock:
            conv = self.get_conversation(conversation_sid)
            if conv.state == "closed":
                raise TwilioApiError(
                    409, 50434, f"Conversation {conv.sid} is closed and cannot be modified"
                )
            if address is not None and proxy is not None:
                if self.pool and proxy not in self.pool:
                    raise TwilioApiError(
                        400,
                        50407,
                        "Invalid messaging binding proxy address: "
                        "it is not a number of this account",
                    )
                owner = self._binding_owner(address, proxy)
                if owner is not None:
                    log.info("50416: %s/%s already in %s", mask(address), mask(proxy), owner.sid)
                    raise binding_exists(owner.sid)
            if identity is not None:
                for part in conv.participants.values():
                    if part.identity == identity:
                        raise TwilioApiError(409, 50433, "Participant already exists")
            now = self.clock.now()
            part = Participant(
                sid=new_sid("MB"),
                conversation_sid=conv.sid,
                identity=identity,
                address=address,
                proxy_address=proxy,
                projected_address=projected,
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
                mask(address) if address else "chat",
                mask(proxy),
            )
            if _webhook_enabled(webhook_enabled):
                self._emit(conv, "onParticipantAdded", self._participant_params(part))
            return part

    def get_participant(self, conversation_sid: str, sid: str) -> Participant:
        with self.lock:
            conv = self.get_conversation(conversation_sid)
            part = conv.participants.get(sid)
            if part is None:
                for candidate in conv.participants.values():
                    if candidate.identity == sid:
                        part = candidate
                        break
            if part is None:
                raise not_found(f"/v1/Conversations/{conversation_sid}/Participants/{sid}")
            return part

    def list_participants(self, conversation_sid: str) -> list[Participant]:
        with self.lock:
            return list(self.get_conversation(conversation_sid).participants.values())

    def update_participant(
        self, conversation_sid: str, sid: str, form: Form, webhook_enabled: str | None
    ) -> Participant:
        with self.lock:
            conv = self.get_conversation(conversation_sid)
            part = self.get_participant(conversation_sid, sid)
            if "Attributes" in form:
                part.attributes = _json_attributes("Attributes", form.get("Attributes"))
            if form.get("MessagingBinding.ProxyAddress"):
                proxy = form["MessagingBinding.ProxyAddress"]
                if part.address is None:
                    raise bad_param("Only an SMS participant has a proxy address")
                if proxy != part.proxy_address:
                    owner = self._binding_owner(part.address, proxy)
                    if owner is not None:
                        raise binding_exists(owner.sid)
                    part.proxy_address = proxy
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
            if _webhook_enabled(webhook_enabled):
                self._emit(conv, "onParticipantUpdated", self._participant_params(part))
            return part

    def delete_participant(
        self, conversation_sid: str, sid: str, webhook_enabled: str | None
    ) -> None:
        with self.lock:
            conv = self.get_conversation(conversation_sid)
            part = self.get_participant(conversation_sid, sid)
            del conv.participants[part.sid]
            if _webhook_enabled(webhook_enabled):
                self._emit(conv, "onParticipantRemoved", self._participant_params(part))

    def participant_conversations(
        self, address: str | None, identity: str | None
    ) -> list[tuple[Conversation, Participant]]:
        if not address and not identity:
            raise bad_param("Either Address or Identity must be provided")
        with self.lock:
            found = []
            for conv in self.conversations.values():
                for part in conv.participants.values():
                    if (address and part.address == address) or (
                        identity and part.identity == identity
                    ):
                        found.append((conv, part))
            return found

    # ----------------------------------------------------------------- messages
    def add_message(
        self,
        conversation_sid: str,
        form: Form,
        webhook_enabled: str | None,
        source: str = "API",
    ) -> Message:
        author = form.get("Author") or "system"
        body = form.get("Body")
        if body is None and not form.get("MediaSid") and not form.get("ContentSid"):
            raise bad_param("A message needs a Body, MediaSid or ContentSid")
        attributes = _json_attributes("Attributes", form.get("Attributes"))
        with self.lock:
            conv = self.get_conversation(conversation_sid)
            if conv.state == "closed":
                raise TwilioApiError(
                    409, 50434, f"Conversation {conv.sid} is closed and cannot be modified"
                )
            now = self.clock.now()
            author_part = self._author_participant(conv, author)
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
            )
            conv.next_index += 1
            conv.messages[msg.sid] = msg
            conv.last_activity = now
            conv.date_updated = now
            if conv.state == "inactive":
                # A new message wakes an inactive conversation up, as on Twilio.
                self._set_state(conv, "active", "EVENT", emit=True)
            if source != "API" or _webhook_enabled(webhook_enabled):
                self._emit(conv, "onMessageAdded", self._message_params(msg))
            self._route(conv, msg)
            return msg

    @staticmethod
    def _author_participant(conv: Conversation, author: str) -> Participant | None:
        for part in conv.participants.values():
            if author in (part.identity, part.address):
                return part
        return None

    def get_message(self, conversation_sid: str, sid: str) -> Message:
        with self.lock:
            conv = self.get_conversation(conversation_sid)
            msg = conv.messages.get(sid)
            if msg is None and sid.isdigit():
                msg = next((m for m in conv.messages.values() if m.index == int(sid)), None)
            if msg is None:
                raise not_found(f"/v1/Conversations/{conversation_sid}/Messages/{sid}")
            return msg

    def list_messages(self, conversation_sid: str, order: str | None) -> list[Message]:
        with self.lock:
            msgs = list(self.get_conversation(conversation_sid).messages.values())
        if (order or "asc").lower() == "desc":
            msgs.reverse()
        return msgs

    def update_message(
        self, conversation_sid: str, sid: str, form: Form, webhook_enabled: str | None
    ) -> Message:
        with self.lock:
            conv = self.get_conversation(conversation_sid)
            msg = self.get_message(conversation_sid, sid)
            if "Body" in form:
                msg.body = form.get("Body")
            if "Attributes" in form:
                msg.attributes = _json_attributes("Attributes", form.get("Attributes"))
            if form.get("Author"):
                msg.author = form["Author"]
            msg.date_updated = self.clock.now()
            if _webhook_enabled(webhook_enabled):
                params = self._message_params(msg)
                params["DateUpdated"] = iso(msg.date_updated) or ""
                params["ModifiedBy"] = "system"
                self._emit(conv, "onMessageUpdated", params)
            return msg

    def delete_message(self, conversation_sid: str, sid: str, webhook_enabled: str | None) -> None:
        with self.lock:
            conv = self.get_conversation(conversation_sid)
            msg = self.get_message(conversation_sid, sid)
            del conv.messages[msg.sid]
            if _webhook_enabled(webhook_enabled):
                params = self._message_params(msg)
                params["DateRemoved"] = iso(self.clock.now()) or ""
                params["RemovedBy"] = "system"
                self._emit(conv, "onMessageRemoved", params)

    def get_receipt(self, conversation_sid: str, message_sid: str, sid: str) -> Receipt:
        with self.lock:
            msg = self.get_message(conversation_sid, message_sid)
            receipt = msg.receipts.get(sid)
            if receipt is None:
                raise not_found(
                    f"/v1/Conversations/{conversation_sid}/Messages/{message_sid}/Receipts/{sid}"
                )
            return receipt

    def list_receipts(self, conversation_sid: str, message_sid: str) -> list[Receipt]:
        with self.lock:
            return list(self.get_message(conversation_sid, message_sid).receipts.values())

    # ----------------------------------------------------------------- webhooks
    def add_webhook(self, conversation_sid: str, form: Form) -> ScopedWebhook:
        target = form.get("Target")
        if target not in ("webhook", "trigger", "studio"):
            raise bad_param("Target must be one of webhook, trigger, studio")
        url = form.get("Configuration.Url") or None
        if target in ("webhook", "trigger") and not url:
            raise bad_param("Configuration.Url is required for this Target")
        if url is not None and not url.startswith(("http://", "https://")):
            raise bad_param("Configuration.Url must be an absolute http(s) URL")
        method = (form.get("Configuration.Method") or "POST").upper()
        if method not in ("GET", "POST"):
            raise bad_param("Configuration.Method must be GET or POST")
        filters = _getlist(form, "Configuration.Filters")
        unknown = [f for f in filters if f not in WEBHOOK_FILTERS]
        if unknown:
            raise bad_param(f"Unknown Configuration.Filters value: {unknown[0]}")
        replay = form.get("Configuration.ReplayAfter")
        try:
            replay_after = int(replay) if replay not in (None, "") else None
        except ValueError:
            raise bad_param("Configuration.ReplayAfter must be an integer") from None
        with self.lock:
            conv = self.get_conversation(conversation_sid)
            now = self.clock.now()
            hook = ScopedWebhook(
                sid=new_sid("WH"),
                conversation_sid=conv.sid,
                target=target,
                url=url,
                method=method,
                filters=filters,
                triggers=_getlist(form, "Configuration.Triggers"),
                flow_sid=form.get("Configuration.FlowSid") or None,
                replay_after=replay_after,
                date_created=now,
                date_updated=now,
            )
            conv.webhooks[hook.sid] = hook
            return hook

    def get_webhook(self, conversation_sid: str, sid: str) -> ScopedWebhook:
        with self.lock:
            hook = self.get_conversation(conversation_sid).webhooks.get(sid)
            if hook is None:
                raise not_found(f"/v1/Conversations/{conversation_sid}/Webhooks/{sid}")
            return hook

    def list_webhooks(self, conversation_sid: str) -> list[ScopedWebhook]:
        with self.lock:
            return list(self.get_conversation(conversation_sid).webhooks.values())

    def update_webhook(self, conversation_sid: str, sid: str, form: Form) -> ScopedWebhook:
        with self.lock:
            hook = self.get_webhook(conversation_sid, sid)
            if form.get("Configuration.Url"):
                hook.url = form["Configuration.Url"]
            if form.get("Configuration.Method"):
                method = form["Configuration.Method"].upper()
                if method not in ("GET", "POST"):
                    raise bad_param("Configuration.Method must be GET or POST")
                hook.method = method
            filters = _getlist(form, "Configuration.Filters")
            if filters:
                unknown = [f for f in filters if f not in WEBHOOK_FILTERS]
                if unknown:
                    raise bad_param(f"Unknown Configuration.Filters value: {unknown[0]}")
                hook.filters = filters
            triggers = _getlist(form, "Configuration.Triggers")
            if triggers:
                hook.triggers = triggers
            hook.date_updated = self.clock.now()
            return hook

    def delete_webhook(self, conversation_sid: str, sid: str) -> None:
        with self.lock:
            conv = self.get_conversation(conversation_sid)
            hook = self.get_webhook(conversation_sid, sid)
            del conv.webhooks[hook.sid]

    # ------------------------------------------------------------------ routing
    def _route(self, conv: Conversation, msg: Message) -> None:
        for part in conv.participants.values():
            if not part.is_sms:
                continue
            if msg.participant_sid == part.sid or msg.author in (part.address, part.identity):
                continue
            self.carrier.call_later(0, _bind(self._carrier_send, conv.sid, msg.sid, part.sid))

    def _carrier_send(self, conversation_sid: str, message_sid: str, participant_sid: str) -> None:
        with self.lock:
            conv = self.conversations.get(conversation_sid)
            msg = conv.messages.get(message_sid) if conv else None
            part = conv.participants.get(participant_sid) if conv else None
            if conv is None or msg is None or part is None:
                return  # removed before the carrier got to it
            assert part.address is not None and part.proxy_address is not None
            now = self.clock.now()
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
            if (part.address, part.proxy_address) in self.opted_out:
                receipt.status = "failed"
                receipt.error_code = OPTED_OUT_CODE
                log.info(
                    "message %s to %s blocked: opted out of %s",
                    msg.sid,
                    mask(part.address),
                    mask(part.proxy_address),
                )
                self._emit(conv, "onDeliveryUpdated", self._receipt_params(conv, receipt))
                return
            self._emit(conv, "onDeliveryUpdated", self._receipt_params(conv, receipt))
            error = self.faults.carrier_error(part.address)
        self.carrier.call_later(
            self.config.carrier_delay,
            _bind(self._carrier_finish, conversation_sid, message_sid, receipt.sid, error),
        )

    def _carrier_finish(
        self, conversation_sid: str, message_sid: str, receipt_sid: str, error: int | None
    ) -> None:
        with self.lock:
            conv = self.conversations.get(conversation_sid)
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
                receipt.error_code = 30005
            else:
                assert part.address is not None and part.proxy_address is not None
                self.handsets[part.address].append(
                    HandsetMessage(part.proxy_address, msg.body or "", now)
                )
                receipt.status = "delivered"
            self._emit(conv, "onDeliveryUpdated", self._receipt_params(conv, receipt))

    def _text_handset(self, phone: str, from_: str, body: str) -> None:
        def deliver() -> None:
            with self.lock:
                self.handsets[phone].append(HandsetMessage(from_, body, self.clock.now()))

        self.carrier.call_later(self.config.carrier_delay, deliver)

    # ------------------------------------------------------------------ inbound
    def inbound(self, from_: str, to: str, body: str) -> dict[str, Any]:
        """A phone texts a pool number."""
        for name, value in (("from", from_), ("to", to)):
            if not is_e164(value):
                raise bad_param(f"{name} must be an E.164 phone number")
        if to not in self.pool:
            raise bad_param("to must be one of the simulator's pool numbers")
        kind = twilio_opt_out_type(body)
        sms_sid = new_sid("SM")
        with self.lock:
            if kind == "STOP":
                self.opted_out.add((from_, to))
            elif kind == "START":
                self.opted_out.discard((from_, to))
            conv = self._binding_owner(from_, to)
            message_sid = None
            if conv is not None:
                msg = self.add_message(conv.sid, {"Author": from_, "Body": body}, None, "SMS")
                message_sid = msg.sid
            record = {
                "sid": sms_sid,
                "from": from_,
                "to": to,
                "body": body,
                "opt_out_type": kind,
                "conversation_sid": conv.sid if conv else None,
                "message_sid": message_sid,
            }
            self.inbound_log.append(record)
            webhook_url = self.webhook_url
        log.info(
            "inbound %s -> %s%s%s",
            mask(from_),
            mask(to),
            f" ({kind})" if kind else "",
            f" into {conv.sid}" if conv else "",
        )
        reply = {
            "HELP": self.config.help_reply,
            "STOP": self.config.stop_reply,
            "START": self.config.start_reply,
        }.get(kind or "")
        if reply:
            self._text_handset(from_, to, reply)
        if webhook_url:
            params = {
                "ToCountry": _region(to),
                "FromCountry": _region(from_),
                "SmsMessageSid": sms_sid,
                "SmsSid": sms_sid,
                "MessageSid": sms_sid,
                "SmsStatus": "received",
                "NumMedia": "0",
                "NumSegments": str(_segments(body)),
                "Body": body,
                "To": to,
                "From": from_,
                "AccountSid": self.config.account_sid,
                "MessagingServiceSid": self.config.messaging_service_sid,
                "ApiVersion": "2010-04-01",
            }
            if kind:
                params["OptOutType"] = kind
            self.dispatcher.submit(
                WebhookEvent(
                    url=webhook_url,
                    method="POST",
                    params=params,
                    kind="onIncomingMessage",
                    key=f"inbound:{from_}",
                    with_retry_count=False,
                    on_success=_bind(self._twiml_reply, from_, to),
                )
            )
        return record

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
                self._text_handset(phone, pool_number, body)

    # -------------------------------------------------------------- lookup/pool
    def lookup(self, raw: str, fields: Iterable[str], country: str | None) -> dict[str, Any]:
        wanted = {f.strip() for f in fields if f.strip()}
        try:
            parsed = phonenumbers.parse(raw, (country or "US").upper())
            e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            valid = phonenumbers.is_valid_number(parsed)
        except phonenumbers.NumberParseException:
            parsed, e164, valid = None, raw, False
        with self.lock:
            line_type = self.line_types.get(e164, "mobile")
        if line_type == "invalid":
            valid = False
        body: dict[str, Any] = {
            "calling_country_code": str(parsed.country_code) if parsed else None,
            "country_code": phonenumbers.region_code_for_number(parsed) if parsed else None,
            "phone_number": e164,
            "national_format": phonenumbers.format_number(
                parsed, phonenumbers.PhoneNumberFormat.NATIONAL
            )
            if parsed
            else None,
            "valid": valid,
            "validation_errors": []
            if valid
            else ["INVALID_BUT_POSSIBLE" if parsed else "NOT_A_NUMBER"],
            "caller_name": None,
            "sim_swap": None,
            "call_forwarding": None,
            "line_status": None,
            "line_type_intelligence": None,
            "identity_match": None,
            "reassigned_number": None,
            "sms_pumping_risk": None,
            "phone_number_quality_score": None,
            "pre_fill": None,
            "url": None,
        }
        if "line_type_intelligence" in wanted and valid:
            body["line_type_intelligence"] = {
                "carrier_name": "Simulated Carrier",
                "error_code": None,
                "mobile_country_code": "310",
                "mobile_network_code": "456",
                "type": line_type,
            }
        return body

    # ------------------------------------------------------------- webhook params
    def _emit(self, conv: Conversation, event_type: str, params: dict[str, str]) -> None:
        for hook in conv.webhooks.values():
            if hook.target != "webhook" or not hook.url or event_type not in hook.filters:
                continue
            full = {
                "AccountSid": conv.account_sid,
                "ChatServiceSid": conv.chat_service_sid,
                "ConversationSid": conv.sid,
                "EventType": event_type,
                **params,
                "WebhookSid": hook.sid,
                "WebhookType": "webhook",
            }
            self.dispatcher.submit(
                WebhookEvent(
                    url=hook.url, method=hook.method, params=full, kind=event_type, key=conv.sid
                )
            )

    def _message_params(self, msg: Message) -> dict[str, str]:
        params = {
            "MessageSid": msg.sid,
            "Index": str(msg.index),
            "Author": msg.author,
            "Body": msg.body or "",
            "Attributes": msg.attributes,
            "DateCreated": iso(msg.date_created) or "",
            "Source": msg.source,
        }
        if msg.participant_sid:
            params["ParticipantSid"] = msg.participant_sid
        conv = self.conversations.get(msg.conversation_sid)
        if conv is not None:
            params["MessagingServiceSid"] = conv.messaging_service_sid
        return params

    def _participant_params(self, part: Participant) -> dict[str, str]:
        params = {
            "ParticipantSid": part.sid,
            "Attributes": part.attributes,
            "DateCreated": iso(part.date_created) or "",
            "DateUpdated": iso(part.date_updated) or "",
            "Source": "API",
        }
        if part.identity:
            params["Identity"] = part.identity
        if part.address:
            params["MessagingBinding.Address"] = part.address
        if part.proxy_address:
            params["MessagingBinding.ProxyAddress"] = part.proxy_address
        return params

    def _conversation_params(self, conv: Conversation) -> dict[str, str]:
        params = {
            "MessagingServiceSid": conv.messaging_service_sid,
            "Attributes": conv.attributes,
            "State": conv.state,
            "DateCreated": iso(conv.date_created) or "",
            "DateUpdated": iso(conv.date_updated) or "",
            "Source": "API",
        }
        if conv.friendly_name:
            params["FriendlyName"] = conv.friendly_name
        if conv.unique_name:
            params["UniqueName"] = conv.unique_name
        return params

    def _receipt_params(self, conv: Conversation, receipt: Receipt) -> dict[str, str]:
        params = {
            "MessagingServiceSid": conv.messaging_service_sid,
            "MessageSid": receipt.message_sid,
            "DeliveryReceiptSid": receipt.sid,
            "ChannelMessageSid": receipt.channel_message_sid,
            "ParticipantSid": receipt.participant_sid,
            "Status": receipt.status,
            "DateCreated": iso(receipt.date_created) or "",
            "DateUpdated": iso(receipt.date_updated) or "",
        }
        if receipt.error_code is not None:
            params["ErrorCode"] = str(receipt.error_code)
        return params


def _getlist(form: Form, name: str) -> list[str]:
    if hasattr(form, "getlist"):
        return [v for v in form.getlist(name) if isinstance(v, str) and v]
    value = form.get(name)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _bind(fn: Callable[..., None], *args: Any) -> Callable[..., None]:
    def call(*more: Any) -> None:
        fn(*args, *more)

    return call


def is_e164(value: str) -> bool:
    return (
        isinstance(value, str)
        and value.startswith("+")
        and value[1:].isdigit()
        and 8 <= len(value) <= 16
    )


def _region(e164: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164)) or "US"
    except phonenumbers.NumberParseException:
        return "US"


def _segments(body: str) -> int:
    return max(int(analyze_segments(body).segments), 1)


def _iso_ms(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
