"""Helpers of the abuse tests: a movable clock, lead bodies, waits on events, the
admin CLI as a subprocess and reads of the simulator's handsets."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from app.sandbox.twilio_sim import SimHandle
from tests.support.relay import RelayHandle

SIM_SID = "AC" + "7" * 32
SIM_TOKEN = "relay-abuse-auth-token"
# Three area codes, eight numbers each: room for several stores' conversations.
POOL = [f"+1{area}55503{i:02d}" for area in ("312", "415", "212") for i in range(8)]
TIMEOUT = 15.0
HTTP = httpx.Client(timeout=TIMEOUT)
GREETING = "thanks for contacting"

_used: set[str] = set()
_lock = threading.Lock()


def new_phone(area: str = "312") -> str:
    """A fresh valid US number nobody in this package used (+1 <area> 555 1xxx-9xxx)."""
    with _lock:
        while True:
            phone = f"+1{area}555{random.randint(1000, 9999)}"
            if phone not in _used:
                _used.add(phone)
                return phone


def new_id() -> str:
    return str(uuid.uuid4())


class MovableClock:
    """Epoch seconds for `RelayContext.clock`: frozen at a moment the test moves."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def lead_body(
    retailer_id: str,
    location_id: str,
    phone: str,
    name: str = "Quinn Shopper",
    *,
    sync: bool = True,
    **lead: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "LeadType": "WEB2TEXT",
        "UniversalRetailerId": retailer_id,
        "SyncImmediately": sync,
        "Lead": {
            "LocationId": location_id,
            "PageUrl": "https://abuse.example.com/rugs/7",
            "Name": name,
            "PhoneNumber": phone,
            "PreferredMethodOfContact": "text",
            "CustomerMessage": "Do you have it in grey?",
        },
    }
    body["Lead"].update(lead)
    return body


def create(
    relay: RelayHandle, key: str, body: dict[str, Any], lead_id: str | None = None
) -> httpx.Response:
    return HTTP.post(
        f"{relay.url}/Lead/{lead_id or new_id()}/create",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
    )


def status(relay: RelayHandle, key: str, lead_id: str) -> dict[str, Any]:
    r = HTTP.get(f"{relay.url}/Lead/{lead_id}/status", headers={"Authorization": key})
    assert r.status_code == 200, r.text
    return dict(r.json())


def twilio_state(relay: RelayHandle, key: str, lead_id: str) -> dict[str, Any]:
    return dict(status(relay, key, lead_id).get("Integrations", {}).get("Twilio", {}))


def wait_for(pred: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or pred}")
        time.sleep(0.05)


def synced(relay: RelayHandle, key: str, lead_id: str, timeout: float = 30.0) -> str:
    """Wait for the lead's Twilio SYNCED; its ConversationSID."""

    def check() -> str | None:
        tw = twilio_state(relay, key, lead_id)
        assert tw.get("SyncStatus") != "ERROR", tw
        if tw.get("SyncStatus") == "SYNCED":
            return str(tw["Data"]["ConversationSID"])
        return None

    return str(wait_for(check, timeout, what=f"lead {lead_id} to sync"))


def greetings(sim: SimHandle, phone: str) -> list[str]:
    return [m["body"] for m in sim.handset(phone) if GREETING in m["body"]]


def admin(relay: RelayHandle, *args: str) -> subprocess.CompletedProcess[str]:
    """`web2text-relay admin ...` in its own process, on the relay's tables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("W2T_")}
    env.update(
        W2T_TABLE_PREFIX=relay.settings.table_prefix,
        W2T_DYNAMODB_ENDPOINT=str(relay.settings.dynamodb_endpoint),
    )
    return subprocess.run(
        [sys.executable, "-m", "app.relay.cli", "admin", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
