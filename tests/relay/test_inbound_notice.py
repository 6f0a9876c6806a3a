"""The "not monitored" reply to a stranger is durable and exactly-once: recorded as owed
with the unrouted text, sent with the Messages API (never in the webhook's TwiML
answer, which can be lost), recorded SENT; a redelivered webhook sends it neither
twice nor never, even when the handler that owed it died at any step."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator

import pytest

from app.relay.inbound import notices, records
from app.relay.inbound.routing import NOT_MONITORED_TEXT
from app.relay.versioned import Item
from app.sandbox.twilio_sim import SimHandle, start_simulator
from tests.relay.contact_support import POOL, SIM_TOKEN, new_phone, post_signed, wait_for
from tests.support.relay import RelayHandle, start_relay, tables_for

SIM_SID = "AC" + "7" * 32
WEBHOOK = "/TwilioWebhooks/onIncomingMessage"
STEPS = ["after_notice_owed", "after_inbound_unrouted", "before_notice_sent", "after_notice_sent"]


class HandlerDied(Exception):
    """The webhook handler stopped at a step (its answer never said what it did)."""


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    handle = start_simulator(SIM_SID, SIM_TOKEN, pool=POOL, carrier_delay=0.0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def relay(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[RelayHandle]:
    # no sweeper: what is repaired here, the pair's next webhook repairs
    handle = start_relay(dynamodb_endpoint, sim, background=False, stuck_after_s=1.0)
    yield handle
    handle.stop()


@pytest.fixture()
def dies_at(relay: RelayHandle) -> Iterator[Callable[[str], None]]:
    ctx = relay.app.state.ctx
    kept = ctx.checkpoint

    def set_step(step: str) -> None:
        def checkpoint(reached: str) -> None:
            if reached == step:
                raise HandlerDied(step)

        ctx.checkpoint = checkpoint

    yield set_step
    ctx.checkpoint = kept


def _text(sim: SimHandle, stranger: str, body: str, number: str = POOL[-1]) -> dict[str, str]:
    sid = "SM" + secrets.token_hex(16)
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": sim.account_sid,
        "From": stranger,
        "To": number,
        "Body": body,
        "NumMedia": "0",
    }


def _notice(relay: RelayHandle, stranger: str, number: str = POOL[-1]) -> Item | None:
    return notices.get(tables_for(relay), stranger, number)


def _replies(sim: SimHandle, stranger: str) -> list[str]:
    sim.wait_idle()
    return [m["body"] for m in sim.handset(stranger)]


def test_the_reply_goes_by_the_messages_api_and_is_recorded_sent(
    relay: RelayHandle, sim: SimHandle
) -> None:
    stranger = new_phone()
    answer = post_signed(sim, relay, WEBHOOK, _text(sim, stranger, "who is this?"))
    assert answer.status_code == 200 and "<Message>" not in answer.text
    notice = wait_for(
        lambda: (n := _notice(relay, stranger)) and n["State"] == notices.SENT and n,
        what="the reply recorded sent",
    )
    [sent] = sim.state.sent_texts(to=stranger)
    assert (sent["from"], sent["body"]) == (POOL[-1], NOT_MONITORED_TEXT)
    assert notice["MessageSid"] == sent["sid"]
    assert "PendingAt" not in notice  # no longer due for anyone
    assert _replies(sim, stranger) == [NOT_MONITORED_TEXT]


def test_a_retried_webhook_and_later_texts_do_not_send_it_again(
    relay: RelayHandle, sim: SimHandle
) -> None:
    stranger = new_phone()
    form = _text(sim, stranger, "hello?")
    for _ in range(3):  # Twilio's retries of a webhook whose answer it never got
        assert post_signed(sim, relay, WEBHOOK, form).status_code == 200
    later = _text(sim, stranger, "anyone there?")
    assert post_signed(sim, relay, WEBHOOK, later).status_code == 200
    assert _replies(sim, stranger) == [NOT_MONITORED_TEXT]
    notice = _notice(relay, stranger)
    assert notice is not None and notice["State"] == notices.SENT
    assert notice["Attempts"] == 1 and notice["TextId"] == form["MessageSid"]
    for sid in (form["MessageSid"], later["MessageSid"]):
        record = records.get_text(tables_for(relay), sid)
        assert record is not None and record["State"] == records.UNROUTED


@pytest.mark.parametrize("step", STEPS)
def test_a_reply_owed_by_a_handler_that_died_goes_once_with_the_retry(
    relay: RelayHandle, sim: SimHandle, dies_at: Callable[[str], None], step: str
) -> None:
    stranger = new_phone()
    form = _text(sim, stranger, "is this the store?")
    dies_at(step)
    # past the unrouted record, a failed send is logged and left owed (answer 200)
    assert post_signed(sim, relay, WEBHOOK, form).status_code in (200, 500)
    dies_at("")
    owed = _notice(relay, stranger)
    assert owed is not None and owed["State"] == notices.OWED
    # held by the handler that died until its hold runs out; a retry before then
    # leaves it to that holder (it may still be sending)
    wait_for(lambda: time.time() > float(owed["PendingAt"]), what="the hold to run out")
    assert post_signed(sim, relay, WEBHOOK, form).status_code == 200
    assert _replies(sim, stranger) == [NOT_MONITORED_TEXT]
    notice = _notice(relay, stranger)
    assert notice is not None and notice["State"] == notices.SENT
    [sent] = sim.state.sent_texts(to=stranger)
    assert notice["MessageSid"] == sent["sid"]
    record = records.get_text(tables_for(relay), form["MessageSid"])
    assert record is not None and record["State"] == records.UNROUTED


def test_a_reply_twilio_refuses_is_kept_refused_and_not_retried(
    relay: RelayHandle, sim: SimHandle
) -> None:
    stranger, number = new_phone(), POOL[-2]
    sim.inbound(stranger, number, "STOP")
    sim.wait_idle()
    before = _replies(sim, stranger)  # the carrier's own STOP confirmation
    answer = post_signed(sim, relay, WEBHOOK, _text(sim, stranger, "hi", number))
    assert answer.status_code == 200
    notice = _notice(relay, stranger, number)
    assert notice is not None and notice["State"] == notices.REFUSED
    assert notice["ErrorCode"] == 21610 and "PendingAt" not in notice
    assert _replies(sim, stranger) == before
    assert sim.state.sent_texts(to=stranger) == []
