"""The relay's log output (a real `web2text-relay serve` process, its stdout and
stderr captured) during a lead's life: create, Twilio sync, the customer's and the
store's texts through signed webhooks, a staff reply, a STOP, refused requests.
No full phone number of the test's people and no secret (API keys, the Twilio auth
token) may appear; the request lines are structured JSON with a request id."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.sandbox.servers import free_port
from app.sandbox.twilio_sim import SimHandle, start_simulator
from tests.relay_qa.helpers import HTTP, TIMEOUT, lead_body, new_id, wait_for
from tests.support.relay import init_tables, new_prefix, seed_dealer, seed_location

SID = "AC" + "4" * 32
TOKEN = "qa-log-token-" + uuid.uuid4().hex  # unique: any occurrence in the logs is a leak
POOL = ["+13125550601", "+13125550602", "+14155550603", "+12125550604"]
CUSTOMER = "+13125550688"
SECOND_CUSTOMER = "+13125550689"
STORE_NUMBER = "+13125550699"
WEB2TEXT_NUMBER = "+13125550698"


@pytest.fixture(scope="module")
def log_sim() -> Iterator[SimHandle]:
    sim = start_simulator(SID, TOKEN, pool=POOL, carrier_delay=0.0)
    yield sim
    sim.stop()


def _digits_forms(e164: str) -> list[str]:
    """The forms a full number could take in a log line."""
    national = e164[2:]
    return [e164, national, f"({national[:3]}) {national[3:6]}-{national[6:]}", e164[1:]]


def test_logs_hold_no_phone_numbers_and_no_secrets(
    dynamodb_endpoint: str, log_sim: SimHandle, tmp_path: Path
) -> None:
    prefix = new_prefix()
    settings = init_tables(dynamodb_endpoint, prefix)
    seed = seed_dealer(
        settings, web2text_number=WEB2TEXT_NUMBER, pool=POOL, store_number=STORE_NUMBER
    )
    other_location = seed_location(settings, seed.retailer_id, "+14155550697", name="Other")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "W2T_TABLE_PREFIX": prefix,
        "W2T_DYNAMODB_ENDPOINT": dynamodb_endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "TWILIO_ACCOUNT_SID": SID,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_MESSAGING_SERVICE_SID": log_sim.messaging_service_sid,
        "W2T_TWILIO_BASE_URL": log_sim.url,
        "W2T_PUBLIC_URL": url,
        "W2T_ENVIRONMENT": "test",
        "W2T_SWEEPER_INTERVAL": "1",
        "PYTHONUNBUFFERED": "1",
    }
    log_sim.set_webhook_url(url + "/TwilioWebhooks/onIncomingMessage")
    out_path, err_path = tmp_path / "relay.out", tmp_path / "relay.err"
    exe = os.path.join(os.path.dirname(sys.executable), "web2text-relay")
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            [exe, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=err,
        )
    try:
        wait_for(lambda: _healthy(url), timeout=60, what="the relay process to serve")
        lead = {"Authorization": f"Bearer {seed.lead_key}"}
        staff = {"Authorization": seed.staff_key}
        # a lead, synced through Twilio (the greeting reaches the customer)
        lead_id = new_id()
        r = HTTP.post(
            f"{url}/Lead/{lead_id}/create",
            json=lead_body(seed.retailer_id, seed.location_id, "(312) 555-0688"),
            headers=lead,
            timeout=TIMEOUT,
        )
        assert r.status_code == 200, r.text
        wait_for(lambda: log_sim.handset(CUSTOMER), what="the greeting on the customer's phone")
        state = HTTP.get(f"{url}/Lead/{lead_id}/status", headers=lead, timeout=TIMEOUT).json()
        sid = state["Integrations"]["Twilio"]["Data"]["ConversationSID"]
        conv = log_sim.state.get_conversation(sid)
        proxies = {str(p.address): str(p.proxy_address) for p in conv.participants.values()}
        # the customer and the store text each other (signed webhooks into the relay)
        log_sim.inbound(CUSTOMER, proxies[CUSTOMER], "Is the grey one in stock?")
        store_phone = next(a for a in proxies if a != CUSTOMER)
        log_sim.inbound(store_phone, proxies[store_phone], "Yes, come by today")
        wait_for(
            lambda: any("come by" in m["body"] for m in log_sim.handset(CUSTOMER)),
            what="the store's reply on the customer's phone",
        )
        # a staff reply from the desktop
        r = HTTP.post(
            f"{url}/v1/conversations/{sid}/messages",
            json={"body": "We open at 9"},
            headers={**staff, "Idempotency-Key": new_id()},
            timeout=TIMEOUT,
        )
        assert r.status_code in (202, 422), r.text  # 422: quiet hours at the store
        # a second customer texts STOP to a pool number (onIncomingMessage)
        log_sim.inbound(SECOND_CUSTOMER, POOL[0], "STOP")
        check = {"PhoneNumber": SECOND_CUSTOMER}
        wait_for(
            lambda: (
                HTTP.post(
                    f"{url}/TwilioWebhooks/checkOptInStatus", json=check, headers=lead
                ).json()["Status"]
                == "OPTED-OUT"
            ),
            what="the STOP to be recorded",
        )
        # refused requests that carry numbers and keys
        for body in (
            lead_body(seed.retailer_id, seed.location_id, SECOND_CUSTOMER),  # opted out
            lead_body(seed.retailer_id, seed.location_id, STORE_NUMBER),  # the store's phone
            lead_body(seed.retailer_id, other_location, "+1 312 555 06"),  # invalid phone
        ):
            r = HTTP.post(f"{url}/Lead/{new_id()}/create", json=body, headers=lead)
            assert r.status_code == 400, r.text
        fake_key = "w2t_qa-probe-" + uuid.uuid4().hex
        r = HTTP.get(f"{url}/Lead/{lead_id}/status", headers={"Authorization": fake_key})
        assert r.status_code == 401
        r = HTTP.post(
            f"{url}/TwilioWebhooks/onIncomingMessage",
            data={"From": CUSTOMER, "To": POOL[1], "Body": "forged"},
            headers={"X-Twilio-Signature": "forged"},
        )
        assert r.status_code == 403
        time.sleep(1.0)  # let the last background steps log
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    logs = out_path.read_text(errors="replace") + err_path.read_text(errors="replace")
    lines = [line for line in logs.splitlines() if line.strip()]
    # the run was logged at all (else the checks below prove nothing)
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(r.get("msg") == "lead created" for r in records), logs[-3000:]
    webhook_lines = [r for r in records if str(r.get("path", "")).startswith("/TwilioWebhooks/")]
    assert webhook_lines, "no webhook request was logged"
    assert all(r.get("request_id") for r in records if r.get("msg") == "request")
    # a record about the customer was written, masked (the mask is exercised, not avoided)
    assert "+1 312 ***-**88" in logs, "no masked phone at all: is the send still logged?"
    non_json = [line for line in lines if not line.startswith("{")]
    assert not non_json, "log lines that are not JSON:\n" + "\n".join(non_json[:20])
    leaks: list[str] = []
    for phone in (CUSTOMER, SECOND_CUSTOMER, STORE_NUMBER, WEB2TEXT_NUMBER, store_phone):
        for form in _digits_forms(phone):
            if form in logs:
                leaks.append(f"phone {form}")
    for name, secret in (
        ("lead key", seed.lead_key),
        ("staff key", seed.staff_key),
        ("unknown key", fake_key),
        ("auth token", TOKEN),
    ):
        if secret in logs:
            leaks.append(name)
    context = "\n".join(line for line in lines if any(x.split()[-1] in line for x in leaks))
    assert not leaks, f"leaked: {leaks}\n{context[:3000]}"


def _healthy(url: str) -> bool:
    try:
        return HTTP.get(url + "/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
