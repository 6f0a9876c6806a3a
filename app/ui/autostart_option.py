"""Settings: "Start Web2Text when I sign in", wired to the login item of each OS
(`app.autostart`: an XDG autostart entry, a macOS LaunchAgent, the Windows Run key)."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QWidget

from app.autostart import Autostart, AutostartError, describe

LABEL = "Start Web2Text when I sign in"


class AutostartOption(QCheckBox):
    """Shows the login item's current state; `apply()` writes the user's choice."""

    def __init__(self, parent: QWidget | None = None, item: Autostart | None = None) -> None:
        super().__init__(LABEL, parent)
        self.item = item or Autostart()
        self.setAccessibleName(LABEL)
        try:
            self.setToolTip(describe() if item is None else str(self.item.path or ""))
            self.setChecked(self.item.is_enabled())
        except (OSError, AutostartError):
            self.setEnabled(False)
            self.setToolTip("The login items of this system cannot be read.")

    def apply(self) -> str | None:
        """Enable or disable the login item as ticked; an error message when it failed."""
        if not self.isEnabled():
            return None
        try:
            if self.isChecked() != self.item.is_enabled():
                self.item.set_enabled(self.isChecked())
        except (OSError, AutostartError) as exc:
            return f"Could not change the start at sign-in: {exc}"
        return None
