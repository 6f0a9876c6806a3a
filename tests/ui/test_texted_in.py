"""A lead a customer's text made (`source` "inbound_sms") is marked "Texted in": a chip
after the name on its inbox row, in light and dark, said in the row's accessible text,
and in the lead panel; a website lead has none of it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QAccessible, QImage, QPainter
from PySide6.QtWidgets import QApplication

from app.sync.api import TEXTED_IN
from app.ui import theme
from app.ui.mainwindow import MainWindow
from app.ui.roles import ROW_ROLE
from app.ui.theme import ThemeManager
from tests.ui.conftest import open_lead
from tests.ui.fake_engine import FakeEngine, demo_engine

TESS = "Tess Textedin"
#: where the screenshots go for a look (QWidget.grab)
SHOTS = Path(os.environ.get("W2T_SHOTS_DIR", "/tmp"))


@pytest.fixture
def engine() -> FakeEngine:
    e = demo_engine()
    e.add_lead(
        TESS,
        "+13125550188",
        minutes_ago=0.2,
        message="Back again - is the walnut still on sale?",
        source=TEXTED_IN,
    )
    return e


def _row_index(window: MainWindow, name: str) -> Any:
    model = window.leads_model
    i = next(i for i in range(model.rowCount()) if model.row_at(i).name == name)  # type: ignore[union-attr]
    return model.index(i, 0)


def _picture(window: MainWindow, index: Any, *, selected: bool = False) -> QImage:
    delegate = window.lead_delegate
    image = QImage(360, delegate.HEIGHT, QImage.Format.Format_ARGB32)
    image.fill(theme.current().color("surface"))
    painter = QPainter(image)
    delegate.paint_row(
        painter,
        QRect(0, 0, 360, delegate.HEIGHT),
        index,
        selected=selected,
        hover=False,
        font=window.leads_view.font(),
    )
    painter.end()
    return image


def _has_color(image: QImage, color: str, top: int, bottom: int) -> bool:
    wanted = theme.current().color(color).rgb()
    return any(
        image.pixel(x, y) == wanted for y in range(top, bottom) for x in range(image.width())
    )


def test_the_row_and_its_accessible_text_say_texted_in_and_a_website_lead_does_not(
    window: MainWindow,
) -> None:
    tess = _row_index(window, TESS).data(ROW_ROLE)
    maria = _row_index(window, "Maria Gonzalez").data(ROW_ROLE)
    assert (tess.source, maria.source) == (TEXTED_IN, "web")
    iface = QAccessible.queryAccessibleInterface(window.leads_view)
    assert iface is not None
    texts = [iface.child(i).text(QAccessible.Text.Name) for i in range(iface.childCount())]
    said = next(t for t in texts if t.startswith(TESS))
    assert said.startswith(f"{TESS}, texted in, ")
    assert not [t for t in texts if "texted in" in t and not t.startswith(TESS)]
    assert "texted in" in _row_index(window, TESS).data(Qt.ItemDataRole.AccessibleTextRole)


@pytest.mark.parametrize("look", [theme.LIGHT, theme.DARK], ids=["light", "dark"])
def test_the_chip_is_painted_on_the_name_line_in_both_themes(
    window: MainWindow, look: theme.Theme
) -> None:
    kept = theme.current()
    theme.set_current(look)
    try:
        index = _row_index(window, TESS)
        marked = _picture(window, index)
        name_line = (11, 31)  # the delegate's first line
        assert _has_color(marked, "info_bg", *name_line)
        assert not _has_color(marked, "info_bg", 31, window.lead_delegate.HEIGHT)
        # on a selected row too (the selection colour is not the chip's)
        assert _has_color(_picture(window, index, selected=True), "info_bg", *name_line)
        # a website lead: no chip anywhere on its row
        maria = _picture(window, _row_index(window, "Maria Gonzalez"))
        assert not _has_color(maria, "info_bg", 0, window.lead_delegate.HEIGHT)
    finally:
        theme.set_current(kept)


def test_a_narrow_row_keeps_the_name_and_drops_the_chip(window: MainWindow) -> None:
    index = _row_index(window, TESS)
    delegate = window.lead_delegate
    image = QImage(150, delegate.HEIGHT, QImage.Format.Format_ARGB32)
    image.fill(theme.current().color("surface"))
    painter = QPainter(image)
    delegate.paint_row(
        painter, QRect(0, 0, 150, delegate.HEIGHT), index, selected=False, hover=False,
        font=window.leads_view.font(),
    )
    painter.end()
    assert not _has_color(image, "info_bg", 0, delegate.HEIGHT)


def test_the_lead_panel_marks_a_texted_in_lead_only(window: MainWindow, qtbot: Any) -> None:
    panel = window.lead_panel.panel
    open_lead(window, qtbot, TESS)
    qtbot.waitUntil(lambda: panel.lead is not None and panel.lead.name == TESS)
    assert panel.texted_in.isVisibleTo(panel)
    assert "texted" in panel.texted_in.accessibleName().lower()
    assert not panel.info.isRowVisible(panel._rows["Page"])  # a text has no page
    open_lead(window, qtbot, "Maria Gonzalez")
    qtbot.waitUntil(lambda: panel.lead is not None and panel.lead.name == "Maria Gonzalez")
    assert not panel.texted_in.isVisibleTo(panel)
    assert panel.info.isRowVisible(panel._rows["Page"])


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_window_shows_the_mark_in_each_theme(
    window: MainWindow, qtbot: Any, scheme: str
) -> None:
    """The whole window grabbed offscreen (saved under W2T_SHOTS_DIR for a look): the
    chip is on the inbox row and in the panel, in the theme's own colours."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    ThemeManager(app, force=scheme, set_style=False)
    try:
        window.resize(1280, 760)
        open_lead(window, qtbot, TESS)
        qtbot.waitUntil(lambda: window.lead_panel.panel.texted_in.isVisible())
        shot = window.grab()
        assert shot.save(str(SHOTS / f"texted-in-{scheme}.png"))
        inbox = window.leads_view.viewport().grab().toImage()
        assert _has_color(inbox, "info_bg", 0, inbox.height())
        chip = window.lead_panel.panel.texted_in.grab().toImage()
        assert _has_color(chip, "info_bg", 0, chip.height())
    finally:
        ThemeManager(app, force="light", set_style=False)
