"""The per-location change log on DynamoDB Local: order, cursors, seqs without holes, races
between threads and between relay instances (two `ChangeLog` objects on one table)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.relay import change_records as ch
from app.relay.change_records import InvalidCursor
from app.relay.change_table import TABLE_SPEC, TABLE_SUFFIX
from app.relay.changes import ChangeLog, record_changes

pytestmark = pytest.mark.dynamodb


@pytest.fixture
def table(make_table: Callable[[str, dict[str, Any]], str]) -> str:
    return make_table(TABLE_SUFFIX, TABLE_SPEC)


def _ids(page: ch.ChangesPage) -> list[str]:
    return [c.entity_id for c in page.changes]


def test_record_and_page_through(ddb: Any, table: str) -> None:
    log = ChangeLog(ddb, table)
    seqs = [
        log.record("L1", "lead", f"lead{i}", i + 1, {"leadId": f"lead{i}", "n": i})
        for i in range(5)
    ]
    assert seqs == [1, 2, 3, 4, 5]
    page = log.read(["L1"], None, limit=2)
    assert _ids(page) == ["lead0", "lead1"] and page.has_more
    assert page.changes[0].wire() == {
        "entity": "lead",
        "id": "lead0",
        "version": 1,
        "locationId": "L1",
        "data": {"leadId": "lead0", "n": 0},
    }
    assert page.changes[-1].cursor_after == page.cursor
    page2 = log.read(["L1"], page.cursor, limit=10)
    assert _ids(page2) == ["lead2", "lead3", "lead4"] and not page2.has_more
    empty = log.read(["L1"], page2.cursor, limit=10)
    assert empty.changes == [] and not empty.has_more and empty.cursor == page2.cursor
    # resuming from any event id continues right after that event
    resumed = log.read(["L1"], page.changes[0].cursor_after, limit=10)
    assert _ids(resumed) == ["lead1", "lead2", "lead3", "lead4"]


def test_merges_locations_and_scopes_cursor(ddb: Any, table: str) -> None:
    log = ChangeLog(ddb, table)
    log.record("A", "lead", "a1", 1, {})
    log.record("B", "conversation", "b1", 1, {})
    log.record("C", "lead", "c1", 1, {})  # not one of the reader's locations
    log.record("A", "message", "a2", 1, {})
    page = log.read(["A", "B"], None, limit=10)
    assert sorted(_ids(page)) == ["a1", "a2", "b1"]
    assert ch.decode_cursor(page.cursor) == {"A": 2, "B": 1}
    # a cursor naming a location the key no longer has does not leak it
    other = log.read(["C"], page.cursor, limit=10)
    assert _ids(other) == ["c1"]
    assert ch.decode_cursor(other.cursor) == {"C": 1}
    # a location added to the key later starts from its beginning
    widened = log.read(["A", "B", "C"], page.cursor, limit=10)
    assert _ids(widened) == ["c1"]


def test_limit_across_locations_keeps_prefixes(ddb: Any, table: str) -> None:
    log = ChangeLog(ddb, table)
    for i in range(4):
        log.record("A", "lead", f"a{i}", 1, {})
        log.record("B", "lead", f"b{i}", 1, {})
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = log.read(["A", "B"], cursor, limit=3)
        seen += _ids(page)
        cursor = page.cursor
        if not page.has_more:
            break
    assert sorted(seen) == sorted([f"a{i}" for i in range(4)] + [f"b{i}" for i in range(4)])
    assert len(seen) == 8


@pytest.mark.parametrize(
    "bad", ["!!!", "e30", "eyJ2IjoxLCJwIjp7IkEiOi0xfX0", "eyJ2IjoyLCJwIjp7fX0", "x" * 20000]
)
def test_bad_cursors_are_rejected(ddb: Any, table: str, bad: str) -> None:
    with pytest.raises(InvalidCursor):
        ChangeLog(ddb, table).read(["A"], bad)


class Counting:
    """The DynamoDB client, counting the calls made through it by operation."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.real, name)

        def call(**kw: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return method(**kw)

        return call


def test_an_append_is_one_put_once_the_head_is_known(ddb: Any, table: str) -> None:
    counting = Counting(ddb)
    log = ChangeLog(counting, table)
    assert log.append("L", [("lead", "a", 1, {})]) == [1]
    assert counting.calls == {"query": 1, "put_item": 1}  # first sight of L: read its head
    counting.calls.clear()
    assert log.append("L", [("lead", "b", 1, {}), ("message", "m", 1, {})]) == [2, 2]
    assert log.record("L", "lead", "c", 2, {}) == 3
    assert counting.calls == {"put_item": 2}
    # a process that starts later finds the head and goes on from it
    assert ChangeLog(ddb, table).append("L", [("lead", "d", 1, {})]) == [4]


def test_another_instance_taking_the_seq_moves_the_writer_on(ddb: Any, table: str) -> None:
    one, two = ChangeLog(ddb, table), ChangeLog(ddb, table)
    assert one.record("L", "lead", "a", 1, {}) == 1
    for name in ("b", "c", "d"):
        two.record("L", "lead", name, 1, {})  # `one` still believes the head is 1
    counting = Counting(ddb)
    one.table.client = counting
    assert one.append("L", [("lead", "e", 1, {})]) == [5]
    # the put on seq 2 failed, one query found the head, the put on 5 landed
    assert counting.calls == {"put_item": 2, "query": 1}
    assert _ids(one.read(["L"], None)) == ["a", "b", "c", "d", "e"]


def test_a_stalled_writer_is_overtaken_and_nothing_waits_for_it(ddb: Any, table: str) -> None:
    """Instance 1 decides on seq 1 and stalls; instance 2 writes seq 1 and readers see
    it at once (no hole to wait on); instance 1 then lands on seq 2."""
    slow_log, fast_log = ChangeLog(ddb, table), ChangeLog(ddb, table)
    assert slow_log.head("L") == 0
    chose = threading.Event()
    go_on = threading.Event()

    def stall(loc: str, seq: int) -> None:
        if seq == 1:
            chose.set()
            assert go_on.wait(10)

    slow_log.table.before_put = stall
    result: list[list[int]] = []
    slow = threading.Thread(
        target=lambda: result.append(slow_log.append("L", [("lead", "late", 1, {})]))
    )
    slow.start()
    assert chose.wait(10)
    assert fast_log.record("L", "lead", "early", 1, {}) == 1
    page = fast_log.read(["L"], None)
    assert _ids(page) == ["early"]
    go_on.set()
    slow.join(10)
    assert result == [[2]]
    assert _ids(fast_log.read(["L"], page.cursor)) == ["late"]


def test_a_writer_that_dies_before_its_put_leaves_no_hole(ddb: Any, table: str) -> None:
    log = ChangeLog(ddb, table)
    log.record("L", "lead", "first", 1, {})

    def crash(loc: str, seq: int) -> None:
        raise SystemExit("killed between choosing seq 2 and writing it")

    log.table.before_put = crash
    with pytest.raises(SystemExit):
        log.record("L", "lead", "lost-with-the-process", 1, {})
    other = ChangeLog(ddb, table)
    assert other.record("L", "lead", "next", 1, {}) == 2  # seq 2 was never taken
    assert _ids(other.read(["L"], None)) == ["first", "next"]


def test_heads_check_known_heads_and_query_only_what_moved(ddb: Any, table: str) -> None:
    log = ChangeLog(ddb, table)
    locations = [f"L{i:03}" for i in range(150)]
    for loc in locations[:3]:
        log.record(loc, "lead", "x", 1, {})
    counting = Counting(ddb)
    watcher = ChangeLog(counting, table)
    heads = watcher.heads(locations)  # nothing known: every head is read
    assert heads == {loc: (1 if loc in locations[:3] else 0) for loc in locations}
    assert counting.calls == {"query": 150}
    counting.calls.clear()
    log.record("L000", "lead", "y", 2, {})
    log.record("L149", "lead", "z", 1, {})
    assert watcher.heads(locations) == {**heads, "L000": 2, "L149": 1}  # it knows them now
    # two keys-only BatchGetItems (100 + 50 keys) and a Query for each of the two that moved
    assert counting.calls == {"batch_get_item": 2, "query": 2}
    latest = watcher.latest_cursor(["L000", "L100"])
    assert ch.decode_cursor(latest) == {"L000": 2, "L100": 0}


def test_concurrent_writers_every_change_exactly_once(ddb: Any, table: str) -> None:
    log = ChangeLog(ddb, table)
    instances = [log, ChangeLog(ddb, table), ChangeLog(ddb, table)]
    names = [f"c{i}" for i in range(40)]
    got: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        cursor: str | None = None
        while True:
            page = log.read(["L", "M"], cursor, limit=7)
            got.extend(_ids(page))
            cursor = page.cursor
            if stop.is_set() and not page.has_more and len(got) >= len(names):
                return
            if stop.is_set() and not page.changes:
                time.sleep(0.05)

    t = threading.Thread(target=reader)
    t.start()
    with ThreadPoolExecutor(6) as pool:
        list(
            pool.map(
                lambda n: instances[int(n[1:]) % 3].append(
                    "L" if int(n[1:]) % 2 else "M", [("lead", n, 1, {})]
                ),
                names,
            )
        )
    stop.set()
    t.join(30)
    assert not t.is_alive()
    assert sorted(got) == sorted(names)


def test_unknown_entity_is_refused(ddb: Any, table: str) -> None:
    with pytest.raises(ValueError):
        ChangeLog(ddb, table).record("L", "bogus", "x", 1, {})


def test_latest_cursor_skips_history(ddb: Any, table: str) -> None:
    log = ChangeLog(ddb, table)
    log.record("L", "lead", "old", 1, {})
    cursor = log.latest_cursor(["L", "Empty"])
    log.record("L", "lead", "new", 2, {})
    assert _ids(log.read(["L", "Empty"], cursor)) == ["new"]


def test_record_many_is_contiguous_and_moves_past_another_instance(ddb: Any, table: str) -> None:
    log = ChangeLog(ddb, table)
    assert log.record_many("L", []) == []
    seqs = log.record_many("L", [("message", "IM1", 1, {"a": 1}), ("lead", "LD1", 4, {})])
    assert seqs == [1, 2]
    page = log.read(["L"], None)
    assert [(c.entity, c.entity_id, c.version) for c in page.changes] == [
        ("message", "IM1", 1),
        ("lead", "LD1", 4),
    ]
    ChangeLog(ddb, table).record("L", "message", "IM2", 1, {})  # another instance: seq 3
    batch = [("conversation", "CH1", 2, {}), ("lead", "LD1", 5, {})]
    assert log.record_many("L", batch) == [4, 5]  # 3-4 was refused as a whole, then 4-5
    rest = log.read(["L"], page.cursor)
    assert [(c.entity_id, c.seq) for c in rest.changes] == [("IM2", 3), ("CH1", 4), ("LD1", 5)]


def test_record_changes_over_the_transaction_limit(ddb: Any, table: str) -> None:
    log = ChangeLog(ddb, table)
    seqs = record_changes(log, "L", [("message", f"IM{i}", 1, {}) for i in range(130)])
    assert seqs == list(range(1, 131))
    assert len(log.read(["L"], None, limit=500).changes) == 130


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=40), st.integers(min_value=0, max_value=2**53), max_size=20
    )
)
def test_cursor_round_trip(positions: dict[str, int]) -> None:
    assert ch.decode_cursor(ch.encode_cursor(positions)) == positions


