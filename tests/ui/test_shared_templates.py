"""Templates shared by the dealership: the picker shows them with this PC's own, and
the shared ones are edited version-checked (a colleague's save is never overwritten)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from app.sync.api import SharedTemplate
from app.ui.mainwindow import MainWindow
from app.ui.settings import Template
from tests.ui.conftest import activate, open_lead
from tests.ui.fake_engine import FakeEngine

CTRL = Qt.KeyboardModifier.ControlModifier


def _location_of(engine: FakeEngine, name: str) -> str:
    return next(d.location_id for d in engine.leads.values() if d.name == name)


def _menu_texts(window: MainWindow) -> list[str]:
    return [a.text() for a in window.pane.composer.templates_menu.actions()]


def test_the_picker_shows_shared_and_own_templates(
    window: MainWindow, engine: FakeEngine, qtbot: Any
) -> None:
    loc = _location_of(engine, "Maria Gonzalez")
    engine.share(loc, [SharedTemplate(None, "Store hours", "Hi {first_name}, we're open 9-6.")])
    window.set_templates([Template("My sign-off", "Thanks! {staff_name}")])
    open_lead(window, qtbot, "Maria Gonzalez")
    qtbot.waitUntil(lambda: "Store hours" in _menu_texts(window))
    texts = _menu_texts(window)
    assert texts.index("Store hours") < texts.index("Yours") < texts.index("My sign-off")
    assert any(t.startswith("Shared") for t in texts) and "Manage shared templates…" in texts
    # Ctrl+T, then Enter inserts the first one (the shared one), merged
    edit = window.pane.composer.edit
    activate(window, qtbot)
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_T, CTRL)
    menu = window.pane.composer.templates_menu
    qtbot.waitUntil(menu.isVisible)
    qtbot.keyClick(menu, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "we're open 9-6." in edit.toPlainText())
    assert edit.toPlainText().startswith("Hi Maria")
    # a colleague changes them: the picker follows the feed
    engine.share(loc, [SharedTemplate(None, "Holiday hours", "Closed Monday.")])
    qtbot.waitUntil(lambda: "Holiday hours" in _menu_texts(window))
    assert "Store hours" not in _menu_texts(window)


def test_shared_templates_are_edited_version_checked(
    window: MainWindow, engine: FakeEngine, qtbot: Any
) -> None:
    loc = _location_of(engine, "Maria Gonzalez")
    engine.share(loc, [SharedTemplate(None, "Store hours", "Open 9-6.")], by="Ann Lee")
    open_lead(window, qtbot, "Maria Gonzalez")
    qtbot.waitUntil(lambda: "Store hours" in _menu_texts(window))
    # from the templates menu: "Manage shared templates…"
    manage = next(
        a
        for a in window.pane.composer.templates_menu.actions()
        if a.text() == "Manage shared templates…"
    )
    manage.trigger()
    qtbot.waitUntil(
        lambda: (
            window.shared_templates_dialog is not None
            and window.shared_templates_dialog.isVisible()
        )
    )
    dlg = window.shared_templates_dialog
    assert dlg is not None and dlg.location_id == loc
    qtbot.waitUntil(lambda: dlg.list.count() == 1)
    assert "Version 1, saved by Ann Lee" in dlg.info.text()
    # add one by keyboard-reachable buttons and fields
    dlg.add_button.click()
    dlg.name_edit.selectAll()
    qtbot.keyClicks(dlg.name_edit, "Financing")
    dlg.body_edit.selectAll()
    qtbot.keyClicks(dlg.body_edit, "Ask {first_name} about 0% financing.")
    # meanwhile a colleague saves: ours is refused, theirs is shown, nothing is lost silently
    engine.share(loc, [SharedTemplate(None, "Colleague's", "Theirs.")], by="Bo Diaz")
    qtbot.keyClick(dlg, Qt.Key.Key_Return)  # Save (the default button)
    qtbot.waitUntil(lambda: "Bo Diaz saved the shared templates meanwhile" in dlg.message.text())
    assert [dlg.list.item(i).text() for i in range(dlg.list.count())] == ["Colleague's"]
    assert engine.shared[loc].templates[0].name == "Colleague's"
    # again, on their version: saved for everyone, and the picker shows it
    dlg.add_button.click()
    dlg.name_edit.selectAll()
    qtbot.keyClicks(dlg.name_edit, "Financing")
    dlg.body_edit.selectAll()
    qtbot.keyClicks(dlg.body_edit, "Ask about 0% financing.")
    dlg.save_button.click()
    qtbot.waitUntil(lambda: engine.shared[loc].version == 3)
    assert [t.name for t in engine.shared[loc].templates] == ["Colleague's", "Financing"]
    assert "Version 3, saved by Dana Whitfield" in dlg.info.text()
    qtbot.waitUntil(lambda: "Financing" in _menu_texts(window))
    # a broken merge field is refused before anything is sent
    dlg.body_edit.selectAll()
    qtbot.keyClicks(dlg.body_edit, "Hi {nickname}")
    dlg.save_button.click()
    assert "can't be saved" in dlg.message.text() and engine.shared[loc].version == 3
    dlg.reject()
