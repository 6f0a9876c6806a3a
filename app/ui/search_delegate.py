"""Painting of a search hit: title, kind and time, the snippet with its matches marked."""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

from app.sync.api import MATCH_END, MATCH_START, SearchHit
from app.ui import fmt, theme
from app.ui.painting import font_variant
from app.ui.roles import ROW_ROLE, Index

if TYPE_CHECKING:
    from PySide6.QtGui import QTextDocument



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
        font = font_variant(base, size_delta=-0.5)
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
        head = QRect(r.left() + 14, r.top() + 8, r.width() - 28, 20)
        self._draw_head(p, head, hit, t, option.font)
        doc, line = self._snippet_doc(hit.snippet, r.width() - 28, t, option.font)
        p.translate(r.left() + 14, head.bottom() + 4)
        # at most two whole lines of the snippet
        p.setClipRect(QRect(0, 0, r.width() - 28, 2 * line + 2))
        from PySide6.QtGui import QAbstractTextDocumentLayout

        doc.documentLayout().draw(p, QAbstractTextDocumentLayout.PaintContext())
        p.restore()

    @staticmethod
    def _draw_head(p: QPainter, head: QRect, hit: SearchHit, t: theme.Theme, base: QFont) -> None:
        """The customer's name on the left; what matched and when on the right."""
        p.setFont(font_variant(base, bold=True))
        p.setPen(t.color("text"))
        p.drawText(head, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, hit.title)
        kind = "Message" if hit.kind == "message" else "Lead"
        when = fmt.relative_time(hit.at) if hit.at else ""
        p.setFont(font_variant(base, size_delta=-1))
        p.setPen(t.color("text_muted"))
        p.drawText(
            head,
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            f"{kind}{' · ' + when if when else ''}",
        )
