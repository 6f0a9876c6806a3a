"""Start at login: the per-user login item on each platform."""

from __future__ import annotations

import configparser
import plistlib
from pathlib import Path

import pytest

from app.autostart import Autostart, launch_command, windows_command_line


def test_xdg_entry_round_trip(tmp_path: Path) -> None:
    item = Autostart(platform="linux", home=tmp_path, config_dir=tmp_path / "cfg",
                     command=["/opt/web2text/web2text"])
    assert not item.is_enabled()
    item.set_enabled(True)
    assert item.path == tmp_path / "cfg" / "autostart" / "web2text.desktop"
    assert item.is_enabled()
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(item.path)
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application"
    assert section["Exec"] == "/opt/web2text/web2text"
    assert section["Icon"] == "web2text"
    item.set_enabled(False)
    assert not item.path.exists()
    assert not item.is_enabled()
    item.set_enabled(False)  # switching off twice is fine


def test_xdg_entry_quotes_paths_with_spaces(tmp_path: Path) -> None:
    item = Autostart(platform="linux", home=tmp_path, config_dir=tmp_path,
                     command=["/home/ann/My Apps/web2text", "--data-dir", "/tmp/a$b"])
    item.set_enabled(True)
    assert item.path is not None
    exec_line = next(
        line for line in item.path.read_text().splitlines() if line.startswith("Exec=")
    )
    assert exec_line == 'Exec="/home/ann/My Apps/web2text" --data-dir "/tmp/a\\$b"'


def test_xdg_entry_switched_off_in_desktop_settings_counts_as_off(tmp_path: Path) -> None:
    item = Autostart(platform="linux", home=tmp_path, config_dir=tmp_path, command=["w"])
    item.set_enabled(True)
    assert item.path is not None
    item.path.write_text(item.path.read_text() + "Hidden=true\n")
    assert not item.is_enabled()


def test_macos_launch_agent(tmp_path: Path) -> None:
    app_path = "/Applications/Web2Text.app/Contents/MacOS/web2text"
    item = Autostart(platform="darwin", home=tmp_path, command=[app_path])
    item.set_enabled(True)
    assert item.path == tmp_path / "Library/LaunchAgents/com.web2text.desktop.plist"
    agent = plistlib.loads(item.path.read_bytes())
    assert agent["Label"] == "com.web2text.desktop"
    assert agent["ProgramArguments"] == [app_path]
    assert agent["RunAtLoad"] is True
    assert agent["KeepAlive"] is False
    assert item.is_enabled()
    item.set_enabled(False)
    assert not item.is_enabled()


class FakeRunKey:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        self.values[name] = value

    def delete(self, name: str) -> None:
        self.values.pop(name, None)


def test_windows_run_value_matches_the_installer_task(tmp_path: Path) -> None:
    key = FakeRunKey()
    exe = r"C:\Program Files\Web2Text\web2text.exe"
    item = Autostart(platform="win32", home=tmp_path, run_key=key, command=[exe])
    item.set_enabled(True)
    assert key.values == {"Web2Text": f'"{exe}"'}
    assert item.is_enabled()
    # The Inno Setup task writes the same value name under the same key.
    iss = (Path(__file__).resolve().parents[2] / "packaging/windows/web2text.iss").read_text()
    assert 'Subkey: "Software\\Microsoft\\Windows\\CurrentVersion\\Run"' in iss
    assert 'ValueName: "Web2Text"' in iss
    item.set_enabled(False)
    assert key.values == {}


def test_windows_command_line_quotes_only_when_needed() -> None:
    assert windows_command_line([r"C:\w2t\web2text.exe"]) == r"C:\w2t\web2text.exe"
    assert windows_command_line([r"C:\A B\w.exe", "--x"]) == r'"C:\A B\w.exe" --x'


def test_write_failure_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "cfg"
    blocker.write_text("a file where the config folder should be")
    item = Autostart(platform="linux", home=tmp_path, config_dir=blocker, command=["w"])
    from app.autostart import AutostartError

    with pytest.raises(AutostartError) as info:
        item.set_enabled(True)
    assert info.value.reason == "autostart_failed"


def test_launch_command_prefers_the_appimage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPIMAGE", "/home/ann/Web2Text.AppImage")
    assert launch_command() == ["/home/ann/Web2Text.AppImage"]


def test_launch_command_of_a_frozen_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APPIMAGE", raising=False)
    monkeypatch.setattr("sys.frozen", True, raising=False)
    monkeypatch.setattr("sys.executable", "/opt/web2text/web2text")
    assert launch_command() == ["/opt/web2text/web2text"]
