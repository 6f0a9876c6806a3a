"""Typing in the desktop reaches the customer's handset: UI → real engine → real relay →
twilio SDK → Twilio simulator, on DynamoDB Local.

The conversation is made the way the lead flow leaves it (in the simulator through the
twilio SDK, in the relay's tables, and on its change log), as the relay's own staff-API
tests do.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.relay import conversation_store, lead_store
from app.sandbox.twilio_sim import SimHandle
from app.ui.controller import AppController, Options
from app.ui.thread_model import MessageItem
from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay
from tests.support.twilio_sim import running_simulator, sim_client
from tests.ui.conftest import MemoryKeyring, open_lead

pytestmark = pytest.mark.dynamodb


@pytest.fixture(scope="module")
def stack(dynamodb_endpoint: str) -> Iterator[tuple[SimHandle, RelayHandle, Seed]]:
    with running_simulator() as sim:
        relay = start_relay(
            dynamodb_endpoint, sim, background=False, stream_heartbeat_s=0.3, stream_poll_s=0.05
        )
        seed = seed_dealer(relay, web2text_number="+13125550177", store_number="+13125550198")
        yield sim, relay, seed
        relay.stop()


def make_conversation(relay: RelayHandle, sim: SimHandle, seed: Seed, name: str) -> tuple[str, str]:
    client = sim_client(sim)
    customer = "+1312555" + str(uuid.uuid4().int % 10000).zfill(4)
    store_phone = "+1312555" + str(uuid.uuid4().int % 10000).zfill(4)
    conv = client.conversations.v1.conversations.create(
        friendly_name="ui-e2e", attributes=json.dumps({"LeadIds": []})
    )
    customer_proxy, store_proxy = sim.pool[0], sim.pool[1]
    client.conversations.v1.conversations(conv.sid).participants.create(
        messaging_binding_address=customer, messaging_binding_proxy_address=customer_proxy
    )
    client.conversations.v1.conversations(conv.sid).participants.create(
        messaging_binding_address=store_phone, messaging_binding_proxy_address=store_proxy
    )
    lead_id = str(uuid.uuid4())
    when = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    lead = {
        "LeadId": lead_id,
        "LeadType": "WEB2TEXT",
        "Status": "ACTIVE",
        "SchemaVersion": "2.0.0",
        "UniversalRetailerId": seed.retailer_id,
        "Lead": {
            "LocationId": seed.location_id,
            "PageUrl": "https://example.com/oak",
            "Name": name,
            "PhoneNumber": customer,
            "PreferredMethodOfContact": "text",
            "CustomerMessage": "Is the oak in stock?",
        },
        "DateSubmitted": when,
        "LocationId": seed.location_id,
        "Integrations": {"Twilio": {"SyncStatus": "SYNCED", "Data": {"ConversationSID": conv.sid}}},
        "PipelineStatus": "new",
        "Version": 1,
    }
    conversation = {
        "ConversationSid": conv.sid,
        "LocationId": seed.location_id,
        "LocationIds": [seed.location_id],
        "CustomerPhone": customer,
        "Web2TextNumber": seed.web2text_number,
        "CustomerProxy": customer_proxy,
        "StoreProxy": store_proxy,
        "State": "active",
        "LeadIds": [lead_id],
        "UnreadCount": 0,
        "Version": 1,
    }
    lead_store.put_new_lead(relay.tables, lead)
    conversation_store.put_conversation(relay.tables, conversation)
    log = relay.ctx.change_log
    log.record(
        seed.location_id,
        "conversation",
        conv.sid,
        1,
        conversation_store.conversation_view(conversation),
    )
    log.record(
        seed.location_id,
        "lead",
        lead_id,
        1,
        lead_store.lead_view(lead_store.get_lead(relay.tables, lead_id)),
    )
    return conv.sid, customer


def test_enter_in_the_composer_reaches_the_customer_handset(
    stack: tuple[SimHandle, RelayHandle, Seed],
    tmp_path: Path,
    memory_keyring: MemoryKeyring,
    qtbot: Any,
    loop: Any,
) -> None:
    sim, relay, seed = stack
    _sid, customer = make_conversation(relay, sim, seed, "Gina Ruiz")
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    ctrl = AppController(
        app,
        Options(data_dir=tmp_path, relay_url=relay.url),
        tray_available=True,
        env={"W2T_TOKEN": seed.staff_key},
    )
    task = asyncio.ensure_future(ctrl.run())
    w = ctrl.window
    qtbot.waitUntil(lambda: ctrl.engine is not None, timeout=10000)
    qtbot.waitUntil(lambda: w.leads_model.index_of_name("Gina Ruiz") >= 0, timeout=15000)
    open_lead_no_thread(w, qtbot, "Gina Ruiz")
    qtbot.keyClicks(w.pane.composer.edit, "Hi Gina, yes it is!")
    qtbot.keyClick(w.pane.composer.edit, Qt.Key.Key_Return)

    def bubble() -> Any:
        for i in range(w.thread_model.rowCount()):
            it = w.thread_model.item_at(i)
            if isinstance(it, MessageItem) and it.message.body == "Hi Gina, yes it is!":
                return it.message
        return None

    qtbot.waitUntil(lambda: bubble() is not None, timeout=2000)  # at once, as pending
    qtbot.waitUntil(
        lambda: [m["body"] for m in sim.handset(customer)] == ["Hi Gina, yes it is!"], timeout=20000
    )
    # the bubble moves past pending once the relay accepted it
    qtbot.waitUntil(
        lambda: bubble() is not None and bubble().status not in ("pending",), timeout=20000
    )
    assert bubble().author_kind == "staff"
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=15000)
    sim.wait_idle()
    assert [m["body"] for m in sim.handset(customer)] == ["Hi Gina, yes it is!"]  # exactly once


def open_lead_no_thread(window: Any, qtbot: Any, name: str) -> None:
    """Like open_lead, but the thread may still be empty (a lead without messages yet)."""
    model = window.leads_model
    row = model.index_of_name(name)
    rect = window.leads_view.visualRect(model.index(row))
    qtbot.mouseClick(window.leads_view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: window.current is not None and window.current.name == name)
    qtbot.waitUntil(lambda: window.thread_model.conversation_sid == window.current.conversation_sid)
    _ = open_lead
