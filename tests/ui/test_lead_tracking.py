"""The lead panel's "Lead tracking" box: each integration's state, and Sync now."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from app.sync.api import IntegrationItem
from app.ui.integrations_box import integration_text
from app.ui.mainwindow import MainWindow
from tests.ui.conftest import open_lead
from tests.ui.fake_engine import FakeEngine

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_each_state_reads_as_a_person_would_say_it() -> None:
    synced = IntegrationItem("RLM", "SYNCED", last_synced=NOW - timedelta(minutes=2))
    assert integration_text(synced, NOW) == "RLM ✓ 2 min ago"
    retrying = IntegrationItem(
        "DHQ", "ERROR", error="Error with DHQ ...", detail="503", retrying=True
    )
    assert integration_text(retrying, NOW) == "DHQ: retrying — 503"
    failed = IntegrationItem("RLM", "ERROR", error="RLM API Key is missing")
    assert integration_text(failed, NOW) == "RLM: failed — RLM API Key is missing"
    assert integration_text(IntegrationItem("ActOn", "NOT SYNCED"), NOW) == "ActOn: waiting"
    closed = IntegrationItem(
        "Twilio", "CLOSED", last_synced=NOW - timedelta(hours=3), unconfirmed=1
    )
    assert integration_text(closed, NOW) == "Twilio ✓ 3 h ago (closed) · 1 unconfirmed"


def _labels(window: MainWindow) -> list[str]:
    box = window.panel.integrations
    return [w.text() for w in box.findChildren(QLabel) if w is not box.note]


def test_the_panel_shows_each_integration_and_syncs_now(
    window: MainWindow, engine: FakeEngine, qtbot
) -> None:  # type: ignore[no-untyped-def]
    lead = next(d for d in engine.leads.values() if d.name == "Maria Gonzalez")
    recently = datetime.now(UTC) - timedelta(minutes=2)
    engine.leads[lead.lead_id] = dataclasses.replace(
        lead,
        integrations=(
            IntegrationItem("Twilio", "SYNCED", last_synced=recently),
            IntegrationItem("RLM", "SYNCED", last_synced=recently),
            IntegrationItem(
                "DHQ",
                "ERROR",
                error="Error with DHQ lead submit endpoint",
                detail="503",
                retrying=True,
            ),
        ),
    )
    open_lead(window, qtbot, "Maria Gonzalez")
    qtbot.waitUntil(lambda: "DHQ: retrying — 503" in _labels(window))
    assert "RLM ✓ 2 min ago" in _labels(window)
    [dhq] = [
        w for w in window.panel.integrations.findChildren(QLabel) if w.text().startswith("DHQ")
    ]
    assert "Error with DHQ lead submit endpoint" in dhq.toolTip()
    assert dhq.textFormat() == Qt.TextFormat.PlainText  # other systems' words, never markup
    button = window.panel.integrations.sync_button
    assert button.accessibleName() == "Sync now"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: engine.synced == [lead.lead_id])
    qtbot.waitUntil(lambda: window.panel.integrations.note.text() == "Sync requested")
    assert button.isEnabled()
    engine.fail_next_sync = "offline"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.panel.integrations.note.text() == "the relay cannot take it now")
    assert engine.synced == [lead.lead_id] and button.isEnabled()
