"""The message composer: typing, counting segments, templates, quiet hours, opt-out."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QImage, QKeyEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core import segments as core_segments
from app.core import templates as core_templates
from app.ui.attach import (
    PHOTO_FILTER,
    AttachmentChip,
    PastedImages,
    carries_photo,
    photo_files,
)
from app.ui.plain import plain_label
from app.ui.send_later import PickTimeDialog, later_menu, when_text
from app.ui.settings import Template

__all__ = ["Composer", "MessageEdit", "Template", "describe_segments"]


class MessageEdit(QPlainTextEdit):
    """Enter sends, Shift+Enter adds a line, Ctrl+Enter sends too. A photo dropped or
    pasted here becomes the attachment (never text in the box)."""

    sendRequested = Signal()
    photoDropped = Signal(str)  # a local image file
    imagePasted = Signal(QImage)

    def canInsertFromMimeData(self, source: QMimeData) -> bool:
        return carries_photo(source) or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: QMimeData) -> None:
        files = photo_files(source)
        if files:
            self.photoDropped.emit(str(files[0]))
        elif source.hasImage():
            self.imagePasted.emit(QImage(source.imageData()))
        else:
            super().insertFromMimeData(source)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Message")
        self.setObjectName("ComposerEdit")
        self.setTabChangesFocus(True)
        self.setPlaceholderText("Write a text…  (Enter sends, Shift+Enter adds a line)")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            mods = event.modifiers()
            if mods & Qt.KeyboardModifier.ShiftModifier:
                self.textCursor().insertText("\n")
                return
            self.sendRequested.emit()
            event.accept()
            return
        super().keyPressEvent(event)


def describe_segments(text: str) -> str:
    """'42 characters · 1 segment · GSM-7' (the counter under the composer)."""
    info = core_segments.analyze(text)
    encoding = str(getattr(info.encoding, "value", info.encoding))
    encoding = {"gsm7": "GSM-7", "gsm-7": "GSM-7", "ucs2": "UCS-2", "ucs-2": "UCS-2"}.get(
        encoding.lower(), encoding
    )
    chars = "character" if info.length == 1 else "characters"
    segs = "segment" if info.segments == 1 else "segments"
    return f"{info.length} {chars} · {info.segments} {segs} · {encoding} · {info.chars_left} left"


def _banner(kind: str, accessible: str) -> QLabel:
    """A hidden one-line notice above the text box (plain text: it names templates)."""
    label = plain_label()
    label.setObjectName("Banner")
    label.setProperty("kind", kind)
    label.setWordWrap(True)
    label.setAccessibleName(accessible)
    label.hide()
    return label


class Composer(QWidget):
    send = Signal(str)
    manageSharedRequested = Signal()
    sendLater = Signal(str, object)  # text, when (aware UTC datetime)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Composer")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._templates: list[Template] = []
        self._shared: list[Template] = []
        self._shared_from = ""
        #: what the templates menu was built from (None: not built yet)
        self._menu_shows: tuple[object, ...] | None = None
        self._fields: Mapping[str, str] = {}
        self._quiet_check: Callable[[datetime], str | None] | None = None
        self._blocked_reason: str | None = None
        #: the customer's zone (send-later presets) and their next allowed time
        self._zone = "America/New_York"
        self._next_allowed: Callable[[datetime], datetime | None] | None = None

        self._build_edit()
        self._build_buttons()
        self._build_notices()
        self._lay_out()
        self._on_text()

    def _build_edit(self) -> None:
        """The text box and the photo attachment (chosen, dropped or pasted)."""
        self.edit = MessageEdit(self)
        self.edit.setFixedHeight(84)
        self.edit.sendRequested.connect(self.submit)
        self.edit.textChanged.connect(self._on_text)
        self.attachment: Path | None = None
        self.chip = AttachmentChip(self)
        self.chip.removed.connect(lambda: self.set_attachment(None))
        self.pasted = PastedImages(self)
        self.pasted.saved.connect(lambda name: self.set_attachment(Path(name)))
        self.edit.photoDropped.connect(lambda name: self.set_attachment(Path(name)))
        self.edit.imagePasted.connect(self.pasted.save)
        self.setAcceptDrops(True)
        self.attach_button = QToolButton()
        self.attach_button.setText("Photo…")
        self.attach_button.setAccessibleName("Attach a photo")
        self.attach_button.setToolTip("Attach a photo (or drop or paste one here)")
        self.attach_button.clicked.connect(self.choose_photo)

    def _build_buttons(self) -> None:
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("Primary")
        self.send_button.setAccessibleName("Send")
        self.send_button.setToolTip("Send (Enter or Ctrl+Enter)")
        self.send_button.clicked.connect(self.submit)
        self.send_button.setEnabled(False)
        self.send_button.setMinimumWidth(84)
        # a click leaves the keyboard in the text box (a Space must not send again)
        self.send_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)

        self.templates_button = QToolButton()
        self.templates_button.setText("Templates")
        self.templates_button.setAccessibleName("Templates")
        self.templates_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.templates_button.setToolTip("Insert a template (Ctrl+T)")
        self.templates_menu = QMenu(self.templates_button)
        self.templates_button.setMenu(self.templates_menu)

        self.later_button = QToolButton()
        self.later_button.setText("Later")
        self.later_button.setAccessibleName("Send later")
        self.later_button.setToolTip("Send this text later (in 1 hour, tomorrow morning, …)")
        self.later_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.later_button.setMenu(later_menu(self, lambda: self._zone, self._later, self.pick_time))
        self.send_at_button = QPushButton()
        self.send_at_button.setAccessibleName("Send at the next allowed time")
        self.send_at_button.clicked.connect(self._send_at_next_allowed)
        self.send_at_button.hide()

    def _build_notices(self) -> None:
        self.counter = QLabel()
        self.counter.setObjectName("Counter")
        self.counter.setAccessibleName("Character counter")
        self.warning = _banner("warning", "Quiet hours warning")
        self.blocked = _banner("danger", "Composer disabled")

    def _lay_out(self) -> None:
        row = QHBoxLayout()
        row.setSpacing(10)
        row.addWidget(self.edit, 1)
        row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        tools = QHBoxLayout()
        tools.setContentsMargins(2, 0, 2, 0)
        tools.addWidget(self.templates_button)
        tools.addWidget(self.attach_button)
        tools.addWidget(self.later_button)
        tools.addStretch(1)
        tools.addWidget(self.counter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 12)
        layout.setSpacing(6)
        layout.addWidget(self.blocked)
        layout.addWidget(self.warning)
        layout.addWidget(self.chip)
        layout.addWidget(self.send_at_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addLayout(row)
        layout.addLayout(tools)

    # ---- state set by the conversation pane

    def set_templates(self, templates: Sequence[Template]) -> None:
        """This PC's own templates (Settings)."""
        self._templates = list(templates)
        self._build_templates_menu()

    def set_shared_templates(self, templates: Sequence[Template], location_name: str = "") -> None:
        """The open lead's location's shared templates (the dealership's)."""
        self._shared = list(templates)
        self._shared_from = location_name
        self._build_templates_menu()

    def _build_templates_menu(self) -> None:
        # set again each time a lead shows (its changes too): rebuilt only when different
        shared_from = self._shared_from if self._shared else ""  # named only with some
        shown = (tuple(self._templates), tuple(self._shared), shared_from)
        if shown == self._menu_shows:
            return
        self._menu_shows = shown
        menu = self.templates_menu
        menu.clear()
        if not self._templates and not self._shared:
            empty = QAction("No templates yet — add them in Settings", menu)
            empty.setEnabled(False)
            menu.addAction(empty)
        for title, templates in (
            ("Shared" + (f" · {self._shared_from}" if self._shared_from else ""), self._shared),
            ("Yours", self._templates),
        ):
            if not templates:
                continue
            if self._shared:  # both kinds can show: say which is which
                menu.addSection(title)
            for template in templates:
                action = QAction(template.name, menu)
                action.triggered.connect(lambda _=False, t=template: self.insert_template(t))
                menu.addAction(action)
        menu.addSeparator()
        manage = QAction("Manage shared templates…", menu)
        manage.triggered.connect(self.manageSharedRequested)
        menu.addAction(manage)

    def set_merge_fields(self, fields: Mapping[str, str]) -> None:
        self._fields = dict(fields)

    def set_quiet_hours_check(self, check: Callable[[datetime], str | None] | None) -> None:
        """`check(now)` returns the warning to show, or None (sending is fine now)."""
        self._quiet_check = check
        self.refresh_warning()

    def set_customer_time(
        self, zone: str, next_allowed: Callable[[datetime], datetime | None] | None
    ) -> None:
        """The customer's zone and `next_allowed(now)` (None: texting is fine now)."""
        self._zone, self._next_allowed = zone, next_allowed
        self.refresh_warning()

    def refresh_warning(self, now: datetime | None = None) -> None:
        from app.ui import fmt  # the relay's time: a wrong PC clock changes no warning

        now = now or fmt.now_utc()
        text = self._quiet_check(now) if self._quiet_check else None
        shown = bool(text) and self._blocked_reason is None
        self.warning.setText(text or "")
        self.warning.setVisible(shown)
        at = self._next_allowed(now) if shown and self._next_allowed else None
        if at is not None:
            label = f"Send at {when_text(at, self._zone, now)} (customer's time)"
            self.send_at_button.setText(label)
            self.send_at_button.setAccessibleName(label)
        self.send_at_button.setVisible(at is not None)

    def _later(self, at: datetime) -> None:
        text = self.text().strip()
        if text and self._blocked_reason is None:
            self.sendLater.emit(text, at)

    def _send_at_next_allowed(self) -> None:
        from app.ui import fmt

        at = self._next_allowed(fmt.now_utc()) if self._next_allowed else None
        if at is not None:
            self._later(at)

    def pick_time(self) -> None:
        """A date and time in the customer's zone, then `sendLater`."""
        if not self.text().strip() or self._blocked_reason is not None:
            return
        self.picker = PickTimeDialog(self._zone, self.window())
        self.picker.picked.connect(self._later)
        self.picker.finished.connect(lambda _r: self.picker.deleteLater())
        self.picker.open()

    def set_blocked(self, reason: str | None) -> None:
        """Disable typing with an explanation (e.g. the customer opted out)."""
        self._blocked_reason = reason
        self.blocked.setText(reason or "")
        self.blocked.setVisible(reason is not None)
        self.edit.setEnabled(reason is None)
        self.edit.setPlaceholderText(
            "Texting is off for this customer"
            if reason
            else "Write a text…  (Enter sends, Shift+Enter adds a line)"
        )
        self.templates_button.setEnabled(reason is None)
        self.attach_button.setEnabled(reason is None)
        self.later_button.setEnabled(reason is None)
        self.refresh_warning()
        self._on_text()

    def open_templates(self) -> None:
        """The templates menu under its button; Esc closes it, the keyboard stays here."""
        if not self.templates_button.isEnabled():
            return
        below = self.templates_button.rect().bottomLeft()
        self.templates_menu.popup(self.templates_button.mapToGlobal(below))
        actions = [
            a for a in self.templates_menu.actions() if a.isEnabled() and not a.isSeparator()
        ]
        if actions:
            self.templates_menu.setActiveAction(actions[0])

    def insert_template(self, template: Template) -> None:
        try:
            text = core_templates.render(template.body, dict(self._fields))
        except core_templates.TemplateError as exc:
            self.warning.setText(f"Template “{template.name}” can't be used: {exc}")
            self.warning.show()
            return
        self.edit.textCursor().insertText(text)
        self.edit.setFocus()

    # ---- behaviour

    def text(self) -> str:
        return self.edit.toPlainText()

    def clear(self) -> None:
        self.edit.clear()

    def _on_text(self) -> None:
        text = self.text()
        self.counter.setText(describe_segments(text))
        ready = bool(text.strip()) or self.attachment is not None
        self.send_button.setEnabled(ready and self._blocked_reason is None)

    def submit(self) -> None:
        """Emit `send` with the text (the photo, if any, is `take_attachment()`'s)."""
        text = self.text()
        if (not text.strip() and self.attachment is None) or self._blocked_reason is not None:
            return
        self.send.emit(text.strip())

    # ---- the photo

    def set_attachment(self, path: Path | None) -> None:
        self.attachment = path
        self.chip.show_path(path)
        self._on_text()

    def take_attachment(self) -> Path | None:
        path, self.attachment = self.attachment, None
        self.chip.show_path(None)
        self._on_text()
        return path

    def choose_photo(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Attach a photo", "", PHOTO_FILTER)
        if name:
            self.set_attachment(Path(name))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._blocked_reason is None and carries_photo(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = photo_files(event.mimeData())
        if files:
            self.set_attachment(files[0])
            event.acceptProposedAction()
