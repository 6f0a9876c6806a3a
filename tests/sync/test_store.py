"""The local store on real SQLite files: pragmas, mirror rules, outbox, queries, search."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from app.sync import store
from app.sync.api import MATCH_END, MATCH_START, TEXTED_IN, EngineError, LeadFilter, Me
from app.sync.db import Database, current_revision, head_revision
from tests.sync.fake_relay import change, conv_data, lead_data, msg_data

ME = Me(staff_id="S1", name="Sam Staff", retailer_id="R1", location_ids=("L1",))


def apply(db: Database, *changes: dict, cursor: str | None = None) -> store.ApplyResult:
    return db.writer.call(store.apply_changes, list(changes), cursor)


def test_new_store_is_private_wal_with_foreign_keys_and_full_sync(tmp_path: Path) -> None:
    database = Database.open(tmp_path / "d")
    try:
        assert stat.S_IMODE(os.stat(database.path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(tmp_path / "d").st_mode) == 0o700

        def pragmas(conn):  # type: ignore[no-untyped-def]
            return tuple(conn.execute(f"PRAGMA {p}").fetchone()[0]
                         for p in ("journal_mode", "foreign_keys", "synchronous"))

        assert database.writer.call(pragmas) == ("wal", 1, 2)  # 2 = FULL
        assert database.reader.call(pragmas) == ("wal", 1, 2)
        assert database.writer.call(current_revision) == head_revision()
    finally:
        database.close()


def test_reopening_is_a_no_op_migration(tmp_path: Path) -> None:
    Database.open(tmp_path).close()
    again = Database.open(tmp_path)
    assert again.writer.call(current_revision) == head_revision()
    again.close()


def test_apply_is_idempotent_and_version_guarded(db: Database) -> None:
    v1 = change("lead", lead_data("lead1", "CH1", version=1, pipeline="new"))
    v3 = change("lead", lead_data("lead1", "CH1", version=3, pipeline="engaged"))
    v2 = change("lead", lead_data("lead1", "CH1", version=2, pipeline="contacted"))
    assert apply(db, v1, cursor="1").lead_ids == {"lead1"}
    assert apply(db, v3, cursor="2").lead_ids == {"lead1"}
    late = apply(db, v2, v1, v3, cursor="3")  # out of order and duplicates: all ignored
    assert late.lead_ids == set() and late.skipped == 3
    detail = db.reader.call(store.get_lead, "lead1")
    assert detail is not None and detail.pipeline_status == "engaged" and detail.version == 3
    assert db.reader.call(store.cursor_of) == "3"


def test_a_texted_in_lead_keeps_its_source_through_apply_and_reads(db: Database) -> None:
    texted = lead_data("lead-t", "CH1", at=10, name="Tess Textedin")
    texted["source"] = TEXTED_IN
    website = lead_data("lead-w", "CH2", at=5, name="Walt Website")  # no source: "web"
    apply(db, change("lead", texted), change("lead", website), cursor="1")
    rows = db.reader.call(store.list_leads, LeadFilter(), 0, 10, None)
    assert [(r.lead_id, r.source) for r in rows] == [("lead-t", TEXTED_IN), ("lead-w", "web")]
    detail = db.reader.call(store.get_lead, "lead-t")
    assert detail is not None and detail.source == TEXTED_IN
    # a later view of the lead keeps saying where it came from
    texted.update(version=2, pipelineStatus="engaged")
    apply(db, change("lead", texted), cursor="2")
    [row] = db.reader.call(store.list_leads, LeadFilter(query="Tess"), 0, 10, None)
    assert (row.pipeline_status, row.source) == ("engaged", TEXTED_IN)


def test_message_status_only_moves_forward(db: Database) -> None:
    apply(db, change("message", msg_data("IM1", "CH1", "hi", status="sent", version=1)))
    apply(db, change("message", msg_data("IM1", "CH1", "hi", status="delivered", version=3)))
    # a newer version carrying an older status (webhooks reordered upstream)
    apply(db, change("message", msg_data("IM1", "CH1", "hi", status="sent", version=4)))
    [m] = db.reader.call(store.thread, "CH1", 10, None)
    assert m.status == "delivered"
    apply(db, change("message", msg_data("IM1", "CH1", "hi", status="undelivered", version=5)))
    apply(db, change("message", msg_data("IM1", "CH1", "hi", status="read", version=6)))
    [m] = db.reader.call(store.thread, "CH1", 10, None)
    assert m.status == "undelivered"  # final


def test_duplicates_inside_one_batch_make_one_row(db: Database) -> None:
    result = apply(db,
                   change("message", msg_data("IM1", "CH1", "x", status="delivered", version=2)),
                   change("message", msg_data("IM1", "CH1", "x", status="sent", version=1)),
                   change("message", msg_data("IM1", "CH1", "x", status="delivered", version=2)))
    assert len(result.inbound) == 1
    [m] = db.reader.call(store.thread, "CH1", 10, None)
    assert m.status == "delivered"


def test_inbound_customer_messages_are_reported_once_with_the_lead(db: Database) -> None:
    lead = change("lead", lead_data("lead1", "CH1", name="Alice Smith"))
    msg = change("message", msg_data("IM9", "CH1", "Is it in stock?", kind="customer"))
    staff = change("message", msg_data("IM10", "CH1", "Yes", kind="staff"))
    result = apply(db, lead, msg, staff)
    [inbound] = result.inbound
    assert (inbound.lead_id, inbound.customer_name, inbound.body) == (
        "lead1", "Alice Smith", "Is it in stock?")
    assert apply(db, msg).inbound == []


def test_malformed_changes_are_skipped_not_fatal(db: Database) -> None:
    bad_lead = {"entity": "lead", "id": "x", "version": 1, "data": {"leadId": "x"}}
    unknown = {"entity": "hologram", "id": "h", "version": 1, "data": {}}
    no_version = {"entity": "message", "data": msg_data("IM1", "CH1", "hi")}
    good = change("lead", lead_data("lead2", None))
    result = apply(db, bad_lead, unknown, no_version, good, cursor="9")
    assert result.lead_ids == {"lead2"} and result.skipped == 3
    assert db.reader.call(store.cursor_of) == "9"


def test_send_is_one_transaction_and_comes_back_merged_by_idempotency_key(db: Database) -> None:
    msg = db.writer.call(store.enqueue_send, "CH1", "We have oak in stock", ME)
    assert msg.status == "pending" and msg.outbox_id
    [row] = db.reader.call(store.list_outbox)
    assert row.kind == "send_message" and row.payload["localId"] == msg.local_id
    assert db.reader.call(store.outbox_counts) == (1, 0)
    # the relay's message for our idempotency key replaces the pending row, not a duplicate
    back = msg_data("IM77", "CH1", "We have oak in stock", kind="staff", status="sent",
                    key=row.idempotency_key, version=1)
    result = apply(db, change("message", back))
    assert result.confirmed == {msg.local_id: "IM77"}
    [m] = db.reader.call(store.thread, "CH1", 10, None)
    assert (m.local_id, m.message_sid, m.status) == (msg.local_id, "IM77", "sent")


def test_blank_message_is_refused_with_a_reason(db: Database) -> None:
    with pytest.raises(EngineError) as err:
        db.writer.call(store.enqueue_send, "CH1", "   ", ME)
    assert err.value.reason == "empty_body"
    assert db.reader.call(store.outbox_counts) == (0, 0)


def test_pending_lead_edit_survives_an_incoming_older_view(db: Database) -> None:
    apply(db, change("lead", lead_data("lead1", "CH1", version=1)))
    db.writer.call(_update, "lead1", {"status": "appointment", "assignee_id": "S1",
                                      "assignee_name": "Sam Staff", "note": "call Tue"})
    # someone else's unrelated change (v2) arrives before ours is delivered
    apply(db, change("lead", lead_data("lead1", "CH1", version=2, name="Alice S.")))
    d = db.reader.call(store.get_lead, "lead1")
    assert d is not None
    assert (d.pipeline_status, d.assignee_id, d.name, d.version) == (
        "appointment", "S1", "Alice S.", 2)
    assert d.pending_update and [n.body for n in d.notes if n.pending] == ["call Tue"]
    [row] = db.reader.call(store.list_outbox)
    assert row.payload["baseVersion"] == 1
    assert row.payload["base"] == {"status": "new", "assigneeId": None}
    # discarding the edit brings back the mirrored state
    db.writer.call(store.discard_row, row.outbox_id)
    d = db.reader.call(store.get_lead, "lead1")
    assert d is not None and (d.pipeline_status, d.assignee_id) == ("new", None)


def test_update_of_unknown_lead_is_refused(db: Database) -> None:
    with pytest.raises(EngineError) as err:
        db.writer.call(_update, "nope", {"status": "won"})
    assert err.value.reason == "lead_not_found"


def test_mark_read_zeroes_unread_and_queues_one_receipt(db: Database) -> None:
    apply(db, change("conversation", conv_data("CH1", unread=3, version=1)),
          change("lead", lead_data("lead1", "CH1")))
    first = db.writer.call(store.enqueue_mark_read, "CH1")
    again = db.writer.call(store.enqueue_mark_read, "CH1")
    assert first == again
    # an older server view with unread messages does not bring the badge back meanwhile
    apply(db, change("conversation", conv_data("CH1", unread=3, version=2)))
    [row] = db.reader.call(store.list_leads, LeadFilter(), 0, 10, ME)
    assert row.unread == 0


def test_outbox_lanes_in_order_and_requeue_of_inflight(db: Database) -> None:
    a1 = db.writer.call(store.enqueue_send, "CHa", "a1", ME)
    db.writer.call(store.enqueue_send, "CHa", "a2", ME)
    b1 = db.writer.call(store.enqueue_send, "CHb", "b1", ME)
    heads, _ = db.reader.call(store.due_heads, [], 10)
    assert {h.payload["body"] for h in heads} == {"a1", "b1"}
    assert db.writer.call(store.mark_inflight, a1.outbox_id)
    heads, _ = db.reader.call(store.due_heads, [], 10)
    assert [h.payload["body"] for h in heads] == ["b1"]  # a2 waits behind in-flight a1
    # the process dies here; on start the in-flight row is first in its lane again,
    # and the interrupted attempt does not count as a failure for the backoff
    assert db.writer.call(store.requeue_inflight) == 1
    assert [r.attempts for r in db.reader.call(store.list_outbox)][:1] == [0]
    heads, _ = db.reader.call(store.due_heads, ["c:CHb"], 10)
    assert [h.payload["body"] for h in heads] == ["a1"]
    # a row waiting for its retry time blocks its lane and reports when it is due
    db.writer.call(store.mark_retry, a1.outbox_id, 60.0, "503")
    heads, next_at = db.reader.call(store.due_heads, ["c:CHb"], 10)
    assert heads == [] and next_at is not None
    del b1


def test_final_failure_keeps_reason_and_retry_requeues_same_key(db: Database) -> None:
    msg = db.writer.call(store.enqueue_send, "CH1", "hello", ME)
    [row] = db.reader.call(store.list_outbox)
    db.writer.call(store.mark_failed, row.outbox_id, "recipient_opted_out", "opted out")
    [m] = db.reader.call(store.thread, "CH1", 10, None)
    assert (m.status, m.error_reason, m.outbox_id) == ("failed_local", "recipient_opted_out",
                                                       row.outbox_id)
    assert db.reader.call(store.outbox_counts) == (0, 1)
    db.writer.call(store.retry_row, row.outbox_id)
    [again] = db.reader.call(store.list_outbox)
    assert again.idempotency_key == row.idempotency_key and again.state == "pending"
    [m] = db.reader.call(store.thread, "CH1", 10, None)
    assert m.status == "pending" and m.local_id == msg.local_id


def test_lists_filters_counts_and_locations(db: Database) -> None:
    apply(db, change("location", {"locationId": "L1", "retailerId": "R1", "name": "Downtown",
                                  "web2textNumber": "+13125550100", "version": 1}),
          change("conversation", conv_data("CH1", unread=2, preview="hello", at=50)),
          change("lead", lead_data("lead1", "CH1", at=10, name="Alice Smith")),
          change("lead", lead_data("lead2", None, at=20, name="Bob Jones", assignee="S1",
                                   pipeline="won", phone="+13125550999")),
          change("lead", lead_data("lead3", None, at=30, name="Carl Closed", status="CLOSED")))
    rows = db.reader.call(store.list_leads, LeadFilter(), 0, 10, ME)
    assert [r.lead_id for r in rows] == ["lead1", "lead3", "lead2"]  # by last activity
    assert rows[0].unread == 2 and rows[0].last_message_preview == "hello"
    assert rows[0].awaiting_first_reply_since is not None
    assert rows[1].awaiting_first_reply_since is None  # closed
    f = LeadFilter(unread_only=True)
    assert [r.lead_id for r in db.reader.call(store.list_leads, f, 0, 10, ME)] == ["lead1"]
    assert db.reader.call(store.count_leads, LeadFilter(mine=True), ME) == 1
    assert db.reader.call(store.count_leads, LeadFilter(unassigned=True), ME) == 2
    assert db.reader.call(store.count_leads, LeadFilter(pipeline_status="won"), ME) == 1
    assert db.reader.call(store.count_leads, LeadFilter(include_closed=False), ME) == 2
    assert db.reader.call(store.count_leads, LeadFilter(query="Jones"), ME) == 1
    assert db.reader.call(store.count_leads, LeadFilter(query="(312) 555-0999"), ME) == 1
    assert [r.lead_id for r in db.reader.call(store.list_leads, LeadFilter(), 1, 1, ME)] == [
        "lead3"]
    [loc] = db.reader.call(store.list_locations, ME)
    assert (loc.name, loc.unread, loc.unread_conversations, loc.open_leads) == (
        "Downtown", 2, 1, 2)


def test_location_counts_read_indexes_only(db: Database) -> None:
    """The location list's counts never read the table rows (each carries the relay's
    JSON view): on a dealer group's store that read took most of a second of the reader
    thread after every burst of changes."""
    from app.sync.store.queries import LOCATIONS_SQL

    plan = db.reader.call(lambda c: [r[3] for r in c.execute(
        "EXPLAIN QUERY PLAN " + LOCATIONS_SQL)])
    lookups = [step for step in plan if " c " in f"{step} " or " d " in f"{step} "]
    assert len(lookups) == 3, plan
    assert all("USING COVERING INDEX" in step for step in lookups), plan


def test_full_text_search_over_bodies_names_and_phones(db: Database) -> None:
    apply(db, change("lead", lead_data("lead1", "CH1", name="Alice Smith",
                                       phone="+13125550134")),
          change("message", msg_data("IM1", "CH1", "Do you carry walnut parquet flooring?")),
          change("message", msg_data("IM2", "CH1", "Thanks!", at=5)))
    hits = db.reader.call(store.search, "walnut", 10)
    assert [(h.kind, h.lead_id, h.message_sid) for h in hits] == [("message", "lead1", "IM1")]
    assert f"{MATCH_START}walnut{MATCH_END}" in hits[0].snippet
    by_phone = db.reader.call(store.search, "555-0134", 10)
    assert [(h.kind, h.lead_id) for h in by_phone] == [("lead", "lead1")]
    assert db.reader.call(store.search, "smi", 10)[0].title == "Alice Smith"
    # FTS syntax in user input is taken literally, never an error
    assert db.reader.call(store.search, 'walnut" OR "x', 10) == []
    assert db.reader.call(store.search, "Al", 10)[0].lead_id == "lead1"  # short: LIKE fallback
    # an edited body is re-indexed
    apply(db, change("message", msg_data("IM1", "CH1", "cherry instead", version=2)))
    assert db.reader.call(store.search, "walnut", 10) == []


def test_message_search_is_newest_first_limited_with_a_marked_window(db: Database) -> None:
    # recency is created_at among the most recently stored matches: a newer message
    # stored before a few older ones still comes first, an old one stored late
    # does not jump ahead
    apply(db, change("lead", lead_data("lead1", "CH1", name="Alice Smith")),
          *[change("message", msg_data(f"IM{i}", "CH1", f"oak number {i}", at=i))
            for i in range(27)],
          change("message", msg_data("IMnew", "CH1", "oak stairs, newest", at=50)),
          *[change("message", msg_data(f"IM{i}", "CH1", f"oak number {i}", at=i))
            for i in range(27, 30)],
          change("message", msg_data("IMold", "CH1", "oak, an old one", at=-100)))
    hits = db.reader.call(store.search, "OAK", 5)
    assert [h.message_sid for h in hits] == ["IMnew", "IM29", "IM28", "IM27", "IM26"]
    assert all(h.title == "Alice Smith" and h.lead_id == "lead1" for h in hits)
    assert hits[0].snippet == f"{MATCH_START}oak{MATCH_END} stairs, newest"
    long_body = "lorem ipsum dolor sit amet " * 20 + "the Walnut plank " + "x " * 200
    apply(db, change("message", msg_data("IMlong", "CH1", long_body, at=60)))
    snippet = db.reader.call(store.search, "walnut", 1)[0].snippet
    assert f"{MATCH_START}Walnut{MATCH_END} plank" in snippet
    assert snippet.startswith("…") and snippet.endswith("…") and len(snippet) < 120


def test_thread_pages_oldest_first(db: Database) -> None:
    for i in range(5):
        apply(db, change("message", msg_data(f"IM{i}", "CH1", f"m{i}", at=i)))
    page = db.reader.call(store.thread, "CH1", 2, None)
    assert [m.body for m in page] == ["m3", "m4"]
    older = db.reader.call(store.thread, "CH1", 10, page[0].created_at)
    assert [m.body for m in older] == ["m0", "m1", "m2"]


def _update(conn, lead_id: str, kwargs: dict) -> str:  # type: ignore[no-untyped-def]
    return store.enqueue_update_lead(conn, lead_id, me=ME, **kwargs)


def test_a_key_reused_by_the_relay_on_several_messages_does_not_stop_the_feed(
        db: Database) -> None:
    first = change("message", msg_data("IMg1", "CH1", "Greeting", kind="system", key="lead-k"))
    second = change("message", msg_data("IMg2", "CH1", "New lead!", kind="system", key="lead-k"))
    result = apply(db, first, second, cursor="5")
    assert result.message_sids == {"IMg1", "IMg2"} and result.thread_sids == {"CH1"}
    assert apply(db, change("message", msg_data("IMg3", "CH1", "x", key="lead-k")),
                 cursor="6").message_sids == {"IMg3"}
    assert db.reader.call(store.cursor_of) == "6"


def test_a_batch_breaking_a_constraint_is_applied_change_by_change(db: Database) -> None:
    msg = db.writer.call(store.enqueue_send, "CH1", "mine", ME)
    [row] = db.reader.call(store.list_outbox)
    # two relay messages claiming our key in one batch: the first takes the pending row,
    # the second becomes its own message; nothing is lost and the cursor moves on
    a = change("message", msg_data("IMa", "CH1", "mine", kind="staff", key=row.idempotency_key))
    b = change("message", msg_data("IMb", "CH1", "other", kind="staff",
                                   key=row.idempotency_key))
    result = apply(db, a, b, cursor="7")
    assert result.confirmed == {msg.local_id: "IMa"}
    assert sorted(m.message_sid or "" for m in db.reader.call(store.thread, "CH1", 10, None)) \
        == ["IMa", "IMb"]
    assert db.reader.call(store.cursor_of) == "7"


def _fts_rowids(db: Database) -> list[int]:
    return [r[0] for r in db.reader.call(lambda c: c.execute(
        "SELECT rowid FROM messages_fts WHERE messages_fts MATCH '\"mahogany\"'").fetchall())]


def test_a_queued_message_is_found_before_the_relay_confirms_it_and_indexed_once_after(
        db: Database) -> None:
    apply(db, change("lead", lead_data("lead1", "CH1", name="Alice Smith")))
    queued = db.writer.call(store.enqueue_send, "CH1", "We have mahogany 50% off_today", ME)
    # the durable enqueue leaves the FTS index alone; search still finds the message
    assert _fts_rowids(db) == []
    hits = db.reader.call(store.search, "mahogany", 10)
    assert [(h.kind, h.lead_id, h.message_sid) for h in hits] == [("message", "lead1", None)]
    assert f"{MATCH_START}mahogany{MATCH_END}" in hits[0].snippet
    inbox = db.reader.call(store.list_leads, LeadFilter(query="mahogany"), 0, 10, ME)
    assert [r.lead_id for r in inbox] == ["lead1"]
    # LIKE wildcards typed by the user are literal
    assert len(db.reader.call(store.search, "50% off_t", 10)) == 1
    assert db.reader.call(store.search, "5_% off", 10) == []
    assert db.reader.call(store.list_leads, LeadFilter(query="50%_"), 0, 10, ME) == []

    key = db.reader.call(lambda c: c.execute(
        "SELECT idempotency_key FROM messages WHERE local_id = ?",
        (queued.local_id,)).fetchone()[0])
    apply(db, change("message", msg_data("IMq1", "CH1", "We have mahogany 50% off_today",
                                         kind="staff", key=key, at=9)))
    assert len(_fts_rowids(db)) == 1
    hits = db.reader.call(store.search, "mahogany", 10)
    assert [h.message_sid for h in hits] == ["IMq1"]
    # edits and deletes of confirmed rows keep the index exact
    apply(db, change("message", msg_data("IMq1", "CH1", "teak instead", kind="staff",
                                         key=key, version=2, at=9)))
    assert _fts_rowids(db) == [] and db.reader.call(store.search, "mahogany", 10) == []


def test_inbox_order_follows_the_later_of_lead_activity_and_last_message(db: Database) -> None:
    def order(f: LeadFilter | None = None) -> list[str]:
        return [r.lead_id for r in db.reader.call(store.list_leads, f or LeadFilter(), 0, 10, ME)]

    # the lead arrives before its conversation and the other way round
    apply(db, change("lead", lead_data("leadA", "CHA", at=10)),
          change("conversation", conv_data("CHB", at=5)),
          change("lead", lead_data("leadB", "CHB", at=20)),
          change("lead", lead_data("leadC", None, at=30)))
    assert order() == ["leadC", "leadB", "leadA"]
    # a new message in A's conversation (the conversation row appears later)
    apply(db, change("conversation", conv_data("CHA", at=40)))
    assert order() == ["leadA", "leadC", "leadB"]
    # B's conversation moves on; then B's own activity moves past it
    apply(db, change("conversation", conv_data("CHB", at=50, version=2)))
    assert order() == ["leadB", "leadA", "leadC"]
    apply(db, change("lead", lead_data("leadC", None, at=60, version=2)))
    assert order() == ["leadC", "leadB", "leadA"]
    # an older conversation version changes nothing; ties go by lead id
    apply(db, change("conversation", conv_data("CHB", at=99, version=1)))
    apply(db, change("lead", lead_data("leadD", "CHB", at=0)))
    assert order() == ["leadC", "leadB", "leadD", "leadA"]
    assert order(LeadFilter(location_id="L1")) == order()
    # the stored order is exactly what the old computed expression gives
    recomputed = db.reader.call(lambda c: [r[0] for r in c.execute(
        "SELECT d.lead_id FROM leads d LEFT JOIN conversations c "
        "ON c.conversation_sid = d.conversation_sid "
        "ORDER BY max(d.last_activity_at, coalesce(c.last_message_at, '')) DESC, d.lead_id")])
    assert order() == recomputed


def test_another_process_sees_each_commit_while_both_threads_hold_connections(
        tmp_path: Path) -> None:
    """Both store threads open their connections, then every write is visible at once to
    a process of its own (e.g. `web2text-sync status` beside a running engine). Closing a
    stray descriptor of the file would drop this process's locks and let that process
    reset the WAL under the open connections."""
    import subprocess
    import sys

    database = Database.open(tmp_path / "d")
    try:
        assert database.reader.call(store.outbox_counts) == (0, 0)
        count = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                 "print(c.execute('SELECT count(*) FROM outbox').fetchone()[0])")
        for expected in (1, 2):
            database.writer.call(store.enqueue_send, "CH1", f"hello {expected}", ME)
            seen = subprocess.run([sys.executable, "-c", count, str(database.path)],
                                  capture_output=True, text=True, check=True).stdout
            assert int(seen) == expected
    finally:
        database.close()
