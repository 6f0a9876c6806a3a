"""Crash injection during a staff send: the relay *process* dies between steps
(`tests.support.crashing_relay`), is restarted, and the desktop's retry with the same
Idempotency-Key ends with exactly one text on the customer's handset."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.relay import conversation_store, lead_store, message_store
from app.relay.ddb import Tables
from app.sandbox.servers import free_port
from app.sandbox.twilio_sim import SimHandle
from tests.relay_staff.helpers import make_conversation
from tests.support.crashing_relay import CRASH_EXIT_CODE
from tests.support.relay import Seed, init_tables, new_prefix, seed_dealer
from tests.support.relay_process import RelayProcess, relay_env
from tests.support.twilio_sim import running_simulator, sim_client

pytestmark = pytest.mark.dynamodb


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    with running_simulator() as handle:
        yield handle


def _env(dynamodb_endpoint: str, sim: SimHandle, prefix: str, port: int) -> dict[str, str]:
    return relay_env(
        W2T_TABLE_PREFIX=prefix,
        W2T_DYNAMODB_ENDPOINT=dynamodb_endpoint,
        TWILIO_ACCOUNT_SID=sim.account_sid,
        TWILIO_AUTH_TOKEN=sim.auth_token,
        W2T_TWILIO_BASE_URL=sim.url,
        W2T_PUBLIC_URL=f"http://127.0.0.1:{port}",
        W2T_ENVIRONMENT="test",
        W2T_BACKGROUND="0",
        W2T_IDEMPOTENCY_LEASE="1.5",
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION="us-east-1",
    )


@pytest.fixture(scope="module")
def world(dynamodb_endpoint: str) -> tuple[str, Seed, Tables]:
    prefix = new_prefix()
    settings = init_tables(dynamodb_endpoint, prefix)
    seed = seed_dealer(settings, web2text_number="+13125550161")
    return prefix, seed, Tables.from_settings(settings)


@pytest.mark.parametrize("step", ["send.before_twilio", "send.after_twilio", "send.after_store"])
def test_crash_during_send_then_retry_sends_exactly_once(
    dynamodb_endpoint: str,
    sim: SimHandle,
    world: tuple[str, Seed, Tables],
    tmp_path: Path,
    step: str,
) -> None:
    prefix, seed, tables = world
    conv = make_conversation(tables, sim, seed)
    port = free_port()
    headers = {"Authorization": seed.staff_key, "Idempotency-Key": f"crash-{step}"}
    url = f"http://127.0.0.1:{port}/v1/conversations/{conv.sid}/messages"

    env = _env(dynamodb_endpoint, sim, prefix, port)
    crashing = RelayProcess(env, port, tmp_path / "relay.log", crash_at=step)
    try:
        with pytest.raises(httpx.HTTPError):  # the process dies mid-request
            httpx.post(url, json={"body": "See you at noon"}, headers=headers, timeout=20)
        assert crashing.wait_exit(10) == CRASH_EXIT_CODE
    finally:
        crashing.stop()
    created = sim_client(sim).conversations.v1.conversations(conv.sid).messages.list()
    assert len(created) == (0 if step == "send.before_twilio" else 1)

    relay = RelayProcess(env, port, tmp_path / "relay.log")
    try:
        answers = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            r = httpx.post(url, json={"body": "See you at noon"}, headers=headers, timeout=20)
            answers.append(r.status_code)
            if r.status_code == 202:
                break
            assert r.status_code == 409 and r.json()["reason"] == "idempotency_in_progress"
            time.sleep(float(r.headers.get("retry-after", "1")) / 2)
        assert answers[-1] == 202, answers
        view = r.json()
        sim.wait_idle()
        texts = [m["body"] for m in sim.handset(conv.customer)]
        assert texts == ["See you at noon"]
        stored = message_store.get_message(tables, conv.sid, view["messageSid"])
        assert stored is not None and stored["IdempotencyKey"] == f"crash-{step}"
        again = httpx.post(url, json={"body": "See you at noon"}, headers=headers, timeout=20)
        assert again.status_code == 202 and again.json() == view
        # the effects are complete and not doubled, whatever step the crash hit
        lead = lead_store.get_lead(tables, conv.lead_id)
        assert lead is not None and lead["PipelineStatus"] == "contacted"
        assert lead["FirstStaffReplyAt"]
        assert [a["kind"] for a in lead["Activity"]].count("outbound") == 1
        conv_item = conversation_store.get_conversation(tables, conv.sid)
        assert conv_item is not None and conv_item["LastMessagePreview"] == "See you at noon"
    finally:
        relay.stop()
