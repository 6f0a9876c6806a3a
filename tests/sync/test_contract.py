"""The wire contract, relay → engine: every change kind the relay builds, with its own
code, lands in the local store as the relay sent it.

- `test_relay_views_with_every_field_round_trip`: the relay's view builders
  (`lead_view`, `conversation_view`, `message_view` of the relay's stores,
  `directory.Location.view`) and change envelope
  (`ChangeRecord.wire`) over items with every optional field set, through JSON, into
  the store's mirror; no DynamoDB needed.
- `test_live_relay_feed_round_trips_every_kind`: the real relay on DynamoDB Local with
  the Twilio simulator; a lead, sends, a reply, a lead edit and a read receipt made
  through the relay's own endpoints; the engine follows the feed; then the relay's
  whole feed and `/v1/me` are compared with what the engine stored.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest

from app.core.wire import (
    Change,
    ConversationView,
    EntityKind,
    LeadView,
    LocationView,
    MessageView,
    ScheduledView,
    StaffView,
)
from app.core.wire_team import TemplatesView
from app.relay import (
    conversation_store,
    directory,
    lead_store,
    message_store,
    scheduled,
    templates_api,
)
from app.relay.change_records import ChangeRecord
from app.sandbox.twilio_sim import SimHandle
from app.sync import feed, shared_templates, store
from app.sync.api import LeadDetail, LocationRow, SharedTemplate, SyncState, ThreadMessage
from app.sync.db import Database
from app.sync.engine import SyncEngine
from app.sync.inbox import parse_ts
from app.sync.store.access import read_one
from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay
from tests.support.twilio_sim import running_simulator
from tests.sync.conftest import Recorder, fast_engine
from tests.sync.integration import create_lead

LOCATION = "L-contract"
CONV = "CHcontract"


# --------------------------------------------------------------------------- what "holds" means


def assert_lead_mirrored(detail: LeadDetail | None, view: LeadView) -> None:
    assert detail is not None
    customer = view.customer
    assert (detail.lead_id, detail.retailer_id, detail.location_id, detail.conversation_sid) \
        == (view.lead_id, view.retailer_id, view.location_id, view.conversation_sid)
    assert (detail.status, detail.pipeline_status, detail.assignee_id, detail.assignee_name) \
        == (view.status.value, view.pipeline_status.value, view.assignee_id, view.assignee_name)
    assert (detail.name, detail.phone, detail.preferred_contact, detail.customer_message,
            detail.page_url, detail.ip_address) == (
        customer.name, customer.phone, customer.preferred_contact.value, customer.message,
        customer.page_url, customer.ip_address)
    for shown, given in ((detail.product, customer.product), (detail.traffic, customer.traffic)):
        assert shown == (None if given is None else given.model_dump(exclude_none=True))
    assert (detail.date_submitted, detail.last_activity_at, detail.first_staff_reply_at) == (
        view.date_submitted, view.last_activity_at, view.first_staff_reply_at)
    assert (detail.opted_out, detail.possible_opt_out, detail.close_reason, detail.version) == (
        view.opted_out, view.possible_opt_out, view.close_reason, view.version)
    assert [(n.note_id, n.author_id, n.author_name, n.body, n.at) for n in detail.notes] == [
        (n.note_id, n.author_id, n.author_name, n.body, n.at) for n in view.notes]
    assert [(a.at, a.kind, a.text) for a in detail.activity] == [
        (a.at, a.kind, a.text) for a in view.activity]
    assert [(i.name, i.status, i.last_synced, i.error, i.detail, i.retrying, i.unconfirmed)
            for i in detail.integrations] == [
        (i.name, i.status, i.last_synced, i.error, i.detail, i.retrying, i.unconfirmed)
        for i in view.integrations]


def assert_message_mirrored(shown: ThreadMessage, view: MessageView) -> None:
    assert (shown.message_sid, shown.conversation_sid, shown.author_kind, shown.body,
            shown.created_at, shown.status) == (
        view.message_sid, view.conversation_sid, view.author_kind.value, view.body,
        view.created_at, view.status.value)
    if view.author_kind.value != "customer":
        assert shown.author_name == (view.staff_name or view.author)


def assert_location_mirrored(row: LocationRow, view: LocationView) -> None:
    assert (row.location_id, row.name, row.web2text_number, row.store_number, row.timezone) == (
        view.location_id, view.name, view.web2text_number, view.store_number, view.timezone)


def stored_conversation(conn: Any, sid: str) -> tuple[Any, ...]:
    """The conversation's row, as the values of its view."""
    r = read_one(conn,
        "SELECT conversation_sid, location_id, customer_phone, web2text_number, state, "
        "unread_count, last_message_at, last_message_preview, opted_out, version "
        "FROM conversations WHERE conversation_sid = ?", (sid,))
    return (r.conversation_sid, r.location_id, r.customer_phone, r.web2text_number, r.state,
            r.unread_count, parse_ts(r.last_message_at), r.last_message_preview,
            bool(r.opted_out), r.version)


