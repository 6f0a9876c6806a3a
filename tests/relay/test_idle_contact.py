"""When a conversation's idle time starts: the customer's last contact, its creation,
or the end of its setup (a lead that waited for a pool number starts afresh)."""

from __future__ import annotations

from datetime import UTC, datetime

from app.relay.idle import last_contact
from app.relay.versioned import iso_at

CREATED = "2026-12-07T09:00:00Z"
SUBMITTED = "2026-12-07T09:00:05Z"


def test_a_conversation_set_up_late_counts_from_its_setup() -> None:
    ready = datetime(2026, 12, 7, 11, 30, tzinfo=UTC)
    conv = {"CreatedAt": CREATED, "ReadyAt": iso_at(ready.timestamp()), "SetupDone": True}
    assert last_contact(conv, [{"DateSubmitted": SUBMITTED}]) == ready


def test_a_customer_text_after_setup_counts_from_the_text() -> None:
    conv = {"CreatedAt": CREATED, "ReadyAt": "2026-12-07T09:01:00Z",
            "LastInboundAt": "2026-12-07T10:15:00Z"}
    assert last_contact(conv, []) == datetime(2026, 12, 7, 10, 15, tzinfo=UTC)


def test_a_conversation_from_before_the_setup_time_counts_from_its_creation() -> None:
    assert last_contact({"CreatedAt": CREATED}, []) == datetime(2026, 12, 7, 9, tzinfo=UTC)
