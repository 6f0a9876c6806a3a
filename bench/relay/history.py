"""A location's history written straight into the relay's tables (batch writes).

Leads, their conversations and their messages as the relay stores them (the
items `app.relay.lead_store`, `conversation_store` and `message_store` read), so
`GET /v1/snapshot` and `GET /v1/conversations/{sid}/messages` serve them. The
change log is left alone except when `log_messages` asks for the messages'
changes too (the baseline bootstrap replays the log). Used by
`bench/relay/bootstrap.py` and by the tests of the snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.relay.ddb import Tables

#: one lead's first contact to the next, and one message to the next in a thread
LEAD_SPACING = timedelta(minutes=1)
MESSAGE_SPACING = timedelta(seconds=1)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Dealer:
    retailer_id: str
    location_id: str
    web2text_number: str


def lead_id(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


def conversation_sid(i: int) -> str:
    return f"CH{i:032x}"


def lead_item(dealer: Dealer, i: int, at: datetime) -> dict[str, Any]:
    return {
        "LeadId": lead_id(i),
        "LeadType": "WEB2TEXT",
        "Status": "ACTIVE",
        "SchemaVersion": "2.0.0",
        "UniversalRetailerId": dealer.retailer_id,
        "Lead": {
            "LocationId": dealer.location_id,
            "PageUrl": "https://dealer.test/oak",
            "Name": f"Customer {i}",
            "PhoneNumber": f"+1312{i % 10_000_000:07d}",
            "PreferredMethodOfContact": "text",
            "CustomerMessage": "Is the oak flooring in stock?",
        },
        "DateSubmitted": iso(at),
        "LocationId": dealer.location_id,
        "Integrations": {
            "Twilio": {"SyncStatus": "SYNCED", "Data": {"ConversationSID": conversation_sid(i)}}
        },
        "PipelineStatus": "new",
        "Version": 1,
    }


def conversation_item(dealer: Dealer, i: int, last: datetime, count: int) -> dict[str, Any]:
    return {
        "ConversationSid": conversation_sid(i),
        "LocationId": dealer.location_id,
        "LocationIds": [dealer.location_id],
        "CustomerPhone": f"+1312{i % 10_000_000:07d}",
        "Web2TextNumber": dealer.web2text_number,
        "State": "active",
        "LeadIds": [lead_id(i)],
        "UnreadCount": 0,
        "LastMessageAt": iso(last),
        "LastMessagePreview": f"message {count - 1}",
        "CreatedAt": iso(last - MESSAGE_SPACING * count),
        "Version": 1,
    }


def message_item(dealer: Dealer, i: int, n: int, at: datetime) -> dict[str, Any]:
    inbound = n % 2 == 0
    return {
        "ConversationSid": conversation_sid(i),
        "MessageSid": f"IM{i:016x}{n:016x}",
        "LocationId": dealer.location_id,
        "Index": n,
        "Author": f"+1312{i % 10_000_000:07d}" if inbound else "staff",
        "AuthorKind": "customer" if inbound else "staff",
        "Body": f"message {n}",
        "Status": "delivered",
        "CreatedAt": iso(at),
        "Version": 1,
    }


def items(
    dealer: Dealer, leads: int, messages: int, now: datetime
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(table, item) of `leads` leads whose conversations share `messages` messages
    (spread evenly; the newest lead was submitted just before `now`)."""
    per, extra = divmod(messages, max(leads, 1))
    for i in range(leads):
        submitted = now - LEAD_SPACING * (leads - i)
        count = per + (1 if i < extra else 0)
        first = submitted + MESSAGE_SPACING
        yield "lead", lead_item(dealer, i, submitted)
        yield "conversation", conversation_item(
            dealer, i, first + MESSAGE_SPACING * max(count - 1, 0), max(count, 1))
        for n in range(count):
            yield "message", message_item(dealer, i, n, first + MESSAGE_SPACING * n)


def write_history(
    tables: Tables,
    dealer: Dealer,
    leads: int,
    messages: int,
    *,
    now: datetime | None = None,
    progress: Any = None,
) -> int:
    """Write the history with one batch writer per table; the items written."""
    now = now or datetime.now(UTC)
    targets = {"lead": tables.leads, "conversation": tables.conversations,
               "message": tables.messages}
    writers = {kind: table.batch_writer() for kind, table in targets.items()}
    written = 0
    try:
        for kind, item in items(dealer, leads, messages, now):
            writers[kind].put_item(Item=item)
            written += 1
            if progress is not None and written % 50_000 == 0:
                progress(written)
    finally:
        for writer in writers.values():
            writer.__exit__(None, None, None)
    return written
