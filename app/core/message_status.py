"""Order of a message's delivery status.

Twilio reports statuses through webhooks that may arrive twice or out of order
(`sent` after `delivered`). A message's status therefore only moves forward:
queued < sending < sent < delivered < read. `failed` and `undelivered` are final:
once seen, nothing changes the status again (a stray `delivered` after
`undelivered` is a carrier artefact, and the user must keep seeing the failure).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final


class MessageStatus(StrEnum):
    """Delivery status of one message (Twilio's spelling)."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    UNDELIVERED = "undelivered"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES

    @property
    def rank(self) -> int:
        """Position in the forward order; the final statuses rank above all others."""
        return _RANK[self]


FINAL_STATUSES: Final[frozenset[MessageStatus]] = frozenset(
    {MessageStatus.FAILED, MessageStatus.UNDELIVERED}
)

_RANK: Final[dict[MessageStatus, int]] = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.READ: 4,
    MessageStatus.FAILED: 5,
    MessageStatus.UNDELIVERED: 5,
}


def is_final(status: MessageStatus) -> bool:
    """`failed` or `undelivered`: the status never changes again."""
    return status in FINAL_STATUSES


def advance(current: MessageStatus, new: MessageStatus) -> MessageStatus:
    """The status after receiving `new` while holding `current`.

    Backward and repeated updates are ignored (the answer is `current`); a final
    status never changes. A failure may arrive after `sent` or even `delivered`
    (carriers do report that), so any non-final status may become final.
    """
    if current.is_final:
        return current
    if new.is_final or new.rank > current.rank:
        return new
    return current


def fold(
    statuses: Iterable[MessageStatus], start: MessageStatus = MessageStatus.QUEUED
) -> MessageStatus:
    """Apply `advance` to a sequence of updates, in arrival order."""
    current = start
    for status in statuses:
        current = advance(current, status)
    return current


def parse_status(text: str) -> MessageStatus | None:
    """The status named by a webhook's `Status`/`MessageStatus` field, or None if unknown.

    Twilio spells statuses in lower case; other casing and surrounding spaces are
    tolerated. Unknown values (e.g. `accepted`, `scheduled`) are not errors for
    the caller: it keeps the status it has.
    """
    key = text.strip().lower()
    key = _ALIASES.get(key, key)
    try:
        return MessageStatus(key)
    except ValueError:
        return None


#: Twilio Messaging statuses that mean "not yet handed to a carrier".
_ALIASES: Final[dict[str, str]] = {"accepted": "queued", "scheduled": "queued"}
