"""schemathesis over the relay's own `/openapi.json`, with a valid key of each
kind (an integration key with `*` and a staff key): zero server errors, and every
4xx answer carries `{"code","message","reason"}` with a snake_case reason.

Each generated case is sent as generated (random ids: the validation paths) and
again with its ids and body ids swapped for real ones (the retailer, location,
lead and conversation of the seeded world: the paths behind validation, down to
the Twilio simulator). The default run is bounded (W2T_QA_FUZZ_EXAMPLES, 10 per
operation). The `slow` variant adds schemathesis' coverage phase and runs
W2T_QA_FUZZ_SLOW_EXAMPLES per operation; it is skipped unless that variable is set
(it takes many minutes):

    W2T_QA_FUZZ_SLOW_EXAMPLES=100 .venv/bin/pytest tests/relay_qa/test_fuzz.py -k long
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from app.sandbox.twilio_sim import SimHandle
from tests.relay_qa.helpers import HTTP, SNAKE, World, build_world, relay_openapi
from tests.support.relay import start_relay

EXAMPLES = int(os.environ.get("W2T_QA_FUZZ_EXAMPLES", "10"))
SLOW_EXAMPLES = int(os.environ.get("W2T_QA_FUZZ_SLOW_EXAMPLES", "100"))
# /v1/stream answers a never-ending event stream to a valid key: exercised by the
# auth matrix and test_bad_input instead.
EXCLUDED = "/v1/stream"


SPEC = relay_openapi()


@pytest.fixture(scope="module")
def world(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[World]:
    """A world on a relay and tables of its own: generated requests may close every
    lead (`/Admin/bulk` with `"Filter": "*"`), which must not touch other modules."""
    relay = start_relay(dynamodb_endpoint, sim)
    yield build_world(relay, sim, web2text_number="+13125550155")
    relay.stop()


def _load(phases: list[str]) -> Any:
    # Loaded at import time: schemathesis' lazy `from_fixture` does not work with
    # this pytest version ('Function' object has no attribute '_nodeid').
    loaded = schemathesis.openapi.from_dict(json.loads(json.dumps(SPEC)))
    loaded.config.phases.update(phases=phases)
    loaded.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], allow_x00=True
    )
    return loaded.exclude(path=EXCLUDED)


schema = _load(["examples", "fuzzing"])
schema_long = _load(["examples", "coverage", "fuzzing"])


def test_served_openapi_is_the_fuzzed_one(world: World) -> None:
    served = HTTP.get(world.url + "/openapi.json", timeout=20)
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(SPEC))
    assert EXCLUDED in SPEC["paths"]  # a renamed stream route must be excluded anew


def _real_ids(case: schemathesis.Case[Any], world: World) -> bool:
    """Swap generated ids for the world's real ones; False when there was nothing to swap."""
    swapped = False
    real = {
        "LeadId": world.lead_id,
        "UniversalRetailerId": world.seed.retailer_id,
        "sid": world.conversation_sid,
        "lead_id": world.lead_id,
    }
    for name in list(case.path_parameters or {}):
        if name in real:
            case.path_parameters[name] = real[name]
            swapped = True
    body = case.body
    if isinstance(body, dict):
        if "UniversalRetailerId" in body:
            body["UniversalRetailerId"] = world.seed.retailer_id
            swapped = True
        lead = body.get("Lead")
        if isinstance(lead, dict) and "LocationId" in lead:
            lead["LocationId"] = world.seed.location_id
            swapped = True
    return swapped


# Request heads longer than this are refused by the HTTP server itself (uvicorn/h11,
# like any load balancer) before the relay sees them; such answers are not JSON.
MAX_REQUEST_HEAD = 16 * 1024


def _refused_by_http_server(response: Any) -> bool:
    """A request whose head is not valid HTTP (over long, or an empty or non-numeric
    Content-Length, which the fuzzer sends too) is refused by uvicorn/h11 before the
    relay sees it, as any load balancer would: a plain-text 400 or 414."""
    request = response.request
    if len(request.url) > MAX_REQUEST_HEAD and response.status_code in (400, 414):
        return True
    length = request.headers.get("content-length")
    return response.status_code == 400 and length is not None and not length.strip().isdigit()


def _check(case: schemathesis.Case[Any], response: Any, key_kind: str) -> None:
    where = f"[{key_kind}] {case.method} {case.formatted_path} -> {response.status_code}"
    curl = case.as_curl_command()[:1500]
    assert response.status_code < 500, f"{where}: {response.text[:500]}\n{curl}"
    if 400 <= response.status_code < 500:
        if _refused_by_http_server(response):
            return
        ctype = ";".join(response.headers.get("content-type", []))
        assert ctype.startswith("application/json"), f"{where}: not JSON ({ctype})\n{curl}"
        body = json.loads(response.content)
        assert isinstance(body, dict), f"{where}: {body!r}"
        assert {"code", "message", "reason"} <= set(body), f"{where}: {body}\n{curl}"
        assert body["code"] == response.status_code, f"{where}: {body}"
        assert isinstance(body["reason"], str) and SNAKE.match(body["reason"]), f"{where}: {body}"
        assert isinstance(body["message"], str) and body["message"], f"{where}: {body}"


def _exercise(case: schemathesis.Case[Any], world: World) -> None:
    """The generated case with both keys (the matching kind goes deep, the other must
    be refused before anything is parsed), then with real ids and the matching key."""
    staff_route = case.path.startswith("/v1/")
    keys = {"integration": world.all_key, "staff": world.staff_key}
    for kind, key in keys.items():
        response = case.call(
            base_url=world.url, headers={"Authorization": f"Bearer {key}"}, timeout=20
        )
        _check(case, response, kind)
    if _real_ids(case, world):
        kind = "staff" if staff_route else "integration"
        response = case.call(base_url=world.url, headers={"Authorization": keys[kind]}, timeout=20)
        _check(case, response, kind + "+real ids")


@schema.parametrize()  # type: ignore[untyped-decorator]
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_never_give_server_errors(
    case: schemathesis.Case[Any], world: World
) -> None:
    _exercise(case, world)


@pytest.mark.slow
@pytest.mark.skipif(
    "W2T_QA_FUZZ_SLOW_EXAMPLES" not in os.environ,
    reason="long fuzz run: set W2T_QA_FUZZ_SLOW_EXAMPLES (e.g. 100)",
)
@schema_long.parametrize()  # type: ignore[untyped-decorator]
@settings(max_examples=SLOW_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_never_give_server_errors_long(
    case: schemathesis.Case[Any], world: World
) -> None:
    _exercise(case, world)
