"""The local store's operations: mirror apply, outbox, queries.

Every function here takes a SQLAlchemy `Connection` as its first argument and
is blocking; the engine runs them on a `DbThread` (never on the event loop).
Write functions open exactly one transaction each.

Mirror rules: a change carries the entity's full state and version. A change
whose version is not greater than the stored one is ignored (duplicates and
reordering are normal); a message's status only moves forward
(`app.core.message_status.advance`). Local, not-yet-delivered edits (outbox
rows) are laid over the mirrored state so that an incoming change does not
briefly undo what the user just did.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from ulid import ULID

from app.core.message_status import MessageStatus, advance, parse_status
from app.sync.api import (
    MATCH_END,
    MATCH_START,
    ActivityItem,
    EngineError,
    InboundMessage,
    LeadDetail,
    LeadFilter,
    LeadRow,
    LocationRow,
    Me,
    NoteItem,
    SearchHit,
    ThreadMessage,
    ThreadStatus,
)
from app.sync.inbox import (
    count_leads_sql,
    fts_query,
    lead_row,
    list_leads_sql,
    match_words,
    parse_ts,
    unconfirmed_match,
)

log = logging.getLogger(__name__)


class Executor(Protocol):
    """What the mirror helpers need: a SQLAlchemy `Connection`, or `_RawConn` on the
    apply hot path (the driver connection inside the same transaction)."""

    def exec_driver_sql(self, sql: str, params: Any = ..., /) -> Any: ...

# outbox kinds
SEND_MESSAGE = "send_message"
UPDATE_LEAD = "update_lead"
MARK_READ = "mark_read"

# outbox states
PENDING = "pending"
INFLIGHT = "inflight"
FAILED = "failed"

#: local message statuses (before the relay's own statuses take over)
LOCAL_STATUSES = frozenset({ThreadStatus.PENDING.value, ThreadStatus.FAILED_LOCAL.value,
                            ThreadStatus.ACCEPTED.value})


def now_iso() -> str:
    return datetime.now(UTC).isoformat()



_UTC_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?(?:Z|\+00:00)")


def norm_ts(value: Any) -> str | None:
    """Timestamps are stored as UTC ISO text so that they sort as strings."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and _UTC_Z.fullmatch(value):
        # already UTC in the canonical shape (the relay's own format): no parsing
        return value if value[-1] != "Z" else value[:-1] + "+00:00"
    if isinstance(value, datetime):
        dt = value
    else:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat()


def _g(d: dict[str, Any], camel: str, snake: str | None = None, default: Any = None) -> Any:
    """A field of a change's data by its JSON (camelCase) name, or its snake_case name."""
    if camel in d:
        return d[camel]
    if snake is not None and snake in d:
        return d[snake]
    return default


# --------------------------------------------------------------------------- meta


def get_meta(conn: sa.Connection, key: str) -> str | None:
    row = conn.exec_driver_sql("SELECT value FROM meta WHERE key = ?", (key,)).first()
    if conn.in_transaction():
        conn.rollback()
    return None if row is None else str(row[0])


