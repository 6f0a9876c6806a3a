"""Crash injection on the "not monitored" reply: the real `web2text-relay serve` process
is killed at each step between recording a stranger's text and recording its reply
sent (`crash_at`), restarted, and its sweeper finishes by itself: the text is kept
unrouted, and the stranger gets the reply exactly once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.relay.inbound import notices, records
from app.relay.inbound.routing import NOT_MONITORED_TEXT
from app.sandbox.servers import free_port
from app.sandbox.twilio_sim import SimHandle, start_simulator
from tests.relay.contact_support import POOL, SIM_TOKEN, wait_for
from tests.support.relay import init_tables, new_prefix, tables_for
from tests.support.relay_process import RelayProcess, relay_env

SIM_SID = "AC" + "8" * 32
STEPS = [
    "after_inbound_stored",
    "after_notice_owed",
    "after_inbound_unrouted",
    "before_notice_sent",
    "after_notice_sent",
]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    handle = start_simulator(SIM_SID, SIM_TOKEN, pool=POOL, carrier_delay=0.0)
    yield handle
    handle.stop()


def _env(prefix: str, endpoint: str, sim: SimHandle, port: int) -> dict[str, str]:
    return relay_env(
        W2T_TABLE_PREFIX=prefix,
        W2T_DYNAMODB_ENDPOINT=endpoint,
        TWILIO_ACCOUNT_SID=SIM_SID,
        TWILIO_AUTH_TOKEN=SIM_TOKEN,
        W2T_TWILIO_BASE_URL=sim.url,
        W2T_PUBLIC_URL=f"http://127.0.0.1:{port}",
        W2T_STUCK_AFTER="2",
        W2T_SWEEPER_INTERVAL="0.5",
        W2T_RECONCILE_INTERVAL="3600",
    )


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_before_the_reply_is_recorded_sent_sends_it_once(
    dynamodb_endpoint: str, sim: SimHandle, tmp_path: Path, step: str
) -> None:
    prefix = new_prefix()
    settings = init_tables(dynamodb_endpoint, prefix)
    port = free_port()
    env = _env(prefix, dynamodb_endpoint, sim, port)
    stranger, number = f"+1415555{int(time.time() * 1000) % 10000:04d}", POOL[-1]
    crashing = RelayProcess(env, port, tmp_path / "relay.log", crash_at=step)
    try:
        sim.set_webhook_url(crashing.url + "/TwilioWebhooks/onIncomingMessage")
        sent = sim.inbound(stranger, number, "who is this?")
        assert crashing.wait_exit() == 17  # died at the step
    finally:
        crashing.stop()
    restarted = RelayProcess(env, port, tmp_path / "relay.log")
    try:
        tables = tables_for(settings)
        notice = wait_for(
            lambda: (
                (n := notices.get(tables, stranger, number)) and n["State"] == notices.SENT and n
            ),
            timeout=60,
            what="the reply recorded sent",
        )
        sim.wait_idle()
        assert [m["body"] for m in sim.handset(stranger)] == [NOT_MONITORED_TEXT]
        [text] = sim.state.sent_texts(to=stranger)
        assert notice["MessageSid"] == text["sid"]
        record = wait_for(
            lambda: (
                (r := records.get_text(tables, sent["sid"]))
                and r["State"] != records.RECEIVED
                and r
            ),
            what="the text settled",
        )
        assert record["State"] == records.UNROUTED and record["Reason"] == "unknown_sender"
    finally:
        restarted.stop()