def conversation_values(view: ConversationView) -> tuple[Any, ...]:
    return (view.conversation_sid, view.location_id, view.customer_phone, view.web2text_number,
            view.state.value, view.unread_count, view.last_message_at,
            view.last_message_preview, view.opted_out, view.version)


def stored_data(conn: Any, table: str, key: str, ident: str) -> Any:
    return json.loads(conn.execute(
        f"SELECT data FROM {table} WHERE {key} = ?", (ident,)).fetchone()[0])


# --------------------------------------------------------------------------- relay views


def _relay_items() -> dict[str, dict[str, Any]]:
    """Items as the relay keeps them (DynamoDB numbers as Decimal), every field set."""
    at = "2026-02-03T04:05:06.123456Z"
    lead = {
        "LeadId": "lead-contract", "UniversalRetailerId": "R-contract", "LocationId": LOCATION,
        "Status": "CLOSED", "PipelineStatus": "won", "AssigneeId": "staff-9",
        "AssigneeName": "Jo Staff", "DateSubmitted": "2026-02-01T10:00:00Z",
        "LastInboundAt": at, "LastActivityAt": at, "FirstStaffReplyAt": "2026-02-01T10:05:00Z",
        "PossibleOptOut": True, "OptedOut": False, "CloseReason": "sold", "Version": Decimal(7),
        "Lead": {"LocationId": LOCATION, "Name": "Casey Contract", "PhoneNumber": "+13125550177",
                 "PreferredMethodOfContact": "phone", "CustomerMessage": "Oak, 40 m²?",
                 "PageUrl": "https://dealer.test/oak", "IPAddress": "203.0.113.9",
                 "AssociatedProductInfo": {"Brand": "Acme", "Product": "Oak", "Variant": "Natural"},
                 "Traffic": {"Source": "google", "Medium": "cpc", "Campaign": "spring"}},
        "Integrations": {
            "Twilio": {"SyncStatus": "SYNCED", "Data": {"ConversationSID": CONV},
                       "LastSynced": "2026-02-01T10:00:01Z"},
            "RLM": {"SyncStatus": "ERROR", "LastSynced": "2026-02-01T10:00:02Z",
                    "ErrorInfo": {"Message": "Error with RLM note endpoint syncing message 'IM1'",
                                  "Details": {"response": {"Status": Decimal(503)}},
                                  "ErrorDate": at}}},
        "ConnectorProgress": {"RLM": {"Unconfirmed": ["IM0"]}},
        "PendingShard": "P",  # the relay tries the lead again by itself
        "Notes": [{"noteId": "N1", "authorId": "staff-9", "authorName": "Jo Staff",
                   "body": "called, wants a sample", "at": "2026-02-02T09:00:00Z"}],
        "Activity": [{"at": "2026-02-01T10:00:00Z", "kind": "created", "text": "Lead created"},
                     {"at": at, "kind": "closed", "text": "Closed: sold"}],
    }
    conversation = {
        "ConversationSid": CONV, "LocationId": LOCATION, "CustomerPhone": "+13125550177",
        "Web2TextNumber": "+13125550100", "CustomerProxy": "+13125557001",
        "StoreProxy": "+13125557002", "State": "inactive", "LeadIds": ["lead-contract"],
        "UnreadCount": Decimal(2), "LastMessageAt": at, "LastMessagePreview": "Is it oak?",
        "OptedOut": True, "Version": Decimal(4),
    }
    message = {
        "MessageSid": "IMcontract", "ConversationSid": CONV, "LocationId": LOCATION,
        "Index": Decimal(3), "Author": "staff:staff-9", "AuthorKind": "staff",
        "StaffId": "staff-9", "StaffName": "Jo Staff", "Body": "Yes, solid oak",
        "Status": "undelivered", "ErrorCode": Decimal(30003), "ErrorReason": "unreachable",
        "IdempotencyKey": "01CONTRACTKEY", "CreatedAt": at, "Version": Decimal(3),
    }
    location = {"Id": LOCATION, "RetailerId": "R-contract", "Name": "Contract Floors",
                "Web2TextPhoneNumber": "+13125550100", "StorePhoneNumber": "+13125550198",
                "Timezone": "America/Chicago", "Status": "Active", "Version": Decimal(2)}
    return {"lead": lead, "conversation": conversation, "message": message,
            "location": location}