@given(st.text(max_size=200))
def test_any_text_is_a_cursor_or_invalid_cursor(text: str) -> None:
    try:
        positions = ch.decode_cursor(text)
    except InvalidCursor:
        return
    assert all(isinstance(v, int) and v >= 0 for v in positions.values())


# -- group commit (`ChangeLog.append`, what the relay writes through) ---------------------


def _items(ddb: Any, table: str, loc: str) -> list[dict[str, Any]]:
    resp = ddb.query(
        TableName=table,
        KeyConditionExpression="LocationId = :l AND Seq > :z",
        ExpressionAttributeValues={":l": {"S": loc}, ":z": {"N": "0"}},
        ConsistentRead=True,
    )
    return list(resp["Items"])


def test_append_groups_concurrent_writers_into_few_items(ddb: Any, table: str) -> None:
    log = ChangeLog(ddb, table)
    first_put = threading.Event()
    release = threading.Event()

    def hold_first(loc: str, seq: int) -> None:
        if not first_put.is_set():
            first_put.set()
            assert release.wait(10)  # the others queue up behind this write

    log.table.before_put = hold_first
    names = [f"w{i}" for i in range(16)]
    with ThreadPoolExecutor(16) as pool:
        futures = [
            pool.submit(
                log.append,
                "L",
                [
                    ("message", f"{n}-m", 1, {}),
                    ("conversation", f"{n}-c", 2, {}),
                    ("lead", n, 3, {}),
                ],
            )
            for n in names
        ]
        assert first_put.wait(10)
        time.sleep(0.3)
        release.set()
        seqs = [f.result(10) for f in futures]
    # each call's changes share one item; the 15 queued calls went out together
    assert all(len(set(s)) == 1 for s in seqs)
    assert len(_items(ddb, table, "L")) == 2
    page = log.read(["L"], None, limit=500)
    got = [c.entity_id for c in page.changes]
    assert sorted(got) == sorted(x for n in names for x in (f"{n}-m", f"{n}-c", n))
    for n in names:  # one call's changes stay together and in order
        i = got.index(f"{n}-m")
        assert got[i : i + 3] == [f"{n}-m", f"{n}-c", n]


