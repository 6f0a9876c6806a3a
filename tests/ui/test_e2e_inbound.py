"""A customer's text reaches the desktop the whole way round: the customer's simulated
handset texts the proxy number → Twilio simulator → its signed conversation webhook
(`/TwilioWebhooks/sync`) → the real relay on DynamoDB Local → change feed and stream →
the real engine → a bubble in the open conversation; a text into another conversation
becomes a notification (the in-window notice where there is no tray) and moves that
lead to the top of the inbox, unread.

The leads are made through the public lead API, so their conversations, participants,
greetings and scoped webhooks are the relay's own (nothing is written into the tables
by the test).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.relay import lead_store
from app.sandbox.twilio_sim import SimHandle
from app.sync.api import TEXTED_IN, SyncState
from app.ui.controller import AppController, Options
from app.ui.roles import AUTHOR_ROLE
from app.ui.thread_model import MessageItem
from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay, tables_for
from tests.support.twilio_sim import running_simulator, wait_until
from tests.ui.conftest import MemoryKeyring, activate, open_lead

pytestmark = pytest.mark.dynamodb

GINA = "+13125550461"
OMAR = "+13125550462"


@pytest.fixture(scope="module")
def stack(dynamodb_endpoint: str) -> Iterator[tuple[SimHandle, RelayHandle, Seed]]:
    with running_simulator(carrier_delay=0.0) as sim:
        # start_relay points the simulator's inbound webhook at this relay; the lead
        # flow adds each conversation's scoped webhooks (onMessageAdded → /sync)
        relay = start_relay(dynamodb_endpoint, sim, stream_heartbeat_s=0.3, stream_poll_s=0.05)
        seed = seed_dealer(relay, web2text_number="+13125550477", store_number="+13125550478")
        yield sim, relay, seed
        relay.stop()


def create_lead(
    sim: SimHandle, relay: RelayHandle, seed: Seed, name: str, phone: str
) -> tuple[str, str]:
    """A website lead through the lead API; returns its conversation and the proxy
    number the customer texts."""
    lead_id = str(uuid.uuid4())
    body = {
        "LeadType": "WEB2TEXT",
        "UniversalRetailerId": seed.retailer_id,
        "SyncImmediately": True,
        "Lead": {
            "LocationId": seed.location_id,
            "PageUrl": "https://example.com/oak-natural",
            "Name": name,
            "PhoneNumber": phone,
            "PreferredMethodOfContact": "text",
            "CustomerMessage": "Is the oak in stock?",
        },
    }
    headers = {"Authorization": f"Bearer {seed.lead_key}"}
    r = httpx.post(f"{relay.url}/Lead/{lead_id}/create", json=body, headers=headers, timeout=20)
    assert r.status_code == 200, r.text
    wait_until(lambda: sim.handset(phone), timeout=20, what=f"the greeting to {name}")

    def conversation() -> str | None:
        state = httpx.get(f"{relay.url}/Lead/{lead_id}/status", headers=headers, timeout=20)
        twilio = state.json().get("Integrations", {}).get("Twilio", {})
        return str(twilio.get("Data", {}).get("ConversationSID") or "") or None

    sid = wait_until(conversation, timeout=20, what=f"{name}'s conversation")
    participants = sim.state.get_conversation(sid).participants.values()
    proxy = next(str(p.proxy_address) for p in participants if str(p.address) == phone)
    return sid, proxy


def test_customer_text_through_the_simulator_webhook_reaches_the_open_conversation(
    stack: tuple[SimHandle, RelayHandle, Seed],
    tmp_path: Path,
    memory_keyring: MemoryKeyring,
    qtbot: Any,
    loop: Any,
) -> None:
    sim, relay, seed = stack
    gina_sid, gina_proxy = create_lead(sim, relay, seed, "Gina Ruiz", GINA)
    omar_sid, omar_proxy = create_lead(sim, relay, seed, "Omar Haddad", OMAR)
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    ctrl = AppController(
        app,
        Options(data_dir=tmp_path, relay_url=relay.url),
        tray_available=False,  # offscreen: notifications become the in-window notice
        env={"W2T_TOKEN": seed.staff_key},
    )
    task = asyncio.ensure_future(ctrl.run())
    w = ctrl.window
    qtbot.waitUntil(lambda: ctrl.engine is not None, timeout=10000)
    engine = ctrl.engine
    assert engine is not None
    qtbot.waitUntil(lambda: engine.status().state is SyncState.ONLINE, timeout=15000)
    qtbot.waitUntil(lambda: w.leads_model.index_of_name("Omar Haddad") >= 0, timeout=15000)
    activate(w, qtbot)
    open_lead(w, qtbot, "Gina Ruiz")  # the greeting is in her thread already
    assert w.thread_model.conversation_sid == gina_sid

    def bubbles() -> list[tuple[str, str]]:
        items = (w.thread_model.item_at(i) for i in range(w.thread_model.rowCount()))
        return [
            (it.message.author_kind, it.message.body)
            for it in items
            if isinstance(it, MessageItem)
        ]

    # the relay's greeting reads as automatic, from the location: never a phone number
    def automatic() -> list[str]:
        model = w.thread_model
        return [
            model.data(model.index(i), AUTHOR_ROLE)
            for i in range(model.rowCount())
            if isinstance(model.item_at(i), MessageItem)
            and model.item_at(i).message.author_kind == "system"  # type: ignore[union-attr]
        ]

    qtbot.waitUntil(lambda: bool(automatic()), timeout=10000)
    assert set(automatic()) == {"Automatic message · Main Street"}
    greeting = next(
        i for i in range(w.thread_model.rowCount())
        if isinstance(w.thread_model.item_at(i), MessageItem)
        and w.thread_model.item_at(i).message.author_kind == "system"  # type: ignore[union-attr]
    )
    spoken = w.thread_model.data(
        w.thread_model.index(greeting), Qt.ItemDataRole.AccessibleTextRole
    )
    assert spoken.startswith("Automatic message from Main Street, ") and "+1" not in spoken

    # Gina texts the proxy number she was greeted from
    sim.inbound(GINA, gina_proxy, "Great, can I see it Saturday?")
    qtbot.waitUntil(
        lambda: ("customer", "Great, can I see it Saturday?") in bubbles(), timeout=20000
    )
    assert w.pane.view.isVisible()
    # her conversation is open in the focused window: no notice for it
    assert not [n for n in ctrl.tray.shown if n.conversation_sid == gina_sid]

    # Omar texts into his own conversation: a notice names him and his text, and his
    # lead moves to the top of the inbox with the text as its preview, unread.
    # Twilio dates messages to the second, so two texts in one second tie in the
    # inbox order: his comes in the second after Gina's.
    qtbot.wait(int((1.05 - time.time() % 1) * 1000))
    sim.inbound(OMAR, omar_proxy, "Do you deliver to Evanston?")
    qtbot.waitUntil(
        lambda: w.notice.isVisible() and "Omar Haddad" in w.notice.label.text(), timeout=20000
    )
    assert "Do you deliver to Evanston?" in w.notice.label.text()
    shown = [n for n in ctrl.tray.shown if n.conversation_sid == omar_sid]
    assert len(shown) == 1 and shown[0].title.startswith("Omar Haddad")

    def top() -> Any:
        return w.leads_model.row_at(0)

    qtbot.waitUntil(
        lambda: top() is not None
        and top().name == "Omar Haddad"
        and top().last_message_preview == "Do you deliver to Evanston?"
        and top().unread >= 1,
        timeout=10000,
    )
    # the open conversation did not change, and Gina's text is in it exactly once
    assert w.thread_model.conversation_sid == gina_sid
    assert bubbles().count(("customer", "Great, can I see it Saturday?")) == 1
    # clicking Open on the notice opens Omar's conversation with his text
    w.notice_open.click()
    qtbot.waitUntil(
        lambda: w.thread_model.conversation_sid == omar_sid
        and ("customer", "Do you deliver to Evanston?") in bubbles(),
        timeout=10000,
    )
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=15000)


PAT = "+13125550463"


def test_a_text_to_a_closed_thread_arrives_as_a_new_row_marked_texted_in(
    stack: tuple[SimHandle, RelayHandle, Seed],
    tmp_path: Path,
    memory_keyring: MemoryKeyring,
    qtbot: Any,
    loop: Any,
) -> None:
    """Pat's thread closed with her website lead; her next text to the same number
    makes a new lead (the relay's inbound routing), which the desktop shows live as a
    new row with the "Texted in" mark, said to screen readers, and in the lead panel;
    her closed website lead has none of it."""
    sim, relay, seed = stack
    old_sid, proxy = create_lead(sim, relay, seed, "Pat Nguyen", PAT)
    tables = tables_for(relay)
    [old_lead] = [
        item["LeadId"]
        for item in lead_store.leads_of_location(tables, seed.location_id)
        if item["Lead"]["PhoneNumber"] == PAT
    ]
    closed = httpx.post(
        f"{relay.url}/Lead/{old_lead}/close",
        headers={"Authorization": f"Bearer {seed.lead_key}"},
        json={"reason": "Sold"},
        timeout=20,
    )
    assert closed.status_code == 200, closed.text
    wait_until(
        lambda: sim.state.get_conversation(old_sid).state == "closed",
        timeout=20,
        what="Pat's thread closed at Twilio",
    )
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    ctrl = AppController(
        app,
        Options(data_dir=tmp_path, relay_url=relay.url),
        tray_available=False,
        env={"W2T_TOKEN": seed.staff_key},
    )
    task = asyncio.ensure_future(ctrl.run())
    try:
        w = ctrl.window
        qtbot.waitUntil(lambda: ctrl.engine is not None, timeout=10000)
        engine = ctrl.engine
        assert engine is not None
        qtbot.waitUntil(lambda: engine.status().state is SyncState.ONLINE, timeout=15000)

        def pat_rows() -> dict[str, Any]:
            model = w.leads_model
            rows = (model.row_at(i) for i in range(model.rowCount()))
            return {r.lead_id: r for r in rows if r is not None and r.phone == PAT}

        qtbot.waitUntil(lambda: old_lead in pat_rows(), timeout=15000)
        sim.inbound(PAT, proxy, "Back again - is the walnut still on sale?")
        qtbot.waitUntil(lambda: len(pat_rows()) == 2, timeout=20000)
        [new_lead] = [lead_id for lead_id in pat_rows() if lead_id != old_lead]
        assert pat_rows()[new_lead].source == TEXTED_IN
        assert pat_rows()[old_lead].source == "web"
        assert w.leads_model.row_at(0).lead_id == new_lead  # type: ignore[union-attr]

        def spoken(lead_id: str) -> str:
            model = w.leads_model
            i = next(i for i in range(model.rowCount()) if model.row_at(i).lead_id == lead_id)  # type: ignore[union-attr]
            return str(model.data(model.index(i), Qt.ItemDataRole.AccessibleTextRole))

        assert spoken(new_lead).startswith("Pat Nguyen, texted in, ")
        assert "texted in" not in spoken(old_lead)
        activate(w, qtbot)
        open_lead(w, qtbot, "Pat Nguyen")  # the newest of her two rows: the texted-in one
        panel = w.lead_panel.panel
        qtbot.waitUntil(
            lambda: panel.lead is not None and panel.lead.lead_id == new_lead, timeout=10000
        )
        qtbot.waitUntil(lambda: panel.texted_in.isVisibleTo(panel), timeout=10000)
    finally:
        ctrl.quit()
        qtbot.waitUntil(task.done, timeout=15000)
