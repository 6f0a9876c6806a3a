"""The after-hours reply through the real relay (DynamoDB Local, the simulator):
`admin set-hours` stores a location's hours and text and announces the location on
the change feed; a customer text while the location is closed gets the text once per
closed period per conversation, as an automatic message; none while it is open."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from app.core.hours import DAYS
from app.relay import after_hours, conversation_store, directory
from app.relay.versioned import Item
from app.sandbox.twilio_sim import SimHandle, start_simulator
from tests.relay.contact_support import (
    POOL,
    SIM_TOKEN,
    create_lead,
    messages,
    new_phone,
    synced_conversation,
    wait_for,
)
from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay, tables_for

SIM_SID = "AC" + "8" * 32
AFTER_HOURS_TEXT = "Thanks! We're closed now and will text you back when we open."


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    handle = start_simulator(SIM_SID, SIM_TOKEN, pool=POOL, carrier_delay=0.0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def relay(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[RelayHandle]:
    handle = start_relay(dynamodb_endpoint, sim, stuck_after_s=15.0, cache_ttl_s=0.0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def seed(relay: RelayHandle, sim: SimHandle) -> Seed:
    return seed_dealer(relay, web2text_number="+13125550490", pool=sim.pool)


def _cli(relay: RelayHandle, endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "W2T_TABLE_PREFIX": relay.settings.table_prefix,
        "W2T_DYNAMODB_ENDPOINT": endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PATH": "/usr/bin:/bin",
    }
    command = [sys.executable, "-m", "app.relay.cli", "admin", "set-hours", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True)


def _closed_all_day_today() -> str:
    """Hours that leave today (UTC, the seed's zone) closed: open only in three days."""
    other = DAYS[(datetime.now(UTC).weekday() + 3) % 7]
    return f"{other} 09:00-17:00"


def _automatic(relay: RelayHandle, sid: str) -> list[Item]:
    return [m for m in messages(relay, sid) if m.get("Body") == AFTER_HOURS_TEXT]


def test_set_hours_checks_its_input_and_announces_the_location(
    relay: RelayHandle, seed: Seed, dynamodb_endpoint: str
) -> None:
    bad = _cli(relay, dynamodb_endpoint, "--location-id", seed.location_id,
               "--hours", "weekdays 9-5", "--after-hours-text", "closed")
    assert bad.returncode == 2 and "not like" in bad.stderr
    ok = _cli(relay, dynamodb_endpoint, "--location-id", seed.location_id,
              "--hours", _closed_all_day_today(), "--after-hours-text", AFTER_HOURS_TEXT)
    assert ok.returncode == 0, ok.stderr
    location = directory.get_location(tables_for(relay), seed.location_id)
    assert location is not None and location.after_hours_text == AFTER_HOURS_TEXT
    assert location.view()["hours"] == _closed_all_day_today()
    page = relay.ctx.change_log.read([seed.location_id], None, 1000)
    announced = [c for c in page.changes if c.entity == "location"]
    assert announced and announced[-1].data["hours"] == _closed_all_day_today()


def test_a_text_while_closed_is_answered_once_per_closed_period(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    directory.set_hours(tables_for(relay), seed.location_id, _closed_all_day_today(),
                        AFTER_HOURS_TEXT)
    phone = new_phone()
    conv = synced_conversation(relay, create_lead(relay, seed, phone, name="Nora Night"))
    sid = str(conv["ConversationSid"])
    proxy = str(conv["CustomerProxy"])
    sim.inbound(phone, proxy, "Are you open tomorrow?")
    [reply] = wait_for(lambda: _automatic(relay, sid), what="the after-hours reply")
    assert reply["AuthorKind"] == "system"
    sim.inbound(phone, proxy, "Hello?")
    wait_for(lambda: len([m for m in messages(relay, sid) if m.get("Body") == "Hello?"]) == 1)
    sim.wait_idle()
    assert len(_automatic(relay, sid)) == 1  # the same closed period: not again
    handset = [m["body"] for m in sim.handset(phone)]
    assert handset.count(AFTER_HOURS_TEXT) == 1

    # the next closed period (a week later, by the location's hours) answers again
    fresh = conversation_store.get_conversation(tables_for(relay), sid)
    assert fresh is not None
    assert after_hours.maybe_reply(relay.ctx, fresh, datetime.now(UTC) + timedelta(days=7))
    assert len(_automatic(relay, sid)) == 2


def test_no_reply_while_the_location_is_open(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    directory.set_hours(tables_for(relay), seed.location_id, "mon-sun 00:00-24:00",
                        AFTER_HOURS_TEXT)
    phone = new_phone()
    conv = synced_conversation(relay, create_lead(relay, seed, phone, name="Dora Day"))
    sid = str(conv["ConversationSid"])
    sim.inbound(phone, str(conv["CustomerProxy"]), "Open now?")
    wait_for(lambda: [m for m in messages(relay, sid) if m.get("Body") == "Open now?"])
    sim.wait_idle()
    assert _automatic(relay, sid) == []
