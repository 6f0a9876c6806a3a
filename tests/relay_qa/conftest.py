"""Fixtures of the relay QA suite: a real relay on DynamoDB Local with the Twilio
simulator and a seeded `World`, shared by the package's modules (building a world
syncs a lead through Twilio: the slowest part of the suite). Tests add their own
leads and keys and never close the world's lead; test_fuzz.py, which may close
anything, runs on a relay (and tables) of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.sandbox.twilio_sim import SimHandle, start_simulator
from tests.relay_qa.helpers import POOL, SIM_SID, SIM_TOKEN, World, build_world
from tests.support.relay import RelayHandle, start_relay


@pytest.fixture(scope="package")
def sim() -> Iterator[SimHandle]:
    handle = start_simulator(SIM_SID, SIM_TOKEN, pool=POOL, carrier_delay=0.0)
    yield handle
    handle.stop()


@pytest.fixture(scope="package")
def relay(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[RelayHandle]:
    # A short key/directory cache: revocations by other processes must land within it.
    handle = start_relay(dynamodb_endpoint, sim, reconcile_interval_s=3600.0, cache_ttl_s=2.0)
    sim.set_webhook_url(handle.url + "/TwilioWebhooks/onIncomingMessage")
    yield handle
    handle.stop()


@pytest.fixture(scope="package")
def world(relay: RelayHandle, sim: SimHandle) -> World:
    return build_world(relay, sim)
