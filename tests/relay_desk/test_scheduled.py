"""Texts for later (`sendAt`, `DELETE /v1/scheduled/{sid}`): real relays on DynamoDB
Local and the Twilio simulator. Each text goes once when due: with two instances
claiming at the same time, and when the instance sending it dies before or right
after its Twilio call (a crash test like the lead ones)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.sandbox.servers import free_port
from app.sandbox.twilio_sim import SimHandle
from tests.relay_desk.conftest import SIM_SID, SIM_TOKEN
from tests.relay_desk.helpers import (
    changes,
    chicago_day_clock,
    chicago_night,
    conversation_of,
    day_zone,
    headers,
    iso,
    new_lead,
    new_phone,
    send,
    texts,
    wait_for,
)
from tests.support.crashing_relay import CRASH_EXIT_CODE
from tests.support.relay import (
    RelayHandle,
    Seed,
    init_tables,
    issue_staff_key,
    new_prefix,
    seed_dealer,
    seed_location,
    start_relay,
)
from tests.support.relay_process import RelayProcess, relay_env
from tests.sync.integration import create_lead

pytestmark = pytest.mark.dynamodb

FAST = {"schedule_interval_s": 0.1, "schedule_lease_s": 3.0, "stuck_after_s": 15.0}


@pytest.fixture(scope="module")
def pair(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[tuple[RelayHandle, RelayHandle]]:
    """Two instances on the same tables, both running the scheduler."""
    prefix = new_prefix()
    a = start_relay(dynamodb_endpoint, sim, prefix=prefix, **FAST)
    b = start_relay(dynamodb_endpoint, sim, prefix=prefix, register_inbound=False, **FAST)
    a.ctx.clock = b.ctx.clock = chicago_day_clock()  # texting hours for 312 customers
    yield a, b
    a.stop()
    b.stop()


@pytest.fixture(scope="module")
def dealer(pair: tuple[RelayHandle, RelayHandle], sim: SimHandle) -> Seed:
    return seed_dealer(pair[0], web2text_number="+13125550167", store_number="+13125550178",
                       pool=sim.pool, timezone=day_zone())


def _conversation(relay: RelayHandle, seed: Seed) -> tuple[str, str]:
    phone = new_phone()
    lead = new_lead(relay, seed.staff_key, seed.location_id, phone).json()
    return conversation_of(relay, seed.lead_key, lead["leadId"]), phone


def _scheduled(relay: RelayHandle, key: str, sid: str) -> dict[str, Any] | None:
    found = [c["data"] for c in changes(relay, key, "scheduled") if c["id"] == sid]
    return max(found, key=lambda d: int(d["version"])) if found else None


def test_texts_for_later_go_once_when_due_with_two_instances(
    pair: tuple[RelayHandle, RelayHandle], dealer: Seed, sim: SimHandle
) -> None:
    a, b = pair
    threads = [_conversation(a, dealer) for _ in range(4)]
    due = iso(datetime.now(UTC) + timedelta(seconds=3))
    planned: list[tuple[str, str, str]] = []
    for i, (sid, phone) in enumerate(threads):
        r = send(b if i % 2 else a, dealer.staff_key, sid, f"later {i}", send_at=due)
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["status"] == "scheduled" and body["sendAt"] == due
        assert body["movedForQuietHours"] is False
        planned.append((body["messageSid"], phone, f"later {i}"))
        assert texts(sim, phone) == []  # not before its time
    for msid, _phone, _text in planned:
        wait_for(lambda m=msid: (_scheduled(a, dealer.staff_key, m) or {}).get("status")
                 == "sent", timeout=30, what="the scheduled text sent")
        sent = _scheduled(a, dealer.staff_key, msid)
        assert sent is not None and sent["sentMessageSid"]
    sim.wait_idle()
    for _msid, phone, text in planned:
        assert texts(sim, phone) == [text]  # exactly once


def test_same_key_answers_the_first_and_cancel_before_it_goes(
    pair: tuple[RelayHandle, RelayHandle], dealer: Seed, sim: SimHandle
) -> None:
    a, b = pair
    sid, _phone = _conversation(a, dealer)
    later = iso(datetime.now(UTC) + timedelta(hours=1))
    key = str(uuid.uuid4())
    first = send(a, dealer.staff_key, sid, "see you tomorrow", idem=key, send_at=later)
    again = send(b, dealer.staff_key, sid, "see you tomorrow", idem=key, send_at=later)
    assert first.status_code == again.status_code == 202
    assert again.json()["messageSid"] == first.json()["messageSid"]
    msid = first.json()["messageSid"]
    url = f"{b.url}/v1/scheduled/{msid}"
    stranger_loc = seed_location(a, dealer.retailer_id, "+13125550145", name="Elsewhere")
    stranger = issue_staff_key(a, dealer.retailer_id, [stranger_loc], staff_id="far")
    assert httpx.delete(url, headers=headers(stranger), timeout=10).status_code == 403
    r = httpx.delete(url, headers=headers(dealer.staff_key), timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "canceled", r.text
    assert httpx.delete(url, headers=headers(dealer.staff_key), timeout=10).json()[
        "status"] == "canceled"
    missing = httpx.delete(f"{b.url}/v1/scheduled/W2TS{uuid.uuid4().hex}",
                           headers=headers(dealer.staff_key), timeout=10)
    assert missing.status_code == 404
    assert _scheduled(a, dealer.staff_key, msid)["status"] == "canceled"  # type: ignore[index]


def test_send_at_input(pair: tuple[RelayHandle, RelayHandle], dealer: Seed) -> None:
    a, _ = pair
    sid, _phone = _conversation(a, dealer)
    bad = send(a, dealer.staff_key, sid, "x", send_at="tomorrow at nine")
    assert bad.status_code == 400 and bad.json()["reason"] == "invalid_send_at"
    naive = send(a, dealer.staff_key, sid, "x", send_at="2030-01-01T09:00:00")
    assert naive.status_code == 400 and naive.json()["reason"] == "invalid_send_at"
    far = send(a, dealer.staff_key, sid, "x", send_at=iso(datetime.now(UTC) + timedelta(days=40)))
    assert far.status_code == 422 and far.json()["reason"] == "send_at_too_far"


def test_quiet_hours_move_a_text_to_the_next_allowed_minute(
    pair: tuple[RelayHandle, RelayHandle], dealer: Seed
) -> None:
    a, b = pair
    sid, _phone = _conversation(a, dealer)  # staff-made: no customer contact
    day, night = a.ctx.clock, chicago_night()
    a.ctx.clock = b.ctx.clock = night.timestamp  # 3 or 4 AM for the customer (312)
    try:
        now_refused = send(a, dealer.staff_key, sid, "hello")
        assert now_refused.status_code == 422 and now_refused.json()["reason"] == "quiet_hours"
        offered = now_refused.json()["nextAllowedAt"]
        asked = iso(night + timedelta(minutes=1))
        r = send(a, dealer.staff_key, sid, "hello at a good time", send_at=asked)
        assert r.status_code == 202, r.text
        body = r.json()
        cancel = httpx.delete(f"{a.url}/v1/scheduled/{body['messageSid']}",
                              headers=headers(dealer.staff_key), timeout=10)
    finally:
        a.ctx.clock = b.ctx.clock = day
    assert body["movedForQuietHours"] is True and body["requestedSendAt"] == asked
    assert body["sendAt"] == offered  # the customer's next allowed minute
    assert cancel.status_code in (200, 409)


@pytest.mark.parametrize("step", ["send.before_twilio", "send.after_twilio"])
def test_a_crash_while_sending_ends_with_one_text(
    dynamodb_endpoint: str, sim: SimHandle, tmp_path: Path, step: str
) -> None:
    """The instance that claimed the text dies right before or right after Twilio took
    it; another instance takes the claim over once its lease runs out and ends with
    exactly one text."""
    prefix = new_prefix()
    settings = init_tables(dynamodb_endpoint, prefix)
    setup = start_relay(dynamodb_endpoint, sim, prefix=prefix, background=False,
                        register_inbound=False)
    try:
        seed = seed_dealer(setup, web2text_number=f"+1312555{int(time.time()) % 10000:04d}",
                           pool=sim.pool, timezone=day_zone())
        # a website lead: the customer's own contact lifts quiet hours for a day, so
        # the crashing process (on the real clock) sends at any hour
        live = create_lead(setup, seed, name="Cass Crash")
        sid, phone = live.conversation_sid, live.customer
        r = send(setup, seed.staff_key, sid, "your order is ready",
                 send_at=iso(datetime.now(UTC) + timedelta(seconds=1)))
        assert r.status_code == 202, r.text
        msid = r.json()["messageSid"]
    finally:
        setup.stop()
    port = free_port()
    env = relay_env(
        W2T_TABLE_PREFIX=prefix, W2T_DYNAMODB_ENDPOINT=dynamodb_endpoint,
        TWILIO_ACCOUNT_SID=SIM_SID, TWILIO_AUTH_TOKEN=SIM_TOKEN, W2T_TWILIO_BASE_URL=sim.url,
        W2T_PUBLIC_URL=f"http://127.0.0.1:{port}", W2T_BACKGROUND="1",
        W2T_SCHEDULE_INTERVAL="0.1", W2T_SCHEDULE_LEASE="2",
    )
    try:
        crashing = RelayProcess(env, port, tmp_path / "relay.log", crash_at=step)
    except RuntimeError as exc:  # the text was due at once: it died before /healthz
        assert f"({CRASH_EXIT_CODE})" in str(exc)
    else:
        try:
            assert crashing.wait_exit() == CRASH_EXIT_CODE  # died holding the claim
        finally:
            crashing.stop()
    sent_before = texts(sim, phone).count("your order is ready")
    assert sent_before == (1 if step == "send.after_twilio" else 0)
    other = start_relay(dynamodb_endpoint, sim, prefix=prefix, register_inbound=False,
                        **{**FAST, "schedule_lease_s": 2.0})
    try:
        wait_for(lambda: (_scheduled(other, seed.staff_key, msid) or {}).get("status")
                 == "sent", timeout=30, what="the scheduled text settled")
    finally:
        other.stop()
    sim.wait_idle()
    assert texts(sim, phone).count("your order is ready") == 1
    assert settings.table_prefix == prefix
