"""Fixtures of the abuse tests: one Twilio simulator for the package; each module
starts the relays (real uvicorn servers on DynamoDB Local) with the limits it
exercises."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.sandbox.twilio_sim import SimHandle, start_simulator
from tests.relay_abuse.helpers import POOL, SIM_SID, SIM_TOKEN


@pytest.fixture(scope="package")
def sim() -> Iterator[SimHandle]:
    handle = start_simulator(SIM_SID, SIM_TOKEN, pool=POOL, carrier_delay=0.0)
    yield handle
    handle.stop()
