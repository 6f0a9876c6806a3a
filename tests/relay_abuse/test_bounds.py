"""Bounded growth: notes (count and size), a conversation's open leads and a huge
lead's change-feed entry; a cap answers 413/422 with a reason, never 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from app.relay import bounds
from app.sandbox.twilio_sim import SimHandle
from tests.relay_abuse.helpers import (
    HTTP,
    create,
    lead_body,
    new_id,
    new_phone,
    synced,
    wait_for,
)
from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay


@pytest.fixture(scope="module")
def relay(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[RelayHandle]:
    handle = start_relay(dynamodb_endpoint, sim)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def seed(relay: RelayHandle, sim: SimHandle) -> Seed:
    return seed_dealer(relay, web2text_number="+13125550641", pool=sim.pool)


def _lead(relay: RelayHandle, seed: Seed) -> str:
    lead_id = new_id()
    body = lead_body(seed.retailer_id, seed.location_id, new_phone(), sync=False)
    assert create(relay, seed.lead_key, body, lead_id).status_code == 200
    return lead_id


def _patch(relay: RelayHandle, seed: Seed, lead_id: str, change: dict[str, Any]) -> Any:
    item = relay.ctx.tables.leads.get_item(Key={"LeadId": lead_id}, ConsistentRead=True)["Item"]
    return HTTP.patch(
        f"{relay.url}/v1/leads/{lead_id}",
        json=change,
        headers={"Authorization": seed.staff_key, "If-Match": f'"{int(item["Version"])}"'},
    )


def test_a_hundred_notes_of_4kb_never_break_the_lead(relay: RelayHandle, seed: Seed) -> None:
    lead_id = _lead(relay, seed)
    codes = []
    for i in range(100):
        r = _patch(relay, seed, lead_id, {"note": f"{i:03d} " + "x" * 3995})
        assert r.status_code < 500, r.text
        codes.append(r.status_code)
        if r.status_code != 200:
            assert r.status_code == 413 and r.json()["reason"] == "notes_too_large", r.text
    kept = codes.count(200)
    assert kept == bounds.MAX_NOTES_BYTES // 4000 and codes[kept:] == [413] * (100 - kept)
    # the lead still takes every other change, and its change reaches the feed
    r = _patch(relay, seed, lead_id, {"status": "contacted"})
    assert r.status_code == 200, r.text
    version = r.json()["version"]
    assert _feed_versions(relay, seed, lead_id)[-1] == version


def test_a_lead_keeps_at_most_a_hundred_notes(relay: RelayHandle, seed: Seed) -> None:
    lead_id = _lead(relay, seed)
    for i in range(bounds.MAX_NOTES):
        r = _patch(relay, seed, lead_id, {"note": f"note {i}"})
        assert r.status_code == 200, r.text
    r = _patch(relay, seed, lead_id, {"note": "one too many"})
    assert r.status_code == 422 and r.json()["reason"] == "too_many_notes", r.text


def test_a_huge_leads_feed_change_is_trimmed_not_lost(relay: RelayHandle, seed: Seed) -> None:
    lead_id = _lead(relay, seed)
    # another system wrote a long history in characters JSON escapes twelve to one
    history = [
        {"at": "2026-01-01T00:00:00Z", "kind": "note", "text": f"{i} " + "\U0001f600" * 1500}
        for i in range(20)
    ]
    relay.ctx.tables.leads.update_item(
        Key={"LeadId": lead_id},
        UpdateExpression="SET Activity = :a",
        ExpressionAttributeValues={":a": history},
    )
    r = _patch(relay, seed, lead_id, {"status": "engaged"})
    assert r.status_code == 200, r.text
    version = r.json()["version"]
    change = _feed_changes(relay, seed, lead_id)[-1]
    assert change["version"] == version
    assert change["data"]["trimmed"] is True
    assert change["data"]["pipelineStatus"] == "engaged"
    assert len(json.dumps(change["data"])) <= bounds.FEED_MAX_CHANGE_BYTES


def test_a_conversation_holds_at_most_twenty_open_leads(
    relay: RelayHandle, seed: Seed, sim: SimHandle
) -> None:
    from app.relay.screening import MAX_OPEN_LEADS

    phone = new_phone()
    ids = []
    for _ in range(MAX_OPEN_LEADS):
        lead_id = new_id()
        body = lead_body(seed.retailer_id, seed.location_id, phone)
        assert create(relay, seed.lead_key, body, lead_id).status_code == 200
        sid = synced(relay, seed.lead_key, lead_id)  # joined the customer's conversation
        ids.append(lead_id)
    r = create(relay, seed.lead_key, lead_body(seed.retailer_id, seed.location_id, phone))
    assert r.status_code == 422 and r.json()["reason"] == "too_many_open_leads", r.text
    # a lead that closes leaves the conversation and makes room again
    r = HTTP.post(f"{relay.url}/Lead/{ids[0]}/close", headers={"Authorization": seed.lead_key})
    assert r.status_code == 200, r.text

    def lead_ids() -> list[str]:
        item = relay.ctx.tables.conversations.get_item(Key={"ConversationSid": sid})["Item"]
        return list(item.get("LeadIds") or [])

    wait_for(lambda: len(lead_ids()) == MAX_OPEN_LEADS - 1, what="the closed lead to leave")
    r = create(relay, seed.lead_key, lead_body(seed.retailer_id, seed.location_id, phone))
    assert r.status_code == 200, r.text


def _feed_changes(relay: RelayHandle, seed: Seed, lead_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = ""
    while True:
        r = HTTP.get(
            f"{relay.url}/v1/changes",
            params={"cursor": cursor, "limit": 500},
            headers={"Authorization": seed.staff_key},
        )
        assert r.status_code == 200, r.text
        page = r.json()
        out += [c for c in page["changes"] if c["entity"] == "lead" and c["id"] == lead_id]
        cursor = page["cursor"]
        if not page["hasMore"]:
            return out


def _feed_versions(relay: RelayHandle, seed: Seed, lead_id: str) -> list[int]:
    return [c["version"] for c in _feed_changes(relay, seed, lead_id)]
