"""`WaitBook`: the escalation's waits kept from the engine's whole answer, then from
its answers about the leads that changes name."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from app.sync.api import ChangesApplied, WaitingLead
from app.ui.escalation_book import Scope, WaitBook

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def wait(lead: str, minutes_ago: float, *, loc: str = "L1", target: int = 5) -> WaitingLead:
    since = NOW - timedelta(minutes=minutes_ago)
    return WaitingLead(lead, f"CH-{lead}", loc, f"Buyer {lead}", since, target)


def scope(**named: set[str]) -> Scope:
    s = Scope()
    s.add(ChangesApplied(**{k: frozenset(v) for k, v in named.items()}))
    return s


def test_each_wait_comes_due_once_and_the_next_due_is_known() -> None:
    book = WaitBook()
    book.replace_all([wait("a", 30), wait("b", 10), wait("c", 3), wait("d", 1, target=30)])
    assert [w.lead_id for w in book.came_due(NOW)] == ["a", "b"]  # longest first
    assert book.due_count == 2
    assert book.came_due(NOW) == []  # looked at again: nobody twice
    assert book.next_due_at() == NOW + timedelta(minutes=2)  # c's
    assert [w.lead_id for w in book.came_due(NOW + timedelta(minutes=2))] == ["c"]
    assert book.due_count == 3
    assert book.next_due_at() == NOW + timedelta(minutes=29)  # d's


def test_changes_replace_only_the_leads_they_name() -> None:
    book = WaitBook()
    book.replace_all([wait("a", 30), wait("b", 10), wait("c", 10, loc="L2"), wait("d", 3)])
    book.came_due(NOW)
    assert book.due_count == 3
    # a staff reply to a (named by its lead) and to b (by its thread): they wait no
    # more; c and d are not named, so kept as they were
    book.update(scope(lead_ids={"a"}, thread_sids={"CH-b"}), [])
    assert book.due_count == 1
    assert book.next_due_at() == NOW + timedelta(minutes=2)
    # b's customer texts again: a new wait, notified again once due
    book.update(scope(conversation_sids={"CH-b"}), [wait("b", 6)])
    assert [w.lead_id for w in book.came_due(NOW)] == ["b"]
    # the same wait with another name (the lead was edited): not notified twice
    book.update(scope(lead_ids={"b"}), [replace(wait("b", 6), name="Bea")])
    assert book.came_due(NOW) == [] and book.due_count == 2
    # a location's target changed: its leads asked again, and c is not due any more
    book.update(scope(location_ids={"L2"}), [wait("c", 10, loc="L2", target=30)])
    assert book.due_count == 1
    # twenty minutes on: d comes due; c again too, but it was notified already
    assert [w.lead_id for w in book.came_due(NOW + timedelta(minutes=20))] == ["d"]
    assert book.due_count == 3


def test_a_wait_that_ended_is_forgotten() -> None:
    book = WaitBook()
    book.replace_all([wait("a", 30)])
    assert len(book.came_due(NOW)) == 1
    book.update(scope(lead_ids={"a"}), [])  # answered
    book.update(scope(lead_ids={"a"}), [wait("a", 30)])  # the same moment again
    assert [w.lead_id for w in book.came_due(NOW)] == ["a"]


def test_replaced_waits_do_not_pile_up() -> None:
    book = WaitBook()
    book.replace_all([wait("a", 1, target=60)])
    for i in range(1000):
        book.update(scope(lead_ids={"a"}), [replace(wait("a", 1, target=60), name=f"n{i}")])
    assert len(book._upcoming) <= 2 * 1 + 65
    assert book.next_due_at() == NOW + timedelta(minutes=59)