def test_a_page_never_splits_a_group_and_resumes_before_it(ddb: Any, table: str) -> None:
    log = ChangeLog(ddb, table)
    log.record("L", "lead", "single", 1, {})
    log.append(
        "L",
        [("message", "IM1", 1, {"b": 1}), ("conversation", "CH1", 2, {}), ("lead", "LD1", 3, {})],
    )
    log.record("L", "lead", "last", 1, {})
    page = log.read(["L"], None, limit=3)
    assert _ids(page) == ["single"] and page.has_more  # the group would not fit
    group = log.read(["L"], page.cursor, limit=2)  # alone and bigger than limit: whole
    assert _ids(group) == ["IM1", "CH1", "LD1"] and group.has_more
    assert group.changes[0].wire()["data"] == {"b": 1}
    assert group.changes[-1].cursor_after == group.cursor
    # an event id inside the group resumes at the group's start (no change skipped)
    again = log.read(["L"], group.changes[1].cursor_after, limit=10)
    assert _ids(again) == ["IM1", "CH1", "LD1", "last"]
    rest = log.read(["L"], group.cursor, limit=10)
    assert _ids(rest) == ["last"] and not rest.has_more


def test_append_refuses_unknown_entities_and_accepts_nothing(ddb: Any, table: str) -> None:
    log = ChangeLog(ddb, table)
    assert log.append("L", []) == []
    with pytest.raises(ValueError):
        log.append("L", [("bogus", "x", 1, {})])
    assert _items(ddb, table, "L") == []


