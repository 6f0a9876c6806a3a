"""The change log's retention on DynamoDB Local: items carry their TTL, a cursor older
than the retention is told (`CursorExpired`; 410 `cursor_expired` on `/v1/changes` and
`/v1/stream`), a fresh one is not, and an emptied log never reuses a seq."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from app.relay.change_records import CursorExpired, decode_cursor
from app.relay.change_table import TABLE_SPEC, TABLE_SUFFIX
from app.relay.changes import ChangeLog
from app.relay.tables import CHANGE_LOG
from tests.support.relay import RelayHandle, seed_dealer, start_relay

pytestmark = pytest.mark.dynamodb

DAY = 86400.0


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def table(make_table: Callable[[str, dict[str, Any]], str]) -> str:
    return make_table(TABLE_SUFFIX, TABLE_SPEC)


def _item(ddb: Any, table: str, loc: str, seq: int) -> dict[str, Any]:
    got = ddb.get_item(
        TableName=table, Key={"LocationId": {"S": loc}, "Seq": {"N": str(seq)}}, ConsistentRead=True
    )
    return dict(got.get("Item", {}))


def test_items_carry_their_expiry_and_the_first_one_says_so(ddb: Any, table: str) -> None:
    clock = Clock()
    log = ChangeLog(ddb, table, clock=clock, retention_s=30 * DAY)
    seqs = [log.append("L", [("lead", f"l{i}", 1, {})])[0] for i in range(3)]
    # an empty log starts at its retention period's first seq, consecutive after that
    assert seqs[0] == int(clock.now // (30 * DAY)) * 10**12 + 1
    assert seqs[1:] == [seqs[0] + 1, seqs[0] + 2]
    first, second = _item(ddb, table, "L", seqs[0]), _item(ddb, table, "L", seqs[1])
    assert int(first["ExpiresAt"]["N"]) == int(int(first["At"]["N"]) / 1000 + 30 * DAY)
    assert first["First"] == {"BOOL": True} and "First" not in second
    kept = ChangeLog(ddb, table)  # no retention: no TTL attribute, seqs from 1
    assert kept.append("K", [("lead", "k", 1, {})]) == [1]
    assert "ExpiresAt" not in _item(ddb, table, "K", 1)


def test_a_cursor_older_than_the_retention_is_told(ddb: Any, table: str) -> None:
    clock = Clock()
    log = ChangeLog(ddb, table, clock=clock, retention_s=30 * DAY)
    log.append("L", [("lead", "old", 1, {})])
    first = log.read(["L"], None).cursor
    clock.now += 10 * DAY
    log.append("L", [("lead", "new", 1, {})])
    second = log.read(["L"], first)
    assert [c.entity_id for c in second.changes] == ["new"]
    clock.now += 25 * DAY  # "old" is past its TTL; what comes after it is kept
    assert [c.entity_id for c in log.read(["L"], first).changes] == ["new"]
    clock.now += 6 * DAY  # "new" too: both cursors were read over 30 days ago
    for cursor in (first, second.cursor):
        with pytest.raises(CursorExpired) as err:
            log.read(["L"], cursor)
        assert err.value.reason == "cursor_expired" and err.value.status == 410
    # a bootstrap (empty cursor) never expires, and the cursor it gets, at a head
    # whose item expired, holds: nothing came after it
    fresh = log.read(["L"], None)
    assert [c.entity_id for c in fresh.changes] == ["old", "new"]
    assert log.read(["L"], fresh.cursor).changes == []
    # once the items are really gone (TTL deletion), the same answers
    for seq in (decode_cursor(first)["L"], decode_cursor(second.cursor)["L"]):
        ddb.delete_item(TableName=table,
                        Key={"LocationId": {"S": "L"}, "Seq": {"N": str(seq)}})
    with pytest.raises(CursorExpired):
        log.read(["L"], first)
    assert log.read(["L"], fresh.cursor).changes == []


def test_a_location_new_to_a_cursor_needs_its_logs_start(ddb: Any, table: str) -> None:
    clock = Clock()
    log = ChangeLog(ddb, table, clock=clock, retention_s=30 * DAY)
    log.append("A", [("lead", "a", 1, {})])
    log.append("B", [("lead", "b1", 1, {})])
    cursor = log.read(["A"], None).cursor  # B joins the key later
    page = log.read(["A", "B"], cursor)
    assert [c.entity_id for c in page.changes] == ["b1"]
    b_first = decode_cursor(page.cursor)["B"]
    clock.now += 1
    log.append("B", [("lead", "b2", 1, {})])
    ddb.delete_item(  # B's start is gone: a reader starting B from 0 missed it
        TableName=table, Key={"LocationId": {"S": "B"}, "Seq": {"N": str(b_first)}}
    )
    with pytest.raises(CursorExpired):
        log.read(["A", "B"], cursor)


def test_an_emptied_log_never_reuses_a_seq(ddb: Any, table: str) -> None:
    clock = Clock()
    writer = ChangeLog(ddb, table, clock=clock, retention_s=30 * DAY)
    watcher = ChangeLog(ddb, table, clock=clock, retention_s=30 * DAY)
    writer.append("L", [("lead", "x", 1, {})])
    cursor = watcher.read(["L"], None).cursor
    old = decode_cursor(cursor)["L"]
    assert watcher.heads(["L"]) == {"L": old}
    clock.now += 40 * DAY
    ddb.delete_item(TableName=table, Key={"LocationId": {"S": "L"}, "Seq": {"N": str(old)}})
    fresh = ChangeLog(ddb, table, clock=clock, retention_s=30 * DAY)  # a new instance
    [seq] = fresh.append("L", [("lead", "y", 2, {})])
    assert seq > old
    # the other instances no longer trust the head they remembered: they see the move
    assert watcher.heads(["L"]) == {"L": seq}
    assert writer.append("L", [("lead", "z", 3, {})]) == [seq + 1]
    with pytest.raises(CursorExpired):
        watcher.read(["L"], cursor)


def test_a_watcher_sees_an_empty_log_start(ddb: Any, table: str) -> None:
    clock = Clock()
    watcher = ChangeLog(ddb, table, clock=clock, retention_s=30 * DAY)
    assert watcher.heads(["E"]) == {"E": 0}
    clock.now += 31 * DAY  # the next retention period (at least)
    [seq] = ChangeLog(ddb, table, clock=clock, retention_s=30 * DAY).append(
        "E", [("lead", "e", 1, {})])
    assert watcher.heads(["E"]) == {"E": seq}


# --------------------------------------------------------------------------- the relay


@pytest.fixture(scope="module")
def relay(dynamodb_endpoint: str) -> Iterator[RelayHandle]:
    handle = start_relay(dynamodb_endpoint, background=False, stream_heartbeat_s=0.3)
    try:
        yield handle
    finally:
        handle.stop()


def _old_log(relay: RelayHandle, days_ago: float) -> ChangeLog:
    """The relay's change log table written as if `days_ago` days had passed since."""
    return ChangeLog(
        relay.tables.client,
        relay.tables.name(CHANGE_LOG),
        clock=lambda: time.time() - days_ago * DAY,
        retention_s=relay.settings.change_retention_days * DAY,
    )


