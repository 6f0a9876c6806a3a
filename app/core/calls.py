"""What a phone call through a pool number says in its thread: pure, no I/O.

A call's outcome is `answered` (with its length) or `missed`; a missed call from
the customer is one staff must be told about (like a text)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CallDirection(StrEnum):
    FROM_CUSTOMER = "from_customer"  # the customer called their pool number
    FROM_STORE = "from_store"  # the store's phone called the customer's pool number


class CallOutcome(StrEnum):
    ANSWERED = "answered"
    MISSED = "missed"


@dataclass(frozen=True)
class CallSummary:
    direction: CallDirection
    outcome: CallOutcome
    duration_s: int
    text: str
    #: staff should be notified (a customer's call nobody answered)
    notify: bool

    def to_attributes(self, call_sid: str) -> dict[str, object]:
        return {
            "CallSid": call_sid,
            "Direction": self.direction.value,
            "Outcome": self.outcome.value,
            "Duration": self.duration_s,
        }


def format_duration(seconds: int) -> str:
    """`2:05`, `1:02:03`."""
    seconds = max(int(seconds), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def call_summary(direction: CallDirection, status: str, duration_s: int) -> CallSummary:
    """The thread's line for a call whose dialed leg ended with Twilio's `status`."""
    answered = status == "completed" and duration_s > 0
    outcome = CallOutcome.ANSWERED if answered else CallOutcome.MISSED
    length = format_duration(duration_s) if answered else ""
    if direction is CallDirection.FROM_CUSTOMER:
        text = (
            f"Phone call from the customer, answered ({length})"
            if answered
            else "Missed call from the customer"
        )
    else:
        text = (
            f"The store called the customer ({length})"
            if answered
            else "The store called the customer: no answer"
        )
    notify = direction is CallDirection.FROM_CUSTOMER and not answered
    return CallSummary(direction, outcome, duration_s if answered else 0, text, notify)
