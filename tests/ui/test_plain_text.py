"""Customer and staff text is never shown as Qt rich text: the main window is filled
with hostile data (names, texts, notes, errors that are HTML) and every label,
tooltip and notification that shows it is walked."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QLabel, QWidget

from app.sync.api import ActivityItem, NoteItem, SyncState, SyncStatus
from app.ui.plain import notification_text, tooltip
from tests.ui.conftest import MemoryKeyring, open_lead
from tests.ui.fake_engine import FakeEngine
from tests.ui.test_app import make_controller, provision

IMG = "<img src='file:///etc/passwd'>"
BOLD = "<b>x</b>"
#: markup that must never reach Qt's rich-text engine as markup
MARKERS = ("<img", BOLD, "<a href", "<table")


def _hostile_engine() -> FakeEngine:
    e = FakeEngine()
    e.add_location("loc-1", f"Store {BOLD}")
    e.add_location("loc-2", "Uptown")
    now = datetime.now(UTC)
    lead = e.add_lead(
        IMG,
        "+13125550142",
        minutes_ago=3,
        message=f"{BOLD} see <a href='https://evil.example'>here</a>",
        assignee=("staff-9", f"Sam {BOLD}"),
    )
    e.leads[lead.lead_id] = replace(
        lead,
        page_url=f"https://dealer.example.com/p?{IMG}",
        product={"Brand": BOLD, "Product": IMG, "Variant": "<table><tr><td>x"},
        traffic={"Source": BOLD, "Medium": "cpc", "Campaign": IMG},
        notes=(NoteItem("n1", "staff-9", f"Sam {BOLD}", f"call back {IMG}", now),),
        activity=(
            ActivityItem(now, "submitted", "Lead submitted on the website"),
            ActivityItem(now, "note", f"Sam {BOLD} added a note {IMG}"),
        ),
    )
    e.add_message(lead.lead_id, "customer", IMG, f"reply {IMG}", now - timedelta(minutes=1))
    e.add_lead(f"Other {BOLD}", "+13125550143", minutes_ago=9, message=f"hi {IMG}")
    return e


def _raw(text: str) -> bool:
    return any(m in text for m in MARKERS)


def _rich_offenders(root: QWidget) -> list[str]:
    """Every label showing hostile text in a format other than plain text, and every
    tooltip (widget or list row) holding it unescaped."""
    found = []
    for label in root.findChildren(QLabel):
        if _raw(label.text()) and label.textFormat() != Qt.TextFormat.PlainText:
            found.append(f"label {label.objectName() or label.accessibleName()!r}: {label.text()}")
    for widget in [root, *root.findChildren(QWidget)]:
        if _raw(widget.toolTip()):
            found.append(f"tooltip of {type(widget).__name__}: {widget.toolTip()}")
    for view in root.findChildren(QAbstractItemView):
        model = view.model()
        if model is None:
            continue
        for row in range(model.rowCount()):
            tip = model.data(model.index(row, 0), Qt.ItemDataRole.ToolTipRole)
            if isinstance(tip, str) and _raw(tip):
                found.append(f"row tooltip of {type(view).__name__}: {tip}")
    return found


def _shown(root: QWidget, text: str) -> bool:
    """Some label shows `text` (its text, or what it tells screen readers)."""
    return any(
        text in label.text() or text in label.accessibleName()
        for label in root.findChildren(QLabel)
    )


def test_no_widget_shows_customer_or_staff_text_as_rich_text(
    tmp_path: Path, memory_keyring: MemoryKeyring, qtbot: Any, loop: Any
) -> None:
    provision(tmp_path, ("staff-1", f"Dana {IMG}"))
    engines = {"staff-1": _hostile_engine()}
    ctrl = make_controller(tmp_path, engines, tray=False)
    task = asyncio.ensure_future(ctrl.run())
    try:
        qtbot.waitUntil(lambda: ctrl.engine is not None)
        e, w = engines["staff-1"], ctrl.window
        qtbot.waitUntil(lambda: w.leads_model.rowCount() == 2)
        open_lead(w, qtbot, IMG)
        # the lead panel, the header and the thread show the hostile lead
        qtbot.waitUntil(lambda: _shown(w, f"call back {IMG}") and _shown(w, f"{BOLD} see"))
        # a text from another customer: the in-window notice (no tray here)
        other = next(d for d in e.leads.values() if d.name == f"Other {BOLD}")
        e.receive(other.lead_id, f"pay at {IMG}")
        qtbot.waitUntil(w.notice.isVisible)
        assert IMG in w.notice.label.text()
        # an error quoting the relay, and the signed-in staff member's name
        e.set_status(SyncStatus(SyncState.OFFLINE, last_error=f"relay said {IMG}"))
        qtbot.waitUntil(lambda: _shown(w, f"relay said {IMG}"))
        qtbot.waitUntil(lambda: _shown(w, f"Dana {IMG}"))
        offenders = _rich_offenders(w)
        assert not offenders, "\n".join(offenders)
    finally:
        ctrl.window.close()
        qtbot.waitUntil(task.done, timeout=5000)


def test_tooltips_and_notifications_are_escaped() -> None:
    assert tooltip(f"Ann {IMG}") == "<qt>Ann &lt;img src=&#x27;file:///etc/passwd&#x27;&gt;</qt>"
    assert tooltip("a\nb") == "<qt>a<br>b</qt>"
    text = notification_text(f"{IMG} {BOLD}")
    assert "<" not in text and ">" not in text and "file:///etc/passwd" in text
