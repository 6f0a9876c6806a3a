"""Custom painting for inbox rows, search hits and message bubbles."""

from __future__ import annotations

import zlib
from collections import OrderedDict
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QCursor,
    QFont,
    QFontMetrics,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPixmap,
)
from PySide6.QtWidgets import (
    QListView,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from app.sync.api import MATCH_END, MATCH_START, LeadRow, SearchHit, ThreadMessage
from app.ui import fmt, theme
from app.ui.models import LOCATION_ROLE, ROW_ROLE, DayItem, MessageItem

if TYPE_CHECKING:
    from PySide6.QtGui import QTextDocument

Index = QModelIndex | QPersistentModelIndex

AVATAR_COLORS = ["#5B8DEF", "#E2725B", "#3DA67A", "#A66CE0", "#D9A21B", "#2BA5B5", "#D9547F"]


def _font(base: QFont, *, size_delta: float = 0, bold: bool = False) -> QFont:
    f = QFont(base)
    if size_delta:
        f.setPointSizeF(max(6.0, f.pointSizeF() + size_delta))
    f.setBold(bold)
    return f


def draw_pill(p: QPainter, rect: QRect, bg: QColor, fg: QColor, text: str, font: QFont) -> None:
    p.save()
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(bg)
    p.drawRoundedRect(rect, rect.height() / 2, rect.height() / 2)
    p.setPen(fg)
    p.setFont(font)
    p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
    p.restore()


def pill_width(fm: QFontMetrics, text: str, pad: int = 8) -> int:
    return fm.horizontalAdvance(text) + 2 * pad


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
        time, time_bold = _font(base, size_delta=-1), _font(base, size_delta=-1, bold=True)
        name, small = _font(base, size_delta=0.5, bold=True), _font(base, size_delta=-0.5)
        chip, assignee = _font(base, size_delta=-1.5, bold=True), _font(base, size_delta=-1.5)
        return cls(
            initials=_font(base, bold=True),
            time=time,
            time_bold=time_bold,
            name=name,
            small=small,
            small_bold=_font(small, bold=True),
            chip=chip,
            assignee=assignee,
            tfm=QFontMetrics(time),
            tfm_bold=QFontMetrics(time_bold),
            nfm=QFontMetrics(name),
            sfm=QFontMetrics(small),
            cfm=QFontMetrics(chip),
            afm=QFontMetrics(assignee),
        )


#: the least of a location's name worth drawing after a lead's name (less says nothing)
_SHORTEST_PLACE = "Pre-Ow…"


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
        self.paint_row(p, option.rect, index, selected=selected, hover=hover, font=option.font)

    def paint_row(
        self, p: QPainter, r: QRect, index: Index, *, selected: bool, hover: bool, font: QFont
    ) -> None:
        """`paint` without a QStyleOptionViewItem (OnePassListView): no QStyle either,
        whose Python type alone (its enums) takes PySide ~13 ms to make, in the first
        paint."""
        row: LeadRow | None = index.data(ROW_ROLE)
        if row is None:
            return
        t = theme.current()
        now = self.now or fmt.now_utc()
        hover = hover and not selected
        when = fmt.relative_time(row.last_activity_at, now)
        waiting, urgent = "", False
        if row.awaiting_first_reply_since is not None and not row.opted_out:
            waiting = fmt.waiting_time(row.awaiting_first_reply_since, now)
            urgent = (now - row.awaiting_first_reply_since).total_seconds() >= self.URGENT_AFTER_S
        device = p.device()
        dpr = device.devicePixelRatioF() if device is not None else 1.0
        base = font
        size = (r.width(), r.height(), dpr)
        # (phones_loaded: a phone's display form can change once, see fmt.format_phone)
        style = (selected, hover, t.dark, base.key(), fmt.phones_loaded())
        # in a mixed inbox (a shopper who wrote to two stores is two leads, one name)
        place: str = index.data(LOCATION_ROLE) or ""
        key = (row, size, style, when, waiting, urgent, place)
        pixmap = self._pixmaps.get(key)
        if pixmap is None:
            pixmap = QPixmap(max(1, round(r.width() * dpr)), max(1, round(r.height() * dpr)))
            pixmap.setDevicePixelRatio(dpr)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            self._draw(
                painter,
                QRect(0, 0, r.width(), r.height()),
                row,
                t,
                self._fonts_for(base),
                selected=selected,
                hover=hover,
                when=when,
                waiting=waiting,
                urgent=urgent,
                place=place,
            )
            painter.end()
            self.drawn += 1
            self._pixmaps[key] = pixmap
            if len(self._pixmaps) > self.CACHE_ROWS:
                self._pixmaps.popitem(last=False)
        else:
            self._pixmaps.move_to_end(key)
        p.drawPixmap(r.topLeft(), pixmap)

    def _draw(
        self,
        p: QPainter,
        r: QRect,
        row: LeadRow,
        t: theme.Theme,
        f: _LeadFonts,
        *,
        selected: bool,
        hover: bool,
        when: str,
        waiting: str,
        urgent: bool,
        place: str = "",
    ) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if selected:
            p.fillRect(r, t.color("selection"))
            p.fillRect(QRect(r.left(), r.top(), 3, r.height()), t.color("accent"))
        elif hover:
            p.fillRect(r, t.color("surface_alt"))
        p.setPen(t.color("border"))
        p.drawLine(r.left() + 64, r.bottom(), r.right(), r.bottom())

        # avatar
        av = QRect(r.left() + 14, r.top() + 14, 38, 38)
        color = QColor(AVATAR_COLORS[zlib.crc32(row.lead_id.encode()) % len(AVATAR_COLORS)])
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
        p.drawEllipse(av)
        p.setPen(QColor("white"))
        p.setFont(f.initials)
        p.drawText(av, Qt.AlignmentFlag.AlignCenter, fmt.initials(row.name))

        left = av.right() + 12
        right = r.right() - 14
        unread = row.unread > 0
        # line 1: name + time
        tfm = f.tfm_bold if unread else f.tfm
        tw = tfm.horizontalAdvance(when)
        p.setFont(f.time_bold if unread else f.time)
        p.setPen(t.color("accent") if unread else t.color("text_muted"))
        line1 = QRect(left, r.top() + 11, right - left, 20)
        p.drawText(line1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, when)
        p.setFont(f.name)
        p.setPen(t.color("text"))
        name = f.nfm.elidedText(
            row.name or fmt.format_phone(row.phone),
            Qt.TextElideMode.ElideRight,
            line1.width() - tw - 10,
        )
        p.drawText(line1, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        if place:
            # in a mixed inbox, the location after the name, in what room the name leaves
            # (none: not drawn; a stub would say nothing)
            sep = f.afm.horizontalAdvance(" · ")
            x_place = left + f.nfm.horizontalAdvance(name) + sep
            room = line1.right() - tw - 10 - x_place
            if room >= f.afm.horizontalAdvance(_SHORTEST_PLACE):
                p.setFont(f.assignee)
                p.setPen(t.color("text_muted"))
                p.drawText(
                    QRect(x_place - sep, line1.top(), room + sep, line1.height()),
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                    " · " + f.afm.elidedText(place, Qt.TextElideMode.ElideRight, room),
                )

        # line 2: preview + unread badge
        line2 = QRect(left, line1.bottom() + 2, right - left, 18)
        sfm = f.sfm
        badge_w = 0
        if unread:
            btext = "99+" if row.unread > 99 else str(row.unread)
            badge_w = max(20, sfm.horizontalAdvance(btext) + 12)
            badge = QRect(right - badge_w, line2.top(), badge_w, 18)
            draw_pill(p, badge, t.color("accent"), QColor("white"), btext, f.small_bold)
        preview = row.last_message_preview or fmt.format_phone(row.phone)
        preview = " ".join(preview.split())
        p.setFont(f.small)
        p.setPen(t.color("text") if unread else t.color("text_muted"))
        p.drawText(
            line2.adjusted(0, 0, -(badge_w + 8), 0),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            sfm.elidedText(preview, Qt.TextElideMode.ElideRight, line2.width() - badge_w - 8),
        )

        # line 3: pipeline chip, speed-to-lead timer, assignee
        x = left
        y = line2.bottom() + 4
        label = fmt.PIPELINE_LABELS.get(row.pipeline_status, row.pipeline_status)
        if row.status == "CLOSED":
            label = f"{label} · Closed"
        if row.opted_out:
            label = "Opted out"
        w = pill_width(f.cfm, label, 7)
        chip_bg = t.color("danger_bg") if row.opted_out else t.color("surface_alt")
        chip_fg = t.color("danger") if row.opted_out else t.color("text_muted")
        draw_pill(p, QRect(x, y, w, 17), chip_bg, chip_fg, label, f.chip)
        x += w + 6
        if waiting:
            text = "Waiting " + waiting
            w = pill_width(f.cfm, text, 7)
            draw_pill(
                p,
                QRect(x, y, w, 17),
                t.color("danger_bg") if urgent else t.color("warning_bg"),
                t.color("danger") if urgent else t.color("warning"),
                text,
                f.chip,
            )
            x += w + 6
        assignee = row.assignee_name or "Unassigned"
        p.setFont(f.assignee)
        p.setPen(t.color("text_muted"))
        p.drawText(
            QRect(x + 2, y, right - x - 2, 17),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            f.afm.elidedText(assignee, Qt.TextElideMode.ElideRight, right - x - 2),
        )


class OnePassListView(QListView):
    """A QListView whose visible rows are painted in one Python call per paint event.

    QListView paints row by row, calling the (Python) delegate for each: every call
    re-enters the interpreter from C++ and must take the GIL first, and while the
    engine's threads are busy each of those waits up to a switch interval (5 ms). A
    repaint of eight rows during a burst of changes cost 30-120 ms of waiting for
    10 ms of work. Here one Python paintEvent asks the delegate for each visible row:
    one GIL acquisition per repaint. Selection, hover, keyboard and accessibility
    are QListView's own; only the painting loop moved.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # A viewport made here already has its Python object. Qt's own would get one
        # on the first viewport() call, and the first QWidget that Qt made and Python
        # sees costs PySide ~20 ms of resolving every lazily loaded widget class to
        # find its type: inside the first paint (paintEvent asks for the viewport).
        self.setViewport(QWidget())

    def paintEvent(self, event: QPaintEvent) -> None:
        model = self.model()
        delegate = self.itemDelegate()
        if model is None or delegate is None:
            return
        rows = model.rowCount()
        if rows == 0:
            return
        viewport = self.viewport()
        area = event.rect()
        first = self.indexAt(area.topLeft())
        start = first.row() if first.isValid() else 0
        hover = QModelIndex()
        if viewport.underMouse():
            hover = self.indexAt(viewport.mapFromGlobal(QCursor.pos()))
        selection = self.selectionModel()
        current = self.currentIndex()
        has_focus = self.hasFocus()
        paint_row = getattr(delegate, "paint_row", None)
        font = self.font()
        painter = QPainter(viewport)
        try:
            for row in range(start, rows):
                index = model.index(row, 0)
                rect = self.visualRect(index)
                if rect.top() > area.bottom():
                    break
                if not rect.intersects(area):
                    continue
                selected = selection is not None and selection.isSelected(index)
                if paint_row is not None:  # LeadDelegate: what it draws, no style option
                    paint_row(painter, rect, index, selected=selected, hover=index == hover,
                              font=font)
                    continue
                from PySide6.QtWidgets import QStyle

                option = QStyleOptionViewItem()
                self.initViewItemOption(option)
                option.rect = rect
                state = option.state
                if selected:
                    state |= QStyle.StateFlag.State_Selected
                if index == hover:
                    state |= QStyle.StateFlag.State_MouseOver
                if has_focus and index == current:
                    state |= QStyle.StateFlag.State_HasFocus
                option.state = state
                delegate.paint(painter, option, index)
        finally:
            painter.end()


def highlight_html(snippet: str, t: theme.Theme) -> str:
    import html  # search's only; html.entities is a few ms of start-up

    out = html.escape(snippet)
    mark = f'<span style="background:{t.warning_bg}; color:{t.text}; font-weight:600">'
    return out.replace(MATCH_START, mark).replace(MATCH_END, "</span>")


class SearchDelegate(QStyledItemDelegate):
    HEIGHT = 74
    CACHE_DOCS = 200

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        # a highlighted snippet is a rich-text layout: built once per hit and width,
        # not on every repaint (hovering, scrolling)
        self._docs: OrderedDict[tuple[object, ...], tuple[QTextDocument, int]] = OrderedDict()

    def _snippet_doc(
        self, snippet: str, width: int, t: theme.Theme, base: QFont
    ) -> tuple[QTextDocument, int]:
        key = (snippet, width, t.dark, base.key())
        cached = self._docs.get(key)
        if cached is not None:
            self._docs.move_to_end(key)
            return cached
        from PySide6.QtGui import QTextDocument  # search's only: not the first frame's

        doc = QTextDocument()
        font = _font(base, size_delta=-0.5)
        doc.setDefaultFont(font)
        doc.setDocumentMargin(0)
        doc.setHtml(f'<span style="color:{t.text_muted}">{highlight_html(snippet, t)}</span>')
        doc.setTextWidth(width)
        cached = (doc, QFontMetrics(font).lineSpacing())
        self._docs[key] = cached
        if len(self._docs) > self.CACHE_DOCS:
            self._docs.popitem(last=False)
        return cached

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return QSize(280, self.HEIGHT)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        hit: SearchHit | None = index.data(ROW_ROLE)
        if hit is None:
            return
        t = theme.current()
        r = option.rect
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        from PySide6.QtWidgets import QStyle

        if option.state & QStyle.StateFlag.State_Selected:
            p.fillRect(r, t.color("selection"))
            p.fillRect(QRect(r.left(), r.top(), 3, r.height()), t.color("accent"))
        p.setPen(t.color("border"))
        p.drawLine(r.left() + 14, r.bottom(), r.right(), r.bottom())
        base = option.font
        p.setFont(_font(base, bold=True))
        p.setPen(t.color("text"))
        head = QRect(r.left() + 14, r.top() + 8, r.width() - 28, 20)
        kind = "Message" if hit.kind == "message" else "Lead"
        when = fmt.relative_time(hit.at) if hit.at else ""
        p.drawText(head, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, hit.title)
        p.setFont(_font(base, size_delta=-1))
        p.setPen(t.color("text_muted"))
        p.drawText(
            head,
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            f"{kind}{' · ' + when if when else ''}",
        )
        doc, line = self._snippet_doc(hit.snippet, r.width() - 28, t, base)
        p.translate(r.left() + 14, head.bottom() + 4)
        # at most two whole lines of the snippet
        p.setClipRect(QRect(0, 0, r.width() - 28, 2 * line + 2))
        from PySide6.QtGui import QAbstractTextDocumentLayout

        ctx = QAbstractTextDocumentLayout.PaintContext()
        doc.documentLayout().draw(p, ctx)
        p.restore()


# --------------------------------------------------------------------------- bubbles


class BubbleLayout(NamedTuple):
    author: QRect | None
    bubble: QRect
    text: QRect
    meta: QRect
    retry: QRect | None
    height: int


OUTGOING = frozenset({"staff", "store"})


class BubbleDelegate(QStyledItemDelegate):
    """Customer on the left, staff and store phone on the right, system in the middle."""

    retryRequested = Signal(object)  # ThreadMessage

    PAD_X, PAD_Y, GAP, SIDE = 12, 8, 4, 18
    MAX_FRACTION = 0.68

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        # fonts, metrics and bubble heights are reused: a thread lays out hundreds of rows
        self._font_cache: dict[
            str, tuple[QFont, QFont, QFont, QFontMetrics, QFontMetrics, QFontMetrics]
        ] = {}
        self._heights: dict[tuple[str, str, bool, int, int], int] = {}

    def _metrics(
        self, base: QFont
    ) -> tuple[QFont, QFont, QFont, QFontMetrics, QFontMetrics, QFontMetrics]:
        key = base.key()
        cached = self._font_cache.get(key)
        if cached is None:
            body = QFont(base)  # a copy: the option's font dies with the option
            author, meta = _font(base, size_delta=-1.5, bold=True), _font(base, size_delta=-1.5)
            cached = (
                body,
                author,
                meta,
                QFontMetrics(body),
                QFontMetrics(author),
                QFontMetrics(meta),
            )
            self._font_cache[key] = cached
        return cached

    def _fonts(self, base: QFont) -> tuple[QFont, QFont, QFont]:
        return self._metrics(base)[:3]

    def layout(self, rect: QRect, m: ThreadMessage, show_author: bool, base: QFont) -> BubbleLayout:
        _b, _a, _m, bfm, afm, mfm = self._metrics(base)
        max_text = max(120, int(rect.width() * self.MAX_FRACTION) - 2 * self.PAD_X)
        br = bfm.boundingRect(
            QRect(0, 0, max_text, 100000),
            int(Qt.TextFlag.TextWordWrap) | int(Qt.AlignmentFlag.AlignLeft),
            m.body or " ",
        )
        text_w, text_h = min(max_text, br.width() + 2), br.height()
        bubble_w, bubble_h = text_w + 2 * self.PAD_X, text_h + 2 * self.PAD_Y
        y = rect.top() + 3
        author_rect = None
        outgoing = m.author_kind in OUTGOING
        if show_author:
            author_rect = QRect(
                rect.left() + self.SIDE, y, rect.width() - 2 * self.SIDE, afm.height()
            )
            y += afm.height() + 2
        if m.author_kind == "system":
            x = rect.left() + (rect.width() - bubble_w) // 2
        elif outgoing:
            x = rect.right() - self.SIDE - bubble_w
        else:
            x = rect.left() + self.SIDE
        bubble = QRect(x, y, bubble_w, bubble_h)
        text = bubble.adjusted(self.PAD_X, self.PAD_Y, -self.PAD_X, -self.PAD_Y)
        y = bubble.bottom() + 3
        meta = QRect(rect.left() + self.SIDE, y, rect.width() - 2 * self.SIDE, mfm.height())
        retry = None
        if m.status in fmt.FAILED_STATUSES:
            rw = mfm.horizontalAdvance("Retry") + 16
            if outgoing:
                retry = QRect(meta.right() - rw, y - 1, rw, mfm.height() + 2)
            else:
                retry = QRect(meta.left(), y - 1, rw, mfm.height() + 2)
        height = (meta.bottom() - rect.top()) + 9
        return BubbleLayout(author_rect, bubble, text, meta, retry, height)

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        item = index.data(ROW_ROLE)
        width = option.rect.width() or 600
        view = self.parent()
        if hasattr(view, "viewport"):
            width = view.viewport().width()  # type: ignore[union-attr]
        if isinstance(item, DayItem):
            return QSize(width, 40)
        if not isinstance(item, MessageItem):
            return QSize(width, 0)
        m = item.message
        key = (m.local_id, m.status, item.show_author, width, hash(m.body))
        height = self._heights.get(key)
        if height is None:
            if len(self._heights) > 20_000:
                self._heights.clear()
            height = self.layout(QRect(0, 0, width, 0), m, item.show_author, option.font).height
            self._heights[key] = height
        return QSize(width, height)

    def author_text(self, m: ThreadMessage) -> str:
        if m.author_kind == "store":
            if m.author_name and "store phone" not in m.author_name.lower():
                return f"{m.author_name} · from the store phone"
            return m.author_name or "Store phone"
        return m.author_name or {"customer": "Customer", "staff": "Staff", "system": ""}.get(
            m.author_kind, ""
        )

    def meta_text(self, m: ThreadMessage) -> str:
        status = fmt.STATUS_LABELS.get(m.status, m.status)
        parts = [fmt.clock(m.created_at)]
        if m.status in fmt.FAILED_STATUSES:
            reason = m.error_message or m.error_reason or "unknown reason"
            parts.append(f"{status}: {reason}")
        elif m.author_kind in OUTGOING and status:
            parts.append(status)
        return " · ".join(parts)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        item = index.data(ROW_ROLE)
        t = theme.current()
        r: QRect = option.rect
        base: QFont = option.font
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if isinstance(item, DayItem):
            label = fmt.day_label(item.day)
            f = _font(base, size_delta=-1.5, bold=True)
            w = pill_width(QFontMetrics(f), label, 12)
            pill = QRect(r.left() + (r.width() - w) // 2, r.top() + 10, w, 22)
            draw_pill(p, pill, t.color("surface_alt"), t.color("text_muted"), label, f)
            p.restore()
            return
        if not isinstance(item, MessageItem):
            p.restore()
            return
        m = item.message
        lay = self.layout(r, m, item.show_author, base)
        body_font, author_font, meta_font = self._fonts(base)
        outgoing = m.author_kind in OUTGOING
        align_h = Qt.AlignmentFlag.AlignRight if outgoing else Qt.AlignmentFlag.AlignLeft
        if m.author_kind == "system":
            align_h = Qt.AlignmentFlag.AlignHCenter
        if lay.author is not None:
            p.setFont(author_font)
            p.setPen(t.color("text_muted"))
            p.drawText(lay.author, align_h | Qt.AlignmentFlag.AlignVCenter, self.author_text(m))
        if m.author_kind == "store":
            bg, fg = t.color("bubble_store"), t.color("bubble_store_text")
        elif outgoing:
            bg, fg = t.color("bubble_out"), t.color("bubble_out_text")
        elif m.author_kind == "system":
            bg, fg = t.color("warning_bg"), t.color("warning")
        else:
            bg, fg = t.color("bubble_in"), t.color("bubble_in_text")
        failed = m.status in fmt.FAILED_STATUSES
        pending = m.status == "pending"
        if pending:
            bg.setAlphaF(0.6)
        p.setPen(Qt.PenStyle.NoPen)
        if failed:
            p.setPen(t.color("danger"))
        p.setBrush(bg)
        p.drawRoundedRect(lay.bubble, 14, 14)
        from PySide6.QtWidgets import QStyle

        if (
            option.state & QStyle.StateFlag.State_HasFocus
            or option.state & QStyle.StateFlag.State_Selected
        ):
            p.setPen(t.color("accent"))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(lay.bubble.adjusted(-2, -2, 2, 2), 16, 16)
        p.setPen(fg)
        p.setFont(body_font)
        p.drawText(
            lay.text, int(Qt.TextFlag.TextWordWrap) | int(Qt.AlignmentFlag.AlignLeft), m.body
        )
        p.setFont(meta_font)
        p.setPen(t.color("danger") if failed else t.color("text_muted"))
        meta_rect = QRect(lay.meta)
        if lay.retry is not None:
            if outgoing:
                meta_rect.setRight(lay.retry.left() - 6)
            else:
                meta_rect.setLeft(lay.retry.right() + 6)
        p.drawText(
            meta_rect,
            align_h | Qt.AlignmentFlag.AlignVCenter,
            QFontMetrics(meta_font).elidedText(
                self.meta_text(m), Qt.TextElideMode.ElideMiddle, meta_rect.width()
            ),
        )
        if lay.retry is not None:
            draw_pill(
                p,
                lay.retry,
                t.color("danger"),
                QColor("white"),
                "Retry",
                _font(meta_font, bold=True),
            )
        p.restore()

    def retry_rect(self, rect: QRect, index: Index, base: QFont) -> QRect | None:
        item = index.data(ROW_ROLE)
        if not isinstance(item, MessageItem):
            return None
        return self.layout(rect, item.message, item.show_author, base).retry

    def editorEvent(
        self, event: QEvent, model: object, option: QStyleOptionViewItem, index: Index
    ) -> bool:
        if event.type() == QEvent.Type.MouseButtonRelease and isinstance(event, QMouseEvent):
            rect = self.retry_rect(option.rect, index, option.font)
            pos: QPoint = event.position().toPoint()
            if rect is not None and rect.contains(pos):
                item = index.data(ROW_ROLE)
                self.retryRequested.emit(item.message)
                return True
        return False


def palette_color(option: QStyleOptionViewItem, role: QPalette.ColorRole) -> QColor:
    return option.palette.color(role)
