"""Kiosk mode: lock after idle minutes, quick staff switching, each staff member's PIN.

`LockScreen` covers the window. A staff member taps their name, then types their
PIN (on their first unlock they choose one, typed twice); only then does it emit
`staffChosen`. Wrong PINs slow down (`app.core.pin`: 5 tries, then 30 s).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, QRegularExpression, Qt, QTimer, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.pin import MAX_DIGITS
from app.ui.kiosk_pin import Answer, Outcome, PinGate
from app.ui.profiles import Profile
from app.ui.resources import render_svg
from app.ui.tasks import Tasks

INPUT_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
    }
)


class IdleWatcher(QObject):
    """Emits `idle` after `minutes` without keyboard, mouse or touch input."""

    idle = Signal()

    def __init__(self, app: QApplication, minutes: float, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.idle)
        self.set_minutes(minutes)
        app.installEventFilter(self)
        self._app = app

    def set_minutes(self, minutes: float) -> None:
        self._timer.setInterval(max(1, int(minutes * 60_000)))
        self._timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in INPUT_EVENTS:
            self._timer.start()
        return False

    def stop(self) -> None:
        self._timer.stop()
        self._app.removeEventFilter(self)


class PinPanel(QWidget):
    """The PIN step of the lock screen: enter it, or choose it (typed twice)."""

    submitted = Signal(str, str)  # PIN, the same again (empty when entering)
    backRequested = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.prompt = QLabel()
        self.prompt.setAlignment(Qt.AlignmentFlag.AlignCenter)
        digits = QRegularExpressionValidator(QRegularExpression(f"[0-9]{{0,{MAX_DIGITS}}}"), self)
        self.pin_edit = self._pin_field("PIN", digits)
        self.repeat_edit = self._pin_field("PIN again", digits)
        self.error = QLabel()
        self.error.setObjectName("Error")
        self.error.setAccessibleName("PIN error")
        self.error.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.unlock_button = QPushButton("Unlock")
        self.unlock_button.setObjectName("Primary")
        self.unlock_button.clicked.connect(self._submit)
        self.back_button = QPushButton("Back")
        self.back_button.setAccessibleName("Back to the staff list")
        self.back_button.clicked.connect(self.backRequested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.unlock_button)
        layout = QVBoxLayout(self)
        for w in (self.prompt, self.pin_edit, self.repeat_edit, self.error):
            layout.addWidget(w, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addLayout(buttons)
        self._wait_timer = QTimer(self)
        self._wait_timer.setInterval(1000)
        self._wait_timer.timeout.connect(self._tick)
        self._wait_left = 0

    def _pin_field(self, name: str, validator: QRegularExpressionValidator) -> QLineEdit:
        edit = QLineEdit()
        edit.setEchoMode(QLineEdit.EchoMode.Password)
        edit.setValidator(validator)
        edit.setPlaceholderText(name)
        edit.setAccessibleName(name)
        edit.setMinimumWidth(200)
        edit.returnPressed.connect(self._submit)
        return edit

    def ask(self, name: str, *, new: bool) -> None:
        """Ask `name` for their PIN (`new`: choose one)."""
        self.prompt.setText(
            f"{name}, choose a PIN (4 to 8 digits) to unlock with from now on."
            if new
            else f"{name}, type your PIN."
        )
        self.setAccessibleName(f"PIN for {name}")
        self.unlock_button.setText("Set PIN and unlock" if new else "Unlock")
        self.unlock_button.setAccessibleName(self.unlock_button.text())
        self.repeat_edit.setVisible(new)
        self.pin_edit.clear()
        self.repeat_edit.clear()
        self.error.clear()
        self.pin_edit.setFocus()

    def _submit(self) -> None:
        if self.pin_edit.isEnabled():
            self.submitted.emit(self.pin_edit.text(), self.repeat_edit.text())

    def refused(self, answer: Answer) -> None:
        """Show why the PIN did not unlock; a wait disables the fields until it ends."""
        self.pin_edit.clear()
        self.repeat_edit.clear()
        self.error.setText(answer.message)
        if answer.outcome is Outcome.WAIT:
            self._wait_left = max(1, round(answer.wait_s))
            self._set_enabled(False)
            self._wait_timer.start()
        else:
            self.pin_edit.setFocus()

    def _tick(self) -> None:
        self._wait_left -= 1
        if self._wait_left > 0:
            self.error.setText(f"Too many wrong PINs. Try again in {self._wait_left} s.")
            return
        self._wait_timer.stop()
        self.error.clear()
        self._set_enabled(True)
        self.pin_edit.setFocus()

    def _set_enabled(self, enabled: bool) -> None:
        for w in (self.pin_edit, self.repeat_edit, self.unlock_button):
            w.setEnabled(enabled)


class LockScreen(QWidget):
    """Covers the window; staff pick themselves and type their PIN to unlock (or switch)."""

    staffChosen = Signal(object)  # Profile, once its PIN is right
    addStaffRequested = Signal()

    def __init__(self, parent: QWidget, pins: PinGate, tasks: Tasks) -> None:
        super().__init__(parent)
        self.pins = pins
        self._tasks = tasks
        self.picked: Profile | None = None  # whose PIN the PIN step asks for
        self._new_pin = False
        self.setObjectName("LockScreen")
        self.setAccessibleName("Locked")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        logo = QLabel()
        logo.setPixmap(render_svg("app-icon.svg", 72))
        logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel("Web2Text is locked")
        self.title.setObjectName("LockTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        sub = QLabel("Tap your name to continue. Customers' messages stay private while locked.")
        sub.setObjectName("Muted")
        sub.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.buttons = QHBoxLayout()
        self.buttons.setSpacing(12)
        self.add_button = QPushButton("Add staff…")
        self.add_button.setAccessibleName("Add staff")
        self.add_button.clicked.connect(self.addStaffRequested)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(logo)
        layout.addSpacing(8)
        layout.addWidget(self.title)
        layout.addWidget(sub)
        layout.addSpacing(20)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addLayout(self.buttons)
        row.addStretch(1)
        layout.addLayout(row)
        self.pin_panel = PinPanel(self)
        self.pin_panel.submitted.connect(self._pin_submitted)
        self.pin_panel.backRequested.connect(self.show_names)
        self.pin_panel.hide()
        layout.addWidget(self.pin_panel, 0, Qt.AlignmentFlag.AlignHCenter)
        add_row = QHBoxLayout()
        add_row.addStretch(1)
        add_row.addWidget(self.add_button)
        add_row.addStretch(1)
        layout.addSpacing(8)
        layout.addLayout(add_row)
        layout.addStretch(2)
        parent.installEventFilter(self)
        self.hide()

    def set_profiles(self, profiles: Sequence[Profile], current: Profile | None) -> None:
        while self.buttons.count():
            item = self.buttons.takeAt(0)
            if item is not None and item.widget() is not None:
                item.widget().deleteLater()  # type: ignore[union-attr]
        for p in profiles:
            b = QPushButton(
                p.staff_name
                + ("  (signed in)" if current and p.key_user == current.key_user else "")
            )
            b.setObjectName("Primary" if current and p.key_user == current.key_user else "")
            b.setMinimumSize(160, 48)
            b.setAccessibleName(p.staff_name)
            b.clicked.connect(lambda _=False, prof=p: self.pick(prof))
            self.buttons.addWidget(b)

    def _name_buttons(self) -> list[QWidget]:
        items = (self.buttons.itemAt(i) for i in range(self.buttons.count()))
        return [w for w in (item.widget() for item in items if item is not None) if w]

    def lock(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())
        self.show_names()
        self.show()
        self.raise_()
        self.setFocus()

    def show_names(self) -> None:
        """Back to the list of staff (Escape or Back on the PIN step)."""
        self.picked = None
        self.pin_panel.hide()
        for w in self._name_buttons():
            w.show()
        self.add_button.show()
        self.setFocus()

    def pick(self, profile: Profile) -> None:
        """A name was tapped: its PIN step (choosing one on the first unlock)."""
        self._tasks.spawn(self._ask_pin(profile))

    async def _ask_pin(self, profile: Profile) -> None:
        self._new_pin = not await self.pins.has_pin(profile)
        self.picked = profile
        for w in self._name_buttons():
            w.hide()
        self.add_button.hide()
        self.pin_panel.show()
        self.pin_panel.ask(profile.staff_name, new=self._new_pin)
        wait = self.pins.wait_left(profile)
        if wait > 0:
            self.pin_panel.refused(Answer(Outcome.WAIT, "Too many wrong PINs.", wait))

    def _pin_submitted(self, pin: str, repeated: str) -> None:
        profile = self.picked
        if profile is not None:
            self._tasks.spawn(self._try_pin(profile, pin, repeated))

    async def _try_pin(self, profile: Profile, pin: str, repeated: str) -> None:
        if self._new_pin:
            answer = await self.pins.set_pin(profile, pin, repeated)
        else:
            answer = await self.pins.check(profile, pin)
        if self.picked is not profile:  # went back meanwhile
            return
        if answer.outcome is Outcome.UNLOCKED:
            self.show_names()
            self.staffChosen.emit(profile)
        else:
            self.pin_panel.refused(answer)
