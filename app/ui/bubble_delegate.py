"""Painting of the conversation: message bubbles, their status line, day separators."""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import (
    QEvent,
    QPoint,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QMouseEvent, QPainter
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

from app.sync.api import MediaItem, ThreadMessage
from app.ui import fmt, theme
from app.ui.painting import draw_pill, font_variant, pill_width
from app.ui.photo_paint import paint_photos
from app.ui.roles import AUTHOR_ROLE, ROW_ROLE, Index
from app.ui.thread_model import DayItem, MessageItem, author_text
from app.ui.thumbnails import ThumbnailStore

OUTGOING = frozenset({"staff", "store"})

_WRAP = int(Qt.TextFlag.TextWordWrap) | int(Qt.AlignmentFlag.AlignLeft)


class BubbleLayout(NamedTuple):
    author: QRect | None
    bubble: QRect
    text: QRect
    meta: QRect
    retry: QRect | None
    height: int
    photos: tuple[QRect, ...] = ()


class _BubbleFonts(NamedTuple):
    body: QFont
    author: QFont
    meta: QFont
    bfm: QFontMetrics
    afm: QFontMetrics
    mfm: QFontMetrics

    @classmethod
    def of(cls, base: QFont) -> _BubbleFonts:
        body = QFont(base)  # a copy: the option's font dies with the option
        author = font_variant(base, size_delta=-1.5, bold=True)
        meta = font_variant(base, size_delta=-1.5)
        return cls(body, author, meta, QFontMetrics(body), QFontMetrics(author), QFontMetrics(meta))


def meta_text(m: ThreadMessage) -> str:
    """The line under a bubble: time, and the state of what was sent (why it failed)."""
    status = fmt.STATUS_LABELS.get(m.status, m.status)
    if m.status == "scheduled":  # created_at is when it goes
        day = fmt.day_label(fmt.local(m.created_at).date())
        return f"Scheduled for {day} {fmt.clock(m.created_at)} · E edits, Delete cancels"
    parts = [fmt.clock(m.created_at)]
    if m.status in fmt.FAILED_STATUSES:
        reason = m.error_message or m.error_reason or "unknown reason"
        parts.append(f"{status}: {reason}")
    elif m.author_kind in OUTGOING and status:
        parts.append(status)
    return " · ".join(parts)


def _bubble_colors(m: ThreadMessage, t: theme.Theme) -> tuple[QColor, QColor]:
    """Background and text colour: store phone green, staff blue, system amber,
    customer grey; a message still in the outbox is paler."""
    if m.author_kind == "store":
        bg, fg = t.color("bubble_store"), t.color("bubble_store_text")
    elif m.author_kind in OUTGOING:
        bg, fg = t.color("bubble_out"), t.color("bubble_out_text")
    elif m.author_kind == "system":
        bg, fg = t.color("warning_bg"), t.color("warning")
    else:
        bg, fg = t.color("bubble_in"), t.color("bubble_in_text")
    if m.status == "pending":
        bg.setAlphaF(0.6)
    return bg, fg


class BubbleDelegate(QStyledItemDelegate):
    """Customer on the left, staff and store phone on the right, system in the middle."""

    retryRequested = Signal(object)  # ThreadMessage
    photoRequested = Signal(object)  # MediaItem

    PAD_X, PAD_Y, GAP, SIDE = 12, 8, 4, 18
    #: a photo's box in a bubble: fixed, so a thumbnail arriving never moves the thread
    PHOTO_W, PHOTO_H = 200, 150
    MAX_FRACTION = 0.68

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        # fonts, metrics and bubble heights are reused: a thread lays out hundreds of rows
        self._font_cache: dict[str, _BubbleFonts] = {}
        #: where photo thumbnails come from (set by the view)
        self.thumbnails: ThumbnailStore | None = None
        self._heights: dict[tuple[str, str, bool, int, int], int] = {}

    def _metrics(self, base: QFont) -> _BubbleFonts:
        key = base.key()
        cached = self._font_cache.get(key)
        if cached is None:
            cached = self._font_cache[key] = _BubbleFonts.of(base)
        return cached

    def layout(self, rect: QRect, m: ThreadMessage, show_author: bool, base: QFont) -> BubbleLayout:
        f = self._metrics(base)
        max_text = max(120, int(rect.width() * self.MAX_FRACTION) - 2 * self.PAD_X)
        br = f.bfm.boundingRect(QRect(0, 0, max_text, 100000), _WRAP, m.body or " ")
        text_w, text_h = min(max_text, br.width() + 2), br.height()
        photos_h = len(m.media) * (self.PHOTO_H + self.GAP)
        if m.media:
            text_w = max(text_w, min(max_text, self.PHOTO_W))
            text_h = text_h if m.body else -self.GAP
        bubble_w, bubble_h = text_w + 2 * self.PAD_X, photos_h + text_h + 2 * self.PAD_Y
        y = rect.top() + 3
        author_rect = None
        outgoing = m.author_kind in OUTGOING
        if show_author:
            author_rect = QRect(
                rect.left() + self.SIDE, y, rect.width() - 2 * self.SIDE, f.afm.height()
            )
            y += f.afm.height() + 2
        if m.author_kind == "system":
            x = rect.left() + (rect.width() - bubble_w) // 2
        elif outgoing:
            x = rect.right() - self.SIDE - bubble_w
        else:
            x = rect.left() + self.SIDE
        bubble = QRect(x, y, bubble_w, bubble_h)
        text = bubble.adjusted(self.PAD_X, self.PAD_Y + photos_h, -self.PAD_X, -self.PAD_Y)
        photos = tuple(
            QRect(
                bubble.left() + self.PAD_X,
                bubble.top() + self.PAD_Y + i * (self.PHOTO_H + self.GAP),
                min(self.PHOTO_W, text_w),
                self.PHOTO_H,
            )
            for i in range(len(m.media))
        )
        y = bubble.bottom() + 3
        meta = QRect(rect.left() + self.SIDE, y, rect.width() - 2 * self.SIDE, f.mfm.height())
        retry = None
        if m.status in fmt.FAILED_STATUSES:
            rw = f.mfm.horizontalAdvance("Retry") + 16
            left = meta.right() - rw if outgoing else meta.left()
            retry = QRect(left, y - 1, rw, f.mfm.height() + 2)
        height = (meta.bottom() - rect.top()) + 9
        return BubbleLayout(author_rect, bubble, text, meta, retry, height, photos)

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
        key = (m.local_id, m.status, item.show_author, width, hash((m.body, len(m.media))))
        height = self._heights.get(key)
        if height is None:
            if len(self._heights) > 20_000:
                self._heights.clear()
            height = self.layout(QRect(0, 0, width, 0), m, item.show_author, option.font).height
            self._heights[key] = height
        return QSize(width, height)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        item = index.data(ROW_ROLE)
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if isinstance(item, DayItem):
            self._paint_day(p, option.rect, item, option.font)
        elif isinstance(item, MessageItem):
            from PySide6.QtWidgets import QStyle

            focus = QStyle.StateFlag.State_HasFocus | QStyle.StateFlag.State_Selected
            author = index.data(AUTHOR_ROLE) or author_text(item.message)
            self._paint_message(
                p, option.rect, item, option.font, bool(option.state & focus), author
            )
        p.restore()

    @staticmethod
    def _paint_day(p: QPainter, r: QRect, item: DayItem, base: QFont) -> None:
        t = theme.current()
        label = fmt.day_label(item.day)
        f = font_variant(base, size_delta=-1.5, bold=True)
        w = pill_width(QFontMetrics(f), label, 12)
        pill = QRect(r.left() + (r.width() - w) // 2, r.top() + 10, w, 22)
        draw_pill(p, pill, t.color("surface_alt"), t.color("text_muted"), label, f)

    def _paint_message(
        self, p: QPainter, r: QRect, item: MessageItem, base: QFont, focused: bool, author: str
    ) -> None:
        t = theme.current()
        m = item.message
        lay = self.layout(r, m, item.show_author, base)
        f = self._metrics(base)
        if m.author_kind == "system":
            align_h = Qt.AlignmentFlag.AlignHCenter
        elif m.author_kind in OUTGOING:
            align_h = Qt.AlignmentFlag.AlignRight
        else:
            align_h = Qt.AlignmentFlag.AlignLeft
        if lay.author is not None:
            p.setFont(f.author)
            p.setPen(t.color("text_muted"))
            p.drawText(lay.author, align_h | Qt.AlignmentFlag.AlignVCenter, author)
        self._paint_bubble(p, lay, m, f, t, focused)
        if lay.photos:
            paint_photos(p, lay.photos, m, self.thumbnails, f.meta, t)
        self._paint_meta(p, lay, m, f, t, align_h)

    @staticmethod
    def _paint_bubble(
        p: QPainter, lay: BubbleLayout, m: ThreadMessage, f: _BubbleFonts, t: theme.Theme,
        focused: bool,
    ) -> None:
        """The bubble (a red outline when it failed, a ring when focused) and its text."""
        bg, fg = _bubble_colors(m, t)
        if m.status in fmt.FAILED_STATUSES:
            p.setPen(t.color("danger"))
        else:
            p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(bg)
        p.drawRoundedRect(lay.bubble, 14, 14)
        if focused:
            p.setPen(t.color("accent"))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(lay.bubble.adjusted(-2, -2, 2, 2), 16, 16)
        p.setPen(fg)
        p.setFont(f.body)
        p.drawText(lay.text, _WRAP, m.body)

    @staticmethod
    def _paint_meta(
        p: QPainter, lay: BubbleLayout, m: ThreadMessage, f: _BubbleFonts, t: theme.Theme,
        align_h: Qt.AlignmentFlag,
    ) -> None:
        """The time and state under the bubble, and the Retry pill beside them."""
        failed = m.status in fmt.FAILED_STATUSES
        p.setFont(f.meta)
        p.setPen(t.color("danger") if failed else t.color("text_muted"))
        meta_rect = QRect(lay.meta)
        if lay.retry is not None:
            if m.author_kind in OUTGOING:
                meta_rect.setRight(lay.retry.left() - 6)
            else:
                meta_rect.setLeft(lay.retry.right() + 6)
        p.drawText(
            meta_rect,
            align_h | Qt.AlignmentFlag.AlignVCenter,
            f.mfm.elidedText(meta_text(m), Qt.TextElideMode.ElideMiddle, meta_rect.width()),
        )
        if lay.retry is not None:
            bold = font_variant(f.meta, bold=True)
            draw_pill(p, lay.retry, t.color("danger"), QColor("white"), "Retry", bold)

    def retry_rect(self, rect: QRect, index: Index, base: QFont) -> QRect | None:
        item = index.data(ROW_ROLE)
        if not isinstance(item, MessageItem):
            return None
        return self.layout(rect, item.message, item.show_author, base).retry

    def photo_at(self, rect: QRect, index: Index, base: QFont, pos: QPoint) -> MediaItem | None:
        item = index.data(ROW_ROLE)
        if not isinstance(item, MessageItem) or not item.message.media:
            return None
        lay = self.layout(rect, item.message, item.show_author, base)
        for box, media in zip(lay.photos, item.message.media, strict=False):
            if box.contains(pos):
                return media
        return None

    def editorEvent(
        self, event: QEvent, model: object, option: QStyleOptionViewItem, index: Index
    ) -> bool:
        if event.type() == QEvent.Type.MouseButtonRelease and isinstance(event, QMouseEvent):
            rect = self.retry_rect(option.rect, index, option.font)
            pos: QPoint = event.position().toPoint()
            photo = self.photo_at(option.rect, index, option.font, pos)
            if photo is not None:
                self.photoRequested.emit(photo)
                return True
            if rect is not None and rect.contains(pos):
                item = index.data(ROW_ROLE)
                self.retryRequested.emit(item.message)
                return True
        return False
