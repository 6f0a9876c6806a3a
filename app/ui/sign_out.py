"""Sign out, and forget this PC: the confirmation, then what is removed.

Signing out removes the staff member's key from the OS keyring (the next start or
switch to them asks for it again). "Forget this PC", confirmed in the same dialog,
also deletes their local data: the profile's folder (its store, the outbox of texts
not yet sent, drafts), its entry in `profiles.json` and its PIN.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import NamedTuple

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.dialogs import keyboard_ready
from app.ui.kiosk_pin import PinGate
from app.ui.plain import plain_label
from app.ui.profiles import Profile, ProfileStore, Secrets


class SignOutChoice(NamedTuple):
    profile: Profile
    forget: bool  # also delete this PC's copy of the profile's data


class SignOutDialog(QDialog):
    """Asks before signing out; "forget this PC" is a second, explicit choice."""

    confirmed = Signal(object)  # SignOutChoice

    def __init__(self, profile: Profile, parent: QWidget | None = None, *, pending: int = 0):
        super().__init__(parent)
        self.profile = profile
        self.setWindowTitle("Sign out")
        self.setAccessibleName("Sign out")
        text = plain_label(
            f"Sign out {profile.staff_name}? The key is removed from this PC's password "
            "store; signing in again needs it."
        )
        text.setWordWrap(True)
        self.forget_box = QCheckBox("Also forget this PC: delete its copy of the conversations")
        self.forget_box.setAccessibleName("Forget this PC")
        self.warning = QLabel(f"{pending} text(s) not yet sent will be lost." if pending else "")
        self.warning.setObjectName("Error")
        self.warning.setVisible(bool(pending))
        self.sign_out_button = QPushButton("Sign out")
        self.sign_out_button.setObjectName("Primary")
        self.sign_out_button.clicked.connect(self._confirm)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.sign_out_button)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.forget_box)
        layout.addWidget(self.warning)
        layout.addLayout(buttons)
        self.forget_box.toggled.connect(self._forget_toggled)
        keyboard_ready(self, "Sign out", default=self.sign_out_button)

    def _forget_toggled(self, on: bool) -> None:
        self.sign_out_button.setText("Sign out and forget" if on else "Sign out")
        self.sign_out_button.setAccessibleName(self.sign_out_button.text())

    def _confirm(self) -> None:
        self.confirmed.emit(SignOutChoice(self.profile, self.forget_box.isChecked()))
        self.accept()


def remove_profile_data(
    choice: SignOutChoice, profiles: ProfileStore, secrets: Secrets, engine_dir: Path
) -> None:
    """The key out of the keyring; with `forget`, the profile's folder and entry too
    (blocking: a worker thread, after the profile's engine has stopped)."""
    secrets.delete(choice.profile)
    if not choice.forget:
        return
    shutil.rmtree(engine_dir, ignore_errors=True)
    profiles.remove(choice.profile)


async def sign_out(
    choice: SignOutChoice, profiles: ProfileStore, secrets: Secrets, pins: PinGate
) -> None:
    import asyncio

    engine_dir = profiles.engine_dir(choice.profile)
    await asyncio.to_thread(remove_profile_data, choice, profiles, secrets, engine_dir)
    if choice.forget:
        await pins.forget(choice.profile)
