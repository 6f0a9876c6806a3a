"""One version number: app.__version__ feeds pyproject, the spec, and the release tag check."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

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


# What `--version` and `--help` must not load: Qt, the engine and relay's libraries.
HEAVY = {"PySide6", "shiboken6", "pydantic", "phonenumbers", "sqlalchemy", "httpx",
         "multiprocessing", "app.core", "app.sync", "app.ui.controller"}


def _imported(importtime_stderr: str) -> set[str]:
    return {line.split("|")[-1].strip() for line in importtime_stderr.splitlines()
            if line.startswith("import time:")}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_app_answers_cheap_flags_without_loading_qt(flag: str) -> None:
    """`web2text --version`/`--help` (the console script's main) parse the command
    line before anything heavy is imported."""
    result = _run("-c", f"from app.ui.main import main; main([{flag!r}])")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith(f"web2text {app.__version__}" if flag == "--version"
                                    else "usage: web2text")
    imported = _imported(result.stderr)
    assert "app.ui.main" in imported
    assert not HEAVY & imported, HEAVY & imported


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_frozen_runtime_hook_answers_like_the_app(flag: str) -> None:
    """The frozen program's first runtime hook gives argparse's own answer (before
    PyInstaller's PySide6 hook loads Qt) and lets every other command line through."""
    hook = str(ROOT / "packaging" / "pyi_rth_web2text_cli.py")
    frozen = _run(hook, flag)
    app_main = _run("-m", "app.ui.main", flag)
    assert frozen.returncode == app_main.returncode == 0
    assert frozen.stdout == app_main.stdout
    assert not HEAVY & _imported(frozen.stderr)
    passed_on = _run(hook, "--demo", "--quit-after", "0")
    assert passed_on.returncode == 0 and passed_on.stdout == ""
    assert "app.ui.main" not in _imported(passed_on.stderr)


def test_spec_runs_the_cli_hook() -> None:
    spec = (ROOT / "packaging" / "web2text.spec").read_text(encoding="utf-8")
    assert 'runtime_hooks=[str(ROOT / "packaging" / "pyi_rth_web2text_cli.py")]' in spec
