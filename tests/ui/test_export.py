"""Export a conversation for the deal file: plain text and PDF, from the keyboard."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from app.ui.export import PDF_FILTER, PLAIN_TEXT_FILTER, all_messages, conversation_text
from app.ui.mainwindow import MainWindow
from tests.ui.conftest import activate, open_lead
from tests.ui.fake_engine import FakeEngine

CTRL = Qt.KeyboardModifier.ControlModifier


def _lead_of(engine: FakeEngine, name: str) -> Any:
    return next(d for d in engine.leads.values() if d.name == name)


def _export(window: MainWindow, qtbot: Any, path: Path, name_filter: str) -> None:
    """Ctrl+E, then the file in Qt's save dialog (typed, as a person would)."""
    activate(window, qtbot)
    qtbot.keyClick(window, Qt.Key.Key_E, CTRL)
    qtbot.waitUntil(lambda: window.export_dialog is not None and window.export_dialog.isVisible())
    dlg = window.export_dialog
    assert dlg is not None and dlg.accessibleName() == "Export conversation"
    dlg.selectNameFilter(name_filter)
    dlg.filterSelected.emit(name_filter)
    dlg.selectFile(str(path))
    dlg.accept()


def test_plain_text_export_has_the_lead_and_every_message(
    window: MainWindow, engine: FakeEngine, qtbot: Any, tmp_path: Path
) -> None:
    lead = _lead_of(engine, "James Whitaker")
    open_lead(window, qtbot, "James Whitaker")
    qtbot.waitUntil(lambda: window.current is not None and window.current.lead_id == lead.lead_id)
    button = window.pane.export_button
    assert button.accessibleName() == "Export conversation" and "Ctrl+E" in button.toolTip()
    assert button.focusPolicy() == Qt.FocusPolicy.TabFocus
    target = tmp_path / "deal-file.txt"
    _export(window, qtbot, target, PLAIN_TEXT_FILTER)
    qtbot.waitUntil(target.exists)
    text = target.read_text(encoding="utf-8")
    assert text.startswith("Web2Text conversation with James Whitaker\n")
    assert "Exported " in text and "by Dana Whitfield" in text
    assert "Phone: (630) 555-0187" in text and "Location: Naperville Showroom" in text
    assert "Pipeline: Contacted" in text and "Assigned to: Dana Whitfield" in text
    assert "Can I get a quote for carpet in 3 bedrooms?" in text  # the form's message
    messages = engine.messages[lead.conversation_sid]
    assert f"Messages ({len(messages)})" in text
    for m in messages:
        assert m.body in text
    # time, author and status on each message's line
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d \S+ · Dana Whitfield · Delivered\n", text)
    assert re.search(r" · James Whitaker · Received\n", text)
    assert "Not sent (Outside the customer's allowed hours)" in text
    assert "from the store phone" in text or "Store phone" in text
    qtbot.waitUntil(lambda: "Exported" in window.notice.label.text())


def test_pdf_export_through_qt_printing(
    window: MainWindow, engine: FakeEngine, qtbot: Any, tmp_path: Path
) -> None:
    lead = _lead_of(engine, "Maria Gonzalez")
    start = datetime.now(UTC) - timedelta(days=1)
    for i in range(180):  # long enough for several pages
        engine.add_message(lead.lead_id, "customer", "Maria Gonzalez", f"line {i}", start)
    open_lead(window, qtbot, "Maria Gonzalez")
    qtbot.waitUntil(lambda: window.current is not None and window.current.lead_id == lead.lead_id)
    target = tmp_path / "maria"  # no suffix: the PDF filter gives it
    _export(window, qtbot, target, PDF_FILTER)
    pdf = tmp_path / "maria.pdf"
    qtbot.waitUntil(pdf.exists)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    pages = len(re.findall(rb"/Type\s*/Page\b", data))
    assert pages >= 3, pages


def test_export_text_is_plain_and_pages_every_message(run: Any, engine: FakeEngine) -> None:
    lead = _lead_of(engine, "Priya Raman")
    start = datetime.now(UTC) - timedelta(days=2)
    # more than one page of the engine's thread, several at the very same time
    for i in range(450):
        engine.add_message(
            lead.lead_id, "staff", "Dana Whitfield", f"msg {i}", start + timedelta(seconds=i // 3)
        )
    engine.add_message(lead.lead_id, "customer", "Priya", "<b>bold?</b> &amp;", start)
    messages = run(all_messages(engine, lead.conversation_sid))
    assert len(messages) == len(engine.messages[lead.conversation_sid])
    text = conversation_text(
        lead,
        messages,
        location_name="Naperville Showroom",
        location_tz="America/Chicago",
        exported_at=datetime(2026, 7, 1, 17, 0, tzinfo=UTC),
    )
    assert "Exported 2026-07-01 12:00 CDT" in text  # the location's time, zone named
    assert "<b>bold?</b> &amp;" in text  # as typed, never read as markup
    assert all(f"msg {i}\n" in text for i in range(450))
