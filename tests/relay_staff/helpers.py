"""A conversation as the lead flow leaves it, made directly (simulator + tables)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from twilio.rest import Client

from app.relay import conversation_store, lead_store
from app.sandbox.twilio_sim import SimHandle
from tests.support.relay import Seed
from tests.support.twilio_sim import sim_client


def _customer() -> str:
    return "+1312555" + str(uuid.uuid4().int % 10000).zfill(4)


@dataclass
class Conv:
    sid: str
    lead_id: str
    customer: str
    customer_proxy: str
    store_phone: str


def _customer() -> str:
    return "+1312555" + str(uuid.uuid4().int % 10000).zfill(4)


def make_conversation(
    tables: Any,
    sim: SimHandle,
    seed: Seed,
    *,
    location_id: str | None = None,
    submitted: datetime | None = None,
    unread: int = 0,
    state: str = "active",
) -> Conv:
    """A conversation as the lead flow leaves it: in Twilio (simulator) and in the tables."""
    client: Client = sim_client(sim)
    customer = _customer()
    store_phone = _customer()  # a binding (address, proxy) lives in one conversation only
    location_id = location_id or seed.location_id
    conv = client.conversations.v1.conversations.create(
        friendly_name="test", attributes=json.dumps({"LeadIds": []})
    )
    proxies = sim.pool
    customer_proxy, store_proxy = proxies[0], proxies[1]
    client.conversations.v1.conversations(conv.sid).participants.create(
        messaging_binding_address=customer, messaging_binding_proxy_address=customer_proxy
    )
    client.conversations.v1.conversations(conv.sid).participants.create(
        messaging_binding_address=store_phone, messaging_binding_proxy_address=store_proxy
    )
    lead_id = str(uuid.uuid4())
    when = (submitted or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    lead_store.put_new_lead(
        tables,
        {
            "LeadId": lead_id,
            "LeadType": "WEB2TEXT",
            "Status": "ACTIVE",
            "SchemaVersion": "2.0.0",
            "UniversalRetailerId": seed.retailer_id,
            "Lead": {
                "LocationId": location_id,
                "PageUrl": "https://example.com/p",
                "Name": "Pat Customer",
                "PhoneNumber": customer,
                "PreferredMethodOfContact": "text",
                "CustomerMessage": "Is it in stock?",
            },
            "DateSubmitted": when,
            "LocationId": location_id,
            "Integrations": {
                "Twilio": {"SyncStatus": "SYNCED", "Data": {"ConversationSID": conv.sid}}
            },
            "PipelineStatus": "new",
            "Version": 1,
        },
    )
    conversation_store.put_conversation(
        tables,
        {
            "ConversationSid": conv.sid,
            "LocationId": location_id,
            "LocationIds": [location_id],
            "CustomerPhone": customer,
            "Web2TextNumber": seed.web2text_number,
            "CustomerProxy": customer_proxy,
            "StoreProxy": store_proxy,
            "State": state,
            "LeadIds": [lead_id],
            "UnreadCount": unread,
            "Version": 1,
        },
    )
    return Conv(conv.sid, lead_id, customer, customer_proxy, store_phone)
