"""Start the desktop app when the user signs in (optional, off by default).

One switch per platform, all per user and without admin rights:

- Linux/BSD: an XDG autostart entry ``$XDG_CONFIG_HOME/autostart/web2text.desktop``.
- macOS: a launch agent ``~/Library/LaunchAgents/com.web2text.desktop.plist``.
- Windows: the ``Web2Text`` value under ``HKCU\\Software\\Microsoft\\Windows\\
  CurrentVersion\\Run`` (the Windows installer's "Start Web2Text when I sign in"
  task writes the same value, so the two agree).

The app (a settings checkbox) calls `is_enabled()` / `set_enabled()`; pure
standard library, no Qt, so it is usable from the UI and from tests.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

APP_NAME = "Web2Text"
DESKTOP_FILE = "web2text.desktop"
LAUNCH_AGENT_LABEL = "com.web2text.desktop"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


class AutostartError(RuntimeError):
    """The login item could not be written or removed; `reason` is stable snake_case."""

    def __init__(self, message: str, reason: str = "autostart_failed") -> None:
        super().__init__(message)
        self.reason = reason


def launch_command() -> list[str]:
    """How to start this very installation again at the next sign-in."""
    appimage = os.environ.get("APPIMAGE")
    if appimage:  # an AppImage runs from a temporary mount: start the image file itself
        return [appimage]
    if getattr(sys, "frozen", False):  # PyInstaller build: the program itself
        return [sys.executable]
    script = shutil.which("web2text")
    if script:
        return [script]
    return [sys.executable, "-m", "app.ui.main"]


class RunKey(Protocol):
    """The part of the Windows registry this module uses (a port, so it is testable)."""

    def get(self, name: str) -> str | None: ...
    def set(self, name: str, value: str) -> None: ...
    def delete(self, name: str) -> None: ...


class _WinRegRunKey:
    def get(self, name: str) -> str | None:
        if sys.platform != "win32":
            raise AutostartError("no Windows registry here", "unsupported_platform")
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                value, _kind = winreg.QueryValueEx(key, name)
                return str(value)
        except FileNotFoundError:
            return None

    def set(self, name: str, value: str) -> None:
        if sys.platform != "win32":
            raise AutostartError("no Windows registry here", "unsupported_platform")
        import winreg

        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            winreg.SetValueEx(key, name, 0, winreg.REG_SZ, value)

    def delete(self, name: str) -> None:
        if sys.platform != "win32":
            raise AutostartError("no Windows registry here", "unsupported_platform")
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
                winreg.DeleteValue(key, name)
        except FileNotFoundError:
            pass


class Autostart:
    """The login item of one platform. Defaults to the running system and user."""

    def __init__(
        self,
        platform: str | None = None,
        home: Path | None = None,
        config_dir: Path | None = None,
        run_key: RunKey | None = None,
        command: Sequence[str] | None = None,
    ) -> None:
        self.platform = platform or sys.platform
        self.home = home or Path.home()
        xdg = os.environ.get("XDG_CONFIG_HOME")
        self.config_dir = config_dir or (Path(xdg) if xdg else self.home / ".config")
        self._run_key = run_key
        self.command = list(command) if command else launch_command()

    # --- where ---------------------------------------------------------------
    @property
    def kind(self) -> str:
        if self.platform == "win32":
            return "windows"
        if self.platform == "darwin":
            return "macos"
        return "xdg"

    @property
    def path(self) -> Path | None:
        """The file that holds the login item (None on Windows: it is a registry value)."""
        if self.kind == "xdg":
            return self.config_dir / "autostart" / DESKTOP_FILE
        if self.kind == "macos":
            return self.home / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"
        return None

    def _registry(self) -> RunKey:
        if self._run_key is None:
            self._run_key = _WinRegRunKey()
        return self._run_key

    # --- what ----------------------------------------------------------------
    def is_enabled(self) -> bool:
        if self.kind == "windows":
            return self._registry().get(APP_NAME) is not None
        path = self.path
        assert path is not None
        if not path.exists():
            return False
        if self.kind == "xdg":
            # A user may have switched it off in their desktop's settings instead of deleting it.
            text = path.read_text(encoding="utf-8", errors="replace")
            return "Hidden=true" not in text and "X-GNOME-Autostart-enabled=false" not in text
        return True

    def set_enabled(self, enabled: bool) -> None:
        try:
            if enabled:
                self._enable()
            else:
                self._disable()
        except OSError as exc:
            raise AutostartError(f"could not change the login item: {exc}") from exc

    def _enable(self) -> None:
        if self.kind == "windows":
            self._registry().set(APP_NAME, windows_command_line(self.command))
            return
        path = self.path
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.kind == "xdg":
            content = xdg_entry(self.command)
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(launch_agent(self.command))

    def _disable(self) -> None:
        if self.kind == "windows":
            self._registry().delete(APP_NAME)
            return
        path = self.path
        assert path is not None
        path.unlink(missing_ok=True)


def xdg_entry(command: Sequence[str]) -> str:
    # The desktop entry spec quotes arguments with double quotes, like a shell.
    exec_line = " ".join(_desktop_quote(arg) for arg in command)
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        f"Name={APP_NAME}\n"
        "Comment=Text with the customers who write from your website\n"
        f"Exec={exec_line}\n"
        "Icon=web2text\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def _desktop_quote(arg: str) -> str:
    if arg and all(c.isalnum() or c in "-_./=:+," for c in arg):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
    return f'"{escaped}"'


def launch_agent(command: Sequence[str]) -> bytes:
    return plistlib.dumps(
        {
            "Label": LAUNCH_AGENT_LABEL,
            "ProgramArguments": list(command),
            "RunAtLoad": True,
            # Quitting from the tray must stay quit until the next sign-in.
            "KeepAlive": False,
            "ProcessType": "Interactive",
        }
    )


def windows_command_line(command: Sequence[str]) -> str:
    # The Run key holds one command line; quote paths with spaces ("Program Files").
    return " ".join(f'"{arg}"' if (" " in arg or not arg) else arg for arg in command)


def is_enabled() -> bool:
    return Autostart().is_enabled()


def set_enabled(enabled: bool) -> None:
    Autostart().set_enabled(enabled)


def describe() -> str:
    """Where the login item lives, for the settings dialog's tooltip."""
    item = Autostart()
    return str(item.path) if item.path else f"HKCU\\{RUN_KEY}\\{APP_NAME}"


__all__ = [
    "Autostart",
    "AutostartError",
    "describe",
    "is_enabled",
    "launch_command",
    "set_enabled",
]
