"""Help > About: what IT and support ask first (version, relay, folders) and the
third-party licences, Qt's LGPL notice among them."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QUrl, qVersion
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

import app
from app.licenses import third_party_notices


class AboutDialog(QDialog):
    """Version, relay, data and log folders, and the licences; every value plain text."""

    def __init__(
        self,
        relay_url: str | None,
        data_dir: Path,
        log_dir: Path,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Web2Text")
        self.setAccessibleName("About Web2Text")
        self.setMinimumSize(620, 520)
        self.data_dir, self.log_dir = data_dir, log_dir
        self.facts = {
            "Version": app.__version__,
            "Relay": relay_url or "not signed in",
            "Data folder": str(data_dir),
            "Log folder": str(log_dir),
            "Built with": f"Python {sys.version.split()[0]}, Qt {qVersion()}, "
            f"PySide6 {pyside_version}",
        }
        title = QLabel("Web2Text")
        title.setObjectName("HeaderTitle")
        blurb = QLabel("Texting between dealerships and the shoppers on their website.")
        blurb.setWordWrap(True)
        form = QFormLayout()
        for name, value in self.facts.items():
            label = QLabel(value)
            label.setTextFormat(label.textFormat().PlainText)
            label.setTextInteractionFlags(label.textInteractionFlags().TextSelectableByMouse)
            label.setAccessibleName(name)
            label.setWordWrap(True)
            form.addRow(name, label)
        self.licences = QPlainTextEdit(third_party_notices())
        self.licences.setReadOnly(True)
        self.licences.setAccessibleName("Third-party licences")
        heading = QLabel("Third-party licences")
        heading.setObjectName("Muted")

        self.open_logs = QPushButton("Open the log folder")
        self.open_logs.clicked.connect(lambda: self._open(self.log_dir))
        copy = QPushButton("Copy these details")
        copy.clicked.connect(self.copy_details)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.open_logs, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        for widget in (title, blurb):
            layout.addWidget(widget)
        layout.addLayout(form)
        layout.addWidget(heading)
        layout.addWidget(self.licences, 1)
        layout.addWidget(buttons)

    def details(self) -> str:
        return "\n".join(f"{name}: {value}" for name, value in self.facts.items())

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details())

    @staticmethod
    def _open(folder: Path) -> bool:
        folder.mkdir(parents=True, exist_ok=True)
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


def add_help_menu(window: QMainWindow, show_about: Callable[[], None]) -> QAction:
    """A Help menu with "About Web2Text" in `window`'s menu bar."""
    menu = window.menuBar().addMenu("&Help")
    action = menu.addAction("&About Web2Text")
    action.setMenuRole(QAction.MenuRole.AboutRole)  # the app menu on macOS
    action.triggered.connect(show_about)
    return action