def test_a_failed_group_write_fails_its_callers_and_the_queue_goes_on(ddb: Any, table: str) -> None:
    log = ChangeLog(ddb, table)
    real = ddb
    entered = threading.Event()
    release = threading.Event()
    calls = {"put": 0}

    class Flaky:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def put_item(self, **kw: Any) -> Any:
            calls["put"] += 1
            if calls["put"] == 1:
                entered.set()
                assert release.wait(10)  # the others queue behind this write...
                raise RuntimeError("DynamoDB is down")  # ...which then fails
            return real.put_item(**kw)

    log.table.client = Flaky()
    results: dict[str, Any] = {}

    def writer(name: str) -> None:
        try:
            results[name] = log.append("L", [("lead", name, 1, {})])
        except RuntimeError as exc:
            results[name] = exc

    first = threading.Thread(target=writer, args=("first",))
    first.start()
    assert entered.wait(10)
    others = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(5)]
    for t in others:
        t.start()
    time.sleep(0.3)
    release.set()
    for t in [first, *others]:
        t.join(10)
        assert not t.is_alive()  # nobody is left waiting
    assert isinstance(results["first"], RuntimeError)  # its own group failed
    stored = [n for n, r in results.items() if isinstance(r, list)]
    assert sorted(stored) == [f"w{i}" for i in range(5)]  # the next leader wrote theirs
    # the failed group took no seq: the others are readable at once, from seq 1
    page = log.read(["L"], None)
    assert sorted(_ids(page)) == sorted(stored)
    assert page.changes[0].seq == 1
    assert log.append("L", [("lead", "later", 1, {})])  # and the log still works
