"""Painting of an inbox row (the leads list and the Ctrl+K popup)."""

from __future__ import annotations

import zlib
from collections import OrderedDict
from datetime import datetime
from typing import NamedTuple

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

from app.sync.api import TEXTED_IN, LeadRow
from app.ui import fmt, theme
from app.ui.painting import draw_pill, font_variant, pill_width
from app.ui.roles import LOCATION_ROLE, ROW_ROLE, Index

AVATAR_COLORS = ["#5B8DEF", "#E2725B", "#3DA67A", "#A66CE0", "#D9A21B", "#2BA5B5", "#D9547F"]

#: the least of a location's name worth drawing after a lead's name (less says nothing)
_SHORTEST_PLACE = "Pre-Ow…"
#: the mark of a lead a customer's text made (after a closed thread, or a new number)
TEXTED_IN_LABEL = "Texted in"
#: the least of a name worth keeping beside the mark (narrower: the mark is left out)
_SHORTEST_NAME = "Alexa…"

_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


class _LeadFonts(NamedTuple):
    initials: QFont
    time: QFont
    time_bold: QFont
    name: QFont
    small: QFont
    small_bold: QFont
    chip: QFont
    assignee: QFont
    tfm: QFontMetrics
    tfm_bold: QFontMetrics
    nfm: QFontMetrics
    sfm: QFontMetrics
    cfm: QFontMetrics
    afm: QFontMetrics

    @classmethod
    def of(cls, base: QFont) -> _LeadFonts:
        time = font_variant(base, size_delta=-1)
        time_bold = font_variant(base, size_delta=-1, bold=True)
        name = font_variant(base, size_delta=0.5, bold=True)
        small = font_variant(base, size_delta=-0.5)
        chip = font_variant(base, size_delta=-1.5, bold=True)
        assignee = font_variant(base, size_delta=-1.5)
        return cls(
            initials=font_variant(base, bold=True),
            time=time,
            time_bold=time_bold,
            name=name,
            small=small,
            small_bold=font_variant(small, bold=True),
            chip=chip,
            assignee=assignee,
            tfm=QFontMetrics(time),
            tfm_bold=QFontMetrics(time_bold),
            nfm=QFontMetrics(name),
            sfm=QFontMetrics(small),
            cfm=QFontMetrics(chip),
            afm=QFontMetrics(assignee),
        )


class RowLook(NamedTuple):
    """What a row shows besides its data: its state and the texts that follow the clock."""

    selected: bool
    hover: bool
    focused: bool  # the row has the keyboard (a ring, so it shows where keys go)
    when: str  # relative time of the last activity
    waiting: str  # speed-to-lead timer ("" once answered)
    urgent: bool  # the timer ran past URGENT_AFTER_S
    place: str  # the location's short name in a mixed inbox ("" otherwise)


