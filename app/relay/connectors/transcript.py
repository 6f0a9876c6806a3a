"""The conversation's messages as RLM notes and DHQ comments (connectors.md §3-4).

Read from the relay's own `Messages` table (every message of the conversation, in
Twilio's order; the original listed them all from Twilio on every sync). A message
is notable when its author is a phone number (the customer, the store's phone, or
a system message sent as one of them), or a staff member writing from the desktop
(noted as the store's Web2Text number with the staff member's name: the original
had no desktop).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Key

from app.relay.connectors.records import Item
from app.relay.ddb import all_items

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
#: messages that did not (or not yet) reach anyone
_NOT_SENT = frozenset({"scheduled", "canceled", "cancelled"})


@dataclass(frozen=True)
class TranscriptMessage:
    sid: str
    sender_phone: str
    sender_name: str
    body: str
    created_at: str
    media_files: tuple[str, ...] = ()

    def text(self) -> str:
        """The body with one `[MEDIA ATTACHMENT - <filename>]` line per attachment."""
        return self.body + "".join(f"\n[MEDIA ATTACHMENT - {f}]" for f in self.media_files)

    def details(self) -> dict[str, Any]:
        """What `ErrorInfo.Details.message` shows of it (no phone number in full)."""
        return {"sid": self.sid, "date_created": self.created_at, "sender": self.sender_name}


def _order(item: Item) -> tuple[int, int, str]:
    index = item.get("Index")
    return (0, int(index), "") if index is not None else (1, 0, str(item.get("CreatedAt") or ""))


def messages(tables: Any, conversation_sid: str) -> list[Item]:
    """Every stored message of the conversation in Twilio's order (its per-conversation
    `Index`: the relay's and Twilio's clocks differ, so times may not agree; messages
    without one last, by time)."""
    found = all_items(
        tables.messages.query,
        KeyConditionExpression=Key("ConversationSid").eq(conversation_sid),
    )
    return sorted(found, key=_order)


def notable(item: Item, lead: Item, conversation: Item | None) -> TranscriptMessage | None:
    """The note this message makes, or None when it is not part of the transcript."""
    if item.get("Placeholder") or item.get("Removed"):
        return None
    if str(item.get("Status", "")).lower() in _NOT_SENT:
        return None
    author = str(item.get("Author") or "")
    kind = str(item.get("AuthorKind") or "")
    info = lead.get("Lead") or {}
    if kind == "staff":
        phone = str((conversation or {}).get("Web2TextNumber") or "")
        name = str(item.get("StaffName") or "Dealer")
    else:
        phone = author
        if kind == "system":
            name = "System"
        elif author == info.get("PhoneNumber"):
            name = str(info.get("Name") or "Customer")
        else:
            name = "Dealer"
    if not _E164.match(phone):
        return None
    media = tuple(
        str(m.get("filename") or m.get("Filename") or "attachment")
        for m in item.get("Media") or []
        if isinstance(m, dict)
    )
    return TranscriptMessage(
        sid=str(item["MessageSid"]),
        sender_phone=phone,
        sender_name=name,
        body=str(item.get("Body") or ""),
        created_at=str(item.get("CreatedAt") or ""),
        media_files=media,
    )


def pending_notes(
    tables: Any, lead: Item, conversation: Item | None, synced: set[str]
) -> Iterator[TranscriptMessage]:
    """The notable messages not noted yet, oldest first."""
    if conversation is None:
        return
    for item in messages(tables, str(conversation["ConversationSid"])):
        if str(item.get("MessageSid")) in synced:
            continue
        note = notable(item, lead, conversation)
        if note is not None:
            yield note


def summary_topics(conversation: dict[str, Any]) -> str:
    topics = conversation.get("topics")
    if isinstance(topics, list) and topics:
        return ", ".join(str(t) for t in topics)
    return "No topics detected"