def _set_meta(conn: Executor, key: str, value: str) -> None:
    conn.exec_driver_sql(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def set_meta(conn: sa.Connection, key: str, value: str) -> None:
    with conn.begin():
        _set_meta(conn, key, value)


def get_me(conn: sa.Connection) -> Me | None:
    raw = get_meta(conn, "me")
    if raw is None:
        return None
    d = json.loads(raw)
    return Me(
        staff_id=d["staffId"],
        name=d["name"],
        retailer_id=d["retailerId"],
        location_ids=tuple(d.get("locationIds", ())),
    )


def save_me(conn: sa.Connection, staff: dict[str, Any]) -> tuple[Me, set[str]]:
    """Store `/v1/me` (and the locations it lists); returns the Me and touched location ids."""
    locations = _g(staff, "locations", default=[]) or []
    me = Me(
        staff_id=str(_g(staff, "staffId", "staff_id")),
        name=str(_g(staff, "name")),
        retailer_id=str(_g(staff, "retailerId", "retailer_id")),
        location_ids=tuple(str(_g(loc, "locationId", "location_id")) for loc in locations),
    )
    touched: set[str] = set()
    with conn.begin():
        _set_meta(conn, "me", json.dumps({
            "staffId": me.staff_id, "name": me.name, "retailerId": me.retailer_id,
            "locationIds": list(me.location_ids),
        }))
        for loc in locations:
            if _apply_location(conn, loc, int(_g(loc, "version", default=0) or 0)):
                touched.add(str(_g(loc, "locationId", "location_id")))
    return me, touched


# --------------------------------------------------------------------------- mirror apply


@dataclass
class ApplyResult:
    lead_ids: set[str] = field(default_factory=set)
    conversation_sids: set[str] = field(default_factory=set)
    message_sids: set[str] = field(default_factory=set)
    location_ids: set[str] = field(default_factory=set)
    inbound: list[InboundMessage] = field(default_factory=list)
    #: outbox sends matched with the relay's message (local id -> message sid)
    confirmed: dict[str, str] = field(default_factory=dict)
    skipped: int = 0

    @property
    def empty(self) -> bool:
        return not (self.lead_ids or self.conversation_sids or self.message_sids
                    or self.location_ids)


class MalformedChange(ValueError):
    pass


def _apply_location(conn: Executor, d: dict[str, Any], version: int) -> bool:
    res = conn.exec_driver_sql(
        """INSERT INTO locations (location_id, retailer_id, name, web2text_number,
               store_number, timezone, version, data)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (location_id) DO UPDATE SET
               retailer_id = excluded.retailer_id, name = excluded.name,
               web2text_number = excluded.web2text_number,
               store_number = excluded.store_number, timezone = excluded.timezone,
               version = excluded.version, data = excluded.data
           WHERE excluded.version > locations.version""",
        (
            str(d["locationId"] if "locationId" in d else d["location_id"]),
            str(_g(d, "retailerId", "retailer_id", "")),
            str(_g(d, "name", default="")),
            str(_g(d, "web2textNumber", "web2text_number", "")),
            _g(d, "storeNumber", "store_number"),
            _g(d, "timezone"),
            version,
            json.dumps(d),
        ),
    )
    return bool(res.rowcount)


_LEAD_SQL = """INSERT INTO leads (lead_id, retailer_id, location_id, conversation_sid, status,
        pipeline_status, assignee_id, assignee_name, name, phone, date_submitted,
        last_activity_at, first_staff_reply_at, possible_opt_out, opted_out, version, data)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (lead_id) DO UPDATE SET
        retailer_id = excluded.retailer_id, location_id = excluded.location_id,
        conversation_sid = excluded.conversation_sid, status = excluded.status,
        pipeline_status = excluded.pipeline_status, assignee_id = excluded.assignee_id,
        assignee_name = excluded.assignee_name, name = excluded.name, phone = excluded.phone,
        date_submitted = excluded.date_submitted, last_activity_at = excluded.last_activity_at,
        first_staff_reply_at = excluded.first_staff_reply_at,
        possible_opt_out = excluded.possible_opt_out, opted_out = excluded.opted_out,
        version = excluded.version, data = excluded.data
    WHERE excluded.version > leads.version"""


def _lead_params(d: dict[str, Any], version: int) -> tuple[Any, ...]:
    customer = _g(d, "customer", default={}) or {}
    submitted = norm_ts(_g(d, "dateSubmitted", "date_submitted"))
    if submitted is None:
        raise MalformedChange("lead without dateSubmitted")
    return (
        str(d["leadId"] if "leadId" in d else d["lead_id"]),
        str(_g(d, "retailerId", "retailer_id", "")),
        str(_g(d, "locationId", "location_id")),
        _g(d, "conversationSid", "conversation_sid"),
        str(_g(d, "status", default="ACTIVE")),
        str(_g(d, "pipelineStatus", "pipeline_status", "new")),
        _g(d, "assigneeId", "assignee_id"),
        _g(d, "assigneeName", "assignee_name"),
        str(customer.get("name", "")),
        str(customer.get("phone", "")),
        submitted,
        norm_ts(_g(d, "lastActivityAt", "last_activity_at")) or submitted,
        norm_ts(_g(d, "firstStaffReplyAt", "first_staff_reply_at")),
        1 if _g(d, "possibleOptOut", "possible_opt_out") else 0,
        1 if _g(d, "optedOut", "opted_out") else 0,
        version,
        json.dumps(d),
    )


_CONV_SQL = """INSERT INTO conversations (conversation_sid, location_id, customer_phone,
        web2text_number, state, unread_count, last_message_at, last_message_preview,
        opted_out, version, data)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (conversation_sid) DO UPDATE SET
        location_id = excluded.location_id, customer_phone = excluded.customer_phone,
        web2text_number = excluded.web2text_number, state = excluded.state,
        unread_count = excluded.unread_count, last_message_at = excluded.last_message_at,
        last_message_preview = excluded.last_message_preview, opted_out = excluded.opted_out,
        version = excluded.version, data = excluded.data
    WHERE excluded.version > conversations.version"""


def _conv_params(d: dict[str, Any], version: int) -> tuple[Any, ...]:
    return (
        str(d["conversationSid"] if "conversationSid" in d else d["conversation_sid"]),
        str(_g(d, "locationId", "location_id")),
        str(_g(d, "customerPhone", "customer_phone", "")),
        str(_g(d, "web2textNumber", "web2text_number", "")),
        str(_g(d, "state", default="active")),
        int(_g(d, "unreadCount", "unread_count", 0) or 0),
        norm_ts(_g(d, "lastMessageAt", "last_message_at")),
        _g(d, "lastMessagePreview", "last_message_preview"),
        1 if _g(d, "optedOut", "opted_out") else 0,
        version,
        json.dumps(d),
    )


def _merge_status(current: str, new: str) -> str:
    if current in LOCAL_STATUSES:
        return new
    cur = parse_status(current)
    nxt = parse_status(new)
    if cur is None:
        return new
    if nxt is None:
        return current
    return advance(MessageStatus(cur), MessageStatus(nxt)).value


def _dedupe_messages(
    items: list[tuple[dict[str, Any], int]],
) -> list[tuple[dict[str, Any], int, str]]:
    """One entry per message SID: the highest version, with statuses folded forward."""
    best: dict[str, tuple[dict[str, Any], int, str]] = {}
    for d, version in items:
        sid = str(_g(d, "messageSid", "message_sid"))
        status = str(_g(d, "status", default="queued"))
        seen = best.get(sid)
        if seen is None:
            best[sid] = (d, version, status)
            continue
        merged = _merge_status(seen[2], status)
        best[sid] = (d, version, merged) if version > seen[1] else (seen[0], seen[1], merged)
    return list(best.values())


def _apply_messages(
    conn: Executor, items: list[tuple[dict[str, Any], int]], result: ApplyResult
) -> None:
    if not items:
        return
    unique = _dedupe_messages(items)
    result.skipped += len(items) - len(unique)
    sids = [str(_g(d, "messageSid", "message_sid")) for d, _, _ in unique]
    keys = [k for k in (_g(d, "idempotencyKey", "idempotency_key") for d, _, _ in unique) if k]
    existing_by_sid: dict[str, tuple[Any, ...]] = {}
    existing_by_key: dict[str, tuple[Any, ...]] = {}
    select = ("SELECT id, message_sid, idempotency_key, status, version, local_id "
              "FROM messages WHERE {col} IN ({marks})")
    for chunk in _chunks(sids, 900):
        sql = select.format(col="message_sid", marks=",".join("?" * len(chunk)))
        for found in conn.exec_driver_sql(sql, tuple(chunk)):
            existing_by_sid[found[1]] = tuple(found)
    for chunk in _chunks(keys, 900):
        # a message of ours has its idempotency key as its local id (migration 0005)
        sql = select.format(col="local_id", marks=",".join("?" * len(chunk)))
        for found in conn.exec_driver_sql(sql + " AND idempotency_key = local_id", tuple(chunk)):
            existing_by_key[found[2]] = tuple(found)

    inserts: list[tuple[Any, ...]] = []
    new_customer: list[dict[str, Any]] = []
    for (d, version, status), sid in zip(unique, sids, strict=True):
        key = _g(d, "idempotencyKey", "idempotency_key")
        row = existing_by_sid.get(sid)
        if row is None and key:
            # our own send coming back from the relay: the pending row takes its SID
            # (once: another message carrying the same key is not ours)
            row = existing_by_key.pop(key, None)
            if row is not None and row[1] is not None:
                row = None
        if row is None:
            # the key is kept only on our own rows: the relay may reuse one key on
            # several messages it writes (e.g. a lead's greeting and store notice)
            # a mirrored message's local id is its SID (unique already; no ULID to make)
            inserts.append(_message_insert(d, sid, sid, None, status, version))
            result.message_sids.add(sid)
            if str(_g(d, "authorKind", "author_kind")) == "customer":
                new_customer.append(d)
            continue
        rid, old_sid, _old_key, old_status, old_version, local_id = row
        if version <= old_version:
            result.skipped += 1
            continue
        merged = _merge_status(str(old_status), status)
        conn.exec_driver_sql(
            """UPDATE messages SET message_sid = ?, location_id = ?, idx = ?, author = ?,
                   author_kind = ?, staff_id = ?, staff_name = ?, body = ?, status = ?,
                   error_code = ?, error_reason = ?, created_at = ?, version = ?
               WHERE id = ?""",
            (
                sid, _g(d, "locationId", "location_id"), _g(d, "index"),
                str(_g(d, "author", default="")), str(_g(d, "authorKind", "author_kind")),
                _g(d, "staffId", "staff_id"), _g(d, "staffName", "staff_name"),
                str(_g(d, "body", default="")), merged,
                _g(d, "errorCode", "error_code"), _g(d, "errorReason", "error_reason"),
                norm_ts(_g(d, "createdAt", "created_at")) or now_iso(), version, rid,
            ),
        )
        if old_sid is None:
            result.confirmed[str(local_id)] = sid
        result.message_sids.add(sid)
    if inserts:
        conn.exec_driver_sql(
            """INSERT INTO messages (local_id, message_sid, idempotency_key, conversation_sid,
                   location_id, idx, author, author_kind, staff_id, staff_name, body, status,
                   error_code, error_reason, created_at, version)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            inserts,
        )
    if new_customer:
        result.inbound.extend(_inbound_of(conn, new_customer))


def _message_insert(
    d: dict[str, Any], sid: str, local_id: str, key: Any, status: str, version: int
) -> tuple[Any, ...]:
    created = norm_ts(_g(d, "createdAt", "created_at"))
    if created is None:
        raise MalformedChange("message without createdAt")
    return (
        local_id, sid, key or None,
        str(d["conversationSid"] if "conversationSid" in d else d["conversation_sid"]),
        _g(d, "locationId", "location_id"), _g(d, "index"),
        str(_g(d, "author", default="")), str(_g(d, "authorKind", "author_kind")),
        _g(d, "staffId", "staff_id"), _g(d, "staffName", "staff_name"),
        str(_g(d, "body", default="")), status,
        _g(d, "errorCode", "error_code"), _g(d, "errorReason", "error_reason"),
        created, version,
    )


def _inbound_of(conn: Any, messages: list[dict[str, Any]]) -> list[InboundMessage]:
    """Notifications for new customer messages, named after their conversation's newest lead."""
    convs = sorted({str(_g(d, "conversationSid", "conversation_sid")) for d in messages})
    newest: dict[str, tuple[str, str]] = {}
    for chunk in _chunks(convs, 900):
        marks = ",".join("?" * len(chunk))
        for conv, lead_id, name in conn.exec_driver_sql(
                f"SELECT conversation_sid, lead_id, name FROM leads "
                f"WHERE conversation_sid IN ({marks}) ORDER BY date_submitted", tuple(chunk)):
            newest[conv] = (lead_id, name)
    out = []
    for d in messages:
        conv = str(_g(d, "conversationSid", "conversation_sid"))
        lead = newest.get(conv)
        out.append(InboundMessage(
            message_sid=str(_g(d, "messageSid", "message_sid")),
            conversation_sid=conv,
            lead_id=None if lead is None else str(lead[0]),
            customer_name=str(lead[1]) if lead is not None else str(_g(d, "author", default="")),
            location_id=str(_g(d, "locationId", "location_id", "")),
            body=str(_g(d, "body", default="")),
            at=parse_ts(norm_ts(_g(d, "createdAt", "created_at"))) or datetime.now(UTC),
        ))
    return out


def _chunks(seq: Sequence[str], n: int) -> Iterable[Sequence[str]]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def apply_changes(
    conn: sa.Connection, changes: Sequence[dict[str, Any]], cursor: str | None
) -> ApplyResult:
    """Apply one batch of changes and the new cursor in one transaction.

    Should the batch break a constraint (data no relay should send), it is
    applied change by change instead, skipping the offending ones: one bad
    change must not stop the feed forever.
    """
    try:
        return _apply_batch(conn, changes, cursor)
    except sqlite3.IntegrityError as exc:
        log.warning("batch of %d changes failed (%s); applying one by one", len(changes), exc)
    total = ApplyResult()
    for change in changes:
        try:
            one = _apply_batch(conn, [change], None)
        except sqlite3.IntegrityError as exc:
            total.skipped += 1
            log.warning("skipping change %s/%s: %s", change.get("entity"), change.get("id"), exc)
            continue
        total.lead_ids |= one.lead_ids
        total.conversation_sids |= one.conversation_sids
        total.message_sids |= one.message_sids
        total.location_ids |= one.location_ids
        total.inbound += one.inbound
        total.confirmed.update(one.confirmed)
        total.skipped += one.skipped
    if cursor is not None:
        with conn.begin():
            _set_meta(conn, "cursor", cursor)
            _set_meta(conn, "last_synced_at", now_iso())
    return total


def _apply_batch(
    conn: sa.Connection, changes: Sequence[dict[str, Any]], cursor: str | None
) -> ApplyResult:
    result = ApplyResult()
    leads: list[tuple[Any, ...]] = []
    convs: list[tuple[Any, ...]] = []
    messages: list[tuple[dict[str, Any], int]] = []
    locations: list[tuple[dict[str, Any], int]] = []
    for change in changes:
        try:
            entity = change["entity"]
            data = change["data"]
            version = int(change["version"])
            if entity == "lead":
                leads.append(_lead_params(data, version))
            elif entity == "conversation":
                convs.append(_conv_params(data, version))
            elif entity == "message":
                if not _g(data, "messageSid", "message_sid"):
                    raise MalformedChange("message without messageSid")
                messages.append((data, version))
            elif entity == "location":
                locations.append((data, version))
            else:
                result.skipped += 1  # a newer relay's entity kind: not ours to mirror
        except (KeyError, TypeError, ValueError) as exc:
            result.skipped += 1
            log.warning("skipping malformed change %s/%s: %s",
                        change.get("entity") if isinstance(change, dict) else "?",
                        change.get("id") if isinstance(change, dict) else "?", exc)
    with _driver_tx(conn) as cur:
        ex = _RawConn(cur.connection)  # hot path, see _driver_tx
        for loc, version in locations:
            if _apply_location(ex, loc, version):
                result.location_ids.add(str(_g(loc, "locationId", "location_id")))
        for params in leads:
            if ex.exec_driver_sql(_LEAD_SQL, params).rowcount:
                result.lead_ids.add(params[0])
            else:
                result.skipped += 1
        for params in convs:
            if ex.exec_driver_sql(_CONV_SQL, params).rowcount:
                result.conversation_sids.add(params[0])
            else:
                result.skipped += 1
        # leads first so that inbound notifications can name the customer
        _apply_messages(ex, messages, result)
        _overlay_pending(ex, result.lead_ids, result.conversation_sids)
        if cursor is not None:
            _set_meta(ex, "cursor", cursor)
            _set_meta(ex, "last_synced_at", now_iso())
    return result


def _overlay_pending(conn: Executor, lead_ids: set[str], conv_sids: set[str]) -> None:
    """Re-apply queued local edits over freshly mirrored rows."""
    if not lead_ids and not conv_sids:
        return
    rows = conn.exec_driver_sql(
        "SELECT kind, lead_id, conversation_sid, payload FROM outbox "
        "WHERE state != 'failed' AND kind IN ('update_lead', 'mark_read') ORDER BY seq"
    ).fetchall()
    for kind, lead_id, conv_sid, payload in rows:
        if kind == UPDATE_LEAD and lead_id in lead_ids:
            _apply_lead_patch_locally(conn, lead_id, json.loads(payload))
        elif kind == MARK_READ and conv_sid in conv_sids:
            conn.exec_driver_sql(
                "UPDATE conversations SET unread_count = 0 WHERE conversation_sid = ?",
                (conv_sid,))


def _apply_lead_patch_locally(conn: Executor, lead_id: str, payload: dict[str, Any]) -> None:
    patch = payload["patch"]
    if "status" in patch:
        conn.exec_driver_sql(
            "UPDATE leads SET pipeline_status = ? WHERE lead_id = ?", (patch["status"], lead_id))
    if "assigneeId" in patch:
        conn.exec_driver_sql(
            "UPDATE leads SET assignee_id = ?, assignee_name = ? WHERE lead_id = ?",
            (patch["assigneeId"], payload.get("assigneeName"), lead_id))


def cursor_of(conn: sa.Connection) -> str | None:
    return get_meta(conn, "cursor") or None


# --------------------------------------------------------------------------- outbox: enqueue


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    outbox_id: str
    kind: str
    lane: str
    conversation_sid: str | None
    lead_id: str | None
    idempotency_key: str
    payload: dict[str, Any]
    state: str
    attempts: int
    next_attempt_at: float
    reason: str | None
    error_message: str | None

    @classmethod
    def of(cls, row: Any) -> OutboxRow:
        return cls(
            seq=row.seq, outbox_id=row.outbox_id, kind=row.kind, lane=row.lane,
            conversation_sid=row.conversation_sid, lead_id=row.lead_id,
            idempotency_key=row.idempotency_key, payload=json.loads(row.payload),
            state=row.state, attempts=row.attempts, next_attempt_at=row.next_attempt_at,
            reason=row.reason, error_message=row.error_message,
        )

    @property
    def local_message_id(self) -> str | None:
        value = self.payload.get("localId")
        return None if value is None else str(value)


class _RawResult:
    """The few `CursorResult` methods this module uses, over a sqlite3 cursor."""

    def __init__(self, cur: sqlite3.Cursor) -> None:
        self._cur = cur
        self.rowcount = cur.rowcount

    def first(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()

    def scalar_one(self) -> Any:
        row = self._cur.fetchone()
        assert row is not None
        return row[0]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cur)


class _RawConn:
    """`exec_driver_sql` straight on the sqlite3 connection (see `_driver_tx`)."""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self._raw = raw

    def exec_driver_sql(self, sql: str, params: Any = ()) -> _RawResult:
        if isinstance(params, list):
            return _RawResult(self._raw.executemany(sql, params))
        return _RawResult(self._raw.execute(sql, params))


@contextlib.contextmanager
def _driver_tx(conn: sa.Connection) -> Iterator[sqlite3.Cursor]:
    """One `BEGIN IMMEDIATE … COMMIT` on the driver connection, for the hottest path.

    Sending a message is what the user waits on; SQLAlchemy's per-statement
    machinery costs more than the two inserts themselves, so this path talks
    to sqlite3 directly (same connection, same pragmas, same durability).
    """
    if conn.in_transaction():
        conn.rollback()
    raw = conn.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    cur = raw.cursor()
    cur.execute("BEGIN IMMEDIATE")
    try:
        yield cur
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    else:
        cur.execute("COMMIT")
    finally:
        cur.close()


_OUTBOX_INSERT = """INSERT INTO outbox (outbox_id, kind, lane, conversation_sid, lead_id,
        idempotency_key, payload, state, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)"""


def enqueue_send(
    conn: sa.Connection, conversation_sid: str, body: str, me: Me | None
) -> ThreadMessage:
    """The pending message and its outbox row, in one durable transaction."""
    if not body.strip():
        raise EngineError("empty_body", "the message is empty")
    if not conversation_sid.strip():
        raise EngineError("invalid_conversation", "no conversation given")
    # One identity for the queued send: its ULID names the message, its outbox row
    # and the idempotency key the relay sees (born with the local effect). The
    # relay's copy of the message is matched to this row by local id = key
    # (migration 0005: no index of its own on the key), and one ULID instead of
    # three is a tenth of the enqueue's time.
    local_id = outbox_id = key = str(ULID())
    created = now_iso()
    author_name = me.name if me else "You"
    with _driver_tx(conn) as cur:
        cur.execute(
            _OUTBOX_INSERT,
            (outbox_id, SEND_MESSAGE, "c:" + conversation_sid, conversation_sid, None, key,
             json.dumps({"body": body, "localId": local_id}), created),
        )
        cur.execute(
            """INSERT INTO messages (local_id, idempotency_key, conversation_sid, location_id,
                   author, author_kind, staff_id, staff_name, body, status, created_at,
                   version, outbox_id)
               VALUES (?, ?, ?, (SELECT location_id FROM conversations
                                 WHERE conversation_sid = ?),
                       ?, 'staff', ?, ?, ?, 'pending', ?, 0, ?)""",
            (local_id, key, conversation_sid, conversation_sid,
             me.staff_id if me else "", me.staff_id if me else None, author_name, body,
             created, outbox_id),
        )
    return ThreadMessage(
        local_id=local_id, message_sid=None, conversation_sid=conversation_sid,
        author_kind="staff", author_name=author_name, body=body,
        created_at=parse_ts(created) or datetime.now(UTC), status=ThreadStatus.PENDING.value,
        outbox_id=outbox_id,
    )


_UNSET: Any = object()


def enqueue_update_lead(
    conn: sa.Connection,
    lead_id: str,
    *,
    status: Any = _UNSET,
    assignee_id: Any = _UNSET,
    assignee_name: str | None = None,
    note: str | None = None,
    me: Me | None = None,
) -> str:
    """Apply a lead edit locally and queue it with the version it was based on."""
    with conn.begin():
        row = conn.exec_driver_sql(
            "SELECT version, pipeline_status, assignee_id, data FROM leads WHERE lead_id = ?",
            (lead_id,)).first()
        if row is None:
            raise EngineError("lead_not_found", f"no lead {lead_id} in the local store")
        version, cur_status, cur_assignee, _data = row
        patch: dict[str, Any] = {}
        base: dict[str, Any] = {}
        if status is not _UNSET:
            patch["status"] = str(status)
            base["status"] = cur_status
        if assignee_id is not _UNSET:
            patch["assigneeId"] = assignee_id
            base["assigneeId"] = cur_assignee
        if note is not None:
            if not note.strip():
                raise EngineError("empty_note", "the note is empty")
            patch["note"] = note
        if not patch:
            raise EngineError("empty_update", "nothing to change")
        payload = {"patch": patch, "base": base, "baseVersion": int(version),
                   "assigneeName": assignee_name, "noteAt": now_iso(),
                   "noteAuthor": me.name if me else None}
        outbox_id = str(ULID())
        conn.exec_driver_sql(
            _OUTBOX_INSERT,
            (outbox_id, UPDATE_LEAD, "l:" + lead_id, None, lead_id, str(ULID()),
             json.dumps(payload), now_iso()),
        )
        _apply_lead_patch_locally(conn, lead_id, payload)
    return outbox_id


def enqueue_mark_read(conn: sa.Connection, conversation_sid: str) -> str | None:
    """Zero the unread count and queue the read receipt (one pending receipt per conversation)."""
    with conn.begin():
        conn.exec_driver_sql(
            "UPDATE conversations SET unread_count = 0 WHERE conversation_sid = ?",
            (conversation_sid,))
        waiting = conn.exec_driver_sql(
            "SELECT outbox_id FROM outbox WHERE kind = 'mark_read' AND lane = ? "
            "AND state = 'pending'", ("c:" + conversation_sid,)).first()
        if waiting is not None:
            return str(waiting[0])
        outbox_id = str(ULID())
        conn.exec_driver_sql(
            _OUTBOX_INSERT,
            (outbox_id, MARK_READ, "c:" + conversation_sid, conversation_sid, None, str(ULID()),
             "{}", now_iso()),
        )
    return outbox_id


# --------------------------------------------------------------------------- outbox: delivery


def requeue_inflight(conn: sa.Connection) -> int:
    """Rows in flight when the last process died go back to the queue (same key)."""
    with conn.begin():
        res = conn.exec_driver_sql(
            # an interrupted attempt is not a failure: it does not grow the backoff
            "UPDATE outbox SET state = 'pending', next_attempt_at = 0, "
            "attempts = max(0, attempts - 1) WHERE state = 'inflight'")
    return int(res.rowcount)


def expedite_pending(conn: sa.Connection) -> int:
    """The relay is reachable again: rows waiting out a backoff may go now."""
    with conn.begin():
        res = conn.exec_driver_sql(
            "UPDATE outbox SET next_attempt_at = 0 WHERE state = 'pending' "
            "AND next_attempt_at > 0")
    return int(res.rowcount)


def due_heads(
    conn: sa.Connection, busy_lanes: Iterable[str], limit: int = 64
) -> tuple[list[OutboxRow], float | None]:
    """The first queued row of every idle lane that is due, and the earliest later due time."""
    # The outbox holds only undelivered rows and has no lane index (migration 0005
    # keeps the enqueue lean): one pass finds each lane's head.
    rows = conn.execute(sa.text(
        """SELECT o.* FROM outbox o JOIN (
               SELECT min(seq) AS head FROM outbox
               WHERE state IN ('pending', 'inflight') GROUP BY lane) h ON o.seq = h.head
           WHERE o.state = 'pending'
           ORDER BY o.next_attempt_at, o.seq""")).fetchall()
    if conn.in_transaction():
        conn.rollback()
    busy = set(busy_lanes)
    now = time.time()
    due: list[OutboxRow] = []
    next_at: float | None = None
    for r in rows:
        if r.lane in busy:
            continue
        if r.next_attempt_at <= now:
            if len(due) < limit:
                due.append(OutboxRow.of(r))
        elif next_at is None or r.next_attempt_at < next_at:
            next_at = r.next_attempt_at
    return due, next_at


#: the message a send row queued, found through its local id (`messages.outbox_id`
#: has no index since migration 0005: a queued message writes one b-tree fewer)
_MESSAGE_OF_ROW = ("local_id = (SELECT json_extract(payload, '$.localId') FROM outbox "
                   "WHERE outbox_id = ? AND kind = 'send_message')")


def mark_inflight(conn: sa.Connection, outbox_id: str) -> bool:
    with conn.begin():
        res = conn.exec_driver_sql(
            "UPDATE outbox SET state = 'inflight', attempts = attempts + 1 "
            "WHERE outbox_id = ? AND state = 'pending'", (outbox_id,))
    return bool(res.rowcount)


def mark_retry(conn: sa.Connection, outbox_id: str, delay: float, error: str) -> None:
    with conn.begin():
        conn.exec_driver_sql(
            "UPDATE outbox SET state = 'pending', next_attempt_at = ?, last_error = ? "
            "WHERE outbox_id = ?", (time.time() + delay, error[:500], outbox_id))


def mark_failed(conn: sa.Connection, outbox_id: str, reason: str, message: str) -> None:
    with conn.begin():
        conn.exec_driver_sql(
            "UPDATE outbox SET state = 'failed', reason = ?, error_message = ?, last_error = ? "
            "WHERE outbox_id = ?", (reason, message[:500], message[:500], outbox_id))
        conn.exec_driver_sql(
            "UPDATE messages SET status = 'failed_local', error_reason = ?, error_message = ? "
            f"WHERE {_MESSAGE_OF_ROW}", (reason, message[:500], outbox_id))
        lead = conn.exec_driver_sql(
            "SELECT lead_id FROM outbox WHERE outbox_id = ? AND kind = 'update_lead'",
            (outbox_id,)).first()
        if lead is not None:
            # a refused edit no longer overlays the relay's state
            _restore_lead(conn, str(lead[0]))


def rebase_row(conn: sa.Connection, outbox_id: str, payload: dict[str, Any]) -> str:
    """A lead edit re-based after a 412 becomes a new request: new payload, new key.

    The old key's request was answered for good (412, no effect); reusing it with
    another If-Match would be a different request under the same key, which the
    relay rightly refuses (`idempotency_conflict`). Both are written before the
    new attempt, so a crash in between resends the re-based request, not the old.
    """
    key = str(ULID())
    with conn.begin():
        conn.exec_driver_sql(
            "UPDATE outbox SET payload = ?, idempotency_key = ?, state = 'pending', "
            "next_attempt_at = 0, last_error = 'rebased after 412' WHERE outbox_id = ?",
            (json.dumps(payload), key, outbox_id))
    return key


def mark_delivered(
    conn: sa.Connection, row: OutboxRow, response: dict[str, Any] | None
) -> ApplyResult:
    """Remove the delivered row; a send's message becomes `accepted` (or the relay's status)."""
    result = ApplyResult()
    with conn.begin():
        if row.kind == SEND_MESSAGE and row.local_message_id:
            sid = _g(response or {}, "messageSid", "message_sid")
            status = _g(response or {}, "status")
            conn.exec_driver_sql(
                "UPDATE messages SET status = CASE WHEN status IN "
                "('pending', 'failed_local') THEN ? ELSE status END, "
                "error_reason = NULL, error_message = NULL, outbox_id = NULL WHERE local_id = ?",
                (ThreadStatus.ACCEPTED.value if not status else str(status),
                 row.local_message_id))
            if sid:
                # a 202 may name the message before the change feed does
                clash = conn.exec_driver_sql(
                    "SELECT local_id FROM messages WHERE message_sid = ?", (sid,)).first()
                if clash is None:
                    conn.exec_driver_sql(
                        "UPDATE messages SET message_sid = ? WHERE local_id = ?",
                        (sid, row.local_message_id))
                elif clash[0] != row.local_message_id:
                    conn.exec_driver_sql("DELETE FROM messages WHERE local_id = ?",
                                         (row.local_message_id,))
                result.message_sids.add(str(sid))
            if row.conversation_sid:
                result.conversation_sids.add(row.conversation_sid)
        conn.exec_driver_sql("DELETE FROM outbox WHERE outbox_id = ?", (row.outbox_id,))
    return result


def retry_row(conn: sa.Connection, outbox_id: str, force: bool = False) -> OutboxRow:
    with conn.begin():
        r = conn.execute(sa.text("SELECT * FROM outbox WHERE outbox_id = :o"),
                         {"o": outbox_id}).first()
        if r is None:
            raise EngineError("outbox_not_found", f"no queued item {outbox_id}")
        row = OutboxRow.of(r)
        payload = dict(row.payload)
        if force:
            payload["force"] = True
        conn.exec_driver_sql(
            "UPDATE outbox SET state = 'pending', next_attempt_at = 0, reason = NULL, "
            "error_message = NULL, payload = ? WHERE outbox_id = ? AND state != 'inflight'",
            (json.dumps(payload), outbox_id))
        conn.exec_driver_sql(
            "UPDATE messages SET status = 'pending', error_reason = NULL, error_message = NULL "
            f"WHERE {_MESSAGE_OF_ROW}", (outbox_id,))
        if row.kind == UPDATE_LEAD and row.lead_id:
            _apply_lead_patch_locally(conn, row.lead_id, payload)
    return row


def discard_row(conn: sa.Connection, outbox_id: str) -> OutboxRow:
    """Drop a queued/failed row and its local effect (the relay's state comes back)."""
    with conn.begin():
        r = conn.execute(sa.text("SELECT * FROM outbox WHERE outbox_id = :o"),
                         {"o": outbox_id}).first()
        if r is None:
            raise EngineError("outbox_not_found", f"no queued item {outbox_id}")
        row = OutboxRow.of(r)
        if row.state == INFLIGHT:
            raise EngineError("in_flight", "the item is being delivered right now")
        conn.exec_driver_sql(
            f"DELETE FROM messages WHERE {_MESSAGE_OF_ROW} AND message_sid IS NULL", (outbox_id,))
        conn.exec_driver_sql("DELETE FROM outbox WHERE outbox_id = ?", (outbox_id,))
        if row.kind == UPDATE_LEAD and row.lead_id:
            _restore_lead(conn, row.lead_id)
    return row


def _restore_lead(conn: sa.Connection, lead_id: str) -> None:
    row = conn.exec_driver_sql(
        "SELECT data, version FROM leads WHERE lead_id = ?", (lead_id,)).first()
    if row is None:
        return
    params = _lead_params(json.loads(row[0]), int(row[1]))
    conn.exec_driver_sql(
        "UPDATE leads SET pipeline_status = ?, assignee_id = ?, assignee_name = ? "
        "WHERE lead_id = ?", (params[5], params[6], params[7], lead_id))
    _overlay_pending(conn, {lead_id}, set())


def outbox_counts(conn: sa.Connection) -> tuple[int, int]:
    row = conn.exec_driver_sql(
        "SELECT sum(state != 'failed'), sum(state = 'failed') FROM outbox").first()
    if conn.in_transaction():
        conn.rollback()
    assert row is not None
    return int(row[0] or 0), int(row[1] or 0)


def lead_json(conn: sa.Connection, lead_id: str) -> dict[str, Any] | None:
    row = conn.exec_driver_sql("SELECT data FROM leads WHERE lead_id = ?", (lead_id,)).first()
    if conn.in_transaction():
        conn.rollback()
    return None if row is None else dict(json.loads(row[0]))


def list_outbox(conn: sa.Connection) -> list[OutboxRow]:
    rows = conn.execute(sa.text("SELECT * FROM outbox ORDER BY seq")).fetchall()
    if conn.in_transaction():
        conn.rollback()
    return [OutboxRow.of(r) for r in rows]


# --------------------------------------------------------------------------- queries


def _read(conn: sa.Connection, sql: str, params: Any = ()) -> list[Any]:
    rows = conn.exec_driver_sql(sql, params).fetchall()
    if conn.in_transaction():
        conn.rollback()
    return list(rows)


def list_locations(conn: sa.Connection, me: Me | None) -> list[LocationRow]:
    rows = _read(conn, """
        SELECT l.location_id, l.name, l.web2text_number, l.store_number, l.timezone,
            (SELECT coalesce(sum(c.unread_count), 0) FROM conversations c
                WHERE c.location_id = l.location_id),
            (SELECT count(*) FROM conversations c
                WHERE c.location_id = l.location_id AND c.unread_count > 0),
            (SELECT count(*) FROM leads d WHERE d.location_id = l.location_id
                AND d.status != 'CLOSED')
        FROM locations l ORDER BY l.name""")
    allowed = set(me.location_ids) if me and me.location_ids else None
    return [
        LocationRow(location_id=r[0], name=r[1], web2text_number=r[2], store_number=r[3],
                    timezone=r[4], unread=int(r[5]), unread_conversations=int(r[6]),
                    open_leads=int(r[7]))
        for r in rows if allowed is None or r[0] in allowed
    ]


def list_leads(
    conn: sa.Connection, f: LeadFilter, offset: int, limit: int, me: Me | None
) -> list[LeadRow]:
    return [lead_row(r) for r in _read(conn, *list_leads_sql(f, offset, limit, me))]


def count_leads(conn: sa.Connection, f: LeadFilter, me: Me | None) -> int:
    return int(_read(conn, *count_leads_sql(f, me))[0][0])


def get_lead(conn: sa.Connection, lead_id: str) -> LeadDetail | None:
    rows = _read(conn, """SELECT d.data, d.pipeline_status, d.assignee_id, d.assignee_name,
            l.name, d.version, d.conversation_sid FROM leads d
        LEFT JOIN locations l ON l.location_id = d.location_id WHERE d.lead_id = ?""",
                 (lead_id,))
    if not rows:
        return None
    data, pipeline, assignee_id, assignee_name, location_name, version, conv = rows[0]
    d = json.loads(data)
    customer = _g(d, "customer", default={}) or {}
    pending = _read(conn, "SELECT payload, state FROM outbox WHERE kind = 'update_lead' "
                          "AND lead_id = ? ORDER BY seq", (lead_id,))
    notes = [
        NoteItem(note_id=str(_g(n, "noteId", "note_id")), author_id=_g(n, "authorId", "author_id"),
                 author_name=str(_g(n, "authorName", "author_name", "")),
                 body=str(_g(n, "body", default="")),
                 at=parse_ts(norm_ts(_g(n, "at"))) or datetime.now(UTC))
        for n in (_g(d, "notes", default=[]) or [])
    ]
    pending_update = False
    for payload_text, state in pending:
        payload = json.loads(payload_text)
        if state != FAILED:
            pending_update = True
        note = payload["patch"].get("note")
        if note and state != FAILED:
            notes.append(NoteItem(note_id="pending", author_id=None,
                                  author_name=str(payload.get("noteAuthor") or "You"),
                                  body=note, at=parse_ts(payload.get("noteAt"))
                                  or datetime.now(UTC), pending=True))
    activity = tuple(
        ActivityItem(at=parse_ts(norm_ts(_g(a, "at"))) or datetime.now(UTC),
                     kind=str(_g(a, "kind", default="")), text=str(_g(a, "text", default="")))
        for a in (_g(d, "activity", default=[]) or [])
    )
    others = _read(conn, "SELECT lead_id FROM leads WHERE conversation_sid = ? AND lead_id != ?",
                   (conv, lead_id)) if conv else []
    submitted = parse_ts(norm_ts(_g(d, "dateSubmitted", "date_submitted"))) or datetime.now(UTC)
    return LeadDetail(
        lead_id=lead_id, retailer_id=str(_g(d, "retailerId", "retailer_id", "")),
        location_id=str(_g(d, "locationId", "location_id", "")), location_name=location_name,
        conversation_sid=conv, status=str(_g(d, "status", default="")),
        pipeline_status=pipeline, assignee_id=assignee_id, assignee_name=assignee_name,
        name=str(customer.get("name", "")), phone=str(customer.get("phone", "")),
        preferred_contact=str(_g(customer, "preferredContact", "preferred_contact", "text")),
        customer_message=str(customer.get("message", "")),
        page_url=str(_g(customer, "pageUrl", "page_url", "")),
        ip_address=_g(customer, "ipAddress", "ip_address"),
        product=customer.get("product"), traffic=customer.get("traffic"),
        date_submitted=submitted,
        last_activity_at=parse_ts(norm_ts(_g(d, "lastActivityAt", "last_activity_at")))
        or submitted,
        first_staff_reply_at=parse_ts(norm_ts(_g(d, "firstStaffReplyAt", "first_staff_reply_at"))),
        opted_out=bool(_g(d, "optedOut", "opted_out")),
        possible_opt_out=bool(_g(d, "possibleOptOut", "possible_opt_out")),
        close_reason=_g(d, "closeReason", "close_reason"), version=int(version),
        notes=tuple(notes), activity=activity, pending_update=pending_update,
        other_lead_ids=tuple(r[0] for r in others),
    )


def _thread_message(r: Any) -> ThreadMessage:
    return ThreadMessage(
        local_id=r.local_id, message_sid=r.message_sid, conversation_sid=r.conversation_sid,
        author_kind=r.author_kind,
        author_name=r.staff_name or (r.author if r.author_kind != "customer" else "Customer"),
        body=r.body, created_at=parse_ts(r.created_at) or datetime.now(UTC), status=r.status,
        error_reason=r.error_reason, error_message=r.error_message, outbox_id=r.outbox_id,
    )


def thread(
    conn: sa.Connection, conversation_sid: str, limit: int, before: datetime | None
) -> list[ThreadMessage]:
    params: dict[str, Any] = {"c": conversation_sid, "n": int(limit)}
    cond = ""
    if before is not None:
        cond = "AND created_at < :b"
        params["b"] = norm_ts(before)
    rows = conn.execute(sa.text(
        f"SELECT * FROM (SELECT * FROM messages WHERE conversation_sid = :c {cond} "
        f"ORDER BY created_at DESC, id DESC LIMIT :n) ORDER BY created_at, id"), params).fetchall()
    if conn.in_transaction():
        conn.rollback()
    return [_thread_message(r) for r in rows]


#: message search looks at this many times `limit` most recently stored matches
SEARCH_CANDIDATES = 4
#: characters of context kept before the first match in a message snippet
SNIPPET_BEFORE = 24
SNIPPET_LENGTH = 96


def _mark(text: str, words: Sequence[str]) -> str:
    """`text` with every case-insensitive occurrence of the words between match marks."""
    if not words or not text:
        return text
    pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)),
                         re.IGNORECASE)
    return pattern.sub(lambda m: f"{MATCH_START}{m.group(0)}{MATCH_END}", text)


