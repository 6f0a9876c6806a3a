"""Requests of the staff API as the desktop makes them."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.sandbox.twilio_sim import SimHandle
from tests.support.relay import RelayHandle

_numbers = iter(range(1000, 9999))

#: the store phone of the seeded dealer (conftest `seed`)
STORE_PHONE = "+13125550177"


def new_phone(area: str = "312") -> str:
    """A fresh customer number (a phone may get only so many leads a day)."""
    return f"+1{area}555{next(_numbers):04d}"[:12]


def headers(key: str, idem: str | None = None, **extra: str) -> dict[str, str]:
    out = {"Authorization": f"Bearer {key}", **extra}
    if idem is not None:
        out["Idempotency-Key"] = idem
    return out


def new_lead(
    relay: RelayHandle,
    key: str,
    location_id: str,
    phone: str,
    *,
    name: str = "Lee Walker",
    note: str | None = None,
    idem: str | None = None,
    lead_id: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"locationId": location_id, "name": name, "phone": phone}
    if note is not None:
        body["note"] = note
    if lead_id is not None:
        body["leadId"] = lead_id
    return httpx.post(
        f"{relay.url}/v1/leads",
        json=body,
        headers=headers(key, idem or str(uuid.uuid4())),
        timeout=30,
    )


def send(
    relay: RelayHandle,
    key: str,
    sid: str,
    body: str,
    idem: str | None = None,
    send_at: str | None = None,
) -> httpx.Response:
    payload: dict[str, Any] = {"body": body}
    if send_at is not None:
        payload["sendAt"] = send_at
    return httpx.post(
        f"{relay.url}/v1/conversations/{sid}/messages",
        json=payload,
        headers=headers(key, idem or str(uuid.uuid4())),
        timeout=30,
    )


def lead_status(relay: RelayHandle, lead_key: str, lead_id: str) -> dict[str, Any]:
    r = httpx.get(
        f"{relay.url}/Lead/{lead_id}/status", headers={"Authorization": lead_key}, timeout=10
    )
    return r.json()  # type: ignore[no-any-return]


def wait_for(pred: Any, timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def conversation_of(relay: RelayHandle, lead_key: str, lead_id: str) -> str:
    """The lead's conversation, once the relay built it."""

    def sid() -> str | None:
        twilio = lead_status(relay, lead_key, lead_id).get("Integrations", {}).get("Twilio", {})
        if twilio.get("SyncStatus") == "ERROR":
            raise AssertionError(f"Twilio ERROR: {twilio}")
        if twilio.get("SyncStatus") != "SYNCED":
            return None
        return str(twilio["Data"]["ConversationSID"])

    return str(wait_for(sid, what="the lead's conversation"))


def texts(sim: SimHandle, phone: str) -> list[str]:
    return [m["body"] for m in sim.handset(phone)]


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _zone_where(first_hour: int, end_hour: int) -> str:
    """An IANA zone where the local hour is now in [first_hour, end_hour)."""
    now = datetime.now(UTC)
    for offset in range(-12, 15):
        local = now + timedelta(hours=offset)
        if first_hour <= local.hour < end_hour:
            # Etc/GMT signs are inverted: Etc/GMT-3 is UTC+3
            return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}" if offset else "Etc/UTC"
    raise AssertionError("no zone found")


def night_zone() -> str:
    """An IANA zone where it is now between 01:00 and 05:00 (quiet hours)."""
    return _zone_where(1, 5)


def day_zone() -> str:
    """An IANA zone where it is now between 11:00 and 15:00 (texting allowed)."""
    return _zone_where(11, 15)


def changes(relay: RelayHandle, key: str, entity: str) -> list[dict[str, Any]]:
    """Every change of `entity` the key sees, oldest first (all pages)."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 500}
    while True:
        r = httpx.get(f"{relay.url}/v1/changes", headers=headers(key), params=params, timeout=10)
        assert r.status_code == 200, r.text
        page = r.json()
        found += [c for c in page["changes"] if c["entity"] == entity]
        if not page["hasMore"]:
            return found
        params["cursor"] = page["cursor"]


def current_lead(relay: RelayHandle, key: str, lead_id: str) -> dict[str, Any]:
    """The lead as the change feed shows it now (its newest version)."""
    mine = [c["data"] for c in changes(relay, key, "lead") if c["data"]["leadId"] == lead_id]
    assert mine, f"no change of lead {lead_id}"
    return max(mine, key=lambda lead: int(lead["version"]))


def chicago_night() -> datetime:
    """The latest 09:00 UTC before now: 03:00 or 04:00 in Chicago (area code 312)."""
    now = datetime.now(UTC)
    nine = now.replace(hour=9, minute=0, second=0, microsecond=0)
    return nine if nine <= now else nine - timedelta(days=1)


def chicago_day_clock() -> Any:
    """A relay clock (`RelayContext.clock`) that ticks with time but reads midday in
    Chicago: quiet hours are the customer's (312), so a first staff text may go."""
    now = datetime.now(UTC)
    noon = now.replace(hour=18, minute=0, second=0, microsecond=0)  # 12:00 or 13:00 there
    shift = ((noon if noon <= now else noon - timedelta(days=1)) - now).total_seconds()
    return lambda: time.time() + shift
