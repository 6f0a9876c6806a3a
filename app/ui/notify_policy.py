"""Which desktop notifications to show for new customer messages. Pure logic, no Qt.

Rules:
- one notification per new customer message;
- several in one batch → one summary;
- nothing during the first catch-up after start (yesterday's messages are in the
  inbox, not worth a pop-up each); later catch-ups (after being offline) → one summary;
- nothing for the conversation open in a focused window (the user is looking at it);
- a message is never announced twice.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from app.sync.api import InboundMessage, InboundMessages


@dataclass(frozen=True)
class Notification:
    title: str
    body: str
    conversation_sid: str | None  # what clicking opens (None: the inbox)
    lead_id: str | None
    count: int


def _preview(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class NotificationPolicy:
    def __init__(self, remember: int = 5000) -> None:
        self.first_catch_up_done = False
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._remember = remember

    def catch_up_finished(self) -> None:
        """The engine reported it is online and caught up for the first time."""
        self.first_catch_up_done = True

    def decide(
        self,
        batch: InboundMessages,
        open_conversation_sid: str | None,
        window_focused: bool,
    ) -> list[Notification]:
        fresh = [m for m in batch.messages if m.message_sid not in self._seen]
        for m in fresh:
            self._seen[m.message_sid] = None
        while len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        if batch.during_catch_up and not self.first_catch_up_done:
            return []
        if window_focused and open_conversation_sid:
            fresh = [m for m in fresh if m.conversation_sid != open_conversation_sid]
        if not fresh:
            return []
        if len(fresh) == 1:
            m = fresh[0]
            return [
                Notification(
                    m.customer_name or "Customer",
                    _preview(m.body),
                    m.conversation_sid,
                    m.lead_id,
                    1,
                )
            ]
        return [self._summary(fresh)]

    @staticmethod
    def _summary(messages: Sequence[InboundMessage]) -> Notification:
        names: list[str] = []
        for m in messages:
            name = m.customer_name or "a customer"
            if name not in names:
                names.append(name)
        conversations = {m.conversation_sid for m in messages}
        if len(names) == 1:
            who = names[0]
        elif len(names) == 2:
            who = f"{names[0]} and {names[1]}"
        else:
            who = f"{names[0]}, {names[1]} and {len(names) - 2} more"
        single = next(iter(conversations)) if len(conversations) == 1 else None
        lead = messages[-1].lead_id if single else None
        return Notification(
            title=f"{len(messages)} new messages",
            body=f"From {who}",
            conversation_sid=single,
            lead_id=lead,
            count=len(messages),
        )
