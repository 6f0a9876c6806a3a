"""Menu entry, icons and deb metadata: checked without building the program."""

from __future__ import annotations

import configparser
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = ROOT / "packaging" / "linux" / "web2text.desktop"


def _desktop_entry(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser


def test_desktop_entry_launches_the_installed_program() -> None:
    entry = _desktop_entry(DESKTOP)
    main = entry["Desktop Entry"]
    assert main["Type"] == "Application"
    assert main["Name"] == "Web2Text"
    assert main["Exec"] == "web2text"  # /usr/bin/web2text from the deb
    assert main["Icon"] == "web2text"  # hicolor theme name installed by the deb
    assert main["Terminal"] == "false"
    assert main["Categories"].endswith(";")
    assert entry["Desktop Action demo"]["Exec"] == "web2text --demo"
    assert "demo;" in main["Actions"]


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils")
def test_desktop_entry_is_valid() -> None:
    result = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_deb_control_template_has_every_field() -> None:
    control = (ROOT / "packaging" / "linux" / "control.in").read_text(encoding="utf-8")
    fields = dict(
        line.split(": ", 1) for line in control.splitlines() if line and not line.startswith(" ")
    )
    assert fields["Package"] == "web2text"
    assert fields["Version"] == "@VERSION@"
    deps = {d.strip() for d in fields["Depends"].split(",")}
    # (a color emoji font: customers' texts carry emoji, and without one Qt draws boxes)
    assert deps == {
        "libgl1", "libegl1", "libxkbcommon0", "libfontconfig1", "fonts-noto-color-emoji"
    }
    assert "Description" in fields and "Maintainer" in fields


def test_icons_for_every_installer(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "make_icons.py"), str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for size in (16, 32, 48, 128, 256, 512):
        image = QImage(str(tmp_path / "hicolor" / f"{size}x{size}" / "apps" / "web2text.png"))
        assert (image.width(), image.height()) == (size, size)
        # Drawn, not blank: the corner is transparent and the middle is not.
        assert image.pixelColor(0, 0).alpha() == 0
        assert image.pixelColor(size // 2, size // 2).alpha() == 255
    assert (tmp_path / "hicolor" / "scalable" / "apps" / "web2text.svg").exists()
    iconset = sorted(p.name for p in (tmp_path / "web2text.iconset").iterdir())
    assert "icon_512x512@2x.png" in iconset and len(iconset) == 10
    assert QImage(str(tmp_path / "web2text.iconset" / "icon_512x512@2x.png")).width() == 1024

    ico = (tmp_path / "web2text.ico").read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", ico)
    assert (reserved, kind) == (0, 1) and count == 7
    sizes = []
    for i in range(count):
        entry = struct.unpack_from("<BBBBHHII", ico, 6 + 16 * i)
        w, length, offset = entry[0], entry[6], entry[7]
        blob = ico[offset : offset + length]
        assert blob.startswith(b"\x89PNG")
        image = QImage.fromData(blob)
        assert image.width() == (w or 256)
        sizes.append(image.width())
    assert sizes == [16, 24, 32, 48, 64, 128, 256]
