"""Export a conversation for the deal file: plain text or PDF.

The export holds the customer, the lead's details, its notes and every message of
the conversation (all pages, oldest first) with its time, author and status.
Times are the location's (the PC's zone when the location has none), with the
zone named. The PDF is the same text laid out by Qt's printing (`QTextDocument` on
a `QPdfWriter`, the engine `QPrinter` prints PDF with), always as plain text: no
customer string is ever read as rich text. The file is written off the Qt thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.ui import fmt
from app.ui.thread_model import author_text

if TYPE_CHECKING:
    from PySide6.QtWidgets import QFileDialog, QWidget

    from app.sync.api import Engine, LeadDetail, ThreadMessage

#: the first limit asked of the engine's thread
_PAGE = 200
PLAIN_TEXT_FILTER = "Plain text (*.txt)"
PDF_FILTER = "PDF (*.pdf)"


def _zone(tz_name: str | None) -> ZoneInfo | None:
    if not tz_name:
        return None
    try:
        return ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _when(dt: datetime, zone: ZoneInfo | None) -> str:
    at = dt.astimezone(zone) if zone is not None else fmt.local(dt)
    return at.strftime("%Y-%m-%d %H:%M %Z").strip()


def _status(m: ThreadMessage) -> str:
    if m.author_kind == "customer":
        return "Received"
    label = fmt.STATUS_LABELS.get(m.status, m.status) or m.status
    if m.status in fmt.FAILED_STATUSES:
        why = m.error_message or m.error_reason
        return f"{label} ({why})" if why else label
    return label


def _lead_lines(lead: LeadDetail, location_name: str, zone: ZoneInfo | None) -> list[str]:
    rows = [
        ("Customer", lead.name),
        ("Phone", fmt.format_phone(lead.phone)),
        ("Location", location_name or lead.location_name or lead.location_id),
        ("Submitted", _when(lead.date_submitted, zone)),
        ("Lead status", lead.status),
        ("Pipeline", fmt.PIPELINE_LABELS.get(lead.pipeline_status, lead.pipeline_status)),
        ("Assigned to", lead.assignee_name or "Unassigned"),
        ("Preferred contact", lead.preferred_contact),
        ("Page", lead.page_url),
        ("Lead id", lead.lead_id),
        ("Conversation", lead.conversation_sid or ""),
    ]
    if lead.close_reason:
        rows.append(("Closed because", lead.close_reason))
    if lead.opted_out:
        rows.append(("Opted out", "yes: no texts may be sent"))
    for key, value in (lead.product or {}).items():
        rows.append((f"Product {key}", value))
    lines = [f"{label}: {value}" for label, value in rows if value]
    if lead.customer_message:
        lines += ["", "Customer's message on the form:", lead.customer_message]
    return lines


def conversation_text(
    lead: LeadDetail,
    messages: Sequence[ThreadMessage],
    *,
    location_name: str = "",
    location_tz: str | None = None,
    exported_at: datetime,
    exported_by: str = "",
) -> str:
    """The export as plain text (what the .txt holds and the PDF shows)."""
    zone = _zone(location_tz)
    by = f" by {exported_by}" if exported_by else ""
    lines = [
        f"Web2Text conversation with {lead.name}",
        f"Exported {_when(exported_at, zone)}{by}",
        "",
        *_lead_lines(lead, location_name, zone),
    ]
    if lead.notes:
        lines += ["", f"Notes ({len(lead.notes)})"]
        for note in lead.notes:
            lines.append(f"- {_when(note.at, zone)} · {note.author_name}: {note.body}")
    lines += ["", f"Messages ({len(messages)})"]
    for m in messages:
        who = author_text(m, location_name)
        lines += ["", f"{_when(m.created_at, zone)} · {who} · {_status(m)}", m.body]
    return "\n".join(lines) + "\n"


async def all_messages(engine: Engine, conversation_sid: str) -> list[ThreadMessage]:
    """Every message of the conversation, oldest first. Asked again with a larger
    limit while a page comes back full (paging by time could skip a message that
    shares its time with a page's first one)."""
    limit = _PAGE
    while True:
        page = list(await engine.thread(conversation_sid, limit=limit))
        if len(page) < limit:
            return page
        limit *= 4


def pdf_bytes(text: str, title: str) -> bytes:
    """The text as a PDF (Qt thread: Qt lays it out)."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF
    from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter, QTextDocument

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setTitle(title)
    writer.setCreator("Web2Text")
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.Letter),
            QPageLayout.Orientation.Portrait,
            QMarginsF(18, 18, 18, 18),
            QPageLayout.Unit.Millimeter,
        )
    )
    doc = QTextDocument()
    doc.setPlainText(text)  # never rich text: customer strings stay plain
    doc.print_(writer)
    del writer  # ends the PDF
    buffer.close()
    return bytes(data.data())


def export_format(path: Path, name_filter: str) -> str:
    """The kind, "pdf" or "txt": the file's suffix decides, else the chosen filter."""
    suffix = path.suffix.lower()
    if suffix in (".pdf", ".txt"):
        return suffix[1:]
    return "pdf" if name_filter == PDF_FILTER else "txt"


async def export_conversation(
    engine: Engine,
    lead: LeadDetail,
    path: Path,
    *,
    kind: str,
    location_name: str = "",
    location_tz: str | None = None,
    exported_by: str = "",
) -> Path:
    """Write the export (`kind` "txt" or "pdf"); returns the file written."""
    import asyncio

    messages = await all_messages(engine, lead.conversation_sid) if lead.conversation_sid else []
    text = conversation_text(
        lead,
        messages,
        location_name=location_name,
        location_tz=location_tz,
        exported_at=fmt.now_utc(),
        exported_by=exported_by,
    )
    if kind == "pdf":
        path = path if path.suffix.lower() == ".pdf" else path.with_suffix(".pdf")
        data = pdf_bytes(text, f"Conversation with {lead.name}")
    else:
        path = path if path.suffix.lower() == ".txt" else path.with_suffix(".txt")
        data = text.encode("utf-8")
    await asyncio.to_thread(_write_whole, path, data)
    return path


def _write_whole(path: Path, data: bytes) -> None:
    """The file appears whole or not at all (never a half-written export)."""
    import os

    part = path.with_name(path.name + ".part")
    part.write_bytes(data)
    os.replace(part, path)


def ask_where(
    parent: QWidget, lead: LeadDetail, chosen: Callable[[Path, str], None]
) -> QFileDialog:
    """The save dialog (Qt's own, the same everywhere and driven by keyboard): calls
    `chosen(path, kind)` with the file and "txt" or "pdf"."""
    from PySide6.QtWidgets import QFileDialog

    safe = "".join(c if c.isalnum() or c in " -_" else "_" for c in lead.name).strip() or "lead"
    dlg = QFileDialog(parent, f"Export the conversation with {lead.name}")
    dlg.setAccessibleName("Export conversation")
    dlg.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    dlg.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dlg.setNameFilters([PDF_FILTER, PLAIN_TEXT_FILTER])
    dlg.setDefaultSuffix("pdf")
    dlg.filterSelected.connect(
        lambda name: dlg.setDefaultSuffix("pdf" if name == PDF_FILTER else "txt")
    )
    dlg.selectFile(f"Conversation - {safe}.pdf")

    def accepted(file_name: str) -> None:
        path = Path(file_name)
        chosen(path, export_format(path, dlg.selectedNameFilter()))

    dlg.fileSelected.connect(accepted)
    dlg.open()
    return dlg
