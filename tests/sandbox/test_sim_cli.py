"""`web2text-twilio-sim` as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from twilio.rest import Client

from app.sandbox.servers import free_port
from app.sandbox.sim_cli import main
from tests.support.twilio_sim import ACCOUNT_SID, AUTH_TOKEN, WebhookRecorder, point_client_at

SCRIPT = Path(sys.executable).parent / "web2text-twilio-sim"


def _command() -> list[str]:
    if SCRIPT.exists():
        return [str(SCRIPT)]
    return [sys.executable, "-m", "app.sandbox.sim_cli"]


def test_cli_serves_the_simulator(webhook_recorder: WebhookRecorder) -> None:
    port = free_port()
    inbound = f"{webhook_recorder.url}/TwilioWebhooks/onIncomingMessage"
    proc = subprocess.Popen(
        [
            *_command(),
            "--port", str(port),
            "--account-sid", ACCOUNT_SID,
            "--auth-token", AUTH_TOKEN,
            "--webhook-url", inbound,
            "--pool", "+13125550101,+12125550103",
            "--log-level", "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "simulator did not start"
            time.sleep(0.1)
        client = point_client_at(Client(ACCOUNT_SID, AUTH_TOKEN), url)
        conv = client.conversations.v1.conversations.create(friendly_name="cli")
        assert conv.sid.startswith("CH")
        r = httpx.post(
            f"{url}/_sim/inbound", json={"from": "+17735550199", "to": "+13125550101", "body": "hi"}
        )
        assert r.status_code == 200
        hook = webhook_recorder.wait_for(1, path="/TwilioWebhooks/onIncomingMessage")[0]
        assert hook.signature_valid(AUTH_TOKEN, inbound)
        service = hook.form["MessagingServiceSid"]
        numbers = client.messaging.v1.services(service).phone_numbers.list()
        assert [n.phone_number for n in numbers] == ["+13125550101", "+12125550103"]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "required"),
        (["--port", "x"], "invalid int"),
        (["--port", "0"], "--port"),
        (["--account-sid", "ACnope"], "account_sid"),
        (["--webhook-url", "not-a-url"], "webhook_url"),
        (["--pool", "+1312555010,12"], "pool"),
        (["--time-scale", "0"], "time_scale"),
    ],
)
def test_cli_rejects_bad_arguments(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = {
        "--port": "5999",
        "--account-sid": ACCOUNT_SID,
        "--auth-token": AUTH_TOKEN,
        "--webhook-url": "http://127.0.0.1:1/in",
    }
    argv: list[str] = []
    if args:
        overrides = dict(zip(args[::2], args[1::2], strict=True))
        for key, value in {**base, **overrides}.items():
            argv += [key, value]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_bad_arguments_exit_non_zero_as_a_process() -> None:
    result = subprocess.run(
        [*_command(), "--port", "5999", "--account-sid", "ACnope", "--auth-token", "t",
         "--webhook-url", "http://127.0.0.1:1/in"],
        capture_output=True,
        text=True,
        timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert "account_sid must be AC followed by 32 hex digits" in result.stderr
    assert "Traceback" not in result.stderr
