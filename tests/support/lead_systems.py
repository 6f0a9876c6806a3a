"""The lead-systems simulator for tests: one per module, reset before each test.

# in your tests/<area>/conftest.py
from tests.support.lead_systems import _lead_systems_server, lead_systems  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.sandbox.lead_systems_sim import LeadSystemsHandle, start_lead_systems_sim


@pytest.fixture(scope="module")
def _lead_systems_server() -> Iterator[LeadSystemsHandle]:
    handle = start_lead_systems_sim(hang_s=5.0)
    yield handle
    handle.stop()


@pytest.fixture
def lead_systems(_lead_systems_server: LeadSystemsHandle) -> LeadSystemsHandle:
    _lead_systems_server.reset()
    return _lead_systems_server
