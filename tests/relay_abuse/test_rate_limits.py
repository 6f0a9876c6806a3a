"""Rates held in DynamoDB, shared by every relay instance: per API key
(`issue-key --rate`, default 120/min), new leads per phone and retailer (5 a
day), staff sends per staff member and per conversation. A refusal is 429 with
`Retry-After`. Time is moved with the relays' clock, never waited for."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.relay.config import Settings
from app.sandbox.twilio_sim import SimHandle
from tests.relay_abuse.helpers import (
    HTTP,
    MovableClock,
    admin,
    create,
    lead_body,
    new_id,
    new_phone,
    synced,
    wait_for,
)
from tests.support.relay import (
    RelayHandle,
    Seed,
    new_prefix,
    seed_dealer,
    seed_location,
    seed_retailer,
    start_relay,
)

LIMITS = {
    "key_rate_per_min": 120,
    "phone_leads_per_day": 5,
    "staff_send_rate_per_min": 5,
    "conversation_send_rate_per_min": 3,
}


@pytest.fixture(scope="module")
def pair(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[tuple[RelayHandle, RelayHandle]]:
    """Two relay instances on the same tables, sharing one movable clock."""
    prefix = new_prefix()
    a = start_relay(dynamodb_endpoint, sim, prefix=prefix, **LIMITS)
    b = start_relay(dynamodb_endpoint, sim, prefix=prefix, **LIMITS)
    clock = MovableClock()
    a.ctx.clock = b.ctx.clock = clock
    yield a, b
    a.stop()
    b.stop()


@pytest.fixture(scope="module")
def seed(pair: tuple[RelayHandle, RelayHandle], sim: SimHandle) -> Seed:
    return seed_dealer(pair[0], web2text_number="+13125550601", pool=sim.pool)


def _clock(relay: RelayHandle) -> MovableClock:
    clock = relay.ctx.clock
    assert isinstance(clock, MovableClock)
    return clock


def _retry_after(r: object) -> int:
    headers = getattr(r, "headers")  # noqa: B009
    value = int(headers["retry-after"])
    assert value >= 1
    return value


def test_defaults_are_the_contract() -> None:
    settings = Settings.from_env({"W2T_TABLE_PREFIX": "TEST"}, require_twilio=False)
    assert settings.key_rate_per_min == 120
    assert settings.phone_leads_per_day == 5
    assert settings.streams_per_key == 5
    assert settings.key_cache_ttl_s <= 5


def test_key_rate_from_issue_key_holds_across_instances(
    pair: tuple[RelayHandle, RelayHandle], seed: Seed
) -> None:
    a, b = pair
    done = admin(a, "issue-key", "--endpoints", "Lead/status", "--rate", "5/min")
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    _clock(a).advance(60)  # a fresh window
    answers = []
    for i in range(8):
        relay = (a, b)[i % 2]  # alternate instances: one count
        answers.append(
            HTTP.get(f"{relay.url}/Lead/{new_id()}/status", headers={"Authorization": key})
        )
    assert [r.status_code for r in answers] == [200] * 5 + [429] * 3
    refused = answers[5]
    assert refused.json()["reason"] == "rate_limited"
    assert 1 <= _retry_after(refused) <= 60
    _clock(a).advance(_retry_after(refused))
    r = HTTP.get(f"{b.url}/Lead/{new_id()}/status", headers={"Authorization": key})
    assert r.status_code == 200, r.text


def test_a_key_without_rate_gets_120_a_minute(
    pair: tuple[RelayHandle, RelayHandle], seed: Seed
) -> None:
    a, b = pair
    done = admin(a, "issue-key", "--endpoints", "Dealer/status")
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    _clock(a).advance(60)
    url = f"/Dealer/{seed.retailer_id}/status"
    codes = [
        HTTP.get((a, b)[i % 2].url + url, headers={"Authorization": key}).status_code
        for i in range(121)
    ]
    assert codes[:120] == [200] * 120
    assert codes[120] == 429


def test_a_phone_gets_five_new_leads_per_retailer_a_day(
    pair: tuple[RelayHandle, RelayHandle], seed: Seed
) -> None:
    a, b = pair
    other = seed_retailer(a, name="Other Retailer")
    other_location = seed_location(a, other, "+13125550602", name="Other Store")
    phone = new_phone()
    for i in range(5):
        body = lead_body(seed.retailer_id, seed.location_id, phone, sync=False)
        r = create((a, b)[i % 2], seed.lead_key, body)
        assert r.status_code == 200, r.text
    r = create(b, seed.lead_key, lead_body(seed.retailer_id, seed.location_id, phone))
    assert r.status_code == 429, r.text
    assert r.json()["reason"] == "too_many_leads_for_phone"
    wait = _retry_after(r)
    assert 23 * 3600 < wait <= 24 * 3600
    # another retailer is another count
    body = lead_body(other, other_location, phone, sync=False)
    assert create(a, seed.lead_key, body).status_code == 200
    # a day later the phone may be texted again
    _clock(a).advance(wait)
    body = lead_body(seed.retailer_id, seed.location_id, phone, sync=False)
    assert create(a, seed.lead_key, body).status_code == 200


def _send(relay: RelayHandle, key: str, sid: str, text: str) -> object:
    return HTTP.post(
        f"{relay.url}/v1/conversations/{sid}/messages",
        json={"body": text},
        headers={"Authorization": key, "Idempotency-Key": new_id()},
    )


def test_staff_sends_are_limited_per_conversation_and_per_staff_member(
    pair: tuple[RelayHandle, RelayHandle], seed: Seed, sim: SimHandle
) -> None:
    a, b = pair
    _clock(a).advance(60)
    phones = [new_phone(), new_phone()]
    sids = []
    for phone in phones:
        lead_id = new_id()
        r = create(a, seed.lead_key, lead_body(seed.retailer_id, seed.location_id, phone), lead_id)
        assert r.status_code == 200, r.text
        sids.append(synced(a, seed.lead_key, lead_id))
    # three texts a minute into one conversation, whichever instance takes them
    codes = [_send((a, b)[i % 2], seed.staff_key, sids[0], f"one {i}") for i in range(4)]
    assert [c.status_code for c in codes] == [202, 202, 202, 429]  # type: ignore[attr-defined]
    refused = codes[3]
    assert refused.json()["reason"] == "rate_limited"  # type: ignore[attr-defined]
    _retry_after(refused)
    # the staff member's own limit (5 a minute) across conversations
    codes = [_send(b, seed.staff_key, sids[1], f"two {i}") for i in range(3)]
    assert [c.status_code for c in codes] == [202, 202, 429]  # type: ignore[attr-defined]
    # what was accepted reached the customers, and nothing more
    def texts(phone: str, word: str) -> int:
        return len([m for m in sim.handset(phone) if word in m["body"]])

    wait_for(lambda: texts(phones[0], "one ") == 3 and texts(phones[1], "two ") == 2)
    sim.wait_idle()
    assert (texts(phones[0], "one "), texts(phones[1], "two ")) == (3, 2)
    # a minute later the same staff member may text again
    _clock(a).advance(60)
    r = _send(a, seed.staff_key, sids[0], "after a minute")
    assert r.status_code == 202, r.text  # type: ignore[attr-defined]
