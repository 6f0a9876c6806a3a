"""Staff actions on the desktop against the real engine, the real relay (DynamoDB
Local) and the Twilio simulator: a new conversation by keyboard (Ctrl+N), an opt-out
recorded from the lead panel, a close with a reason then "Follow up", and assigning
a colleague from the relay's staff list."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.sandbox.twilio_sim import SimHandle
from app.sync.api import SyncState
from app.ui.controller import AppController, Options
from app.ui.staff_dialogs import NewConversationDialog, ReasonDialog
from app.ui.thread_model import MessageItem
from tests.relay_desk.helpers import (
    changes,
    chicago_day_clock,
    current_lead,
    day_zone,
    lead_status,
    new_phone,
)
from tests.support.relay import RelayHandle, Seed, issue_staff_key, seed_dealer, start_relay
from tests.support.twilio_sim import running_simulator
from tests.sync.integration import create_lead, handset_bodies
from tests.ui.conftest import MemoryKeyring, activate

pytestmark = pytest.mark.dynamodb

POOL = [f"+1312555{n:04d}" for n in range(7201, 7216)]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    with running_simulator(pool=POOL) as handle:
        yield handle


@pytest.fixture(scope="module")
def live(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[tuple[RelayHandle, Seed]]:
    relay = start_relay(dynamodb_endpoint, sim, stream_heartbeat_s=0.3, stream_poll_s=0.05,
                        schedule_interval_s=0.2)
    sim.set_webhook_url(f"{relay.url}/TwilioWebhooks/onIncomingMessage")
    seed = seed_dealer(relay, web2text_number="+13125550124", store_number="+13125550196",
                       pool=POOL, timezone=day_zone())
    issue_staff_key(relay, seed.retailer_id, [seed.location_id], staff_id="kim", name="Kim Ko")
    relay.ctx.clock = chicago_day_clock()  # texting hours for 312 customers
    yield relay, seed
    relay.stop()


@pytest.fixture
def desk(
    live: tuple[RelayHandle, Seed], tmp_path: Path, memory_keyring: MemoryKeyring,
    qtbot: Any, loop: Any,
) -> Iterator[AppController]:
    relay, seed = live
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    ctrl = AppController(app, Options(data_dir=tmp_path, relay_url=relay.url),
                         tray_available=True, env={"W2T_TOKEN": seed.staff_key})
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(
        lambda: ctrl.engine is not None and ctrl.engine.status().state is SyncState.ONLINE,
        timeout=20000)
    activate(ctrl.window, qtbot)
    yield ctrl
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=15000)


def _open(ctrl: AppController, qtbot: Any, name: str) -> None:
    w = ctrl.window
    qtbot.waitUntil(lambda: w.leads_model.index_of_name(name) >= 0, timeout=15000)
    w.open_lead(w.leads_model.row_at(w.leads_model.index_of_name(name)).lead_id, focus=True)
    qtbot.waitUntil(lambda: w.current is not None and w.current.name == name, timeout=10000)


def test_new_conversation_by_keyboard_then_first_text(
    desk: AppController, live: tuple[RelayHandle, Seed], sim: SimHandle, qtbot: Any
) -> None:
    w = desk.window
    qtbot.keyClick(w, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: isinstance(w.staff_actions.dialog, NewConversationDialog))
    dialog = w.staff_actions.dialog
    assert isinstance(dialog, NewConversationDialog)
    assert dialog.name_edit.hasFocus() and not dialog.start_button.isEnabled()
    phone = new_phone()
    qtbot.keyClicks(dialog.name_edit, "Ivy Iwu")
    qtbot.keyClick(dialog.name_edit, Qt.Key.Key_Tab)
    assert dialog.phone_edit.hasFocus()
    qtbot.keyClicks(dialog.phone_edit, phone[2:5])
    assert dialog.phone_edit.text() == phone[2:5]
    qtbot.keyClicks(dialog.phone_edit, phone[5:])
    assert dialog.phone_edit.text() == f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"
    assert dialog.start_button.isEnabled() and not dialog.problem.isVisible()
    qtbot.keyClick(dialog.phone_edit, Qt.Key.Key_Return)
    # shown at once and opened; the composer waits for the relay's conversation
    qtbot.waitUntil(lambda: w.current is not None and w.current.name == "Ivy Iwu", timeout=5000)
    composer = w.pane.composer
    qtbot.waitUntil(lambda: composer.edit.isEnabled(), timeout=30000)
    sim.wait_idle()
    assert handset_bodies(sim, phone) == []  # no greeting
    qtbot.keyClicks(composer.edit, "Hi Ivy, Sam here.")
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: handset_bodies(sim, phone) == ["Hi Ivy, Sam here."], timeout=20000)


def test_opt_out_from_the_lead_panel_turns_texting_off(
    desk: AppController, live: tuple[RelayHandle, Seed], sim: SimHandle, qtbot: Any
) -> None:
    relay, seed = live
    lead = create_lead(relay, seed, name="Omar Ode")
    w = desk.window
    _open(desk, qtbot, "Omar Ode")
    greeted = len(handset_bodies(sim, lead.customer))
    panel = w.panel
    qtbot.waitUntil(lambda: panel.opt_out_button.isVisibleTo(panel))
    assert panel.opt_out_button.accessibleName() == "Record opt-out"
    qtbot.mouseClick(panel.opt_out_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: isinstance(w.staff_actions.dialog, ReasonDialog))
    dialog = w.staff_actions.dialog
    assert isinstance(dialog, ReasonDialog)
    dialog.reason.setEditText("Called the store: no texts please")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    composer = w.pane.composer
    qtbot.waitUntil(lambda: not composer.edit.isEnabled(), timeout=5000)
    assert "opted out" in composer.blocked.text()
    qtbot.waitUntil(
        lambda: lead_status(relay, seed.lead_key, lead.lead_id)["Status"] == "CLOSED",
        timeout=20000)
    item = relay.tables.optouts.get_item(Key={"PhoneNumber": lead.customer})["Item"]
    assert any("no texts please" in e["OptOutRequest"]
               for e in item["OptedOutNumbers"].values())
    sim.wait_idle()
    assert len(handset_bodies(sim, lead.customer)) == greeted


def test_assign_a_colleague_close_then_follow_up(
    desk: AppController, live: tuple[RelayHandle, Seed], qtbot: Any
) -> None:
    relay, seed = live
    lead = create_lead(relay, seed, name="Ana Assign")
    w = desk.window
    _open(desk, qtbot, "Ana Assign")
    panel = w.panel
    box = panel.assignee
    qtbot.waitUntil(lambda: box.findData("kim") >= 0, timeout=10000)  # the relay's staff list
    assert box.itemText(box.findData("kim")) == "Kim Ko"
    box.setFocus()
    box.setCurrentIndex(box.findData("kim"))
    box.activated.emit(box.findData("kim"))
    qtbot.waitUntil(
        lambda: current_lead(relay, seed.staff_key, lead.lead_id)["assigneeName"] == "Kim Ko",
        timeout=20000)
    qtbot.mouseClick(panel.close_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: isinstance(w.staff_actions.dialog, ReasonDialog))
    dialog = w.staff_actions.dialog
    assert isinstance(dialog, ReasonDialog)
    dialog.reason.setEditText("Bought elsewhere")
    qtbot.keyClick(dialog.reason.lineEdit(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel.follow_up_button.isVisibleTo(panel), timeout=5000)
    qtbot.waitUntil(
        lambda: lead_status(relay, seed.lead_key, lead.lead_id).get("CloseReason")
        == "Bought elsewhere", timeout=20000)
    qtbot.mouseClick(panel.follow_up_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: isinstance(w.staff_actions.dialog, NewConversationDialog))
    follow = w.staff_actions.dialog
    assert isinstance(follow, NewConversationDialog)
    assert follow.name_edit.text() == "Ana Assign"
    digits = "".join(ch for ch in follow.phone_edit.text() if ch.isdigit())
    assert digits[-10:] == lead.customer[-10:]
    assert follow.start_button.isEnabled()
    follow.reject()
    qtbot.waitUntil(lambda: w.staff_actions.dialog is None)


def _bubbles(w: Any) -> list[Any]:
    items = [w.thread_model.item_at(i) for i in range(w.thread_model.rowCount())]
    return [it.message for it in items if isinstance(it, MessageItem)]


def test_send_later_from_the_composer_then_cancel_by_keyboard(
    desk: AppController, live: tuple[RelayHandle, Seed], sim: SimHandle, qtbot: Any
) -> None:
    relay, seed = live
    lead = create_lead(relay, seed, name="Sol Later")
    w = desk.window
    _open(desk, qtbot, "Sol Later")
    composer = w.pane.composer
    qtbot.waitUntil(composer.edit.isEnabled, timeout=10000)
    qtbot.keyClicks(composer.edit, "Your blinds arrive tomorrow")
    assert composer.later_button.accessibleName() == "Send later"
    menu = composer.later_button.menu()
    labels = [a.text() for a in menu.actions()]
    assert labels == ["In 1 hour", "Tomorrow 9:00 AM (customer's time)", "Pick a time…"]
    menu.actions()[0].trigger()

    def scheduled() -> Any:
        found = [m for m in _bubbles(w) if m.body == "Your blinds arrive tomorrow"]
        return found[0] if found and found[0].status == "scheduled" else None

    qtbot.waitUntil(lambda: scheduled() is not None, timeout=15000)
    msg = scheduled()
    assert composer.text() == ""
    on_relay = [c["data"] for c in changes(relay, seed.staff_key, "scheduled")
                if c["id"] == msg.message_sid]
    assert on_relay and on_relay[-1]["status"] == "scheduled"
    # select it in the thread and press Delete: cancelled
    view = w.pane.view
    row = next(i for i in range(w.thread_model.rowCount())
               if isinstance(it := w.thread_model.item_at(i), MessageItem)
               and it.message.message_sid == msg.message_sid)
    view.setFocus()
    view.setCurrentIndex(w.thread_model.index(row))
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: scheduled() is None, timeout=5000)
    qtbot.waitUntil(lambda: [c["data"]["status"] for c in changes(relay, seed.staff_key,
                                                                  "scheduled")
                             if c["id"] == msg.message_sid][-1] == "canceled", timeout=15000)
    sim.wait_idle()
    assert "Your blinds arrive tomorrow" not in handset_bodies(sim, lead.customer)
