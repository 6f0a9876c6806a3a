"""The inbox: rows, paging, filters, locations, accessible text, keyboard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QApplication

from app.sync.api import LeadFilter
from app.ui import fmt
from app.ui.leads_model import LeadsModel
from app.ui.mainwindow import MainWindow
from app.ui.roles import LOCATION_ROLE, ROW_ROLE
from app.ui.tasks import Tasks
from tests.ui.fake_engine import FakeEngine


def activate(w: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitActive(w):
        w.activateWindow()


def names(w: MainWindow) -> list[str]:
    return [w.leads_model.row_at(i).name for i in range(w.leads_model.rowCount())]  # type: ignore[union-attr]


def test_window_identity_and_accessible_names(window: MainWindow) -> None:
    assert QApplication.applicationName() == "Web2Text"
    assert "Web2Text" in window.windowTitle()
    for name in ("Leads", "Search", "Conversation", "Message", "Send", "Location"):
        found = [
            w
            for w in window.findChildren(object)
            if getattr(w, "accessibleName", None) and w.accessibleName() == name
        ]
        assert found, f"no widget with accessible name {name!r}"


def test_rows_ordered_by_last_activity_with_accessible_text(
    window: MainWindow, engine: FakeEngine
) -> None:
    rows = [window.leads_model.row_at(i) for i in range(window.leads_model.rowCount())]
    times = [r.last_activity_at for r in rows if r]
    assert times == sorted(times, reverse=True)
    assert names(window)[0] == "Maria Gonzalez"
    # the row's visible text is exposed to screen readers
    iface = QAccessible.queryAccessibleInterface(window.leads_view)
    assert iface is not None
    texts = [iface.child(i).text(QAccessible.Text.Name) for i in range(iface.childCount())]
    maria = next(t for t in texts if t.startswith("Maria Gonzalez"))
    assert "(312) 555-0142" in maria and "New" in maria and "1 unread" in maria
    assert "waiting" in maria and "unassigned" in maria
    james = next(t for t in texts if t.startswith("James Whitaker"))
    assert "assigned to Dana Whitfield" in james and "waiting" not in james


def test_speed_to_lead_timer_and_relative_time_painted(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    image = window.leads_view.viewport().grab().toImage()
    assert not image.isNull()
    from app.ui import fmt

    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert fmt.waiting_time(now - timedelta(minutes=3), now) == "3m"
    assert fmt.waiting_time(now - timedelta(minutes=65), now) == "1h 05m"
    assert fmt.relative_time(now - timedelta(seconds=20), now) == "now"
    assert fmt.relative_time(now - timedelta(minutes=7), now) == "7m"


def test_filters_by_clicking_chips(window: MainWindow, engine: FakeEngine, qtbot) -> None:  # type: ignore[no-untyped-def]
    qtbot.mouseClick(window.sidebar.mine_chip, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: names(window) == ["James Whitaker"])
    qtbot.mouseClick(window.sidebar.mine_chip, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.sidebar.unassigned_chip, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "James Whitaker" not in names(window) and len(names(window)) == 4)
    qtbot.mouseClick(window.sidebar.unassigned_chip, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.sidebar.unread_chip, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: (
            set(names(window)) == {"Maria Gonzalez", "Kevin O'Brien", "Tom Becker", "Alicia Moore"}
        )
    )
    qtbot.mouseClick(window.sidebar.unread_chip, Qt.MouseButton.LeftButton)
    window.sidebar.status_filter.setCurrentIndex(window.sidebar.status_filter.findData("appointment"))
    window.sidebar.status_filter.activated.emit(window.sidebar.status_filter.currentIndex())
    qtbot.waitUntil(lambda: names(window) == ["Priya Raman"])
    assert window.sidebar.count_label.text() == "1 lead"


def test_pipeline_menus_follow_the_core_pipeline_order(window: MainWindow) -> None:
    """The status filter and the lead panel list app.core's pipeline, in its order, with
    a label for each status and plain strings as what is chosen."""
    from app.core.statuses import PIPELINE_ORDER

    for combo, first in ((window.sidebar.status_filter, 1), (window.panel.pipeline, 0)):
        data = [combo.itemData(i) for i in range(first, combo.count())]
        assert data == [s.value for s in PIPELINE_ORDER]
        assert all(type(d) is str for d in data)
        assert [combo.itemText(i) for i in range(first, combo.count())][3] == "Appointment"


def test_location_switcher_shows_unread_and_filters(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: window.sidebar.location.count() == 3)
    items = [window.sidebar.location.itemText(i) for i in range(3)]
    assert items[0].startswith("All locations") and "unread" in items[0]
    assert any(t.startswith("Naperville Showroom") and "(3 unread)" in t for t in items)
    window.sidebar.location.setCurrentIndex(window.sidebar.location.findData("loc-2"))
    window.sidebar.location.activated.emit(window.sidebar.location.currentIndex())
    qtbot.waitUntil(lambda: set(names(window)) == {"Priya Raman", "Alicia Moore"})


def test_location_counts_are_read_one_at_a_time_and_the_last_changes_counted(
    window: MainWindow, engine: FakeEngine, qtbot
) -> None:  # type: ignore[no-untyped-def]
    """Changes arriving while the location counts are being read ask for one more read
    after it, never a second one beside it (a queue of them held up the store's reader)."""
    import asyncio

    from app.sync.api import ChangesApplied

    inbox = window.inbox
    qtbot.waitUntil(lambda: window.sidebar.location.count() == 3 and window.tasks.running == 0)
    engine.answers_held = asyncio.Event()
    reads = engine.calls.count("list_locations")
    engine.emit(ChangesApplied(location_ids=frozenset({"loc-1"})))
    qtbot.waitUntil(lambda: engine.calls.count("list_locations") == reads + 1)  # held
    for _ in range(2):
        engine.emit(ChangesApplied(location_ids=frozenset({"loc-1"})))
        qtbot.waitUntil(lambda: not inbox._locations_timer.isActive())
    assert engine.calls.count("list_locations") == reads + 1
    engine.answers_held.set()
    qtbot.waitUntil(lambda: engine.calls.count("list_locations") == reads + 2)
    qtbot.waitUntil(lambda: window.tasks.running == 0)
    assert engine.calls.count("list_locations") == reads + 2


def test_rows_name_their_location_while_the_inbox_mixes_locations(  # type: ignore[no-untyped-def]
    window: MainWindow, engine: FakeEngine, qtbot
) -> None:
    """A shopper who wrote to two stores is two leads with one name: in "All locations"
    each row says which store it is; one store's inbox does not repeat its name."""
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QImage, QPainter

    model = window.leads_model

    def places() -> dict[str, str]:
        return {
            model.index(i, 0).data(ROW_ROLE).location_id: model.index(i, 0).data(LOCATION_ROLE)
            for i in range(model.rowCount())
        }

    qtbot.waitUntil(lambda: window.sidebar.location.count() == 3)
    assert places() == {
        loc: name
        for loc, name in fmt.short_location_names(window.inbox.location_names).items()
        if loc in places()
    }
    assert "Naperville Showroom" in places().values()

    def picture() -> QImage:
        image = QImage(640, window.lead_delegate.HEIGHT, QImage.Format.Format_ARGB32)
        image.fill(0)
        painter = QPainter(image)
        window.lead_delegate.paint_row(
            painter,
            QRect(0, 0, 640, window.lead_delegate.HEIGHT),  # room for the location
            model.index(0, 0),
            selected=False,
            hover=False,
            font=window.leads_view.font(),
        )
        painter.end()
        return image

    with_place = picture()
    first = model.index(0, 0)
    said = first.data(Qt.ItemDataRole.AccessibleTextRole)
    assert first.data(LOCATION_ROLE) in said  # screen readers hear it too
    window.sidebar.location.setCurrentIndex(window.sidebar.location.findData("loc-2"))
    window.sidebar.location.activated.emit(window.sidebar.location.currentIndex())
    qtbot.waitUntil(lambda: set(names(window)) == {"Priya Raman", "Alicia Moore"})
    assert set(places().values()) == {""}
    window.sidebar.location.setCurrentIndex(0)
    window.sidebar.location.activated.emit(0)
    qtbot.waitUntil(lambda: len(names(window)) > 2)
    assert picture() == with_place  # the same row, the same picture
    # the staff member keeps one location (a profile switch, a store closed): no names
    for loc in [loc for loc in engine.locations if loc != "loc-1"]:
        del engine.locations[loc]
    window.reload_locations()
    qtbot.waitUntil(lambda: window.sidebar.location.count() == 2)
    assert set(places().values()) == {""}
    assert picture() != with_place  # ...and the name is what differs


def test_lazy_paging_fetches_more_on_scroll(qtbot, run) -> None:  # type: ignore[no-untyped-def]
    e = FakeEngine()
    e.add_location("loc-1", "Store")
    for i in range(250):
        e.add_lead(f"Customer {i:03d}", f"+1312555{i:04d}", minutes_ago=i)
    model = LeadsModel(Tasks())
    model.set_engine(e)
    # the rows first, their count after (a separate query)
    qtbot.waitUntil(lambda: model.rowCount() == 100 and model.total == 250)
    assert model.canFetchMore()
    from PySide6.QtWidgets import QListView

    view = QListView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(300, 400)
    view.show()
    view.scrollToBottom()
    qtbot.waitUntil(lambda: model.rowCount() >= 200)
    assert e.calls.count("list_leads") >= 2
    # a reload keeps what was loaded instead of jumping back to page one
    model.reload(now=True)
    qtbot.waitUntil(lambda: model.rowCount() >= 200)


def test_alt_up_down_moves_between_conversations(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    activate(window, qtbot)
    window.search.setFocus()
    qtbot.keyClick(window.search, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: window.current is not None and window.current.name == "Maria Gonzalez")
    qtbot.keyClick(window.search, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: window.current is not None and window.current.name == "Kevin O'Brien")
    qtbot.keyClick(window.search, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: window.current is not None and window.current.name == "Maria Gonzalez")


def test_new_lead_appears_live(window: MainWindow, engine: FakeEngine, qtbot) -> None:  # type: ignore[no-untyped-def]
    from app.sync.api import ChangesApplied

    d = engine.add_lead("Zed Newcomer", "+13125550999", minutes_ago=0)
    engine.emit(ChangesApplied(lead_ids=frozenset({d.lead_id})))
    qtbot.waitUntil(lambda: names(window)[:1] == ["Zed Newcomer"])


def test_filter_dataclass_roundtrip() -> None:
    assert LeadFilter(unread_only=True) != LeadFilter()


def test_demo_marker_and_preparing_status(qtbot) -> None:  # type: ignore[no-untyped-def]
    fresh = MainWindow(tray_available=False)
    qtbot.addWidget(fresh)
    fresh.show()
    assert not fresh.sidebar.demo_badge.isVisible()
    assert fresh.status_bar.state_label.text().endswith(" Not connected")  # no engine yet
    fresh.set_demo(True)  # before the demo's engine exists: seeding is announced
    assert fresh.sidebar.demo_badge.isVisible() and fresh.sidebar.demo_badge.text() == "DEMO"
    assert fresh.status_bar.state_label.text().startswith("Preparing the demo")


@pytest.mark.parametrize(
    ("names", "short"),
    [
        (
            {"a": "Lakeshore Motors – New Vehicles", "b": "Lakeshore Motors – Pre-Owned"},
            {"a": "New Vehicles", "b": "Pre-Owned"},
        ),
        (
            {"a": "Acme: North", "b": "Acme: South", "c": "Acme: East"},
            {"a": "North", "b": "South", "c": "East"},
        ),
        (
            {"a": "Lakeshore Motors – New", "b": "Lakeshore Motors – Newer"},
            {"a": "New", "b": "Newer"},
        ),
        # nothing shared up to a separator, a name left empty, one name, none: as they are
        ({"a": "Naperville Showroom", "b": "Naples Showroom"}, None),
        ({"a": "Store – A", "b": "Store – "}, None),
        ({"a": "Only – One"}, None),
        ({}, None),
    ],
)
def test_short_location_names_drop_what_every_name_starts_with(
    names: dict[str, str], short: dict[str, str] | None
) -> None:
    assert fmt.short_location_names(names) == (names if short is None else short)


def test_new_numbers_are_formatted_off_the_qt_thread(qtbot, loop, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import threading

    import app.core.phones  # noqa: F401  (loaded: the exact forms are made)

    threads: list[str] = []
    exact = fmt._exact_phone

    def recording(e164: str) -> str:
        threads.append(threading.current_thread().name)
        return exact(e164)

    monkeypatch.setattr(fmt, "_exact_phone", recording)
    e = FakeEngine()
    e.add_location("loc-1", "Store")
    for i in range(3):
        e.add_lead(f"Walk-in {i}", f"+1773555{i:04d}", minutes_ago=i)
    model = LeadsModel(Tasks())
    model.set_engine(e)
    qtbot.waitUntil(lambda: model.rowCount() == 3)
    phones = [model.row_at(i).phone for i in range(3)]  # type: ignore[union-attr]
    assert fmt.phones_to_format(phones) == []  # made before the rows were shown
    assert len(threads) == 3 and threading.main_thread().name not in threads
    assert fmt.format_phone(phones[0]) == "(773) 555-0000"
    assert len(threads) == 3  # painting them makes nothing again
