"""First-run sign-in: relay URL + staff key, checked with the relay (`GET /v1/me`)
through the engine's relay client."""

from __future__ import annotations

from urllib.parse import urlsplit

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.relay_url import is_loopback_host
from app.sync.api import Me
from app.ui.dialogs import keyboard_ready
from app.ui.plain import plain_label
from app.ui.resources import render_svg
from app.ui.tasks import Tasks

#: what a sign-in tells the user for each reason the engine's key check gives
KEY_CHECK_MESSAGES = {
    "unauthorized": "The relay doesn't recognise this key. Check it and try again.",
    "forbidden": "This key isn't a staff key (it can't open the inbox).",
    "relay_timeout": "The relay at {base} did not answer in time.",
    "relay_unreachable": "Can't reach the relay at {base}.",
    "relay_error": "The relay answered with an error ({status}).",
    "relay_bad_answer": "The relay's answer was not understood.",
    "insecure_relay_url": "The relay address must start with https:// "
    "(keys are never sent unencrypted).",
}


class SignInError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def normalize_relay_url(text: str) -> str:
    """A usable base URL, or SignInError: https only, plain http only to loopback."""
    url = text.strip().rstrip("/")
    if not url:
        raise SignInError("relay_url_missing", "Enter the relay address your company gave you.")
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SignInError("relay_url_invalid", "That relay address doesn't look right.")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise SignInError(
            "insecure_relay_url",
            "The relay address must start with https:// (keys are never sent unencrypted).",
        )
    return url


async def check_key(relay_url: str, key: str, *, timeout: float = 10.0) -> Me:
    """Ask the relay (through the engine's relay client) who this key belongs to."""
    from app.sync.api import KeyCheckError, check_staff_key

    key = key.strip()
    if not key:
        raise SignInError("key_missing", "Enter your staff key.")
    base = normalize_relay_url(relay_url)
    try:
        return await check_staff_key(base, key, timeout=timeout)
    except KeyCheckError as exc:
        text = KEY_CHECK_MESSAGES.get(exc.reason, "The relay refused this key ({status}).")
        status = exc.status if exc.status is not None else exc.message
        raise SignInError(exc.reason, text.format(base=base, status=status)) from exc


class SignInDialog(QDialog):
    """Non-modal-friendly: use `open()` and the `signedIn` signal (never `exec()` under qasync)."""

    signedIn = Signal(str, str, object)  # relay_url, key, Me

    def __init__(self, parent: QWidget | None = None, relay_url: str = "", note: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Sign in — Web2Text")
        self.setModal(True)
        self.setMinimumWidth(440)
        self._tasks = Tasks("signin")

        logo = QLabel()
        logo.setPixmap(render_svg("app-icon.svg", 56))
        logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title = QLabel("Sign in to Web2Text")
        title.setObjectName("HeaderTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        sub = plain_label(note or "Use the relay address and staff key from your manager.")
        sub.setObjectName("Muted")
        sub.setWordWrap(True)
        sub.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.url_edit = QLineEdit(relay_url)
        self.url_edit.setPlaceholderText("https://relay.example.com")
        self.url_edit.setAccessibleName("Relay URL")
        self.key_edit = QLineEdit()
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("Staff key")
        self.key_edit.setAccessibleName("Staff key")
        self.error_label = plain_label()  # it may quote the relay's answer
        self.error_label.setObjectName("Banner")
        self.error_label.setProperty("kind", "danger")
        self.error_label.setWordWrap(True)
        self.error_label.setAccessibleName("Sign-in error")
        self.error_label.hide()

        form = QFormLayout()
        form.setSpacing(10)
        form.addRow("Relay", self.url_edit)
        form.addRow("Staff key", self.key_edit)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 20)
        layout.setSpacing(12)
        layout.addWidget(logo)
        layout.addWidget(title)
        layout.addWidget(sub)
        layout.addSpacing(6)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addLayout(self._buttons())
        self.shortcut_hint = keyboard_ready(self, "Sign in", default=self.sign_in_button)
        (self.key_edit if relay_url else self.url_edit).setFocus()

    def _buttons(self) -> QHBoxLayout:
        self.sign_in_button = QPushButton("Sign in")
        self.sign_in_button.setObjectName("Primary")
        self.sign_in_button.setAccessibleName("Sign in")
        self.sign_in_button.clicked.connect(self._submit)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        buttons.addWidget(self.sign_in_button)
        return buttons

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.show()
        self.adjustSize()

    def _submit(self) -> None:
        self.sign_in_button.setEnabled(False)
        self.sign_in_button.setText("Checking…")
        self.error_label.hide()
        self._tasks.spawn(self._check(self.url_edit.text(), self.key_edit.text()))

    async def _check(self, url: str, key: str) -> None:
        try:
            info = await check_key(url, key)
        except SignInError as exc:
            self.show_error(exc.message)
            self.sign_in_button.setEnabled(True)
            self.sign_in_button.setText("Sign in")
            return
        self.signedIn.emit(normalize_relay_url(url), key.strip(), info)
        self.accept()

    def done(self, result: int) -> None:
        for task in list(self._tasks._tasks):
            task.cancel()
        super().done(result)
