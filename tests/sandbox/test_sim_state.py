"""Thread safety, reset and the control plane."""

from __future__ import annotations

import threading

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from app.sandbox.twilio_sim import SimConfig, SimConfigError, SimHandle
from tests.sandbox.helpers import CUSTOMER, P1, pair_conversation, set_faults, text
from tests.support.twilio_sim import sim_client


@pytest.fixture
def client(twilio_sim: SimHandle) -> Client:
    return sim_client(twilio_sim)


def test_racing_adds_of_one_pair_let_exactly_one_win(client: Client, twilio_sim: SimHandle) -> None:
    convs = [client.conversations.v1.conversations.create().sid for _ in range(8)]
    barrier = threading.Barrier(len(convs))
    outcomes: list[str] = []
    lock = threading.Lock()

    def add(conv: str) -> None:
        own = sim_client(twilio_sim)
        barrier.wait()
        try:
            own.conversations.v1.conversations(conv).participants.create(
                messaging_binding_address=CUSTOMER, messaging_binding_proxy_address=P1
            )
            result = "ok"
        except TwilioRestException as exc:
            result = str(exc.code)
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=add, args=(c,)) for c in convs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["50416"] * 7 + ["ok"]


def test_concurrent_messages_get_distinct_indices(client: Client, twilio_sim: SimHandle) -> None:
    conv = pair_conversation(client)

    def send(n: int) -> None:
        own = sim_client(twilio_sim)
        for i in range(5):
            own.conversations.v1.conversations(conv).messages.create(body=f"{n}-{i}")

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    messages = client.conversations.v1.conversations(conv).messages.list()
    assert sorted(m.index for m in messages) == list(range(20))
    twilio_sim.wait_idle()
    assert len(twilio_sim.handset(CUSTOMER)) == 20


def test_reset_clears_everything(client: Client, twilio_sim: SimHandle) -> None:
    pair_conversation(client)
    text(twilio_sim, CUSTOMER, P1, "STOP")
    set_faults(twilio_sim, {"latency_ms": 10})
    httpx.post(f"{twilio_sim.url}/_sim/lookup", json={CUSTOMER: "landline"})
    twilio_sim.wait_idle()
    r = httpx.post(f"{twilio_sim.url}/_sim/reset")
    assert r.status_code == 200
    assert client.conversations.v1.conversations.list() == []
    assert httpx.get(f"{twilio_sim.url}/_sim/handset/{CUSTOMER}").json() == {
        "messages": [],
        "calls": [],
    }
    assert httpx.get(f"{twilio_sim.url}/_sim/faults").json()["faults"]["latency_ms"] == 0
    lookup = client.lookups.v2.phone_numbers(CUSTOMER).fetch(fields="line_type_intelligence")
    assert lookup.line_type_intelligence["type"] == "mobile"
    assert twilio_sim.state.opted_out == set()
    assert len(twilio_sim.pool) == 5  # the pool is configuration, not state


def test_webhook_url_can_be_set_later(twilio_sim: SimHandle) -> None:
    r = httpx.post(f"{twilio_sim.url}/_sim/webhook-url", json={"url": "http://127.0.0.1:9/in"})
    assert r.status_code == 200 and twilio_sim.state.webhook_url == "http://127.0.0.1:9/in"
    r = httpx.post(f"{twilio_sim.url}/_sim/webhook-url", json={"url": "nope"})
    assert r.status_code == 400 and r.json()["reason"] == "invalid_url"
    assert httpx.get(f"{twilio_sim.url}/_sim/idle").json() in ({"idle": True}, {"idle": False})


def test_unknown_paths_and_methods_answer_like_twilio(twilio_sim: SimHandle) -> None:
    auth = (twilio_sim.account_sid, twilio_sim.auth_token)
    r = httpx.get(f"{twilio_sim.url}/v1/Nothing", auth=auth)
    assert r.status_code == 404 and r.json()["code"] == 20404
    r = httpx.put(f"{twilio_sim.url}/v1/Conversations", auth=auth)
    assert r.status_code == 405 and set(r.json()) >= {"code", "message", "more_info", "status"}
    r = httpx.get(f"{twilio_sim.url}/v1/Conversations?PageSize=0", auth=auth)
    assert r.status_code == 400 and r.json()["status"] == 400
    r = httpx.get(f"{twilio_sim.url}/_sim/nothing")
    assert r.status_code == 404 and r.json()["reason"] == "not_found"


def test_config_validation() -> None:
    good = {"account_sid": "AC" + "1" * 32, "auth_token": "t"}
    SimConfig(**good).validate()  # type: ignore[arg-type]
    for bad in (
        {"account_sid": "AC1"},
        {"auth_token": ""},
        {"pool": ["3125550101"]},
        {"pool": ["+13125550101", "+13125550101"]},
        {"webhook_url": "ftp://x"},
        {"messaging_service_sid": "MG1"},
        {"time_scale": 0},
    ):
        with pytest.raises(SimConfigError):
            SimConfig(**{**good, **bad}).validate()  # type: ignore[arg-type]


def test_control_client_and_handle_conveniences(client: Client, twilio_sim: SimHandle) -> None:
    from app.sandbox.fault_fields import FaultError
    from app.sandbox.twilio_sim import SimControl, SimControlError
    from tests.sandbox.helpers import P2, STORE

    conv = pair_conversation(client)
    with SimControl(twilio_sim.url) as control:
        result = control.inbound(CUSTOMER, P1, "from the control client")
        assert result["conversation_sid"] == conv
        twilio_sim.wait_idle()
        assert [m["body"] for m in control.handset(STORE)] == ["from the control client"]
        control.set_line_types({STORE: "landline"})
        assert twilio_sim.state.line_types[STORE] == "landline"
        with pytest.raises(SimControlError) as exc:
            control.set_line_types({STORE: "carrier-pigeon"})
        assert exc.value.status == 400 and exc.value.reason == "invalid_line_type"
        control.set_faults({"carrier_errors": {STORE: 30006}})
        assert twilio_sim.state.faults.carrier_error(STORE) == 30006
        control.clear_faults()
        assert control.tick(0) == 0
        control.set_webhook_url(None)
        control.reset()
        assert twilio_sim.state.list_conversations() == []
        assert control.idle() in (True, False)

    conv = pair_conversation(client)
    twilio_sim.inbound(STORE, P2, "from the handle")
    twilio_sim.wait_idle()
    assert twilio_sim.handset(CUSTOMER)[-1]["body"] == "from the handle"
    twilio_sim.set_faults({"rate_429": 1})
    with pytest.raises(TwilioRestException):
        client.conversations.v1.conversations.create()
    twilio_sim.set_faults({})
    with pytest.raises(FaultError):
        twilio_sim.set_faults({"rate_429": 5})
    twilio_sim.set_line_types({CUSTOMER: "invalid"})
    assert client.lookups.v2.phone_numbers(CUSTOMER).fetch().valid is False
