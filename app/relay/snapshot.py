"""A compacted bootstrap: the current state of a key's locations, in pages.

A new desktop (no cursor, or one the change log no longer reaches) reads
`GET /v1/snapshot` instead of replaying the change log: every lead of its
locations (newest first, `ByLocation` index) with its conversation, as changes
of the feed (`Change` JSON, full states, versions), and for the first
`FIRST_THREADS` conversations of the first page (the top of the inbox) their
newest page of messages. Older
messages come from `GET /v1/conversations/{sid}/messages` when a thread is
opened (`app.sync` asks; the UI never calls the relay).

The first page fixes the feed cursor the desktop follows afterwards: the heads
of its locations *before* any state is read, so a change made while the pages
are read is delivered again by the feed (receivers ignore versions they hold).
The page token is opaque base64url JSON: that cursor, the location index, and
the leads query's `LastEvaluatedKey`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.conditions import Key

from app.relay import conversation_store, lead_store, message_store
from app.relay.bounds import feed_sized
from app.relay.change_records import InvalidCursor
from app.relay.changes import ChangeLog

#: leads per snapshot page (and at most)
DEFAULT_PAGE, MAX_PAGE = 500, 1000
#: messages per conversation in the first page, and per older-messages request (max)
THREAD_PAGE, MAX_THREAD_PAGE = 50, 200
#: conversations of the first page whose newest messages come with it
FIRST_THREADS = 50
#: conversations batch-read at once (BatchGetItem's limit)
_BATCH = 100
_TOKEN_VERSION = 1


class InvalidPageToken(InvalidCursor):
    reason = "invalid_page_token"


@dataclass
class SnapshotPage:
    changes: list[dict[str, Any]] = field(default_factory=list)
    cursor: str = ""
    next: str | None = None

    def wire(self) -> dict[str, Any]:
        return {"changes": self.changes, "cursor": self.cursor, "next": self.next}


def _change(entity: str, entity_id: str, location_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "entity": entity,
        "id": entity_id,
        "version": int(data.get("version") or 0),
        "locationId": location_id,
        "data": feed_sized(entity, data),
    }


def encode_token(cursor: str, index: int, start: dict[str, Any] | None) -> str:
    raw = json.dumps({"v": _TOKEN_VERSION, "c": cursor, "i": index, "k": start},
                     separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str) -> tuple[str, int, dict[str, Any] | None]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        obj = json.loads(raw)
        if obj.get("v") != _TOKEN_VERSION:
            raise ValueError
        cursor, index, start = str(obj["c"]), int(obj["i"]), obj.get("k")
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        raise InvalidPageToken("page token is not one this server issued") from None
    if index < 0 or (start is not None and not isinstance(start, dict)):
        raise InvalidPageToken("page token is not one this server issued")
    return cursor, index, start


def read_page(
    tables: Any,
    change_log: ChangeLog,
    locations: Sequence[str],
    token: str | None,
    limit: int = DEFAULT_PAGE,
) -> SnapshotPage:
    """One page of the snapshot of `locations` (sorted; the token holds an index)."""
    limit = max(1, min(int(limit), MAX_PAGE))
    if token:
        cursor, index, start = decode_token(token)
    else:
        cursor, index, start = change_log.latest_cursor(locations), 0, None
    page = SnapshotPage(cursor=cursor)
    if index >= len(locations):
        return page
    location_id = locations[index]
    leads, last_key = _leads(tables, location_id, limit, start)
    page.changes.extend(_change("lead", lv["leadId"], location_id, lv) for lv in leads)
    conversations = _conversations(tables, [lv["conversationSid"] for lv in leads])
    page.changes.extend(
        _change("conversation", cv["conversationSid"], location_id, cv) for cv in conversations
    )
    if not token:  # the top of the inbox: its threads' newest messages come along
        # the newest leads' threads (BatchGetItem answers in no particular order)
        sids = [lv["conversationSid"] for lv in leads if lv["conversationSid"]][:FIRST_THREADS]
        page.changes.extend(_newest_messages(tables, location_id, sids))
    if last_key is not None:
        page.next = encode_token(cursor, index, last_key)
    elif index + 1 < len(locations):
        page.next = encode_token(cursor, index + 1, None)
    return page


def _leads(
    tables: Any, location_id: str, limit: int, start: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    kwargs: dict[str, Any] = {
        "IndexName": "ByLocation",
        "KeyConditionExpression": Key("LocationId").eq(location_id),
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if start:
        kwargs["ExclusiveStartKey"] = start
    resp = tables.leads.query(**kwargs)
    views = [lead_store.lead_view(item) for item in resp.get("Items", [])]
    return views, resp.get("LastEvaluatedKey")


def _conversations(tables: Any, sids: Sequence[str | None]) -> list[dict[str, Any]]:
    wanted = list(dict.fromkeys(s for s in sids if s))
    name = tables.conversations.name
    out: list[dict[str, Any]] = []
    for begin in range(0, len(wanted), _BATCH):
        keys = [{"ConversationSid": sid} for sid in wanted[begin : begin + _BATCH]]
        request: dict[str, Any] = {name: {"Keys": keys}}
        while request:
            resp = tables.resource.batch_get_item(RequestItems=request)
            out.extend(
                conversation_store.conversation_view(item)
                for item in resp.get("Responses", {}).get(name, [])
            )
            request = resp.get("UnprocessedKeys") or {}
    return out


def _newest_messages(
    tables: Any, location_id: str, sids: Sequence[str]
) -> list[dict[str, Any]]:
    if not sids:
        return []
    with ThreadPoolExecutor(max_workers=8) as pool:
        pages = list(pool.map(
            lambda sid: older_messages(tables, location_id, sid, None, THREAD_PAGE), sids))
    return [change for page in pages for change in page]


def older_messages(
    tables: Any, location_id: str, conversation_sid: str, before: str | None, limit: int
) -> list[dict[str, Any]]:
    """Message changes of a conversation (shown under `location_id`) created before
    `before` (ISO; None: the newest), newest first, at most `limit`."""
    kwargs: dict[str, Any] = {
        "IndexName": "ByCreated",
        "ScanIndexForward": False,
        "Limit": max(1, min(int(limit), MAX_THREAD_PAGE)),
        "KeyConditionExpression": Key("ConversationSid").eq(conversation_sid)
        & Key("CreatedAt").lt(before)
        if before
        else Key("ConversationSid").eq(conversation_sid),
    }
    items = tables.messages.query(**kwargs).get("Items", [])
    views = [message_store.message_view(dict(item)) for item in items]
    return [_change("message", v["messageSid"], v["locationId"] or location_id, v) for v in views]
