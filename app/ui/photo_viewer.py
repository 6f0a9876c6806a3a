"""A photo in its own window: zoom (buttons, Ctrl+wheel, Ctrl+plus/minus), fit, and
save a copy. The file is read in a worker thread; the window shows at once."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QPixmap, QShortcut, QWheelEvent
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

ZOOM_STEPS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)


class _Loaded(QObject):
    """Carries the decoded image from the worker to the Qt thread (queued signal)."""

    done = Signal(QImage)


class PhotoViewer(QDialog):
    def __init__(self, path: Path, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("PhotoViewer")
        self.setWindowTitle(title)  # a window title is plain text
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.resize(720, 560)
        self.path = path
        self.zoom = 1.0
        self.fit = True
        self._image = QImage()
        self.picture = QLabel("Loading…")
        self.picture.setTextFormat(Qt.TextFormat.PlainText)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setAccessibleName("Photo")
        self.area = QScrollArea()
        self.area.setWidget(self.picture)
        self.area.setWidgetResizable(False)
        self.area.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.zoom_in_button = QPushButton("Zoom in")
        self.zoom_out_button = QPushButton("Zoom out")
        self.fit_button = QPushButton("Fit")
        self.save_button = QPushButton("Save as…")
        self.zoom_in_button.clicked.connect(lambda: self.step(+1))
        self.zoom_out_button.clicked.connect(lambda: self.step(-1))
        self.fit_button.clicked.connect(self.fit_to_window)
        self.save_button.clicked.connect(self.save_as)
        QShortcut(QKeySequence.StandardKey.ZoomIn, self, lambda: self.step(+1))
        QShortcut(QKeySequence.StandardKey.ZoomOut, self, lambda: self.step(-1))
        tools = QHBoxLayout()
        for button in (self.zoom_out_button, self.zoom_in_button, self.fit_button):
            tools.addWidget(button)
        tools.addStretch(1)
        tools.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.area, 1)
        layout.addLayout(tools)
        self._loaded = _Loaded(self)
        self._loaded.done.connect(self._show_image)
        threading.Thread(target=self._read, name="w2t-photo", daemon=True).start()

    def _read(self) -> None:
        self._loaded.done.emit(QImage(str(self.path)))

    def _show_image(self, image: QImage) -> None:
        self._image = image
        if image.isNull():
            self.picture.setText("This photo cannot be shown.")
            return
        self.fit_to_window()

    @property
    def loaded(self) -> bool:
        return not self._image.isNull()

    def fit_to_window(self) -> None:
        if self._image.isNull():
            return
        area = self.area.viewport().size()
        self.fit = True
        self.zoom = min(
            1.0,
            area.width() / max(1, self._image.width()),
            area.height() / max(1, self._image.height()),
        )
        self._render()

    def step(self, direction: int) -> None:
        if self._image.isNull():
            return
        self.fit = False
        if direction > 0:
            self.zoom = next((z for z in ZOOM_STEPS if z > self.zoom + 1e-6), ZOOM_STEPS[-1])
        else:
            lower = [z for z in ZOOM_STEPS if z < self.zoom - 1e-6]
            self.zoom = lower[-1] if lower else ZOOM_STEPS[0]
        self._render()

    def _render(self) -> None:
        w = max(1, round(self._image.width() * self.zoom))
        h = max(1, round(self._image.height() * self.zoom))
        scaled = self._image.scaled(
            w, h, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        self.picture.setPixmap(QPixmap.fromImage(scaled))
        self.picture.resize(scaled.size())

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.step(+1 if event.angleDelta().y() > 0 else -1)
            event.accept()
            return
        super().wheelEvent(event)

    def save_as(self) -> None:
        target, _ = QFileDialog.getSaveFileName(self, "Save photo as", self.windowTitle())
        if target:
            self.save_to(Path(target))

    def save_to(self, target: Path) -> threading.Thread:
        """A copy of the photo as it came (in a worker: the file may be large)."""
        worker = threading.Thread(
            target=shutil.copyfile, args=(self.path, target), name="w2t-save", daemon=True
        )
        worker.start()
        return worker
