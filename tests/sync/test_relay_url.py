"""The staff key is never sent over plain http to another computer: `web2text-sync`
refuses such a relay URL with a clear error (and never remembers it), and the
engine and its relay client refuse it too; loopback (the demo, tests) is fine."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.core.relay_url import InsecureRelayUrl
from app.sync.api import SyncState
from app.sync.client import RelayClient
from app.sync.inbox import DB_FILENAME
from tests.sync.conftest import fast_engine
from tests.sync.test_cli import run_cli

INSECURE = ["http://relay.example.com", "HTTP://10.0.0.5:8080", "http://[2001:db8::1]/"]


@pytest.mark.parametrize("url", INSECURE)
def test_the_cli_refuses_plain_http_to_another_host(tmp_path: Path, url: str) -> None:
    d = tmp_path / "data"
    for command in (["status"], ["run", "--until-idle", "--timeout", "5"]):
        code, out = run_cli("--data-dir", str(d), "--relay-url", url, *command)
        assert code == 1, out
        assert out["error"] == "insecure_relay_url"
        assert "plain http" in out["message"] and "https://" in out["message"]
    # never remembered: a later status knows no relay
    code, out = run_cli("--data-dir", str(d), "status", token=None)
    assert code == 0 and out["relay_url"] is None


def test_a_remembered_insecure_url_is_refused_too(tmp_path: Path) -> None:
    d = tmp_path / "data"
    assert run_cli("--data-dir", str(d), "--relay-url", "http://127.0.0.1:9", "status")[0] == 0
    # an older version remembered an http URL to another host
    db = sqlite3.connect(d / DB_FILENAME)
    with db:
        db.execute("UPDATE meta SET value = 'http://relay.example.com' WHERE key = 'relay_url'")
    db.close()
    code, out = run_cli("--data-dir", str(d), "status")
    assert code == 1 and out["error"] == "insecure_relay_url"


LOOPBACK = ["http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"]


@pytest.mark.parametrize("url", ["https://relay.example.com", *LOOPBACK])
def test_https_and_loopback_are_accepted(tmp_path: Path, url: str) -> None:
    d = str(tmp_path / "d")
    code, out = run_cli("--data-dir", d, "--relay-url", url, "status", token=None)
    assert code == 0 and out["relay_url"] == url.rstrip("/")


async def test_the_engine_and_client_never_send_the_key_in_clear(tmp_path: Path) -> None:
    with pytest.raises(InsecureRelayUrl):
        RelayClient("http://relay.example.com", "w2t_secret")
    engine = fast_engine(tmp_path / "e", "http://relay.example.com")
    await engine.start()
    try:
        status = engine.status()
        assert status.state is SyncState.OFFLINE
        assert "plain http" in (status.last_error or "")
    finally:
        await engine.stop()
