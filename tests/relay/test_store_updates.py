"""Read-free updates of shared items (`lead_store.note_lead_message`) on DynamoDB Local:
no lost update under concurrency, Version still moves, closed and missing leads
are left alone, items other systems wrote (no Version, no Activity) work, and
the activity list stays bounded."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.relay import conversation_store, lead_store, versioned
from app.relay.config import Settings
from app.relay.ddb import Tables
from app.relay.versioned import Item, Updates
from tests.support.relay import init_tables, new_prefix, tables_for

pytestmark = pytest.mark.dynamodb


@pytest.fixture(scope="module")
def settings(dynamodb_endpoint: str) -> Settings:
    return init_tables(dynamodb_endpoint, new_prefix())


@pytest.fixture(scope="module")
def tables(settings: Settings) -> Tables:
    return tables_for(settings)


def _lead(tables: Tables, **extra: object) -> str:
    lead_id = str(uuid.uuid4())
    tables.leads.put_item(Item={"LeadId": lead_id, "Status": "ACTIVE", **extra})
    return lead_id


def test_concurrent_messages_lose_nothing_and_bump_version(tables: Tables) -> None:
    lead_id = _lead(tables, Version=3, Activity=[], PipelineStatus="engaged")

    def note(i: int) -> None:
        entry = lead_store.activity("inbound", f"text {i}", f"2026-01-01T00:00:{i:02d}Z")
        lead_store.note_lead_message(tables, lead_id, entry, {"LastInboundAt": f"t{i}"})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(note, range(24)))
    item = lead_store.get_lead(tables, lead_id)
    assert item is not None
    assert sorted(a["text"] for a in item["Activity"]) == sorted(f"text {i}" for i in range(24))
    assert item["Version"] == 3 + 24
    # a version-guarded update that read before these now fails and retries
    with pytest.raises(versioned.VersionConflict):
        lead_store.update_lead(tables, lead_id, lambda cur: {"Notes": []}, expected_version=3)


def test_item_written_by_another_system_and_if_missing(tables: Tables) -> None:
    lead_id = _lead(tables)  # no Version, no Activity
    entry = lead_store.activity("outbound", "hi", "2026-01-01T00:00:00Z")
    first = lead_store.note_lead_message(
        tables, lead_id, entry, {}, set_if_missing={"FirstStaffReplyAt": "first"}
    )
    again = lead_store.note_lead_message(
        tables, lead_id, entry, {}, set_if_missing={"FirstStaffReplyAt": "second"}
    )
    assert first is not None and first["Version"] == 1 and len(first["Activity"]) == 1
    assert again is not None and again["FirstStaffReplyAt"] == "first"
    assert again["Version"] == 2 and len(again["Activity"]) == 2


def test_closed_or_missing_leads_are_left_alone(tables: Tables) -> None:
    closed = _lead(tables, Version=5)
    tables.leads.update_item(
        Key={"LeadId": closed},
        UpdateExpression="SET #s = :c",
        ExpressionAttributeNames={"#s": "Status"},
        ExpressionAttributeValues={":c": "CLOSED"},
    )
    entry = lead_store.activity("inbound", "late", "2026-01-01T00:00:00Z")
    assert lead_store.note_lead_message(tables, closed, entry, {"LastInboundAt": "x"}) is None
    item = lead_store.get_lead(tables, closed)
    assert item is not None and "LastInboundAt" not in item and item["Version"] == 5
    missing = str(uuid.uuid4())
    assert lead_store.note_lead_message(tables, missing, entry, {}) is None
    assert lead_store.get_lead(tables, missing) is None  # not created by the update


def test_activity_stays_bounded(tables: Tables) -> None:
    # lifecycle entries beyond MAX_ACTIVITY: the oldest go
    old = [lead_store.activity("note", f"old {i}", "2026-01-01T00:00:00Z") for i in range(218)]
    lead_id = _lead(tables, Version=1, Activity=old)
    entry = lead_store.activity("inbound", "new 1", "2026-01-02T00:00:00Z")
    item = lead_store.note_lead_message(tables, lead_id, entry, {})
    assert item is not None and len(item["Activity"]) == 219  # under the trim mark
    item = lead_store.note_lead_message(tables, lead_id, {**entry, "text": "new 2"}, {})
    assert item is not None and len(item["Activity"]) == lead_store.MAX_ACTIVITY
    assert [a["text"] for a in item["Activity"][-2:]] == ["new 1", "new 2"]
    stored = lead_store.get_lead(tables, lead_id)
    assert stored is not None and stored["Activity"] == item["Activity"]


def test_message_entries_never_push_out_the_lead_history(tables: Tables) -> None:
    # A chatty conversation keeps only its latest message entries in the lead;
    # the lifecycle (created, pipeline moves, notes) stays, however many texts come.
    history = [
        lead_store.activity("created", "Lead submitted on the website", "2026-01-01T00:00:00Z"),
        lead_store.activity("pipeline", "new → contacted", "2026-01-01T00:01:00Z"),
    ]
    lead_id = _lead(tables, Version=1, Activity=history)
    lengths = []
    for i in range(150):
        at = f"2026-01-01T{1 + i // 60:02d}:{i % 60:02d}:00Z"
        entry = lead_store.activity("inbound" if i % 2 else "outbound", f"text {i}", at)
        item = lead_store.note_lead_message(tables, lead_id, entry, {})
        assert item is not None
        lengths.append(len(item["Activity"]))
    stored = lead_store.get_lead(tables, lead_id)
    assert stored is not None
    kinds = [a["kind"] for a in stored["Activity"]]
    assert kinds[:2] == ["created", "pipeline"]
    messages = [a["text"] for a in stored["Activity"] if a["kind"] in ("inbound", "outbound")]
    assert (
        lead_store.MESSAGE_ACTIVITY_KEEP <= len(messages) < 2 * lead_store.MESSAGE_ACTIVITY_KEEP + 2
    )
    assert messages[-1] == "text 149"
    assert messages == [f"text {i}" for i in range(150 - len(messages), 150)]
    # bounded all along: the item never grew with the conversation
    assert max(lengths) <= 2 + 2 * lead_store.MESSAGE_ACTIVITY_KEEP


def test_bounded_activity_keeps_order_and_lifecycle() -> None:
    entries = [lead_store.activity("created", "c", "t0")]
    entries += [lead_store.activity("inbound", f"m{i}", f"t{i}") for i in range(30)]
    entries += [lead_store.activity("note", "n", "t99")]
    bounded = lead_store.bounded_activity(entries)
    assert bounded[0]["kind"] == "created" and bounded[-1]["kind"] == "note"
    assert [a["text"] for a in bounded[1:-1]] == [f"m{i}" for i in range(10, 30)]
    assert lead_store.bounded_activity(bounded) == bounded


def test_effects_are_applied_once_per_message_sid(tables: Tables) -> None:
    """`message_sid` makes a message's effects idempotent: a second application (a
    redelivery, a recovery, a concurrent duplicate) changes nothing."""
    lead_id = _lead(tables, Version=1, Activity=[])
    entry = lead_store.activity("inbound", "once", "2026-01-01T00:00:00Z")

    def note(_: int) -> object:
        return lead_store.note_lead_message(tables, lead_id, entry, {}, message_sid="IM1")

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(note, range(6)))
    assert sum(r is not None for r in results) == 1
    item = lead_store.get_lead(tables, lead_id) or {}
    assert [a["text"] for a in item["Activity"]] == ["once"]
    assert item[versioned.EFFECTS_ATTR] == ["IM1"] and item["Version"] == 2

    sid = "CH" + uuid.uuid4().hex
    tables.conversations.put_item(Item={"ConversationSid": sid, "Version": 1, "UnreadCount": 0})

    def bump(_: int) -> bool:
        try:
            conversation_store.bump_conversation(
                tables, sid, {}, {"UnreadCount": 1}, message_sid="IM1"
            )
            return True
        except versioned.AlreadyApplied as done:
            assert done.item["UnreadCount"] == 1
            return False

    with ThreadPoolExecutor(6) as pool:
        assert sum(pool.map(bump, range(6))) == 1
    conv = conversation_store.get_conversation(tables, sid) or {}
    assert conv["UnreadCount"] == 1 and conv[versioned.EFFECTS_ATTR] == ["IM1"]
    with pytest.raises(versioned.NotFound):
        conversation_store.bump_conversation(tables, "CHmissing", {}, {}, message_sid="IM1")


def test_effects_lists_stay_bounded(tables: Tables) -> None:
    lead_id = _lead(tables, Version=1)
    sid = "CH" + uuid.uuid4().hex
    tables.conversations.put_item(Item={"ConversationSid": sid, "Version": 1})
    total = versioned.EFFECTS_KEEP + 45
    for i in range(total):
        entry = lead_store.activity(
            "inbound", f"m{i}", f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z"
        )
        assert lead_store.note_lead_message(tables, lead_id, entry, {}, message_sid=f"IM{i}")
        conversation_store.bump_conversation(tables, sid, {}, {}, message_sid=f"IM{i}")
    for item in (
        lead_store.get_lead(tables, lead_id),
        conversation_store.get_conversation(tables, sid),
    ):
        assert item is not None
        sids = item[versioned.EFFECTS_ATTR]
        assert versioned.EFFECTS_KEEP <= len(sids) < versioned.EFFECTS_KEEP + 20
        assert sids == [f"IM{i}" for i in range(total - len(sids), total)]  # newest kept


def test_trims_start_from_the_item_in_hand(tables: Tables) -> None:
    """The trim after an append computes from the ALL_NEW item: no GetItem."""
    lead_id = _lead(tables, Version=1)
    sid = "CH" + uuid.uuid4().hex
    tables.conversations.put_item(Item={"ConversationSid": sid, "Version": 1})
    for i in range(versioned.EFFECTS_KEEP + 19):  # one short of the trim mark
        entry = lead_store.activity("note", f"n{i}")
        assert lead_store.note_lead_message(tables, lead_id, entry, {}, message_sid=f"IM{i}")
        conversation_store.bump_conversation(tables, sid, {}, {}, message_sid=f"IM{i}")
    before = tables.call_counts()
    last = f"IM{versioned.EFFECTS_KEEP + 19}"
    lead = lead_store.note_lead_message(
        tables, lead_id, lead_store.activity("note", "last"), {}, message_sid=last
    )
    conv = conversation_store.bump_conversation(tables, sid, {}, {}, message_sid=last)
    after = tables.call_counts()
    assert lead is not None and len(lead[versioned.EFFECTS_ATTR]) == versioned.EFFECTS_KEEP
    assert len(conv[versioned.EFFECTS_ATTR]) == versioned.EFFECTS_KEEP
    assert after.get("GetItem", 0) == before.get("GetItem", 0)
    assert after["UpdateItem"] - before["UpdateItem"] == 4  # append + trim, twice


def test_a_stale_item_in_hand_loses_no_write(tables: Tables) -> None:
    """The item handed to update_lead is out of date (another write since): the
    Version condition fails, the retry reads, and both changes are kept."""
    lead_id = _lead(tables, Version=1, Activity=[])
    stale = lead_store.get_lead(tables, lead_id)
    assert stale is not None
    lead_store.update_lead(tables, lead_id, lambda cur: {"Note": "other writer"})
    seen: list[object] = []

    def fn(cur: Item) -> Updates:
        seen.append(cur.get("Note"))
        return {"Trimmed": True}

    item = lead_store.update_lead(tables, lead_id, fn, current=stale)
    assert seen == [None, "other writer"]  # the stale try, then the read one
    assert item is not None and item["Note"] == "other writer" and item["Trimmed"] is True
    assert item["Version"] == 3


def test_already_applied_reads_the_error_answer(settings: Settings) -> None:
    """A refused effect answers the item as it is, read from the error answer's
    attribute values (ReturnValuesOnConditionCheckFailure)."""
    tables = Tables.from_settings(settings)
    sid = "CH" + uuid.uuid4().hex
    tables.conversations.put_item(Item={"ConversationSid": sid, "Version": 1, "UnreadCount": 0})
    conversation_store.bump_conversation(tables, sid, {}, {"UnreadCount": 1}, message_sid="IMb")
    with pytest.raises(versioned.AlreadyApplied) as done:
        conversation_store.bump_conversation(tables, sid, {}, {"UnreadCount": 1}, message_sid="IMb")
    assert done.value.item["UnreadCount"] == 1 and done.value.item["Version"] == 2
    with pytest.raises(versioned.NotFound):
        conversation_store.bump_conversation(tables, "CHmissing", {}, {}, message_sid="IMb")
    lead_id = _lead(tables, Version=1)
    entry = lead_store.activity("inbound", "x", "2026-01-01T00:00:00Z")
    assert lead_store.note_lead_message(tables, lead_id, entry, {}, message_sid="IMb") is not None
    assert lead_store.note_lead_message(tables, lead_id, entry, {}, message_sid="IMb") is None
