"""The per-lead lock (`app.relay.lead_lock`) on DynamoDB Local, with two lock
objects standing for two relay processes on the same table."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from app.relay.ddb import Tables
from app.relay.lead_lock import CloseAsked, LeadLock, LockLost
from tests.support.relay import init_tables, new_prefix

LEASE_S = 1.0


@pytest.fixture(scope="module")
def tables(dynamodb_endpoint: str) -> Tables:
    return Tables.from_settings(init_tables(dynamodb_endpoint, new_prefix()))


@pytest.fixture
def lead(tables: Tables) -> Iterator[str]:
    lead_id = str(uuid.uuid4())
    tables.leads.put_item(Item={"LeadId": lead_id, "Status": "ACTIVE", "Version": 1})
    yield lead_id


def item(tables: Tables, lead_id: str) -> dict[str, Any]:
    return dict(tables.leads.get_item(Key={"LeadId": lead_id}, ConsistentRead=True)["Item"])


def test_one_holder_at_a_time(tables: Tables, lead: str) -> None:
    a, b = LeadLock(tables, LEASE_S), LeadLock(tables, LEASE_S)
    token = a.acquire(lead, 0)
    assert token is not None
    assert b.acquire(lead, 0) is None
    assert a.try_acquire(lead, token)  # already ours
    assert a.release(lead, token)
    assert "LockOwner" not in item(tables, lead)
    assert b.acquire(lead, 0) is not None
    assert LeadLock(tables, LEASE_S).acquire(str(uuid.uuid4()), 0) is None  # no such lead


def test_the_heartbeat_keeps_a_live_holding(tables: Tables, lead: str) -> None:
    a, b = LeadLock(tables, LEASE_S), LeadLock(tables, LEASE_S)
    token = a.acquire(lead, 0)
    assert token is not None
    first = item(tables, lead)["LockUntil"]
    while Decimal(str(time.time())) <= first + Decimal("0.2"):  # past the first lease
        time.sleep(0.05)
    assert item(tables, lead)["LockUntil"] > first  # renewed by the heartbeat
    assert b.acquire(lead, 0) is None
    a.guard(lead, token)
    assert a.release(lead, token)


def test_a_dead_holders_lock_is_taken_over(tables: Tables, lead: str) -> None:
    a, b = LeadLock(tables, LEASE_S), LeadLock(tables, LEASE_S)
    token = a.acquire(lead, 0)
    assert token is not None
    a.forget(token)  # as if its process died: no more renewals
    other = b.acquire(lead, 10 * LEASE_S)  # waits until the lease ran out
    assert other is not None and other != token
    with pytest.raises(LockLost):
        a.guard(lead, token)
    with pytest.raises(LockLost):
        a.release(lead, token)
    b.guard(lead, other)


def test_guard_stops_a_holder_when_a_close_is_asked(tables: Tables, lead: str) -> None:
    lock = LeadLock(tables, LEASE_S)
    token = lock.acquire(lead, 0)
    assert token is not None
    lock.guard(lead, token)
    tables.leads.update_item(
        Key={"LeadId": lead},
        UpdateExpression="SET CloseRequested = :r",
        ExpressionAttributeValues={":r": "Sold"},
    )
    with pytest.raises(CloseAsked):
        lock.guard(lead, token)
    lock.guard(lead, token, closing=True)  # the close itself goes on
    tables.leads.update_item(
        Key={"LeadId": lead},
        UpdateExpression="SET #s = :c REMOVE CloseRequested",
        ExpressionAttributeNames={"#s": "Status"},
        ExpressionAttributeValues={":c": "CLOSED"},
    )
    with pytest.raises(CloseAsked):
        lock.guard(lead, token)
    assert lock.release(lead, token)


def test_release_waits_for_work_asked_meanwhile(tables: Tables, lead: str) -> None:
    lock = LeadLock(tables, LEASE_S)
    token = lock.acquire(lead, 0)
    assert token is not None
    tables.leads.update_item(  # a request recorded by another process
        Key={"LeadId": lead},
        UpdateExpression="SET PendingShard = :p, PendingAt = :now, PendingSeq = :one",
        ExpressionAttributeValues={":p": "P", ":now": Decimal(1), ":one": 1},
    )
    assert not lock.release(lead, token)  # nothing-pending release refused
    assert not lock.release(lead, token, pending_seq=None, due_at=time.time())  # seq moved
    assert item(tables, lead)["LockOwner"] == token
    assert lock.release(lead, token, pending_seq=1, due_at=time.time() + 60)  # to retry later
    after = item(tables, lead)
    assert "LockOwner" not in after and after["PendingAt"] > Decimal(str(time.time()))
