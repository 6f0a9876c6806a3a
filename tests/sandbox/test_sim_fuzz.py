"""Property-based requests generated from Twilio's OpenAPI description (schemathesis):
whatever the SDK-shaped input, the simulator never answers 5xx and always answers
errors in Twilio's JSON shape."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from app.sandbox.twilio_sim import SimHandle
from tests.sandbox.test_sim_conformance import SPEC_PATH

EXAMPLES = int(os.environ.get("W2T_SIM_FUZZ_EXAMPLES", "4"))

schema = schemathesis.openapi.from_dict(json.loads(SPEC_PATH.read_text())).include(
    path_regex=r"^/v1/(Conversations|ParticipantConversations)"
)
# Only the hypothesis-driven phase: the coverage phase sends hundreds of boundary
# requests per operation, too slow for the default run.
schema.config.phases.update(phases=["fuzzing"])


@pytest.mark.slow  # bounded by default; W2T_SIM_FUZZ_EXAMPLES=100 for a long run
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_generated_requests_never_break_the_simulator(
    case: schemathesis.Case[Any], twilio_sim: SimHandle
) -> None:
    token = base64.b64encode(f"{twilio_sim.account_sid}:{twilio_sim.auth_token}".encode())
    response = case.call(
        base_url=twilio_sim.url, headers={"Authorization": f"Basic {token.decode()}"}
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) >= {"code", "message", "more_info", "status"}
        assert body["status"] == response.status_code
