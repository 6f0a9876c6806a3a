"""Fixtures of the desktop's second-round staff routes: a simulator with a large pool
(a store takes one proxy number per open conversation) and relays on DynamoDB Local."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.sandbox.twilio_sim import SimHandle, start_simulator
from tests.relay_desk.helpers import STORE_PHONE, chicago_day_clock, day_zone
from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay

SIM_SID = "AC" + "6" * 32
SIM_TOKEN = "relay-desk-token"
POOL = [f"+1{area}55502{i:02d}" for area in ("312", "415", "212", "214") for i in range(12)]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    handle = start_simulator(SIM_SID, SIM_TOKEN, pool=POOL, carrier_delay=0.0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def relay(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[RelayHandle]:
    handle = start_relay(dynamodb_endpoint, sim, background=False, stuck_after_s=15.0)
    handle.ctx.clock = chicago_day_clock()
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def seed(relay: RelayHandle, sim: SimHandle) -> Seed:
    # a store where it is day now: a staff-made lead is no customer contact, so the
    # first staff text is held to quiet hours
    return seed_dealer(
        relay,
        web2text_number="+13125550166",
        store_number=STORE_PHONE,
        pool=sim.pool,
        timezone=day_zone(),
    )