class LeadDelegate(QStyledItemDelegate):
    """Avatar, name, time, preview, pipeline chip, assignee, speed-to-lead timer, unread badge.

    Painting a row costs ~60 Qt calls; the inbox repaints its visible rows after every
    (coalesced) refresh while changes stream in, and most rows did not change. So each
    row is drawn once into a pixmap kept under a key of everything it shows (the row's
    data, the texts that depend on the clock, size, state, theme, font, pixel ratio);
    a repaint of an unchanged row is one drawPixmap.
    """

    HEIGHT = 78
    URGENT_AFTER_S = 5 * 60
    CACHE_ROWS = 300  # a few screens of rows (about 70 KB each at 2x)

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self.now: datetime | None = None  # tests pin the clock
        self._fonts: dict[str, _LeadFonts] = {}
        self._pixmaps: OrderedDict[tuple[object, ...], QPixmap] = OrderedDict()
        self.drawn = 0  # rows drawn from scratch (the rest came from the cache)

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return QSize(280, self.HEIGHT)

    def _fonts_for(self, base: QFont) -> _LeadFonts:
        key = base.key()
        fonts = self._fonts.get(key)
        if fonts is None:
            fonts = self._fonts[key] = _LeadFonts.of(base)
        return fonts

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        from PySide6.QtWidgets import QStyle

        state = option.state
        selected = bool(state & QStyle.StateFlag.State_Selected)
        hover = bool(state & QStyle.StateFlag.State_MouseOver)
        focused = bool(state & QStyle.StateFlag.State_HasFocus)
        self.paint_row(
            p, option.rect, index, selected=selected, hover=hover, font=option.font,
            focused=focused,
        )

    def paint_row(
        self, p: QPainter, r: QRect, index: Index, *, selected: bool, hover: bool, font: QFont,
        focused: bool = False,
    ) -> None:
        """`paint` without a QStyleOptionViewItem (OnePassListView): no QStyle either,
        whose Python type alone (its enums) takes PySide ~13 ms to make, in the first
        paint."""
        row: LeadRow | None = index.data(ROW_ROLE)
        if row is None:
            return
        # in a mixed inbox (a shopper who wrote to two stores is two leads, one name)
        place: str = index.data(LOCATION_ROLE) or ""
        look = self._look(
            row, selected=selected, hover=hover and not selected, place=place, focused=focused
        )
        device = p.device()
        dpr = device.devicePixelRatioF() if device is not None else 1.0
        t = theme.current()
        # (phones_loaded: a phone's display form can change once, see fmt.format_phone)
        style = (t.dark, font.key(), fmt.phones_loaded())
        key = (row, (r.width(), r.height(), dpr), style, look)
        pixmap = self._pixmaps.get(key)
        if pixmap is None:
            pixmap = self._render(row, look, r.size(), dpr, t, font)
            self._pixmaps[key] = pixmap
            if len(self._pixmaps) > self.CACHE_ROWS:
                self._pixmaps.popitem(last=False)
        else:
            self._pixmaps.move_to_end(key)
        p.drawPixmap(r.topLeft(), pixmap)

    def _look(
        self, row: LeadRow, *, selected: bool, hover: bool, place: str, focused: bool = False
    ) -> RowLook:
        now = self.now or fmt.now_utc()
        waiting, urgent = "", False
        if row.awaiting_first_reply_since is not None and not row.opted_out:
            waiting = fmt.waiting_time(row.awaiting_first_reply_since, now)
            urgent = (now - row.awaiting_first_reply_since).total_seconds() >= self.URGENT_AFTER_S
        when = fmt.relative_time(row.last_activity_at, now)
        return RowLook(selected, hover, focused, when, waiting, urgent, place)

    def _render(
        self, row: LeadRow, look: RowLook, size: QSize, dpr: float, t: theme.Theme, base: QFont
    ) -> QPixmap:
        """The row drawn once into a pixmap of its size at the screen's pixel ratio."""
        pixmap = QPixmap(max(1, round(size.width() * dpr)), max(1, round(size.height() * dpr)))
        pixmap.setDevicePixelRatio(dpr)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        self._draw(painter, QRect(0, 0, size.width(), size.height()), row, t,
                   self._fonts_for(base), look)
        painter.end()
        self.drawn += 1
        return pixmap

    def _draw(
        self, p: QPainter, r: QRect, row: LeadRow, t: theme.Theme, f: _LeadFonts, look: RowLook
    ) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        _draw_background(p, r, t, look)
        avatar = _draw_avatar(p, r, row, f)
        left, right = avatar.right() + 12, r.right() - 14
        line1 = QRect(left, r.top() + 11, right - left, 20)
        _draw_name_line(p, line1, row, t, f, look)
        line2 = QRect(left, line1.bottom() + 2, right - left, 18)
        _draw_preview_line(p, line2, row, t, f)
        line3 = QRect(left, line2.bottom() + 4, right - left, 17)
        _draw_status_line(p, line3, row, t, f, look)


def _draw_background(p: QPainter, r: QRect, t: theme.Theme, look: RowLook) -> None:
    if look.selected:
        p.fillRect(r, t.color("selection"))
        p.fillRect(QRect(r.left(), r.top(), 3, r.height()), t.color("accent"))
    elif look.hover:
        p.fillRect(r, t.color("surface_alt"))
    p.setPen(t.color("border"))
    p.drawLine(r.left() + 64, r.bottom(), r.right(), r.bottom())
    if look.focused:
        p.setPen(QPen(t.color("accent"), 2))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRoundedRect(r.adjusted(2, 2, -2, -2), 6, 6)


def _draw_avatar(p: QPainter, r: QRect, row: LeadRow, f: _LeadFonts) -> QRect:
    """The initials on a circle whose colour follows the lead; returns its rectangle."""
    av = QRect(r.left() + 14, r.top() + 14, 38, 38)
    color = QColor(AVATAR_COLORS[zlib.crc32(row.lead_id.encode()) % len(AVATAR_COLORS)])
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(color)
    p.drawEllipse(av)
    p.setPen(QColor("white"))
    p.setFont(f.initials)
    p.drawText(av, Qt.AlignmentFlag.AlignCenter, fmt.initials(row.name))
    return av


