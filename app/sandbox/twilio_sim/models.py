"""In-memory resources of the simulated Twilio account."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass
class Participant:
    sid: str
    conversation_sid: str
    identity: str | None
    address: str | None
    proxy_address: str | None
    projected_address: str | None
    attributes: str
    role_sid: str | None
    date_created: datetime
    date_updated: datetime
    last_read_message_index: int | None = None
    last_read_timestamp: str | None = None

    @property
    def is_sms(self) -> bool:
        return bool(self.address and self.proxy_address)


@dataclass
class Receipt:
    sid: str
    conversation_sid: str
    message_sid: str
    participant_sid: str
    channel_message_sid: str
    status: str
    error_code: int | None
    date_created: datetime
    date_updated: datetime


@dataclass
class Message:
    sid: str
    conversation_sid: str
    index: int
    author: str
    body: str | None
    attributes: str
    participant_sid: str | None
    source: str  # "API" or "SMS"
    date_created: datetime
    date_updated: datetime
    receipts: dict[str, Receipt] = field(default_factory=dict)
    media: list[Media] = field(default_factory=list)


@dataclass
class ScopedWebhook:
    sid: str
    conversation_sid: str
    target: str
    url: str | None
    method: str
    filters: list[str]
    triggers: list[str]
    flow_sid: str | None
    replay_after: int | None
    date_created: datetime
    date_updated: datetime


@dataclass
class Conversation:
    sid: str
    account_sid: str
    chat_service_sid: str
    messaging_service_sid: str
    friendly_name: str | None
    unique_name: str | None
    attributes: str
    state: str
    date_created: datetime
    date_updated: datetime
    timer_inactive: timedelta | None
    timer_closed: timedelta | None
    last_activity: datetime
    next_index: int = 0
    participants: dict[str, Participant] = field(default_factory=dict)
    messages: dict[str, Message] = field(default_factory=dict)
    webhooks: dict[str, ScopedWebhook] = field(default_factory=dict)

    @property
    def date_inactive(self) -> datetime | None:
        if self.timer_inactive is None or self.state != "active":
            return None
        return self.last_activity + self.timer_inactive

    @property
    def date_closed(self) -> datetime | None:
        if self.timer_closed is None or self.state == "closed":
            return None
        return self.last_activity + self.timer_closed


@dataclass
class Media:
    """A file in the Media Content Service (MCS) of the account's chat service."""

    sid: str
    service_sid: str
    content_type: str
    filename: str | None
    data: bytes
    author: str
    date_created: datetime
    message_sid: str | None = None
    conversation_sid: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class HandsetMessage:
    from_: str
    body: str
    at: datetime
    media: list[Media] = field(default_factory=list)


@dataclass
class HandsetCall:
    """A call that rang a phone: who it showed as calling, and how it ended."""

    from_: str
    at: datetime
    status: str  # completed (answered), no-answer
    duration: int  # seconds talked, 0 when not answered


@dataclass
class RecordedRequest:
    """An API request as the simulator received it (for conformance checks)."""

    method: str
    path: str
    route: str  # the path template, e.g. /v1/Conversations/{ConversationSid}/Messages
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]
    headers: dict[str, str]