def _snippet(body: str, words: Sequence[str]) -> str:
    """A window of the body around the first match, matches marked, cuts shown as '…'."""
    lowered = body.lower()
    found = [i for i in (lowered.find(w.lower()) for w in words) if i >= 0]
    first = min(found) if found else 0
    start = max(0, first - SNIPPET_BEFORE)
    # start on a word boundary when one is near (a cut word reads like a typo)
    space = body.rfind(" ", max(0, start - 12), start + 1)
    if start > 0 and space >= 0:
        start = space + 1
    end = min(len(body), start + SNIPPET_LENGTH)
    text = _mark(body[start:end], words)
    return ("…" if start > 0 else "") + text + ("…" if end < len(body) else "")


def search(conn: sa.Connection, query: str, limit: int) -> list[SearchHit]:
    match, like = fts_query(query)
    hits: list[SearchHit] = []
    if match is None:
        lead_rows = _read(conn, "SELECT lead_id, conversation_sid, name, phone, last_activity_at "
                                "FROM leads WHERE name LIKE ? ESCAPE '\\' "
                                "OR phone LIKE ? ESCAPE '\\' LIMIT ?",
                          (like, like, limit))
        for r in lead_rows:
            hits.append(SearchHit(lead_id=r[0], conversation_sid=r[1], kind="lead",
                                  snippet=f"{r[2]} {r[3]}", title=r[2], at=parse_ts(r[4])))
        msg_rows = _read(conn, "SELECT m.message_sid, m.conversation_sid, m.body, m.created_at "
                               "FROM messages m WHERE m.body LIKE ? ESCAPE '\\' "
                               "ORDER BY m.created_at DESC "
                               "LIMIT ?", (like, limit))
        snippet_rows = [(r[0], r[1], r[2], r[3]) for r in msg_rows]
    else:
        words = match_words(match)
        # rank only the rowids; names and phones are marked in Python for the rows
        # returned (highlight() in the ranked query ran for every match)
        lead_rows = _read(conn, """SELECT d.lead_id, d.conversation_sid, d.name, d.phone,
                d.last_activity_at
            FROM (SELECT rowid AS id, rank AS r FROM leads_fts WHERE leads_fts MATCH ?
                  ORDER BY rank LIMIT ?) AS top
            JOIN leads d ON d.id = top.id ORDER BY top.r""", (match, limit))
        for r in lead_rows:
            hits.append(SearchHit(lead_id=r[0], conversation_sid=r[1], kind="lead",
                                  snippet=f"{_mark(r[2], words)} {_mark(r[3], words)}",
                                  title=r[2], at=parse_ts(r[4])))
        # Newest first without sorting every match: FTS5 walks its rowids backwards
        # and stops after a few times `limit` candidates (rowids follow arrival
        # order, which is close to recency); those are ordered by created_at. The
        # snippet is cut in Python for the returned rows only.
        unconfirmed, unconfirmed_params = unconfirmed_match(words)
        msg_rows = _read(conn, f"""SELECT m.message_sid, m.conversation_sid, m.body,
                m.created_at
            FROM messages m WHERE m.id IN (
                SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?
                ORDER BY rowid DESC LIMIT ?) OR m.id IN ({unconfirmed})
            ORDER BY m.created_at DESC, m.id DESC LIMIT ?""",
                         (match, limit * SEARCH_CANDIDATES, *unconfirmed_params, limit))
        snippet_rows = [(r[0], r[1], _snippet(r[2], words), r[3]) for r in msg_rows]
    names = {}
    convs = {r[1] for r in snippet_rows}
    if convs:
        marks = ",".join("?" * len(convs))
        for lead_id, conv, name in _read(
            conn, f"SELECT lead_id, conversation_sid, name FROM leads "
                  f"WHERE conversation_sid IN ({marks}) ORDER BY date_submitted", tuple(convs)):
            names[conv] = (lead_id, name)
    for sid, conv, snippet, at in snippet_rows:
        lead_id, name = names.get(conv, (None, ""))
        hits.append(SearchHit(lead_id=lead_id, conversation_sid=conv, kind="message",
                              snippet=snippet, title=name, at=parse_ts(at), message_sid=sid))
    return hits[:limit]
