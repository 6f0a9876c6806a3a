"""`web2text-sync` as a real subprocess (console script) against the fake relay port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.sync.fake_relay import TOKEN, change, conv_data, lead_data

SCRIPT = str(Path(sys.executable).with_name("web2text-sync"))


def run_cli(*args: str, token: str | None = TOKEN, timeout: float = 60) -> tuple[int, Any]:
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    env.pop("W2T_TOKEN", None)
    if token:
        env["W2T_TOKEN"] = token
    proc = subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=env,
                          timeout=timeout)
    lines = proc.stdout.strip().splitlines()
    return proc.returncode, json.loads(lines[-1]) if lines else proc.stderr


def test_send_works_offline_and_status_reports_json(tmp_path: Path) -> None:
    d = str(tmp_path / "data")
    code, out = run_cli("--data-dir", d, "send", "CHnotmirroredyet", "hi there", token=None)
    assert code == 0 and out["queued"] is True
    code, out = run_cli("--data-dir", d, "--relay-url", "http://127.0.0.1:9", "status")
    assert code == 0
    assert (out["pending"], out["failed"], out["online"], out["cursor"]) == (1, 0, False, None)
    code, out = run_cli("--data-dir", d, "send", "CH1", "   ")
    assert code == 1 and out["error"] == "empty_body"
    code, out = run_cli("--data-dir", d, "run", "--until-idle", token=None)
    assert code == 3 and out["error"] == "not_configured"


def test_run_until_idle_delivers_and_exits(tmp_path: Path, fake_relay: Any) -> None:
    relay, url = fake_relay
    relay.publish(change("conversation", conv_data("CH1")), change("lead", lead_data("l1", "CH1")))
    d = str(tmp_path / "data")
    for i in range(3):
        assert run_cli("--data-dir", d, "send", "CH1", f"m{i}")[0] == 0
    code, out = run_cli("--data-dir", d, "--relay-url", url, "run", "--until-idle",
                        "--timeout", "30")
    assert code == 0, out
    assert out["pending"] == 0 and out["online"] is True
    assert relay.sent == [("CH1", "m0"), ("CH1", "m1"), ("CH1", "m2")]
    # the relay URL is remembered; status now sees the relay
    code, out = run_cli("--data-dir", d, "status")
    assert out["online"] is True and int(out["cursor"]) >= 2  # at least the seeded changes
    # a refused key: exit 4
    code, out = run_cli("--data-dir", d, "run", "--until-idle", "--timeout", "20",
                        token="bad")
    assert code == 4 and out["state"] == "auth_required"


def test_run_stops_cleanly_on_sigterm(tmp_path: Path, fake_relay: Any) -> None:
    import signal
    import time

    relay, url = fake_relay
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
           "W2T_TOKEN": TOKEN}
    d = str(tmp_path / "data")
    proc = subprocess.Popen([SCRIPT, "--data-dir", d, "--relay-url", url, "run"], env=env,
                            stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while relay.stream_connections == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # online: following the stream
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    status = json.loads(out.strip().splitlines()[-1])
    assert status["pending"] == 0 and status["online"] is True  # the state it stopped in
