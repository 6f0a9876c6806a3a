"""Who else is here: this desktop says it views, types in or left a conversation, and
shows colleagues' presence in the thread header until it ends or lapses by itself."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from PySide6.QtCore import Qt

from app.sync.api import PresenceChanged
from app.ui import fmt
from app.ui.mainwindow import MainWindow
from app.ui.presence import Someone, presence_text
from tests.ui.conftest import open_lead
from tests.ui.fake_engine import FakeEngine


def _sid(engine: FakeEngine, name: str) -> str:
    lead = next(d for d in engine.leads.values() if d.name == name)
    assert lead.conversation_sid
    return lead.conversation_sid


def test_the_desktop_says_it_views_types_and_leaves(
    window: MainWindow, engine: FakeEngine, qtbot: Any
) -> None:
    maria, james = _sid(engine, "Maria Gonzalez"), _sid(engine, "James Whitaker")
    open_lead(window, qtbot, "Maria Gonzalez")
    qtbot.waitUntil(lambda: (maria, "viewing") in engine.presence_posts)
    edit = window.pane.composer.edit
    edit.setFocus()
    qtbot.keyClicks(edit, "Hello")  # five keys: one "typing" (renewed every few seconds)
    qtbot.waitUntil(lambda: (maria, "typing") in engine.presence_posts)
    assert engine.presence_posts.count((maria, "typing")) == 1
    open_lead(window, qtbot, "James Whitaker")
    qtbot.waitUntil(lambda: (james, "viewing") in engine.presence_posts)
    assert (maria, "left") in engine.presence_posts
    assert engine.presence_posts.index((maria, "left")) < engine.presence_posts.index(
        (james, "viewing")
    )
    # the draft put back into the composer is not typing
    assert engine.presence_posts.count((james, "typing")) == 0


def test_colleagues_show_in_the_header_until_they_leave_or_lapse(
    window: MainWindow, engine: FakeEngine, qtbot: Any
) -> None:
    james = _sid(engine, "James Whitaker")
    open_lead(window, qtbot, "James Whitaker")
    label = window.pane.presence_label
    assert not label.isVisible() and label.accessibleName() == "Who else is here"
    soon = fmt.now_utc() + timedelta(seconds=30)
    engine.emit(PresenceChanged(james, "s-bo", "Bo Diaz", "typing", soon))
    qtbot.waitUntil(lambda: label.isVisible() and label.text() == "Bo Diaz is typing…")
    assert label.textFormat() == Qt.TextFormat.PlainText
    engine.emit(PresenceChanged(james, "s-ann", "Ann Lee", "viewing", soon))
    qtbot.waitUntil(lambda: label.text() == "Bo Diaz is typing… · Ann Lee is viewing")
    # ourselves (from another PC) are nobody else
    engine.emit(PresenceChanged(james, "staff-1", "Dana Whitfield", "viewing", soon))
    assert "Dana" not in label.text()
    # another conversation's presence does not show here
    engine.emit(PresenceChanged(_sid(engine, "Maria Gonzalez"), "s-cy", "Cy", "viewing", soon))
    assert "Cy" not in label.text()
    engine.emit(PresenceChanged(james, "s-bo", "Bo Diaz", "left", fmt.now_utc()))
    qtbot.waitUntil(lambda: label.text() == "Ann Lee is viewing")
    # Ann's PC vanishes: her presence lapses by itself, nothing more comes
    engine.emit(
        PresenceChanged(
            james, "s-ann", "Ann Lee", "viewing", fmt.now_utc() + timedelta(seconds=0.2)
        )
    )
    qtbot.waitUntil(lambda: not label.isVisible(), timeout=6000)


def test_presence_wording() -> None:
    at = fmt.now_utc()
    assert presence_text([]) == ""
    assert presence_text([Someone("Bo", "viewing", at), Someone("Ann", "viewing", at)]) == (
        "Ann and Bo are viewing"
    )
    three = [Someone(n, "typing", at) for n in ("Cy", "Ann", "Bo")]
    assert presence_text(three) == "Ann, Bo and Cy are typing…"
