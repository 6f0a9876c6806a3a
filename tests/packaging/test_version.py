"""One version number: app.__version__ feeds pyproject, the spec, and the release tag check."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import app

ROOT = Path(__file__).resolve().parents[2]


def test_version_is_pep440_release() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", app.__version__)


def test_pyproject_reads_version_from_app() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in data["project"]
    assert "version" in data["project"]["dynamic"]
    assert data["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "app.__version__"}


def test_setuptools_resolves_the_same_version() -> None:
    from setuptools.config.pyprojecttoml import read_configuration

    config = read_configuration(ROOT / "pyproject.toml", expand=True)
    assert config["project"]["version"] == app.__version__


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "check_version.py"), *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_release_tag_check_accepts_matching_tag() -> None:
    for tag in (f"v{app.__version__}", f"refs/tags/v{app.__version__}", app.__version__):
        result = _check(tag)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == app.__version__


def test_release_tag_check_rejects_other_tag() -> None:
    result = _check("v999.0.0")
    assert result.returncode == 1
    assert "does not match" in result.stderr


def test_installer_recipes_take_the_version_from_app() -> None:
    spec = (ROOT / "packaging" / "web2text.spec").read_text(encoding="utf-8")
    assert 'app" / "__init__.py' in spec
    iss = (ROOT / "packaging" / "windows" / "web2text.iss").read_text(encoding="utf-8")
    assert "AppVersion={#AppVersion}" in iss
    assert not re.search(r"^AppVersion=\d", iss, re.M)  # never a hard-coded version
    for script in ("build-linux", "linux/build-appimage"):
        assert "app/__init__.py" in (ROOT / "packaging" / script).read_text(encoding="utf-8")
    assert "check_version.py" in (ROOT / "packaging/macos/build-macos").read_text(encoding="utf-8")
    assert "check_version.py" in (ROOT / "packaging/windows/build-windows.ps1").read_text(
        encoding="utf-8"
    )


def test_launcher_answers_version_like_the_app_without_loading_it() -> None:
    """The frozen entry point's `--version` fast path prints what argparse would."""
    launcher = subprocess.run(
        [sys.executable, "-X", "importtime", str(ROOT / "packaging" / "web2text_launcher.py"),
         "--version"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    app_main = subprocess.run(
        [sys.executable, "-m", "app.ui.main", "--version"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert launcher.returncode == app_main.returncode == 0
    assert launcher.stdout == app_main.stdout == f"web2text {app.__version__}\n"
    imported = {line.split("|")[-1].strip() for line in launcher.stderr.splitlines()}
    assert "app" in imported
    assert not {"app.ui.main", "multiprocessing", "PySide6"} & imported
