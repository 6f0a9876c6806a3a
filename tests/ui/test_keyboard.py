"""Keyboard-first: focus follows the work, no key presses a button nobody aimed at,
focus rings show, every overlay closes with Esc and gives the keyboard back, and the
window's shortcuts say why they wait while a dialog is open. Every flow is driven
with keys sent to whatever has the focus (tests/ui/keys.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QDialog, QPushButton, QWidget

from app.ui.mainwindow import MainWindow
from app.ui.settings import DEFAULT_TEMPLATES, Settings
from app.ui.settings_dialog import SettingsDialog
from app.ui.signin import SignInDialog
from tests.ui.conftest import activate
from tests.ui.fake_engine import FakeEngine
from tests.ui.keys import focused, press, type_text

CTRL = Qt.KeyboardModifier.ControlModifier
ALT = Qt.KeyboardModifier.AltModifier


def jump_to(window: MainWindow, qtbot: Any, name: str) -> None:
    """Ctrl+K, part of the name, Enter: as a person does it."""
    press(Qt.Key.Key_K, CTRL)
    qtbot.waitUntil(window.jump.isVisible)
    assert focused() is window.jump.edit
    type_text(name.split()[0])
    press(Qt.Key.Key_Return)  # at once: the popup opens what the typed text finds
    qtbot.waitUntil(lambda: window.current is not None and window.current.name == name)


def open_dialogs() -> list[QDialog]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QDialog) and w.isVisible()]


def test_ctrl_k_then_a_reply_types_into_the_composer(
    window: MainWindow, engine: FakeEngine, qtbot: Any
) -> None:
    """The reported case: Ctrl+K, a name, Enter, then typing a reply at once. The
    keys go into the composer (not to a button that opens the settings), and Enter
    sends it to that customer."""
    activate(window, qtbot)
    assert focused() is window.leads_view  # the keyboard starts in the inbox
    jump_to(window, qtbot, "James Whitaker")
    assert not window.jump.isVisible()
    assert focused() is window.pane.composer.edit
    type_text("We close at 8 tonight.")
    assert window.pane.composer.text() == "We close at 8 tonight."
    assert open_dialogs() == []
    press(Qt.Key.Key_Return)
    james = next(d for d in engine.leads.values() if d.name == "James Whitaker")
    qtbot.waitUntil(lambda: (james.conversation_sid, "We close at 8 tonight.") in engine.sent)


def test_typing_right_after_enter_goes_to_that_conversation(
    window: MainWindow, engine: FakeEngine, qtbot: Any
) -> None:
    """Keys typed before the lead's details are read (a slow engine) are kept, and a
    send goes to the conversation just opened, never to the one open before."""
    activate(window, qtbot)
    jump_to(window, qtbot, "Maria Gonzalez")
    engine.delay = 0.3  # the next lead's details arrive late
    press(Qt.Key.Key_K, CTRL)
    qtbot.waitUntil(window.jump.isVisible)
    type_text("Kevin")
    press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not window.jump.isVisible())
    assert focused() is window.pane.composer.edit  # at once, from the inbox's row
    type_text("Still available, yes!")
    press(Qt.Key.Key_Return)
    kevin = next(d for d in engine.leads.values() if d.name == "Kevin O'Brien")
    qtbot.waitUntil(lambda: (kevin.conversation_sid, "Still available, yes!") in engine.sent)
    maria = next(d for d in engine.leads.values() if d.name == "Maria Gonzalez")
    assert all(sid != maria.conversation_sid for sid, _ in engine.sent)


def test_arrows_stay_in_the_list_enter_goes_to_the_composer_esc_comes_back(
    window: MainWindow, qtbot: Any
) -> None:
    activate(window, qtbot)
    assert focused() is window.leads_view
    press(Qt.Key.Key_Down)
    press(Qt.Key.Key_Down)
    row = window.leads_model.row_at(window.leads_view.currentIndex().row())
    assert row is not None
    qtbot.waitUntil(lambda: window.current is not None and window.current.lead_id == row.lead_id)
    assert focused() is window.leads_view  # the arrows open the lead, the keys stay here
    press(Qt.Key.Key_Return)
    assert focused() is window.pane.composer.edit
    type_text("Hello")
    press(Qt.Key.Key_Escape)
    assert focused() is window.leads_view
    assert window.leads_model.row_at(window.leads_view.currentIndex().row()) == row
    press(Qt.Key.Key_Return)  # and back, with the draft still there
    assert focused() is window.pane.composer.edit
    assert window.pane.composer.text() == "Hello"


def test_drafts_stay_with_their_conversation(window: MainWindow, qtbot: Any) -> None:
    activate(window, qtbot)
    jump_to(window, qtbot, "Maria Gonzalez")
    type_text("Half a reply for Maria")
    jump_to(window, qtbot, "Priya Raman")
    assert window.pane.composer.text() == ""
    type_text("For Priya")
    jump_to(window, qtbot, "Maria Gonzalez")
    assert window.pane.composer.text() == "Half a reply for Maria"


def test_search_down_and_enter_reach_the_hit_and_its_composer(
    window: MainWindow, qtbot: Any
) -> None:
    activate(window, qtbot)
    press(Qt.Key.Key_F, CTRL)
    assert focused() is window.search
    type_text("stock")
    qtbot.waitUntil(lambda: window.sidebar.showing_results())
    press(Qt.Key.Key_Down)
    assert focused() is window.results_view
    press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.current is not None)
    assert focused() is window.pane.composer.edit


def test_a_notification_opens_its_conversation_with_the_keyboard_in_the_composer(
    window: MainWindow, engine: FakeEngine, qtbot: Any
) -> None:
    activate(window, qtbot)
    priya = next(d for d in engine.leads.values() if d.name == "Priya Raman")
    # what the tray's notification click (and the in-window notice's Open) calls
    window.open_conversation(priya.conversation_sid, priya.lead_id)
    qtbot.waitUntil(lambda: window.current is not None and window.current.name == "Priya Raman")
    assert focused() is window.pane.composer.edit


def test_an_opted_out_lead_puts_the_keyboard_in_its_thread(
    window: MainWindow, qtbot: Any
) -> None:
    """Texting is off: the keys go to the thread (never to a button nearby)."""
    activate(window, qtbot)
    jump_to(window, qtbot, "Alicia Moore")
    assert not window.pane.composer.edit.isEnabled()
    assert focused() is window.pane.view


def test_a_clicked_button_does_not_keep_the_keyboard(window: MainWindow, qtbot: Any) -> None:
    """A filter chip clicked with the mouse: a Space typed next does not toggle it back."""
    activate(window, qtbot)
    chip = window.sidebar.unread_chip
    qtbot.mouseClick(chip, Qt.MouseButton.LeftButton)
    assert chip.isChecked()
    assert focused() is not chip
    press(Qt.Key.Key_Space)
    assert chip.isChecked()
    # reachable with Tab all the same (a key aimed at it)
    chip.setFocus(Qt.FocusReason.TabFocusReason)
    press(Qt.Key.Key_Space)
    assert not chip.isChecked()


def test_dialogs_have_one_default_button_only(qtbot: Any, loop: Any) -> None:
    settings = SettingsDialog(Settings(templates=list(DEFAULT_TEMPLATES)))
    signin = SignInDialog(None, relay_url="https://relay.example.com")
    for dialog, default in ((settings, "Save"), (signin, "Sign in")):
        qtbot.addWidget(dialog)
        buttons = dialog.findChildren(QPushButton)
        assert [b.text() for b in buttons if b.isDefault()] == [default]
        assert not [b.text() for b in buttons if b.autoDefault()]


def _shot(widget: QWidget) -> QImage:
    return widget.grab().toImage()


def test_focus_rings_show_where_the_keyboard_is(window: MainWindow, qtbot: Any) -> None:
    activate(window, qtbot)
    window.open_lead(window.leads_model.row_at(0).lead_id)  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: window.current is not None)
    button = window.pane.panel_button
    plain = _shot(button)
    button.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(button.hasFocus)
    assert _shot(button) != plain
    # the inbox's current row gets a ring while the list has the keyboard
    window.leads_view.setFocus(Qt.FocusReason.TabFocusReason)
    rect = window.leads_view.visualRect(window.leads_view.currentIndex())
    with_ring = window.leads_view.viewport().grab(rect).toImage()
    window.search.setFocus(Qt.FocusReason.TabFocusReason)
    without = window.leads_view.viewport().grab(rect).toImage()
    assert with_ring != without
    ring = QPoint(rect.width() // 2, 2)
    assert with_ring.pixelColor(ring) != without.pixelColor(ring)


def test_ctrl_k_esc_gives_the_keyboard_back(window: MainWindow, qtbot: Any) -> None:
    activate(window, qtbot)
    jump_to(window, qtbot, "Maria Gonzalez")
    assert focused() is window.pane.composer.edit
    press(Qt.Key.Key_K, CTRL)
    qtbot.waitUntil(window.jump.isVisible)
    type_text("Pri")
    press(Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.jump.isVisible())
    assert focused() is window.pane.composer.edit
    assert window.current is not None and window.current.name == "Maria Gonzalez"


def test_templates_menu_from_the_keyboard(window: MainWindow, qtbot: Any) -> None:
    window.set_templates(list(DEFAULT_TEMPLATES))
    activate(window, qtbot)
    jump_to(window, qtbot, "Maria Gonzalez")
    menu = window.pane.composer.templates_menu
    press(Qt.Key.Key_T, CTRL)
    qtbot.waitUntil(menu.isVisible)
    press(Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not menu.isVisible())
    assert focused() is window.pane.composer.edit
    assert window.pane.composer.text() == ""
    press(Qt.Key.Key_T, CTRL)
    qtbot.waitUntil(menu.isVisible)
    press(Qt.Key.Key_Return)  # the first template
    qtbot.waitUntil(lambda: not menu.isVisible())
    assert window.pane.composer.text().startswith("Hi Maria, this is Dana")
    assert focused() is window.pane.composer.edit


def test_settings_close_with_esc_and_shortcuts_say_why_they_wait(
    window: MainWindow, qtbot: Any
) -> None:
    """Ctrl+, opens the settings; inside them Ctrl+K says it waits for them (a modal
    dialog holds the window's shortcuts back); Esc closes them and gives the keyboard
    back to the composer, where Ctrl+K works again."""
    opened: list[SettingsDialog] = []

    def open_settings() -> None:  # as AppController.open_settings does
        dialog = SettingsDialog(Settings(templates=list(DEFAULT_TEMPLATES)), window)
        opened.append(dialog)
        dialog.open()
        dialog.activateWindow()

    window.settingsRequested.connect(open_settings)
    activate(window, qtbot)
    jump_to(window, qtbot, "Maria Gonzalez")
    press(Qt.Key.Key_Comma, CTRL)
    qtbot.waitUntil(lambda: bool(opened) and opened[0].isVisible())
    dialog = opened[0]
    qtbot.waitUntil(lambda: focused().window() is dialog)
    press(Qt.Key.Key_K, CTRL)
    assert dialog.shortcut_hint.isVisible()
    assert "Ctrl+K" in dialog.shortcut_hint.text() and "Esc" in dialog.shortcut_hint.text()
    assert window._jump is None or not window.jump.isVisible()
    press(Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    qtbot.waitUntil(lambda: focused() is window.pane.composer.edit)
    press(Qt.Key.Key_K, CTRL)
    qtbot.waitUntil(window.jump.isVisible)
    press(Qt.Key.Key_Escape)


def test_sign_in_closes_with_esc_and_gives_the_keyboard_back(
    window: MainWindow, qtbot: Any
) -> None:
    activate(window, qtbot)
    jump_to(window, qtbot, "Maria Gonzalez")
    dialog = SignInDialog(window, relay_url="https://relay.example.com")
    rejected: list[bool] = []
    dialog.rejected.connect(lambda: rejected.append(True))
    dialog.open()
    dialog.activateWindow()
    qtbot.waitUntil(lambda: focused() is dialog.key_edit)
    type_text("not-yet")
    press(Qt.Key.Key_F, CTRL)
    assert "Ctrl+F" in dialog.shortcut_hint.text()
    press(Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert rejected == [True]
    qtbot.waitUntil(lambda: focused() is window.pane.composer.edit)


def test_the_details_drawer_opens_and_closes_from_the_keyboard(
    window: MainWindow, qtbot: Any
) -> None:
    window.resize(1100, 760)  # below DRAWER_BELOW: the lead panel is a drawer
    activate(window, qtbot)
    jump_to(window, qtbot, "James Whitaker")
    panel = window.panel
    assert not panel.isVisible()
    press(Qt.Key.Key_I, CTRL)
    qtbot.waitUntil(panel.isVisible)
    assert window.pane.panel_button.isChecked()
    assert panel.isAncestorOf(focused())  # the keyboard went into the drawer
    press(Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not panel.isVisible())
    assert focused() is window.pane.composer.edit
    assert not window.pane.panel_button.isChecked()


def test_accessible_names_stay_as_designed(window: MainWindow, qtbot: Any) -> None:
    """DESIGN.md, "Desktop accessibility", with the new controls named too."""
    window.open_lead(window.leads_model.row_at(0).lead_id)  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: window.current is not None)
    names = {w.accessibleName() for w in window.findChildren(QWidget)}
    assert {"Leads", "Search", "Conversation", "Message", "Send", "Location"} <= names
    assert {"Back to inbox", "Lead details"} <= names
    assert "Web2Text" in window.windowTitle()


def test_the_kiosk_lock_holds_the_windows_shortcuts_back(
    window: MainWindow, qtbot: Any, tmp_path: Path
) -> None:
    """Locked, Ctrl+K would list the customers the lock screen hides."""
    from app.ui.kiosk import LockScreen
    from app.ui.kiosk_pin import PinGate
    from app.ui.tasks import Tasks

    activate(window, qtbot)
    lock = LockScreen(window, PinGate(tmp_path), Tasks())
    lock.lock()
    qtbot.waitUntil(lambda: focused() is lock)
    press(Qt.Key.Key_K, CTRL)
    press(Qt.Key.Key_F, CTRL)
    assert window._jump is None or not window.jump.isVisible()
    assert not window.search.hasFocus()
    lock.hide()
    window.leads_view.setFocus()
    press(Qt.Key.Key_K, CTRL)
    qtbot.waitUntil(window.jump.isVisible)
    press(Qt.Key.Key_Escape)
