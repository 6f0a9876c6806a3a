"""Fixtures of the relay's own tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.dynamodb_local import create_pk_sk_table
from tests.support.lead_systems import _lead_systems_server, lead_systems  # noqa: F401
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


@pytest.fixture(scope="module")
def table_name(dynamodb_endpoint: str) -> str:
    """A fresh table keyed Pk (S) / Sk (N), one per test module: the shape the
    plain-JSON parsing tests (test_ddb_parsing) read and write."""
    return create_pk_sk_table(dynamodb_endpoint, "TESTPKSK", "N")
