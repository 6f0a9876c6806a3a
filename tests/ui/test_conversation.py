"""Conversation pane, composer, lead panel and search, driven like a person would."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible

from app.ui.mainwindow import MainWindow
from app.ui.thread_model import DayItem, MessageItem
from tests.ui.conftest import activate, open_lead
from tests.ui.fake_engine import FakeEngine


def bubbles(w: MainWindow) -> list[MessageItem]:
    m = w.thread_model
    return [it for i in range(m.rowCount()) if isinstance(it := m.item_at(i), MessageItem)]


def test_thread_shows_bubbles_day_separators_and_states(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    open_lead(window, qtbot, "James Whitaker")
    items = [window.thread_model.item_at(i) for i in range(window.thread_model.rowCount())]
    assert isinstance(items[0], DayItem)
    kinds = [b.message.author_kind for b in bubbles(window)]
    assert kinds == ["customer", "staff", "customer", "store", "staff"]
    iface = QAccessible.queryAccessibleInterface(window.pane.view)
    assert iface is not None and iface.text(QAccessible.Text.Name) == "Conversation"
    texts = [iface.child(i).text(QAccessible.Text.Name) for i in range(iface.childCount())]
    assert texts[0] == "Today"
    assert any("from the store phone" in t or "Store phone" in t for t in texts)
    failed = next(t for t in texts if "Shaw Bellera" in t)
    assert "Not sent: Outside the customer's allowed hours" in failed and "Retry" in failed
    # customer bubbles on the left, staff on the right
    view = window.pane.view
    delegate = view.delegate
    cust = next(
        i
        for i in range(len(items))
        if isinstance(items[i], MessageItem) and items[i].message.author_kind == "customer"
    )
    staff = next(
        i
        for i in range(len(items))
        if isinstance(items[i], MessageItem) and items[i].message.author_kind == "staff"
    )
    font = view.font()
    r1 = view.visualRect(window.thread_model.index(cust))
    r2 = view.visualRect(window.thread_model.index(staff))
    lc = delegate.layout(r1, items[cust].message, True, font).bubble
    ls = delegate.layout(r2, items[staff].message, True, font).bubble
    assert lc.left() < r1.width() // 3 and ls.right() > 2 * r2.width() // 3


def test_enter_sends_and_bubble_appears_pending(
    window: MainWindow, engine: FakeEngine, qtbot
) -> None:  # type: ignore[no-untyped-def]
    open_lead(window, qtbot, "Maria Gonzalez")
    sid = window.current.conversation_sid  # type: ignore[union-attr]
    edit = window.pane.composer.edit
    edit.setFocus()
    qtbot.keyClicks(edit, "Yes we have it")
    qtbot.keyClick(edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(edit, "in stock!")
    assert edit.toPlainText() == "Yes we have it\nin stock!"
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: engine.sent == [(sid, "Yes we have it\nin stock!")])
    assert edit.toPlainText() == ""
    qtbot.waitUntil(lambda: bubbles(window)[-1].message.body == "Yes we have it\nin stock!")
    # delivered by the engine → status moves on
    qtbot.waitUntil(lambda: bubbles(window)[-1].message.status == "sent")


def test_a_send_refreshes_the_thread_once(
    window: MainWindow, engine: FakeEngine, qtbot
) -> None:  # type: ignore[no-untyped-def]
    # The engine reports a send's local effect (ChangesApplied, local) before it returns
    # the pending message. The bubble comes from that answer: the thread is not read
    # again for the same message.
    open_lead(window, qtbot, "Maria Gonzalez")
    model = window.thread_model
    qtbot.waitUntil(lambda: window.tasks.running == 0 and not model.reload_pending)
    engine.hold_sends = True  # stays pending: nothing but the send itself happens
    refreshes: list[str] = []
    model.modelReset.connect(lambda: refreshes.append("reset"))
    model.rowsInserted.connect(lambda *_: refreshes.append("insert"))
    reads = engine.calls.count("thread")
    edit = window.pane.composer.edit
    qtbot.keyClicks(edit, "On my way")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bubbles(window)[-1].message.body == "On my way")
    # the echo came before the answer: a reload it caused would be waiting or running
    qtbot.waitUntil(lambda: window.tasks.running == 0)
    assert not model.reload_pending
    assert refreshes == ["insert"]
    assert engine.calls.count("thread") == reads
    assert bubbles(window)[-1].message.status == "pending"
    # a change to the conversation from elsewhere still reloads it (the rows on screen
    # stay, the new one is appended)
    engine.receive(window.current.lead_id, "Great, thanks")  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: bubbles(window)[-1].message.body == "Great, thanks")
    assert refreshes == ["insert", "insert"] and engine.calls.count("thread") == reads + 1


def test_the_open_thread_reloads_only_for_its_own_messages_and_in_place(
    window: MainWindow, engine: FakeEngine, qtbot
) -> None:  # type: ignore[no-untyped-def]
    """Texts into other conversations leave the open thread alone; a status change of a
    message on screen updates that row, and a new one is appended: no bubble already
    shown is laid out again."""
    from dataclasses import replace

    from app.sync.api import ChangesApplied

    open_lead(window, qtbot, "Maria Gonzalez")
    model = window.thread_model
    qtbot.waitUntil(lambda: window.tasks.running == 0 and not model.reload_pending)
    other = next(d for d in engine.leads.values() if d.name != "Maria Gonzalez")
    events: list[str] = []
    model.modelReset.connect(lambda: events.append("reset"))
    model.rowsInserted.connect(lambda *_: events.append("insert"))
    model.dataChanged.connect(lambda *_: events.append("changed"))
    reads = engine.calls.count("thread")
    engine.receive(other.lead_id, "Is it still available?")
    qtbot.wait(150)  # (longer than the thread's and the inbox's coalescing)
    qtbot.waitUntil(lambda: window.tasks.running == 0 and not model.reload_pending)
    assert engine.calls.count("thread") == reads and events == []

    sid = window.current.conversation_sid  # type: ignore[union-attr]
    shown = engine.messages[sid][-1]
    engine.messages[sid][-1] = replace(shown, status="read")
    engine.emit(ChangesApplied(message_sids=frozenset({shown.message_sid or ""}),
                               thread_sids=frozenset({sid})))
    qtbot.waitUntil(lambda: bubbles(window)[-1].message.status == "read")
    engine.receive(window.current.lead_id, "See you at 5")  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: bubbles(window)[-1].message.body == "See you at 5")
    assert events == ["changed", "insert"]


def test_a_new_message_stamped_before_the_first_one_shown_still_shows(
    window: MainWindow, engine: FakeEngine, qtbot
) -> None:  # type: ignore[no-untyped-def]
    """Twilio stamps a text in whole seconds and the relay its own sends finer, so a text
    right after the first messages can sort before them: the open thread shows it."""
    from datetime import timedelta

    from app.sync.api import ChangesApplied

    open_lead(window, qtbot, "Maria Gonzalez")
    model = window.thread_model
    qtbot.waitUntil(lambda: window.tasks.running == 0 and not model.reload_pending)
    assert not model.has_older
    lead = window.current
    sid = lead.conversation_sid  # type: ignore[union-attr]
    first = engine.messages[sid][0]
    early = engine.add_message(lead.lead_id, "customer", "Maria",  # type: ignore[union-attr]
                               "Here is the porch", first.created_at - timedelta(seconds=0.5))
    engine.emit(ChangesApplied(conversation_sids=frozenset({sid}),
                               message_sids=frozenset({early.message_sid or ""}),
                               thread_sids=frozenset({sid})))
    qtbot.waitUntil(lambda: any(b.message.body == "Here is the porch" for b in bubbles(window)))


def test_texts_faster_than_the_store_answers_still_reach_the_open_thread(
    window: MainWindow, engine: FakeEngine, qtbot
) -> None:  # type: ignore[no-untyped-def]
    """While the thread's read is unanswered, more texts into it ask for no second read:
    one more runs once the first answers, and shows them all. (Restarting the read for
    each text dropped every answer while texts kept coming: the thread stood still.)"""
    import asyncio

    open_lead(window, qtbot, "Maria Gonzalez")
    model = window.thread_model
    qtbot.waitUntil(lambda: window.tasks.running == 0 and not model.reload_pending)
    lead_id = window.current.lead_id  # type: ignore[union-attr]
    engine.answers_held = asyncio.Event()
    reads = engine.calls.count("thread")
    engine.receive(lead_id, "First")
    qtbot.waitUntil(lambda: engine.calls.count("thread") == reads + 1)  # held at the gate
    engine.receive(lead_id, "Second")
    engine.receive(lead_id, "Third")
    qtbot.waitUntil(lambda: not model._reload_timer.isActive())
    assert engine.calls.count("thread") == reads + 1 and model.reload_pending
    engine.answers_held.set()
    qtbot.waitUntil(lambda: bubbles(window)[-1].message.body == "Third")
    qtbot.waitUntil(lambda: window.tasks.running == 0 and not model.reload_pending)
    assert engine.calls.count("thread") == reads + 2


def test_ctrl_enter_and_send_button(window: MainWindow, engine: FakeEngine, qtbot) -> None:  # type: ignore[no-untyped-def]
    open_lead(window, qtbot, "Kevin O'Brien")
    activate(window, qtbot)
    edit = window.pane.composer.edit
    edit.setFocus()
    qtbot.keyClicks(edit, "first")
    qtbot.keyClick(edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: [b for _, b in engine.sent] == ["first"])
    assert not window.pane.composer.send_button.isEnabled()
    qtbot.keyClicks(edit, "second")
    assert window.pane.composer.send_button.isEnabled()
    qtbot.mouseClick(window.pane.composer.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: [b for _, b in engine.sent] == ["first", "second"])
    # blank text never goes out
    qtbot.keyClicks(edit, "   ")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    qtbot.wait(50)
    assert len(engine.sent) == 2


def test_counter_shows_segments_and_encoding(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    open_lead(window, qtbot, "Maria Gonzalez")
    c = window.pane.composer
    qtbot.keyClicks(c.edit, "Hello")
    assert c.counter.text().startswith("5 characters · 1 segment · GSM-7")
    c.edit.clear()
    qtbot.keyClicks(c.edit, "x" * 161)
    assert "2 segments" in c.counter.text()
    c.edit.clear()
    # QTest cannot synthesise non-Latin-1 key presses; an input method inserts text like this
    c.edit.insertPlainText("Привет")
    assert "UCS-2" in c.counter.text()


def test_failed_message_retry_by_click(window: MainWindow, engine: FakeEngine, qtbot) -> None:  # type: ignore[no-untyped-def]
    open_lead(window, qtbot, "James Whitaker")
    view = window.pane.view
    row = next(
        i
        for i in range(window.thread_model.rowCount())
        if isinstance(it := window.thread_model.item_at(i), MessageItem)
        and it.message.status == "failed_local"
    )
    index = window.thread_model.index(row)
    view.scrollTo(index)
    rect = view.delegate.retry_rect(view.visualRect(index), index, view.font())
    assert rect is not None
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: engine.retried == ["ob-demo"])
    qtbot.waitUntil(
        lambda: all(b.message.status not in ("failed_local", "pending") for b in bubbles(window))
    )


def test_send_failure_shows_reason_and_retry(window: MainWindow, engine: FakeEngine, qtbot) -> None:  # type: ignore[no-untyped-def]
    open_lead(window, qtbot, "Maria Gonzalez")
    engine.fail_next_send = ("recipient_opted_out", "The customer opted out")
    qtbot.keyClicks(window.pane.composer.edit, "hello?")
    qtbot.keyClick(window.pane.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bubbles(window)[-1].message.status == "failed_local")
    assert "The customer opted out" in window.status_bar.error_label.text()
    view = window.pane.view
    view.setFocus()
    view.setCurrentIndex(window.thread_model.index(window.thread_model.rowCount() - 1))
    qtbot.keyClick(view, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: len(engine.retried) == 1)


def test_opted_out_disables_composer_with_banner(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    open_lead(window, qtbot, "Alicia Moore")
    c = window.pane.composer
    assert window.pane.optout_banner.isVisible()
    assert "opted out" in window.pane.optout_banner.label.text()
    assert not c.edit.isEnabled() and not c.send_button.isEnabled()
    assert c.blocked.isVisible() and "opted out" in c.blocked.text()


def test_possible_opt_out_prompt_records_the_opt_out(
    window: MainWindow, engine: FakeEngine, qtbot
) -> None:  # type: ignore[no-untyped-def]
    open_lead(window, qtbot, "Tom Becker")
    banner = window.pane.possible_banner
    assert banner.isVisible()
    qtbot.mouseClick(window.pane.opted_out_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.staff_actions.dialog is not None)
    dialog = window.staff_actions.dialog
    assert dialog.accessibleName() == "Record opt-out"
    qtbot.keyClick(dialog.reason.lineEdit(), Qt.Key.Key_Return)  # the first reason
    qtbot.waitUntil(lambda: len(engine.opt_outs) == 1)
    assert engine.opt_outs[0][1] == "Asked us by phone not to text"
    qtbot.waitUntil(lambda: not banner.isVisible() and window.pane.optout_banner.isVisible())
    c = window.pane.composer
    assert not c.edit.isEnabled() and "opted out" in c.blocked.text()


def test_possible_opt_out_dismiss_is_stored(
    window: MainWindow, engine: FakeEngine, qtbot
) -> None:  # type: ignore[no-untyped-def]
    open_lead(window, qtbot, "Tom Becker")
    banner = window.pane.possible_banner
    assert banner.isVisible()
    qtbot.mouseClick(window.pane.keep_button, Qt.MouseButton.LeftButton)
    assert not banner.isVisible()
    qtbot.waitUntil(lambda: len(engine.dismissed) == 1)


def test_lead_panel_shows_submission_and_edits(
    window: MainWindow, engine: FakeEngine, qtbot
) -> None:  # type: ignore[no-untyped-def]
    open_lead(window, qtbot, "Maria Gonzalez")
    panel = window.panel
    assert panel.isVisible()
    shown = " | ".join(lbl.text() for lbl in panel.findChildren(type(window.sidebar.count_label)))
    for expected in (
        "(312) 555-0142",
        "Oak Natural",
        "google",
        "Naperville Showroom",
        "dealer.example.com",
        "Text",
    ):
        assert expected in shown, expected
    panel.pipeline.setCurrentIndex(panel.pipeline.findData("engaged"))
    panel.pipeline.activated.emit(panel.pipeline.currentIndex())
    qtbot.waitUntil(lambda: engine.leads[window.current.lead_id].pipeline_status == "engaged")  # type: ignore[union-attr]
    panel.assignee.setCurrentIndex(panel.assignee.findData("staff-1"))
    panel.assignee.activated.emit(panel.assignee.currentIndex())
    qtbot.waitUntil(lambda: engine.leads[window.current.lead_id].assignee_id == "staff-1")  # type: ignore[union-attr]
    qtbot.keyClicks(panel.note_edit, "Wants samples Saturday")
    qtbot.keyClick(panel.note_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: any(
            n.body == "Wants samples Saturday" for n in engine.leads[window.current.lead_id].notes
        )
    )  # type: ignore[union-attr]
    qtbot.waitUntil(
        lambda: (
            "Wants samples Saturday"
            in " ".join(lbl.text() for lbl in panel.findChildren(type(window.sidebar.count_label)))
        )
    )
    # the inbox row reflects it (mine filter now finds her)
    qtbot.mouseClick(window.sidebar.mine_chip, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.leads_model.index_of(window.current.lead_id) >= 0)  # type: ignore[union-attr]


def test_opening_unread_conversation_marks_it_read(
    window: MainWindow, engine: FakeEngine, qtbot
) -> None:  # type: ignore[no-untyped-def]
    open_lead(window, qtbot, "Kevin O'Brien")
    qtbot.waitUntil(lambda: engine.read_marks == [window.current.conversation_sid])  # type: ignore[union-attr]


def test_inbound_message_shows_bubble_live(window: MainWindow, engine: FakeEngine, qtbot) -> None:  # type: ignore[no-untyped-def]
    open_lead(window, qtbot, "Maria Gonzalez")
    engine.receive(window.current.lead_id, "Also, do you deliver?")  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: bubbles(window)[-1].message.body == "Also, do you deliver?")


def test_templates_fill_merge_fields(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    from app.ui.composer import Template

    window.set_templates([Template("Hi", "Hi {first_name}, it's {staff_name} at {location_name}.")])
    open_lead(window, qtbot, "Maria Gonzalez")
    menu = window.pane.composer.templates_menu
    actions = [a for a in menu.actions() if a.text() == "Hi"]
    actions[0].trigger()
    assert window.pane.composer.text() == "Hi Maria, it's Dana at Naperville Showroom."


def test_templates_menu_is_rebuilt_only_when_they_change(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    from app.ui.composer import Template

    window.set_templates([Template("Hi", "Hi {first_name}!")])
    open_lead(window, qtbot, "Maria Gonzalez")
    menu = window.pane.composer.templates_menu
    [hi] = [a for a in menu.actions() if a.text() == "Hi"]
    open_lead(window, qtbot, "James Whitaker")  # the same templates: the same menu
    assert [a for a in menu.actions() if a.text() == "Hi"] == [hi]
    hi.trigger()  # the merge fields are the lead shown now
    assert window.pane.composer.text() == "Hi James!"
    window.pane.composer.clear()
    window.set_templates([Template("Hello", "Hello {first_name}.")])
    assert [a.text() for a in menu.actions() if a.text() in ("Hi", "Hello")] == ["Hello"]


def test_search_highlights_and_opens(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    activate(window, qtbot)
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.search.hasFocus()
    qtbot.keyClicks(window.search, "tacoma")
    qtbot.waitUntil(lambda: window.search_model.rowCount() == 1)
    assert window.list_stack.currentWidget() is window.results_view
    hit = window.search_model.hit_at(0)
    from app.sync.api import MATCH_START
    from app.ui import theme
    from app.ui.search_delegate import highlight_html

    assert hit is not None and MATCH_START in hit.snippet
    assert "<span" in highlight_html(
        hit.snippet, theme.current()
    ) and "Tacoma</span>" in highlight_html(hit.snippet, theme.current())
    rect = window.results_view.visualRect(window.search_model.index(0))
    qtbot.mouseClick(window.results_view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: window.current is not None and window.current.name == "Kevin O'Brien")
    # Esc clears the search and returns to the inbox
    window.search.setFocus()
    qtbot.keyClick(window.search, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.search.text() == "")
    assert window.list_stack.currentWidget() is window.leads_view
    # the count is the inbox's again, not the search's
    assert window.sidebar.count_label.text() == f"{window.leads_model.total} leads"


def test_search_without_matches_shows_empty_state(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    qtbot.keyClicks(window.search, "zzzz-nothing")
    qtbot.waitUntil(lambda: window.list_stack.currentWidget() is window.sidebar.no_results)


def test_ctrl_k_jumps_to_lead(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    activate(window, qtbot)
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(window.jump.isVisible)
    qtbot.keyClicks(window.jump.edit, "priya")
    qtbot.waitUntil(lambda: window.jump.model.rowCount() == 1)
    qtbot.keyClick(window.jump.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.current is not None and window.current.name == "Priya Raman")
    assert not window.jump.isVisible()


def test_offline_banner_and_status_bar(window: MainWindow, engine: FakeEngine, qtbot) -> None:  # type: ignore[no-untyped-def]
    from app.sync.api import SyncState, SyncStatus

    engine.set_status(
        SyncStatus(SyncState.OFFLINE, pending=2, failed=1, last_error="relay unreachable")
    )
    assert window.offline_banner.isVisible()
    assert "Offline" in window.status_bar.state_label.text()
    assert window.status_bar.queue_label.text() == "2 waiting to send · 1 failed"
    assert window.status_bar.error_label.text() == "relay unreachable"
    engine.set_status(SyncStatus(SyncState.SYNCING))
    bar = window.status_bar
    assert not window.offline_banner.isVisible() and "Syncing" in bar.state_label.text()
    engine.set_status(SyncStatus(SyncState.ONLINE))
    assert "Online" in bar.state_label.text() and bar.queue_label.text() == ""


def test_quiet_hours_warning_only_without_recent_customer_text(
    window: MainWindow, engine: FakeEngine, qtbot
) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from app.ui.quiet import quiet_hours_warning

    # 3 AM in Chicago, last customer text two days ago → warning with the next allowed time
    night = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    text = quiet_hours_warning(
        night,
        phone="+13125550142",
        location_tz="America/Chicago",
        last_inbound_at=datetime(2026, 3, 8, 15, 0, tzinfo=UTC),
    )
    assert text is not None and "8:00 AM" in text and "4:00 AM" in text  # CDT since March 8
    # the customer texted an hour ago → answering is fine at any hour
    assert (
        quiet_hours_warning(
            night,
            phone="+13125550142",
            location_tz="America/Chicago",
            last_inbound_at=datetime(2026, 3, 10, 8, 0, tzinfo=UTC),
        )
        is None
    )
    # midday → fine
    assert (
        quiet_hours_warning(
            datetime(2026, 3, 10, 18, 0, tzinfo=UTC),
            phone="+13125550142",
            location_tz="America/Chicago",
            last_inbound_at=None,
        )
        is None
    )
    # 850 spans Central and Eastern: the window is what both allow, and staff are told
    split = quiet_hours_warning(
        datetime(2026, 7, 17, 0, 30, tzinfo=UTC),  # 19:30 in Pensacola, 20:30 in Tallahassee
        phone="+18505550134",
        location_tz="America/Los_Angeles",
        last_inbound_at=None,
    )
    assert split is not None and "spans time zones" in split
    # in the window: Maria texted minutes ago, so no warning whatever the hour
    open_lead(window, qtbot, "Maria Gonzalez")
    qtbot.waitUntil(lambda: not window.pane.composer.warning.isVisible())
    window.pane.composer.refresh_warning(datetime.now(UTC))
    assert not window.pane.composer.warning.isVisible()
    # Tom's only text is 26 hours old: at 3-4 AM his time tomorrow the composer warns
    from datetime import timedelta

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(hour=9, minute=0)
    open_lead(window, qtbot, "Tom Becker")
    window.pane.composer.refresh_warning(tomorrow)
    assert window.pane.composer.warning.isVisible()
    assert "Next allowed time" in window.pane.composer.warning.text()


def test_a_long_page_url_does_not_push_the_lead_panel_out_of_sight(
    window: MainWindow, engine: FakeEngine, qtbot
) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    lead = next(d for d in engine.leads.values() if d.name == "Maria Gonzalez")
    # no break opportunity in a long host name: wrapping cannot make it narrower
    long_url = "https://www.lakeshoremotorsandfinecarsofnorthernillinois.example/used"
    engine.leads[lead.lead_id] = replace(lead, page_url=long_url)
    open_lead(window, qtbot, "Maria Gonzalez")
    panel = window.panel
    qtbot.waitUntil(lambda: any(lbl.text() == long_url for lbl in panel.findChildren(
        type(window.sidebar.count_label))))
    qtbot.wait(50)  # layout
    body, viewport = panel.widget(), panel.viewport()
    # the panel's content fits its width: the status menu and the Add button stay whole
    assert body.width() <= viewport.width()
    for w in (panel.pipeline, panel.note_button):
        right = w.mapTo(body, w.rect().topRight()).x()
        assert right <= viewport.width(), (type(w).__name__, right, viewport.width())


def test_automatic_messages_say_so_with_the_location_never_a_number(
    window: MainWindow, engine: FakeEngine, qtbot  # type: ignore[no-untyped-def]
) -> None:
    """The relay's greeting, the lead's details to the store and an after-hours reply
    are author_kind "system"; their author is the number they were sent from. The
    thread names them "Automatic message" and the location, on screen (painted) and
    to screen readers."""
    from datetime import UTC, datetime, timedelta

    from PySide6.QtCore import QRect
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QStyleOptionViewItem

    from app.ui import theme
    from app.ui.roles import AUTHOR_ROLE

    maria = next(d for d in engine.leads.values() if d.name == "Maria Gonzalez")
    start = datetime.now(UTC) - timedelta(minutes=2)
    engine.add_message(
        maria.lead_id, "system", "+18475550186",
        "Hi Maria, thanks for your interest! Reply here to text with our team.", start,
    )
    engine.add_message(
        maria.lead_id, "system", "+13125550142",
        "New web lead: Maria Gonzalez, Oak Natural 7in plank", start + timedelta(seconds=1),
    )
    engine.add_message(
        maria.lead_id, "system", "+18475550186",
        "Thanks for your text! We're closed now and will answer at 9am.",
        start + timedelta(minutes=1),
    )
    open_lead(window, qtbot, "Maria Gonzalez")
    model = window.thread_model
    system = [
        i for i in range(model.rowCount())
        if isinstance(model.item_at(i), MessageItem)
        and model.item_at(i).message.author_kind == "system"  # type: ignore[union-attr]
    ]
    assert len(system) == 3
    for i in system:
        label = model.data(model.index(i), AUTHOR_ROLE)
        spoken = model.data(model.index(i), Qt.ItemDataRole.AccessibleTextRole)
        assert label == "Automatic message · Naperville Showroom"
        assert spoken.startswith("Automatic message from Naperville Showroom, ")
        assert "+1" not in label and "+1" not in spoken and "System" not in spoken
    # the painted author line is that label: the bubble's paint, cut to its author
    # line, is exactly the label drawn alone there
    view = window.pane.view
    index = model.index(system[0])
    item = model.item_at(system[0])
    assert isinstance(item, MessageItem) and item.show_author
    option = QStyleOptionViewItem()
    view.initViewItemOption(option)
    option.rect = QRect(0, 0, view.viewport().width(), view.visualRect(index).height())
    lay = view.delegate.layout(option.rect, item.message, True, option.font)
    assert lay.author is not None

    def image(paint) -> QImage:  # type: ignore[no-untyped-def]
        img = QImage(option.rect.size(), QImage.Format.Format_ARGB32_Premultiplied)
        img.fill(Qt.GlobalColor.transparent)
        p = QPainter(img)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        paint(p)
        p.end()
        return img.copy(lay.author)

    def label_alone(p: QPainter) -> None:
        p.setFont(view.delegate._metrics(option.font).author)
        p.setPen(theme.current().color("text_muted"))
        p.drawText(
            lay.author, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter,
            "Automatic message · Naperville Showroom",
        )

    painted = image(lambda p: view.delegate.paint(p, option, index))
    assert painted == image(label_alone)
    assert any(
        painted.pixelColor(x, y).alpha()
        for x in range(painted.width())
        for y in range(painted.height())
    )
