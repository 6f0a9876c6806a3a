"""What a write to the mirror changed: the ids a UI refreshes, and new customer messages."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.sync.api import InboundMessage


@dataclass
class ApplyResult:
    lead_ids: set[str] = field(default_factory=set)
    conversation_sids: set[str] = field(default_factory=set)
    message_sids: set[str] = field(default_factory=set)
    location_ids: set[str] = field(default_factory=set)
    #: conversations of the messages in `message_sids`
    thread_sids: set[str] = field(default_factory=set)
    inbound: list[InboundMessage] = field(default_factory=list)
    #: outbox sends matched with the relay's message (local id -> message sid)
    confirmed: dict[str, str] = field(default_factory=dict)
    #: the photos (MediaSids) of messages new to this store, to fetch ahead of a paint
    media_sids: list[str] = field(default_factory=list)
    skipped: int = 0

    @property
    def empty(self) -> bool:
        return not (self.lead_ids or self.conversation_sids or self.message_sids
                    or self.location_ids)

    def add(self, other: ApplyResult) -> None:
        """Fold the result of another batch into this one."""
        self.lead_ids |= other.lead_ids
        self.conversation_sids |= other.conversation_sids
        self.message_sids |= other.message_sids
        self.location_ids |= other.location_ids
        self.thread_sids |= other.thread_sids
        self.inbound += other.inbound
        self.confirmed.update(other.confirmed)
        self.media_sids += other.media_sids
        self.skipped += other.skipped