def _scheduled_item() -> dict[str, Any]:
    """A text for later as `app.relay.scheduled` stores it, every field set."""
    return {
        "MessageSid": "W2TScontract", "ConversationSid": CONV, "LocationId": LOCATION,
        "LocationIds": [LOCATION], "RetailerId": "ret-contract", "Body": "See you at 9",
        "Status": "scheduled", "SendAt": "2030-01-02T15:00:00Z",
        "RequestedSendAt": "2030-01-02T14:00:00Z", "MovedForQuietHours": True,
        "StaffId": "staff-1", "StaffName": "Sam Staff", "IdempotencyKey": "key-contract",
        "CreatedAt": "2030-01-01T10:00:00Z", "Version": 3,
    }


def _relay_changes() -> list[dict[str, Any]]:
    """The relay's own views in its own change envelope, as JSON on the wire."""
    items = _relay_items()
    views = {
        "location": directory.Location.from_item(items["location"]).view(),
        "lead": lead_store.lead_view(items["lead"]),
        "conversation": conversation_store.conversation_view(items["conversation"], LOCATION),
        "message": message_store.message_view(items["message"]),
        "templates": templates_api.templates_view(LOCATION, {
            "Templates": [{"templateId": "tpl-1", "name": "Hours", "body": "Open 9-6"}],
            "Version": 3, "UpdatedAt": "2026-05-01T10:00:00Z", "UpdatedBy": "Dana",
        }),
        "scheduled": scheduled.view(_scheduled_item()),
    }
    ids = {"location": LOCATION, "lead": "lead-contract", "conversation": CONV,
           "message": "IMcontract", "templates": LOCATION, "scheduled": "W2TScontract"}
    records = [ChangeRecord(LOCATION, seq, entity, ids[entity], int(view["version"]), view,
                            at_ms=0, cursor_after=str(seq))
               for seq, (entity, view) in enumerate(views.items(), start=1)]
    return list(json.loads(json.dumps([r.wire() for r in records])))


def test_every_kind_of_the_contract_is_covered() -> None:
    kinds = set(get_args(EntityKind))
    assert {c["entity"] for c in _relay_changes()} == kinds == feed.KNOWN_KINDS
    # the engine's typed envelopes are the wire Change, field for field
    for typed in (feed.LocationChange, feed.LeadChange, feed.ConversationChange,
                  feed.MessageChange, feed.TemplatesChange, feed.ScheduledChange):
        assert set(typed.model_fields) == set(Change.model_fields)


