"""The next start's prompt after a crash: "Web2Text closed unexpectedly", with the
report to open or copy (for IT or support). Shown once per report."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.crash_report import CrashReporter

TITLE = "Web2Text closed unexpectedly"


class CrashPrompt(QDialog):
    """Offers the newest pending report; every pending one counts as seen once closed."""

    def __init__(self, reports: list[Path], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.reports = reports
        self.report = reports[-1]
        self.text = self.report.read_text(encoding="utf-8", errors="replace")
        self.setWindowTitle(TITLE)
        self.setAccessibleName("Crash report")
        self.setMinimumWidth(560)

        heading = QLabel(f"<b>{TITLE}</b>")
        more = f" ({len(reports)} reports; the latest is shown)" if len(reports) > 1 else ""
        body = QLabel(
            "A report of what went wrong was saved"
            f"{more}. Phone numbers in it are masked and keys are left out. "
            "Sending it to your IT contact or Web2Text support helps fix the cause."
        )
        body.setWordWrap(True)
        where = QLabel(str(self.report))
        where.setTextFormat(where.textFormat().PlainText)
        where.setAccessibleName("Report file")
        self.preview = QPlainTextEdit(self.text)
        self.preview.setReadOnly(True)
        self.preview.setAccessibleName("Report")
        self.preview.setMinimumHeight(180)

        self.open_button = QPushButton("Open the report")
        self.copy_button = QPushButton("Copy it")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.open_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.open_button.clicked.connect(self.open_report)
        self.copy_button.clicked.connect(self.copy_report)
        self.finished.connect(self._mark_seen)

        layout = QVBoxLayout(self)
        for widget in (heading, body, where, self.preview, buttons):
            layout.addWidget(widget)
        heading.setTextFormat(heading.textFormat().RichText)  # our own fixed text only
        body.setTextFormat(body.textFormat().PlainText)

    def open_report(self) -> bool:
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.report)))

    def copy_report(self) -> None:
        QGuiApplication.clipboard().setText(self.text)
        self.copy_button.setText("Copied")

    def _mark_seen(self) -> None:
        for path in self.reports:
            CrashReporter.mark_seen(path)


def offer_reports(reporter: CrashReporter, parent: QWidget | None = None) -> CrashPrompt | None:
    """Open the prompt (window-modal, not blocking) when reports are waiting."""
    reports = reporter.pending()
    if not reports:
        return None
    prompt = CrashPrompt(reports, parent)
    prompt.open()
    return prompt
