"""The proxy pool under a flood: one key floods the lead API with random numbers;
at most its rate is texted, a store's open conversations are capped, an
exhausted pool makes leads wait (and warns), the pool still serves a real lead
of another retailer, and idle conversations give their numbers back."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from app.relay.idle import IDLE_CLOSE_REASON
from app.sandbox.twilio_sim import SimHandle
from tests.relay_abuse.helpers import (
    HTTP,
    MovableClock,
    admin,
    create,
    greetings,
    lead_body,
    new_id,
    new_phone,
    status,
    synced,
    twilio_state,
    wait_for,
)
from tests.support.relay import METRICS_AUTH, RelayHandle, seed_dealer, start_relay

CAP = 4  # open conversations per store
IDLE_S = 3600.0


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def relay(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[RelayHandle]:
    handle = start_relay(
        dynamodb_endpoint,
        sim,
        sweeper_interval_s=0.3,
        max_open_conversations=CAP,
        pool_low_water=3,
        idle_close_after_s=IDLE_S,
        idle_close_interval_s=0.3,
    )
    handle.ctx.clock = MovableClock()
    yield handle
    handle.stop()


def _metric(relay: RelayHandle, name: str) -> float:
    text = HTTP.get(f"{relay.url}/metrics", headers=METRICS_AUTH).text
    line = next(x for x in text.splitlines() if x.startswith(name + " "))
    return float(line.rsplit(" ", 1)[1])


def test_a_flood_texts_at_most_the_key_rate_and_the_pool_still_serves(
    relay: RelayHandle, sim: SimHandle
) -> None:
    records = _Records()
    pool_log = logging.getLogger("app.relay.pool")
    # other tests quiet the relay's loggers (the demo raises "app.relay" to ERROR, an
    # Alembic fileConfig disables existing loggers): hear the pool's warnings here
    was_disabled, was_level = pool_log.disabled, pool_log.level
    pool_log.disabled = False
    pool_log.setLevel(logging.WARNING)
    pool_log.addHandler(records)
    try:
        _flood_and_recover(relay, sim, records)
    finally:
        pool_log.removeHandler(records)
        pool_log.setLevel(was_level)
        pool_log.disabled = was_disabled


def _flood_and_recover(relay: RelayHandle, sim: SimHandle, records: _Records) -> None:
    clock = relay.ctx.clock
    assert isinstance(clock, MovableClock)
    flooded = seed_dealer(relay, web2text_number="+13125550621", pool=sim.pool)
    other = seed_dealer(relay, web2text_number="+14155550622", pool=sim.pool)
    done = admin(relay, "issue-key", "--endpoints", "Lead/create", "--rate", "20/min")
    assert done.returncode == 0, done.stderr
    website_key = done.stdout.strip()

    # 200 leads for random numbers from one key, in one minute
    phones = [new_phone(area) for area in ("312", "415", "212") * 67][:200]
    accepted: list[tuple[str, str]] = []
    codes: list[int] = []
    for phone in phones:
        lead_id = new_id()
        body = lead_body(flooded.retailer_id, flooded.location_id, phone)
        r = create(relay, website_key, body, lead_id)
        codes.append(r.status_code)
        if r.status_code == 200:
            accepted.append((lead_id, phone))
        else:
            assert r.json()["reason"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
    assert codes.count(200) == 20 and codes.count(429) == 180, codes

    # the store holds CAP conversations; the other leads wait for a free number
    def tally() -> tuple[int, int]:
        states = [twilio_state(relay, flooded.lead_key, lead_id) for lead_id, _ in accepted]
        assert not [s for s in states if s.get("SyncStatus") == "ERROR"], states
        return sum(s.get("SyncStatus") == "SYNCED" for s in states), len(states)

    wait_for(lambda: tally()[0] == CAP, what=f"{CAP} conversations")
    wait_for(lambda: relay.ctx.pool.exhausted_events >= 20 - CAP, what="every lead to try")
    assert tally()[0] == CAP
    sim.wait_idle()
    greeted = [p for p in phones if greetings(sim, p)]
    assert len(greeted) == CAP  # at most the key's rate (20), and only the served ones
    assert {p for _, p in accepted} >= set(greeted)

    # the low-pool metric and the alert
    assert _metric(relay, "w2t_proxy_pool_exhausted_total") >= 20 - CAP
    assert _metric(relay, "w2t_proxy_pool_low_total") >= 1
    assert "proxy pool exhausted" in records.messages
    assert "proxy pool low" in records.messages

    # a real lead at another retailer is served at once
    real_phone, real_id = new_phone(), new_id()
    body = lead_body(other.retailer_id, other.location_id, real_phone)
    assert create(relay, other.lead_key, body, real_id).status_code == 200
    synced(relay, other.lead_key, real_id)
    wait_for(lambda: greetings(sim, real_phone), what="the real customer's greeting")

    # nobody answers: the flood's conversations close after the idle time, and the
    # waiting leads (never failed) are served with the numbers given back
    first = [lead_id for lead_id, _ in accepted if _synced(relay, flooded.lead_key, lead_id)]
    # a waiting lead's conversation (made, still without a store number) is not idle
    waiting = {
        lead_id: (twilio_state(relay, flooded.lead_key, lead_id).get("Data") or {}).get(
            "ConversationSID"
        )
        for lead_id, _ in accepted
        if lead_id not in first
    }
    clock.advance(IDLE_S + 120)
    for lead_id in first:
        wait_for(
            lambda lead_id=lead_id: status(relay, flooded.lead_key, lead_id)["Status"]
            == "CLOSED",
            what="an idle conversation to close",
        )
        assert status(relay, flooded.lead_key, lead_id)["CloseReason"] == IDLE_CLOSE_REASON
    clock.now = time.time()  # back to now: the new conversations are not idle
    wait_for(lambda: tally()[0] >= CAP, what="waiting leads to be served")
    for lead_id, sid in waiting.items():
        if sid and _synced(relay, flooded.lead_key, lead_id):
            assert twilio_state(relay, flooded.lead_key, lead_id)["Data"]["ConversationSID"] == sid
    sim.wait_idle()
    assert len([p for p in phones if greetings(sim, p)]) <= 20


def _synced(relay: RelayHandle, key: str, lead_id: str) -> bool:
    return bool(twilio_state(relay, key, lead_id).get("SyncStatus") == "SYNCED")


def test_idle_conversations_close_but_a_replying_customer_keeps_hers(
    relay: RelayHandle, sim: SimHandle
) -> None:
    clock = relay.ctx.clock
    assert isinstance(clock, MovableClock)
    seed = seed_dealer(relay, web2text_number="+13125550623", pool=sim.pool)
    silent, replying = new_phone(), new_phone()
    ids = {}
    for phone in (silent, replying):
        ids[phone] = new_id()
        body = lead_body(seed.retailer_id, seed.location_id, phone)
        r = create(relay, seed.lead_key, body, ids[phone])
        assert r.status_code == 200, r.text
    sids = {phone: synced(relay, seed.lead_key, ids[phone]) for phone in ids}
    # two hours later (Twilio's clock) the second customer writes back
    sim.advance(7200)
    conv = relay.ctx.tables.conversations.get_item(
        Key={"ConversationSid": sids[replying]}
    )["Item"]
    sim.inbound(replying, conv["CustomerProxy"], "Yes, still interested")
    wait_for(
        lambda: relay.ctx.tables.conversations.get_item(
            Key={"ConversationSid": sids[replying]}
        )["Item"].get("LastInboundAt"),
        what="the reply to be stored",
    )
    silent_proxy = relay.ctx.tables.conversations.get_item(
        Key={"ConversationSid": sids[silent]}
    )["Item"]["CustomerProxy"]
    clock.advance(7200 + 60)  # the silent one is past the idle time, the other is not
    wait_for(
        lambda: status(relay, seed.lead_key, ids[silent])["Status"] == "CLOSED",
        what="the silent conversation to close",
    )
    assert status(relay, seed.lead_key, ids[silent])["CloseReason"] == IDLE_CLOSE_REASON
    wait_for(
        lambda: _conversation_state(relay, sids[silent]) == "closed", what="closed conversation"
    )
    # its proxy number goes back to the pool (freed just after the state is written)
    wait_for(
        lambda: "Item"
        not in relay.ctx.tables.pool.get_item(Key={"Pk": f"BIND#{silent}", "Sk": silent_proxy}),
        what="the silent customer's proxy number back in the pool",
    )
    notice = "this lead was closed (" + IDLE_CLOSE_REASON
    wait_for(lambda: [m for m in sim.handset(seed.web2text_number) if notice in m["body"]])
    assert status(relay, seed.lead_key, ids[replying])["Status"] == "ACTIVE"
    assert _conversation_state(relay, sids[replying]) == "active"


def _conversation_state(relay: RelayHandle, sid: str) -> str:
    item = relay.ctx.tables.conversations.get_item(Key={"ConversationSid": sid})["Item"]
    return str(item.get("State"))