def test_relay_views_with_every_field_round_trip(db: Database) -> None:
    changes = _relay_changes()
    result = db.writer.call(store.apply_changes, changes, "1")
    assert result.skipped == 0
    sent = {c["entity"]: c["data"] for c in changes}
    lead = LeadView.model_validate(sent["lead"])
    assert_lead_mirrored(db.reader.call(store.get_lead, lead.lead_id), lead)
    shown_rlm = db.reader.call(store.get_lead, lead.lead_id).integrations[1]
    assert (shown_rlm.name, shown_rlm.status, shown_rlm.detail, shown_rlm.retrying,
            shown_rlm.unconfirmed) == ("RLM", "ERROR", "503", True, 1)
    shown, later = db.reader.call(store.thread, CONV, 10, None)  # the text for later last
    assert_message_mirrored(shown, MessageView.model_validate(sent["message"]))
    assert (later.message_sid, later.status, later.body) == (
        "W2TScontract", "scheduled", "See you at 9")
    assert later.created_at == datetime(2030, 1, 2, 15, 0, tzinfo=UTC)  # when it goes
    [loc] = db.reader.call(store.list_locations, None)
    assert_location_mirrored(loc, LocationView.model_validate(sent["location"]))
    conv = ConversationView.model_validate(sent["conversation"])
    assert db.reader.call(stored_conversation, CONV) == conversation_values(conv)
    shared = db.reader.call(store.get_shared_templates, LOCATION)
    assert shared == TemplatesView.model_validate(sent["templates"])
    assert LOCATION in result.location_ids
    # the entity JSON is kept exactly as the relay sent it
    for table, key, entity, ident in (("leads", "lead_id", "lead", lead.lead_id),
                                      ("conversations", "conversation_sid", "conversation", CONV),
                                      ("locations", "location_id", "location", LOCATION)):
        assert db.reader.call(stored_data, table, key, ident) == sent[entity]


# --------------------------------------------------------------------------- the live relay

POOL = [f"+1312555{n:04d}" for n in range(7301, 7306)]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    with running_simulator(pool=POOL) as handle:
        yield handle


@pytest.fixture(scope="module")
def live(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[tuple[RelayHandle, Seed]]:
    relay = start_relay(dynamodb_endpoint, sim)  # the relay's own stream settings
    seed = seed_dealer(relay, web2text_number="+13125550133", store_number="+13125550197",
                       pool=POOL)
    yield relay, seed
    relay.stop()


def relay_feed(relay: RelayHandle, key: str) -> tuple[dict[tuple[str, str], Any], Any]:
    """The relay's whole feed (newest version of each entity) and its `/v1/me`, raw JSON."""
    headers = {"Authorization": f"Bearer {key}"}
    latest: dict[tuple[str, str], Any] = {}
    cursor: str | None = None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{relay.url}/v1/changes", params=params, headers=headers,
                         timeout=10).json()
        for change in page["changes"]:
            ident = (change["entity"], change["id"])
            if ident not in latest or change["version"] >= latest[ident]["version"]:
                latest[ident] = change
        cursor = page["cursor"]
        if not page["hasMore"]:
            break
    me = httpx.get(f"{relay.url}/v1/me", headers=headers, timeout=10).json()
    return latest, me


async def _exercise_relay(engine: SyncEngine, rec: Recorder, relay: RelayHandle, seed: Seed,
                          sim: SimHandle) -> None:
    """A lead's life through the relay's own endpoints, with the engine following."""
    lead = create_lead(relay, seed, name="Casey Contract")
    await rec.wait_for(lambda: engine.status().state is SyncState.ONLINE, timeout=20)
    await engine.send_message(lead.conversation_sid, "ct: yes, solid oak")
    await engine.send_message(lead.conversation_sid, "ct: reminder",
                              send_at=datetime.now(UTC) + timedelta(hours=2))
    await engine.update_lead(lead.lead_id, status="appointment", assignee_id=seed.staff_id,
                             note="ct: sample on Tuesday")
    assert await engine.wait_idle(30)
    proxy = sim.handset(lead.customer)[-1]["from"]
    r = httpx.post(f"{sim.url}/_sim/inbound",
                   json={"from": lead.customer, "to": proxy, "body": "ct: see you then"})
    assert r.status_code < 300, r.text
    for _ in range(400):
        if any(m.body == "ct: see you then"
               for m in await engine.thread(lead.conversation_sid)):
            break
        await asyncio.sleep(0.05)
    await engine.mark_read(lead.conversation_sid)
    assert await engine.wait_idle(30)
    # shared templates: saved by this desktop (version-checked), back on the feed
    saved = await engine.save_shared_templates(
        seed.location_id, [SharedTemplate(None, "ct: hours", "Hi {first_name}, open 9-6.")], 0)
    assert saved.version == 1 and saved.templates[0].template_id


