"""Unanswered leads escalate: one notification per wait past the location's reply
target, the "Needs reply" chip counts and filters them, Settings shows the target."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from app.sync.api import ChangesApplied
from app.ui.profiles import ProfileStore
from app.ui.settings import Settings
from app.ui.settings_dialog import SettingsDialog
from tests.ui.conftest import MemoryKeyring
from tests.ui.fake_engine import FakeEngine
from tests.ui.test_app import make_controller, provision


def _engine() -> FakeEngine:
    e = FakeEngine()
    e.add_location("loc-1", "Naperville Showroom")
    e.add_location("loc-2", "Oak Brook Design Center")
    e.locations["loc-2"] = replace(e.locations["loc-2"], reply_target_minutes=30)
    e.add_lead("Ann Buyer", "+13125550101", minutes_ago=10)  # past 5 min
    # reaches its 5 minutes about a second into the test
    e.add_lead("Bo Buyer", "+13125550102", minutes_ago=5 - 1 / 60)
    e.add_lead("Cy Buyer", "+13125550103", "loc-2", minutes_ago=10)  # within 30 min
    answered = e.add_lead("Di Buyer", "+13125550104", minutes_ago=20)
    now = datetime.now(UTC)
    e.add_message(
        answered.lead_id, "staff", "Dana Whitfield", "Hi Di!", now - timedelta(minutes=19)
    )
    return e


def test_waits_past_the_target_notify_once_and_show_under_needs_reply(
    tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any
) -> None:
    (dana,) = provision(tmp_path, ("staff-1", "Dana Whitfield"))
    ProfileStore(tmp_path).save(dana)
    engine = _engine()
    ctrl = make_controller(tmp_path, {"staff-1": engine})
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: ctrl.engine is not None)
    shown = ctrl.tray.shown  # no tray here: in-window notices, recorded
    qtbot.waitUntil(lambda: any(n.title == "Ann Buyer is waiting for a reply" for n in shown))
    ann = next(n for n in shown if n.title.startswith("Ann"))
    assert "reply target is 5 min" in ann.body and ann.lead_id is not None
    # Bo's wait reaches its target a moment later: notified then, by itself
    qtbot.waitUntil(lambda: any(n.title.startswith("Bo Buyer") for n in shown), timeout=5000)
    chip = ctrl.window.sidebar.needs_reply_chip
    qtbot.waitUntil(lambda: chip.text() == "Needs reply · 2")
    assert chip.accessibleName() == "Needs reply filter, 2 waiting past the target"
    # looking again notifies nobody twice; a look with nothing changed asks nothing,
    # a change asks again (about the leads it names only)
    before, asked = len(shown), engine.calls.count("waiting_for_reply")
    ctrl.escalations.check()
    qtbot.waitUntil(lambda: ctrl.tasks.running == 0)
    assert engine.calls.count("waiting_for_reply") == asked
    engine.emit(ChangesApplied(lead_ids=frozenset({ann.lead_id})))
    qtbot.waitUntil(lambda: engine.calls.count("waiting_for_reply") == asked + 1, timeout=3000)
    qtbot.waitUntil(lambda: ctrl.tasks.running == 0)
    assert len(shown) == before
    assert not any(n.title.startswith(("Cy", "Di")) for n in shown)
    # the chip filters the inbox (by keyboard: it is reached with Tab, toggled with Space)
    chip.setFocus()
    qtbot.keyClick(chip, Qt.Key.Key_Space)
    model = ctrl.window.leads_model
    qtbot.waitUntil(
        lambda: {model.row_at(i).name for i in range(model.rowCount())} == {"Ann Buyer", "Bo Buyer"}
    )
    # a staff reply ends Ann's wait; her next text starts a new one (notified again once due)
    now = datetime.now(UTC)
    engine.add_message(
        ann.lead_id, "staff", "Dana Whitfield", "Hi Ann!", now - timedelta(minutes=8)
    )
    engine.add_message(
        ann.lead_id, "customer", "Ann Buyer", "Still there?", now - timedelta(minutes=6)
    )
    engine.emit(ChangesApplied(lead_ids=frozenset({ann.lead_id})))
    qtbot.waitUntil(lambda: sum(n.title.startswith("Ann") for n in shown) == 2)
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=5000)


def test_a_morning_of_waits_is_one_summary(
    tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any
) -> None:
    provision(tmp_path, ("staff-1", "Dana Whitfield"))
    engine = FakeEngine()
    engine.add_location("loc-1", "Naperville Showroom")
    for i in range(6):
        engine.add_lead(f"Buyer {i}", f"+1312555011{i}", minutes_ago=600 + i)
    ctrl = make_controller(tmp_path, {"staff-1": engine})
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: any(n.count == 6 for n in ctrl.tray.shown))
    [summary] = ctrl.tray.shown
    assert summary.title == "6 customers are waiting for a reply"
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=5000)


def test_a_location_changed_asks_again_about_its_leads_only(
    tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any
) -> None:
    """A change that names a location (its reply target, say) asks the engine about
    that location's leads only; a large answer is kept off the Qt thread, with the
    same outcome: the waits answered meanwhile leave the chip, none is notified twice."""
    provision(tmp_path, ("staff-1", "Dana Whitfield"))
    engine = FakeEngine()
    engine.add_location("loc-1", "Naperville Showroom")
    engine.add_location("loc-2", "Oak Brook Design Center")
    leads = [
        engine.add_lead(f"Buyer {i}", f"+1312555{i:04d}", minutes_ago=60 + i) for i in range(250)
    ]
    engine.add_lead("Oak Buyer", "+16305550100", "loc-2", minutes_ago=60)
    ctrl = make_controller(tmp_path, {"staff-1": engine})
    task = asyncio.ensure_future(ctrl.run())
    chip = ctrl.window.sidebar.needs_reply_chip
    qtbot.waitUntil(lambda: chip.text() == "Needs reply · 251")
    shown = list(ctrl.tray.shown)
    assert [n.count for n in shown] == [251]  # the start's one summary
    now = datetime.now(UTC)
    for lead in leads[:10]:  # answered: they wait no more
        engine.add_message(lead.lead_id, "staff", "Dana Whitfield", "Hello!", now)
    engine.add_message(  # not named by the change below: the chip keeps it
        engine.add_lead("Oak Two", "+16305550101", "loc-2", minutes_ago=60).lead_id,
        "customer", "Oak Two", "Hi?", now - timedelta(minutes=50),
    )  # fmt: skip
    asked = engine.calls.count("waiting_for_reply")
    engine.emit(ChangesApplied(location_ids=frozenset({"loc-1"})))
    qtbot.waitUntil(lambda: chip.text() == "Needs reply · 241")
    qtbot.waitUntil(lambda: ctrl.tasks.running == 0)
    assert engine.calls.count("waiting_for_reply") == asked + 1
    assert ctrl.tray.shown == shown  # nobody notified again
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=5000)


def test_settings_show_each_locations_reply_target(qtbot: Any) -> None:
    dlg = SettingsDialog(Settings(), reply_targets=[("Naperville Showroom", 5), ("Oak Brook", 30)])
    qtbot.addWidget(dlg)
    text = dlg.reply_target.text()
    assert "Naperville Showroom: 5 min" in text and "Oak Brook: 30 min" in text
    assert dlg.reply_target.accessibleName() == "Reply target"
