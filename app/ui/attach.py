"""Attaching a photo in the composer: the chosen, dropped or pasted image and the
chip that shows it. A pasted image is written to a file in a worker thread (the
engine copies any attachment into the data folder when the message is queued)."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

from PySide6.QtCore import QMimeData, QObject, Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif"})
PHOTO_FILTER = "Photos (*.jpg *.jpeg *.png *.gif)"


def photo_files(mime: QMimeData) -> list[Path]:
    """The local image files a drop or paste carries."""
    if not mime.hasUrls():
        return []
    files = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
    return [f for f in files if f.suffix.lower() in PHOTO_SUFFIXES]


def carries_photo(mime: QMimeData) -> bool:
    return bool(photo_files(mime)) or mime.hasImage()


class PastedImages(QObject):
    """Writes pasted images to PNG files off the Qt thread; `saved` gives the path."""

    saved = Signal(str)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.folder = Path(tempfile.gettempdir()) / "web2text-pasted"

    def save(self, image: QImage) -> threading.Thread:
        worker = threading.Thread(target=self._write, args=(QImage(image),), daemon=True)
        worker.start()
        return worker

    def _write(self, image: QImage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix="pasted-", suffix=".png", dir=self.folder)
        Path(name).unlink(missing_ok=True)
        import os

        os.close(handle)
        if image.save(name):  # PNG, from the suffix
            self.saved.emit(name)
        else:
            self.failed.emit("The pasted image could not be used.")


class AttachmentChip(QWidget):
    """'📎 sofa.jpg ✕' above the text box while a photo is attached."""

    removed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("AttachmentChip")
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # a file name is not markup
        self.remove_button = QToolButton()
        self.remove_button.setText("✕")
        self.remove_button.setAccessibleName("Remove the photo")
        self.remove_button.clicked.connect(self.removed)
        row = QHBoxLayout(self)
        row.setContentsMargins(2, 0, 2, 0)
        row.addWidget(self.label)
        row.addWidget(self.remove_button)
        row.addStretch(1)
        self.hide()

    def show_path(self, path: Path | None) -> None:
        self.label.setText(f"📎 {path.name}" if path else "")
        self.label.setAccessibleName(f"Attached photo {path.name}" if path else "")
        self.setVisible(path is not None)
