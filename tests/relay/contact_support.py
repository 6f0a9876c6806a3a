"""Shared steps of the "every contact reaches a person" tests: a relay on DynamoDB
Local with its own simulator, leads made through the public API, waits on state."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from app.relay import conversation_store, lead_store, message_store
from app.relay.versioned import Item
from app.sandbox.twilio_sim import SimHandle, compute_signature
from tests.support.relay import RelayHandle, Seed, tables_for

SIM_TOKEN = "contact-token"
POOL = [f"+1{area}55502{i:02d}" for area in ("312", "415", "212") for i in range(8)]
T = TypeVar("T")
_phones = iter(range(300, 9999))


def new_phone() -> str:
    return f"+1773555{next(_phones):04d}"


def wait_for(pred: Callable[[], T], timeout: float = 20.0, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def create_lead(relay: RelayHandle, seed: Seed, phone: str, name: str = "Robin Buyer") -> str:
    lead_id = str(uuid.uuid4())
    r = httpx.post(
        relay.url + f"/Lead/{lead_id}/create",
        headers={"Authorization": seed.lead_key},
        json={
            "UniversalRetailerId": seed.retailer_id,
            "Lead": {
                "LocationId": seed.location_id,
                "PageUrl": "https://a.example/x",
                "Name": name,
                "PhoneNumber": phone,
                "CustomerMessage": "Is it in stock?",
            },
        },
        timeout=15,
    )
    assert r.status_code == 200, r.text
    return lead_id


def lead_item(relay: RelayHandle, lead_id: str) -> Item | None:
    return lead_store.get_lead(tables_for(relay), lead_id)


def synced_conversation(relay: RelayHandle, lead_id: str) -> Item:
    """Wait until the lead's conversation is set up and its texts went out."""

    def ready() -> Item | None:
        lead = lead_item(relay, lead_id) or {}
        twilio = (lead.get("Integrations") or {}).get("Twilio") or {}
        assert twilio.get("SyncStatus") != "ERROR", twilio
        sid = (twilio.get("Data") or {}).get("ConversationSID")
        if twilio.get("SyncStatus") != "SYNCED" or not sid:
            return None
        return conversation_store.get_conversation(tables_for(relay), str(sid))

    return wait_for(ready, what=f"lead {lead_id} synced")


def close_lead(relay: RelayHandle, seed: Seed, lead_id: str) -> None:
    r = httpx.post(
        relay.url + f"/Lead/{lead_id}/close",
        headers={"Authorization": seed.lead_key},
        json={"reason": "Sold"},
        timeout=30,
    )
    assert r.status_code == 200, r.text


def messages(relay: RelayHandle, sid: str) -> list[Item]:
    return message_store.list_messages(tables_for(relay), sid)


def post_signed(
    sim: SimHandle, relay: RelayHandle, path: str, form: dict[str, str]
) -> httpx.Response:
    """Deliver a webhook by hand, signed as Twilio would (a redelivery)."""
    url = relay.url + path
    signature = compute_signature(sim.auth_token, url, form)
    return httpx.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=15)


def inbound_form(sim: SimHandle, record: dict[str, Any]) -> dict[str, str]:
    return {
        "MessageSid": record["sid"],
        "SmsSid": record["sid"],
        "AccountSid": sim.account_sid,
        "From": record["from"],
        "To": record["to"],
        "Body": record["body"],
        "NumMedia": "0",
    }
