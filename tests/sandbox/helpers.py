"""Shared bits of the simulator's own tests."""

from __future__ import annotations

import httpx
from twilio.rest import Client

from app.sandbox.twilio_sim import SimHandle
from tests.support.twilio_sim import DEFAULT_POOL

CUSTOMER = "+17735550199"
STORE = "+13125551234"
P1, P2, P3 = DEFAULT_POOL[0], DEFAULT_POOL[1], DEFAULT_POOL[2]


def pair_conversation(
    client: Client, customer_proxy: str = P1, store_proxy: str = P2, **create: str
) -> str:
    conv = client.conversations.v1.conversations.create(**create)
    api = client.conversations.v1.conversations(conv.sid)
    api.participants.create(
        messaging_binding_address=CUSTOMER, messaging_binding_proxy_address=customer_proxy
    )
    api.participants.create(
        messaging_binding_address=STORE, messaging_binding_proxy_address=store_proxy
    )
    return str(conv.sid)


def add_webhook(
    client: Client, conv: str, url: str, filters: list[str], method: str = "post"
) -> str:
    hook = client.conversations.v1.conversations(conv).webhooks.create(
        target="webhook",
        configuration_url=url,
        configuration_method=method,
        configuration_filters=filters,
    )
    return str(hook.sid)


def text(sim: SimHandle, from_: str, to: str, body: str) -> dict[str, object]:
    response = httpx.post(f"{sim.url}/_sim/inbound", json={"from": from_, "to": to, "body": body})
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


def set_faults(sim: SimHandle, faults: dict[str, object]) -> None:
    response = httpx.post(f"{sim.url}/_sim/faults", json=faults)
    assert response.status_code == 200, response.text
