"""Emoji and every script render: customers text emoji and have Arabic or Hebrew
names. Qt falls back from the app's font to a font that has each character; where
none has it, it draws the font's replacement box (glyph 0, ".notdef"). On Linux the
.deb depends on a color emoji font (fonts-noto-color-emoji, which scripts/bootstrap
installs where the tests run)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QTextLayout
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem

from app.ui.mainwindow import MainWindow
from app.ui.painting import font_variant
from app.ui.thread_model import MessageItem
from tests.ui.conftest import open_lead
from tests.ui.fake_engine import FakeEngine

EMOJI = "😀👍🏽❤️🚗🎉"
RTL_NAMES = ("نور حداد", "דנה כהן")
MESSAGE = f"Can I bring my dog? 🐶 {EMOJI}"


def glyph_runs(text: str, font: QFont) -> list[tuple[str, list[int]]]:
    """(font family, glyph indexes) of each run Qt lays `text` out in."""
    layout = QTextLayout(text, font)
    layout.beginLayout()
    layout.createLine()
    layout.endLayout()
    return [(run.rawFont().familyName(), list(run.glyphIndexes())) for run in layout.glyphRuns()]


def app_fonts(app: QApplication) -> list[QFont]:
    """The fonts the inbox rows and bubbles draw with: the base, bold and small ones."""
    base = QFont(app.font())
    return [base, font_variant(base, bold=True), font_variant(base, size_delta=-1.5)]


def test_the_fallback_chain_has_a_glyph_for_emoji_and_rtl_names(themed_app: QApplication) -> None:
    for font in app_fonts(themed_app):
        for text in (MESSAGE, *RTL_NAMES):
            runs = glyph_runs(text, font)
            assert runs
            for family, glyphs in runs:
                assert 0 not in glyphs, (
                    f"{text!r} draws a replacement box in {family}: no font has it "
                    "(scripts/bootstrap installs fonts-noto-color-emoji)"
                )
        emoji_families = {family for family, _ in glyph_runs(EMOJI, font)}
        assert emoji_families and all("Emoji" in f for f in emoji_families), emoji_families
    # the check can fail: a character no font has gets glyph 0
    assert any(0 in g for _, g in glyph_runs("\U000f0000", app_fonts(themed_app)[0]))


def _saturated(image: QImage) -> int:
    """Pixels in a strong colour (a color emoji; grey text and bubbles are not)."""
    count = 0
    for y in range(image.height()):
        for x in range(image.width()):
            c = image.pixelColor(x, y)
            if c.alpha() > 128 and c.hsvSaturationF() > 0.5 and c.valueF() > 0.3:
                count += 1
    return count


def test_a_painted_emoji_and_rtl_name_draw_no_replacement_box(
    window: MainWindow, engine: FakeEngine, qtbot: Any
) -> None:
    """A customer with an Arabic name texts emoji: the inbox row and the bubble are
    painted by the app's delegates; the emoji come out in colour (never a box), and
    each text painted differs from the same number of replacement boxes."""
    name = RTL_NAMES[0]
    lead = engine.add_lead(name, "+13125550160", minutes_ago=0, message=MESSAGE)
    engine.add_message(lead.lead_id, "customer", name, EMOJI, datetime.now(UTC), "received")
    window.leads_model.reload(now=True)
    qtbot.waitUntil(lambda: window.leads_model.index_of_name(name) >= 0)
    open_lead(window, qtbot, name)
    view = window.pane.view
    model = window.thread_model
    row = next(
        i for i in range(model.rowCount())
        if isinstance(model.item_at(i), MessageItem)
        and model.item_at(i).message.body == EMOJI  # type: ignore[union-attr]
    )
    item = model.item_at(row)
    assert isinstance(item, MessageItem)
    option = QStyleOptionViewItem()
    view.initViewItemOption(option)
    option.rect = QRect(0, 0, view.viewport().width(), view.visualRect(model.index(row)).height())
    image = QImage(option.rect.size(), QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    view.delegate.paint(painter, option, model.index(row))
    painter.end()
    text_rect = view.delegate.layout(option.rect, item.message, item.show_author, option.font).text
    assert _saturated(image.copy(text_rect)) > 50  # the emoji, in colour
    # and not what boxes look like: the same count of characters no font has
    font = QFont(option.font)
    for text in (EMOJI, name):
        boxes = "\U000f0000" * len(text)
        assert _drawn(text, font) != _drawn(boxes, font)
    # the inbox row names the customer in their script, with no box either
    index = window.leads_model.index(window.leads_model.index_of_name(name))
    assert window.leads_model.data(index, Qt.ItemDataRole.DisplayRole) == name
    for family, glyphs in glyph_runs(name, font_variant(window.leads_view.font(), bold=True)):
        assert 0 not in glyphs, family


def _drawn(text: str, font: QFont) -> QImage:
    image = QImage(400, 60, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setFont(font)
    painter.setPen(QColor("black"))
    painter.drawText(image.rect(), Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return image
