"""The inbox holds still under the pointer and the keyboard: new activity does not
move rows, a "N new" pill says so, unread counts still change in place, and the new
order comes in with the pill, Home, or when the pointer or the keyboard leaves."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, Qt

from app.ui.mainwindow import MainWindow
from tests.ui.conftest import activate
from tests.ui.fake_engine import FakeEngine
from tests.ui.keys import focused, press


def names(window: MainWindow) -> list[str]:
    model = window.leads_model
    return [model.row_at(i).name for i in range(model.rowCount())]  # type: ignore[union-attr]


def row_named(window: MainWindow, name: str) -> Any:
    model = window.leads_model
    return model.row_at(model.index_of_name(name))


def lead_named(engine: FakeEngine, name: str) -> Any:
    return next(d for d in engine.leads.values() if d.name == name)


def keyboard_in_list(window: MainWindow, qtbot: Any) -> None:
    """A row selected with the arrow keys: the list has the keyboard."""
    activate(window, qtbot)
    assert focused() is window.leads_view
    press(Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: window.current is not None)
    assert window.leads_model.held


def test_rows_hold_still_while_a_row_has_the_keyboard(
    window: MainWindow, engine: FakeEngine, qtbot: Any
) -> None:
    keyboard_in_list(window, qtbot)
    before = names(window)
    bottom = before[-1]
    unread = row_named(window, bottom).unread
    engine.receive(lead_named(engine, bottom).lead_id, "Are you open Sunday?")
    pill = window.sidebar.new_pill
    qtbot.waitUntil(pill.isVisible)
    assert pill.text() == "1 new ↑"
    assert names(window) == before  # nothing moved under the keyboard
    # ... but the row's unread count and preview changed where it is
    row = row_named(window, bottom)
    assert row.unread == unread + 1 and row.last_message_preview == "Are you open Sunday?"
    # two more: the pill counts them
    for name in before[-3:-1]:
        engine.receive(lead_named(engine, name).lead_id, "Hello?")
    qtbot.waitUntil(lambda: pill.text() == "3 new ↑")
    assert names(window) == before
    # Home lets the new order in (latest activity first) and goes to its first row
    press(Qt.Key.Key_Home)
    qtbot.waitUntil(lambda: names(window)[:3] == [before[-2], before[-3], before[-1]])
    assert not pill.isVisible()
    qtbot.waitUntil(lambda: window.current is not None and window.current.name == before[-2])
    assert window.leads_view.currentIndex().row() == 0
    assert focused() is window.leads_view


def test_the_new_order_comes_in_when_the_keyboard_leaves(
    window: MainWindow, engine: FakeEngine, qtbot: Any
) -> None:
    keyboard_in_list(window, qtbot)
    before = names(window)
    engine.receive(lead_named(engine, before[-1]).lead_id, "Still there?")
    qtbot.waitUntil(window.sidebar.new_pill.isVisible)
    assert names(window) == before
    press(Qt.Key.Key_Return)  # to the composer: the list is free to move
    assert focused() is window.pane.composer.edit
    qtbot.waitUntil(lambda: names(window)[0] == before[-1])
    assert not window.sidebar.new_pill.isVisible()


def test_the_pill_applies_the_new_order(
    window: MainWindow, engine: FakeEngine, qtbot: Any
) -> None:
    keyboard_in_list(window, qtbot)
    before = names(window)
    engine.receive(lead_named(engine, before[-2]).lead_id, "Hi again")
    pill = window.sidebar.new_pill
    qtbot.waitUntil(pill.isVisible)
    qtbot.mouseClick(pill, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: names(window)[0] == before[-2])
    assert not pill.isVisible()
    assert focused() is window.leads_view  # the pill does not take the keyboard


def test_rows_hold_still_under_the_pointer(
    window: MainWindow, engine: FakeEngine, qtbot: Any
) -> None:
    """The reported case: a click aimed at one row must not land on another because
    a text arrived meanwhile and re-sorted the list."""
    activate(window, qtbot)
    view = window.leads_view
    before = names(window)
    aimed = before[-1]
    target = view.visualRect(window.leads_model.index(len(before) - 1)).center()
    qtbot.mouseMove(view.viewport(), target)
    qtbot.waitUntil(lambda: window.leads_model.held)
    engine.receive(lead_named(engine, before[0]).lead_id, "Another question")  # top: no move
    engine.receive(lead_named(engine, before[2]).lead_id, "Hello?")  # would move up
    qtbot.waitUntil(window.sidebar.new_pill.isVisible)
    assert window.sidebar.new_pill.text() == "1 new ↑"
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=target)
    qtbot.waitUntil(lambda: window.current is not None and window.current.name == aimed)


def test_the_new_order_comes_in_when_the_pointer_leaves(
    window: MainWindow, engine: FakeEngine, qtbot: Any
) -> None:
    activate(window, qtbot)
    view = window.leads_view
    before = names(window)
    qtbot.mouseMove(view.viewport(), view.visualRect(window.leads_model.index(1)).center())
    qtbot.waitUntil(lambda: window.leads_model.held)
    engine.receive(lead_named(engine, before[-1]).lead_id, "Hello?")
    qtbot.waitUntil(window.sidebar.new_pill.isVisible)
    assert names(window) == before
    qtbot.mouseMove(window.pane, QPoint(20, 20))
    qtbot.waitUntil(lambda: names(window)[0] == before[-1])
    assert not window.leads_model.held and not window.sidebar.new_pill.isVisible()


def test_without_pointer_or_keyboard_the_list_stays_live(
    window: MainWindow, engine: FakeEngine, qtbot: Any
) -> None:
    activate(window, qtbot)
    assert not window.leads_model.held  # nothing selected yet
    before = names(window)
    engine.receive(lead_named(engine, before[-1]).lead_id, "Hi")
    qtbot.waitUntil(lambda: names(window)[0] == before[-1])
    assert not window.sidebar.new_pill.isVisible()