def test_the_change_log_table_has_ttl_on(relay: RelayHandle) -> None:
    desc = relay.tables.client.describe_time_to_live(TableName=relay.tables.name(CHANGE_LOG))
    ttl = desc["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] in ("ENABLED", "ENABLING")
    assert ttl["AttributeName"] == "ExpiresAt"


def test_feed_and_stream_answer_410_for_an_expired_cursor(relay: RelayHandle) -> None:
    seed = seed_dealer(relay, web2text_number="+13125550179")
    auth = {"Authorization": f"Bearer {seed.staff_key}"}
    loc = seed.location_id
    # a change written, and read by a desktop, 31 days ago (past the 30-day retention)
    month_ago = _old_log(relay, 31)
    old_seq = month_ago.append(loc, [("lead", "ancient", 1, {})])[0]
    expired = month_ago.read([loc], None).cursor
    assert decode_cursor(expired)[loc] == old_seq
    r = httpx.get(f"{relay.url}/v1/changes", headers=auth, params={"cursor": expired})
    assert r.status_code == 410, r.text
    assert r.json()["reason"] == "cursor_expired" and r.json()["code"] == 410
    r = httpx.get(f"{relay.url}/v1/stream", headers={**auth, "Last-Event-ID": expired})
    assert r.status_code == 410 and r.json()["reason"] == "cursor_expired"
    # a desktop that reads the idle location now is fine: nothing came after
    fresh = httpx.get(f"{relay.url}/v1/changes", headers=auth, params={"limit": 500}).json()
    r = httpx.get(f"{relay.url}/v1/changes", headers=auth, params={"cursor": fresh["cursor"]})
    assert r.status_code == 200 and r.json()["changes"] == []
    with (
        httpx.Client(timeout=httpx.Timeout(10, read=10)) as client,
        client.stream(
            "GET", f"{relay.url}/v1/stream", headers={**auth, "Last-Event-ID": fresh["cursor"]}
        ) as resp,
    ):
        assert resp.status_code == 200