async def _caught_up(engine: SyncEngine, latest: dict[tuple[str, str], Any]) -> None:
    """Until the engine stored (at least) the relay's newest version of every entity."""
    tables = {"lead": ("leads", "lead_id"), "conversation": ("conversations",
                                                             "conversation_sid"),
              "message": ("messages", "message_sid"),
              "scheduled": ("messages", "message_sid")}

    def behind(conn: Any) -> list[tuple[str, str]]:
        late = []
        for (entity, ident), change in latest.items():
            if entity == "templates":
                shared = store.get_shared_templates(conn, ident)
                version = shared.version if shared else None
            else:
                table, key = tables[entity]
                row = conn.execute(f"SELECT version FROM {table} WHERE {key} = ?",
                                   (ident,)).fetchone()
                version = None if row is None else row[0]
            if version is None or version < change["version"]:
                late.append((entity, ident))
        return late

    for _ in range(400):
        if not await engine.db.reader.run(behind):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the engine never caught up: {await engine.db.reader.run(behind)}")


async def test_live_relay_feed_round_trips_every_kind(
        live: tuple[RelayHandle, Seed], sim: SimHandle, tmp_path: Path) -> None:
    relay, seed = live
    # the relay's default heartbeat, well within the engine's timeout
    engine = fast_engine(tmp_path / "desk", relay.url, seed.staff_key, heartbeat_timeout=45.0)
    rec = Recorder()
    engine.add_listener(rec)
    await engine.start()
    try:
        await _exercise_relay(engine, rec, relay, seed, sim)
        latest, me = relay_feed(relay, seed.staff_key)
        await _caught_up(engine, latest)
        # every kind the contract has: the feed's, and locations through /v1/me
        assert {entity for entity, _ in latest} | {"location"} == feed.KNOWN_KINDS
        kinds_seen = {(c["entity"], c["data"].get("authorKind")) for c in latest.values()}
        assert {("message", k) for k in ("customer", "staff", "system")} <= kinds_seen
        for (entity, ident), change in latest.items():
            data = change["data"]
            if entity == "lead":
                assert_lead_mirrored(await engine.get_lead(ident), LeadView.model_validate(data))
                assert await engine.db.reader.run(stored_data, "leads", "lead_id", ident) == data
            elif entity == "conversation":
                assert await engine.db.reader.run(stored_conversation, ident) \
                    == conversation_values(ConversationView.model_validate(data))
            elif entity == "templates":
                assert await engine.shared_templates(ident) == shared_templates.from_view(
                    TemplatesView.model_validate(data), ident)
            elif entity == "scheduled":
                later = ScheduledView.model_validate(data)
                [shown] = [m for m in await engine.thread(later.conversation_sid)
                           if m.message_sid == ident]
                assert (shown.status, shown.body, shown.created_at) == (
                    "scheduled", later.body, later.send_at)
            else:
                view = MessageView.model_validate(data)
                [shown] = [m for m in await engine.thread(view.conversation_sid)
                           if m.message_sid == ident]
                assert_message_mirrored(shown, view)
        staff = StaffView.model_validate(me)
        assert engine.me is not None and engine.me.staff_id == staff.staff_id
        rows = {row.location_id: row for row in await engine.list_locations()}
        for loc in staff.locations:
            assert_location_mirrored(rows[loc.location_id], loc)
    finally:
        await engine.stop()
