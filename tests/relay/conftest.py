"""Fixtures of the relay's own tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay


@pytest.fixture(scope="module")
def relay(dynamodb_endpoint: str) -> Iterator[RelayHandle]:
    """A relay without a Twilio simulator (lead service, auth, errors)."""
    handle = start_relay(dynamodb_endpoint, None, background=False)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def seed(relay: RelayHandle) -> Seed:
    return seed_dealer(relay)