def _draw_name_line(
    p: QPainter, line: QRect, row: LeadRow, t: theme.Theme, f: _LeadFonts, look: RowLook
) -> None:
    """Line 1: the name (or phone), the "Texted in" mark, the location in a mixed
    inbox, the time on the right."""
    unread = row.unread > 0
    tw = (f.tfm_bold if unread else f.tfm).horizontalAdvance(look.when)
    p.setFont(f.time_bold if unread else f.time)
    p.setPen(t.color("accent") if unread else t.color("text_muted"))
    p.drawText(line, _RIGHT, look.when)
    room = line.width() - tw - 10
    mark_w = pill_width(f.cfm, TEXTED_IN_LABEL, 7) if row.source == TEXTED_IN else 0
    if mark_w and room - mark_w - 6 < f.nfm.horizontalAdvance(_SHORTEST_NAME):
        mark_w = 0  # too narrow for both: the name wins (the accessible text says it)
    p.setFont(f.name)
    p.setPen(t.color("text"))
    name = f.nfm.elidedText(
        row.name or fmt.format_phone(row.phone),
        Qt.TextElideMode.ElideRight,
        room - (mark_w + 6 if mark_w else 0),
    )
    p.drawText(line, _LEFT, name)
    used = f.nfm.horizontalAdvance(name)
    if mark_w:
        used += 6
        h = f.cfm.height() + 2
        mark = QRect(line.left() + used, line.top() + (line.height() - h) // 2, mark_w, h)
        draw_pill(p, mark, t.color("info_bg"), t.color("info"), TEXTED_IN_LABEL, f.chip)
        used += mark_w
    if look.place:
        _draw_place(p, line, used, tw, t, f, look.place)


def _draw_place(
    p: QPainter, line: QRect, name_w: int, time_w: int, t: theme.Theme, f: _LeadFonts, place: str
) -> None:
    """The location after the name (`name_w`: the name and its mark), in what room they
    leave (none: not drawn; a stub would say nothing)."""
    sep = f.afm.horizontalAdvance(" · ")
    x_place = line.left() + name_w + sep
    room = line.right() - time_w - 10 - x_place
    if room < f.afm.horizontalAdvance(_SHORTEST_PLACE):
        return
    p.setFont(f.assignee)
    p.setPen(t.color("text_muted"))
    p.drawText(
        QRect(x_place - sep, line.top(), room + sep, line.height()),
        _LEFT,
        " · " + f.afm.elidedText(place, Qt.TextElideMode.ElideRight, room),
    )


def _draw_preview_line(
    p: QPainter, line: QRect, row: LeadRow, t: theme.Theme, f: _LeadFonts
) -> None:
    """Line 2: the last message (or the phone) and the unread badge."""
    unread = row.unread > 0
    badge_w = 0
    if unread:
        btext = "99+" if row.unread > 99 else str(row.unread)
        badge_w = max(20, f.sfm.horizontalAdvance(btext) + 12)
        badge = QRect(line.right() + 1 - badge_w, line.top(), badge_w, 18)
        draw_pill(p, badge, t.color("accent"), QColor("white"), btext, f.small_bold)
    preview = " ".join((row.last_message_preview or fmt.format_phone(row.phone)).split())
    p.setFont(f.small)
    p.setPen(t.color("text") if unread else t.color("text_muted"))
    p.drawText(
        line.adjusted(0, 0, -(badge_w + 8), 0),
        _LEFT,
        f.sfm.elidedText(preview, Qt.TextElideMode.ElideRight, line.width() - badge_w - 8),
    )


def _draw_status_line(
    p: QPainter, line: QRect, row: LeadRow, t: theme.Theme, f: _LeadFonts, look: RowLook
) -> None:
    """Line 3: the pipeline chip, the speed-to-lead timer, the assignee on the right."""
    label = fmt.PIPELINE_LABELS.get(row.pipeline_status, row.pipeline_status)
    if row.status == "CLOSED":
        label = f"{label} · Closed"
    if row.opted_out:
        label = "Opted out"
    x, y, h = line.left(), line.top(), line.height()
    w = pill_width(f.cfm, label, 7)
    chip_bg = t.color("danger_bg") if row.opted_out else t.color("surface_alt")
    chip_fg = t.color("danger") if row.opted_out else t.color("text_muted")
    draw_pill(p, QRect(x, y, w, h), chip_bg, chip_fg, label, f.chip)
    x += w + 6
    if look.waiting:
        text = "Waiting " + look.waiting
        w = pill_width(f.cfm, text, 7)
        bg = t.color("danger_bg") if look.urgent else t.color("warning_bg")
        fg = t.color("danger") if look.urgent else t.color("warning")
        draw_pill(p, QRect(x, y, w, h), bg, fg, text, f.chip)
        x += w + 6
    room = line.right() + 1 - x - 2
    assignee = row.assignee_name or "Unassigned"
    assignee = f.afm.elidedText(assignee, Qt.TextElideMode.ElideRight, room)
    p.setFont(f.assignee)
    p.setPen(t.color("text_muted"))
    p.drawText(QRect(x + 2, y, room, h), _RIGHT, assignee)
