"""Notification policy (pure) and the tray controller (icon badge, tooltip, clicks, quit)."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import Qt

from app.sync.api import InboundMessage, InboundMessages
from app.ui.notify_policy import NotificationPolicy
from app.ui.resources import tray_icon
from app.ui.tray import TrayController


def msg(
    sid: str, conv: str = "CH1", name: str = "Maria", body: str = "hi", lead: str = "L1"
) -> InboundMessage:
    return InboundMessage(sid, conv, lead, name, "loc-1", body, datetime.now(UTC))


def caught_up() -> NotificationPolicy:
    p = NotificationPolicy()
    p.catch_up_finished()
    return p


def test_one_notification_per_new_message() -> None:
    p = caught_up()
    [n] = p.decide(InboundMessages((msg("IM1", body="Is it in stock?"),)), None, False)
    assert (n.title, n.body, n.conversation_sid, n.lead_id, n.count) == (
        "Maria",
        "Is it in stock?",
        "CH1",
        "L1",
        1,
    )
    [n2] = p.decide(InboundMessages((msg("IM2", body="Hello?"),)), None, False)
    assert n2.body == "Hello?"


def test_never_twice_for_the_same_message() -> None:
    p = caught_up()
    assert len(p.decide(InboundMessages((msg("IM1"),)), None, False)) == 1
    assert p.decide(InboundMessages((msg("IM1"),)), None, False) == []


def test_several_at_once_become_one_summary() -> None:
    p = caught_up()
    batch = InboundMessages(
        (
            msg("IM1", "CH1", "Maria"),
            msg("IM2", "CH2", "James"),
            msg("IM3", "CH3", "Priya"),
            msg("IM4", "CH1", "Maria"),
        )
    )
    [n] = p.decide(batch, None, False)
    assert n.title == "4 new messages" and n.body == "From Maria, James and 1 more"
    assert n.conversation_sid is None  # several conversations: clicking opens the inbox
    [same] = caught_up().decide(InboundMessages((msg("IM5"), msg("IM6"))), None, False)
    assert same.conversation_sid == "CH1" and same.body == "From Maria"


def test_silent_during_first_catch_up_then_summarised() -> None:
    p = NotificationPolicy()
    assert (
        p.decide(InboundMessages((msg("IM1"), msg("IM2")), during_catch_up=True), None, False) == []
    )
    p.catch_up_finished()
    # a later catch-up (back from offline) summarises instead
    [n] = p.decide(
        InboundMessages((msg("IM3"), msg("IM4", "CH2", "Bo")), during_catch_up=True), None, False
    )
    assert n.count == 2
    # live messages before the first catch-up finished still notify
    q = NotificationPolicy()
    assert len(q.decide(InboundMessages((msg("IM9"),)), None, False)) == 1


def test_none_for_the_open_conversation_in_a_focused_window() -> None:
    p = caught_up()
    assert p.decide(InboundMessages((msg("IM1", "CH1"),)), "CH1", True) == []
    # not focused: notify
    assert len(p.decide(InboundMessages((msg("IM2", "CH1"),)), "CH1", False)) == 1
    # focused but another conversation: notify
    assert len(p.decide(InboundMessages((msg("IM3", "CH2"),)), "CH1", True)) == 1


def test_long_bodies_are_shortened() -> None:
    [n] = caught_up().decide(InboundMessages((msg("IM1", body="x " * 200),)), None, False)
    assert len(n.body) <= 120 and n.body.endswith("…")


def test_tray_badge_tooltip_and_clicks(qtbot) -> None:  # type: ignore[no-untyped-def]
    tray = TrayController(available=True)
    assert tray.icon is not None
    tray.set_unread(3)
    assert tray.icon.toolTip() == "Web2Text — 3 unread messages"
    plain = tray_icon(0).pixmap(32, 32).toImage()
    badged = tray_icon(3).pixmap(32, 32).toImage()
    # the badge is drawn in the top-right corner in red
    px = badged.pixelColor(int(badged.width() * 0.85), int(badged.height() * 0.2))
    assert px.red() > 180 and px.green() < 120, px.name()
    assert plain != badged
    tray.set_unread(0)
    assert tray.icon.toolTip() == "Web2Text — no unread messages"

    p = caught_up()
    [n] = p.decide(InboundMessages((msg("IM1", "CH7", lead="L7"),)), None, False)
    tray.notify(n)
    with qtbot.waitSignal(tray.conversationRequested) as blocker:
        tray.icon.messageClicked.emit()
    assert blocker.args == ["CH7", "L7"]
    with qtbot.waitSignal(tray.quitRequested):
        tray.quit_action.trigger()
    with qtbot.waitSignal(tray.openRequested):
        tray.open_action.trigger()
    tray.hide()


def test_tray_unavailable_has_no_icon(qtbot) -> None:  # type: ignore[no-untyped-def]
    tray = TrayController(available=False)
    assert tray.icon is None
    tray.set_unread(5)  # no crash without a tray
    assert tray.tooltip() == "Web2Text — 5 unread messages"
    _ = Qt
