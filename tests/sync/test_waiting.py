"""Unanswered leads: who waits for a reply since when, against each location's target
(the store's query behind the "Needs reply" chip and the escalation notification)."""

from __future__ import annotations

from datetime import timedelta

from app.sync import store
from app.sync.api import ChangesApplied, LeadFilter
from app.sync.db import Database
from app.sync.inbox import parse_ts
from tests.sync.fake_relay import LOC, change, conv_data, lead_data, msg_data, ts


def _location(target: int | None, location: str = LOC, version: int = 1) -> dict[str, object]:
    data: dict[str, object] = {
        "locationId": location,
        "retailerId": "R1",
        "name": f"Store {location}",
        "web2textNumber": "+13125550100",
        "version": version,
    }
    if target is not None:
        data["replyTargetMinutes"] = target
    return change("location", data)


def test_who_waits_since_when_and_the_needs_reply_filter(db: Database) -> None:
    changes = [
        _location(10),
        _location(None, location="L2"),
        # a new lead nobody answered: waits since it came
        change("conversation", conv_data("CH1")),
        change("lead", lead_data("new", "CH1", at=-3600)),
        # answered, then the customer wrote twice: waits since the first of those
        change("conversation", conv_data("CH2")),
        change("lead", lead_data("texted", "CH2", at=-7200)),
        change("message", msg_data("M1", "CH2", "hi", kind="staff", at=-7000)),
        change("message", msg_data("M2", "CH2", "still there?", at=-1800)),
        change("message", msg_data("M3", "CH2", "hello?", at=-60)),
        # answered after the customer's text: nobody waits
        change("conversation", conv_data("CH3")),
        change("lead", lead_data("answered", "CH3", at=-7200)),
        change("message", msg_data("M4", "CH3", "price?", at=-600)),
        change("message", msg_data("M5", "CH3", "$4/sqft", kind="store", at=-300)),
        # closed and opted out: never escalate
        change("conversation", conv_data("CH4")),
        change("lead", lead_data("closed", "CH4", at=-3600, status="CLOSED")),
        change("conversation", {**conv_data("CH5"), "optedOut": True}),
        change("lead", lead_data("stopped", "CH5", at=-3600)),
        # another location, no target set: the default 5 minutes; waiting 2 minutes
        change("conversation", conv_data("CH6", location="L2")),
        change("lead", lead_data("fresh", "CH6", at=-120, location="L2")),
    ]
    db.writer.call(store.apply_changes, changes, "1")
    waiting = db.reader.call(store.waiting_for_reply, None)
    assert [w.lead_id for w in waiting] == ["new", "texted", "fresh"]  # longest wait first
    new, texted, fresh = waiting
    assert new.waiting_since == parse_ts(ts(-3600)) and new.target_minutes == 10
    assert texted.waiting_since == parse_ts(ts(-1800))
    assert fresh.target_minutes == 5 and fresh.location_id == "L2"
    assert fresh.due_at == fresh.waiting_since + timedelta(minutes=5)
    # "Needs reply": past the target now
    now = parse_ts(ts(0))
    assert now is not None
    rows = db.reader.call(store.list_leads, LeadFilter(needs_reply_at=now), 0, 100, None)
    assert {r.lead_id for r in rows} == {"new", "texted"}
    assert db.reader.call(store.count_leads, LeadFilter(needs_reply_at=now), None) == 2
    # four minutes on, the fresh one is due too
    later = now + timedelta(minutes=4)
    rows = db.reader.call(store.list_leads, LeadFilter(needs_reply_at=later), 0, 100, None)
    assert {r.lead_id for r in rows} == {"new", "texted", "fresh"}
    # the target is the location's, shown with it
    targets = {
        r.location_id: r.reply_target_minutes for r in db.reader.call(store.list_locations, None)
    }
    assert targets == {LOC: 10, "L2": 5}
    # a staff reply ends the wait
    db.writer.call(
        store.apply_changes,
        [change("message", msg_data("M6", "CH2", "yes!", kind="staff", at=-10))],
        "2",
    )
    assert "texted" not in {w.lead_id for w in db.reader.call(store.waiting_for_reply, None)}


def test_waits_among_changed_leads_read_only_theirs(db: Database) -> None:
    changes = [_location(10), _location(None, location="L2")]
    for i in range(6):
        loc = "L2" if i == 5 else LOC
        changes += [
            change("conversation", conv_data(f"CH{i}", location=loc)),
            change("lead", lead_data(f"lead{i}", f"CH{i}", at=-3600 + i, location=loc)),
        ]
    changes.append(change("message", msg_data("M1", "CH1", "hi", kind="staff", at=-600)))
    changes.append(change("message", msg_data("M2", "CH1", "hello?", at=-300)))
    db.writer.call(store.apply_changes, changes, "1")
    every = {w.lead_id: w for w in db.reader.call(store.waiting_for_reply, None)}
    assert set(every) == {f"lead{i}" for i in range(6)}

    def among(**named: set[str]) -> dict[str, object]:
        scope = ChangesApplied(**{k: frozenset(v) for k, v in named.items()})
        return {w.lead_id: w for w in db.reader.call(store.waiting_for_reply, None, scope)}

    # by lead, by conversation (of a lead or of a message) and by location: the same
    # waits the whole query finds, and only those
    assert among(lead_ids={"lead0"}) == {"lead0": every["lead0"]}
    assert among(conversation_sids={"CH1"}) == {"lead1": every["lead1"]}
    assert among(thread_sids={"CH2"}, lead_ids={"lead3"}) == {
        "lead2": every["lead2"], "lead3": every["lead3"]
    }
    assert among(location_ids={"L2"}) == {"lead5": every["lead5"]}
    assert among() == {}
    # a staff reply: the lead is in scope, and waits no more
    db.writer.call(
        store.apply_changes,
        [change("message", msg_data("M3", "CH1", "yes!", kind="staff", at=-10))],
        "2",
    )
    assert among(thread_sids={"CH1"}) == {}
