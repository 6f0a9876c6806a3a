"""Import rules between packages (docs/architecture.md, "who may import whom").

- `app/core` and `app/sync` never import Qt (PySide6, shiboken6, qasync);
- `app/core` imports nothing that does I/O (sockets, HTTP clients, databases,
  AWS, Twilio, subprocesses, asyncio) and no other `app` package;
- `app/relay` never imports `app.sync`, `app.ui` or `app.sandbox`;
- `app/ui` reaches the engine only through its facade (`app.sync.api`, and
  `app.sync.inbox` for the first frame's rows), the relay only through the engine
  (no HTTP client of its own), and the sandbox only through the demo's entry point
  (`app.sandbox.demo`, from `app/ui/demo_host.py` alone).

The source is scanned with `ast` (static imports, `importlib.import_module(...)`
and `__import__(...)` with a literal name), and the packages are also imported in
a fresh interpreter to catch Qt arriving through a third-party dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app"

QT = ("PySide6", "shiboken6", "qasync")
CORE_FORBIDDEN_IO = (
    "socket",
    "ssl",
    "select",
    "selectors",
    "sqlite3",
    "subprocess",
    "multiprocessing",
    "asyncio",
    "http.client",
    "urllib.request",
    "urllib3",
    "httpx",
    "httpx_sse",
    "requests",
    "aiohttp",
    "boto3",
    "botocore",
    "aioboto3",
    "sqlalchemy",
    "alembic",
    "twilio",
    "keyring",
    "fastapi",
    "starlette",
    "uvicorn",
    "sse_starlette",
)
OTHER_APP_PACKAGES = ("app.sync", "app.ui", "app.relay", "app.sandbox")
HTTP_CLIENTS = (
    "httpx",
    "httpx_sse",
    "requests",
    "aiohttp",
    "urllib3",
    "urllib.request",
    "http.client",
    "websockets",
)
#: what of the engine the desktop may import
ENGINE_FACADE = ("app.sync.api", "app.sync.inbox")
#: the sandbox's one door for the desktop, and the one module that opens it
DEMO_ENTRY = "app.sandbox.demo"
DEMO_HOST = Path("app/ui/demo_host.py")


def imported_modules(source: str, module: str = "") -> Iterator[tuple[str, int]]:
    """Every module name `source` imports, with its line number.

    `module` (the dotted name of the file) resolves relative imports.
    """
    tree = ast.parse(source)
    package = module.rsplit(".", 1)[0] if module else ""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts)
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            yield name, node.lineno
            for alias in node.names:  # `from app import sync`
                yield f"{name}.{alias.name}", node.lineno
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            first = node.args[0]
            if (
                called in ("import_module", "__import__")
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                yield first.value, node.lineno


def _matches(name: str, forbidden: tuple[str, ...]) -> str | None:
    for prefix in forbidden:
        if name == prefix or name.startswith(prefix + "."):
            return prefix
    return None


def package_imports(package: str) -> Iterator[tuple[Path, int, str]]:
    """(file relative to the checkout, line, imported name) for every import in `package`."""
    root = APP / package.split(".", 1)[1]
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(ROOT)
        module = ".".join(rel.with_suffix("").parts)
        for name, line in imported_modules(path.read_text(encoding="utf-8"), module):
            yield rel, line, name


def violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{rel}:{line} imports {name}"
        for rel, line, name in package_imports(package)
        if _matches(name, forbidden)
    ]


# --------------------------------------------------------------------------- the scanner works


def test_scanner_finds_every_import_form() -> None:
    source = (
        "import PySide6.QtCore\n"
        "from PySide6 import QtWidgets\n"
        "import importlib\n"
        "importlib.import_module('socket')\n"
        "__import__('httpx')\n"
        "from .. import sync\n"
        "from ..relay import app\n"
        "def f():\n"
        "    import sqlite3\n"
    )
    names = {name for name, _ in imported_modules(source, "app.core.example")}
    assert {"PySide6.QtCore", "PySide6", "socket", "httpx", "sqlite3"} <= names
    assert "app.sync" in names and "app.relay" in names
    assert _matches("PySide6.QtCore", QT) == "PySide6"
    assert _matches("PySide6x", QT) is None
    assert _matches("app.sync.engine", OTHER_APP_PACKAGES) == "app.sync"
    assert _matches("app.core.wire", OTHER_APP_PACKAGES) is None


# --------------------------------------------------------------------------- the rules


@pytest.mark.parametrize("package", ["app.core", "app.sync"])
def test_no_qt_outside_ui(package: str) -> None:
    assert violations(package, QT) == []


def test_core_does_no_io() -> None:
    assert violations("app.core", CORE_FORBIDDEN_IO) == []


def test_core_imports_no_other_app_package() -> None:
    assert violations("app.core", OTHER_APP_PACKAGES) == []


def test_relay_never_imports_sync_ui_or_sandbox() -> None:
    assert violations("app.relay", ("app.sync", "app.ui", "app.sandbox")) == []


def test_ui_reaches_the_engine_only_through_its_facade() -> None:
    found = [
        f"{rel}:{line} imports {name}"
        for rel, line, name in package_imports("app.ui")
        # (the bare package: `from app.sync import inbox` names it, and it is empty)
        if _matches(name, ("app.sync",)) and name != "app.sync"
        and not _matches(name, ENGINE_FACADE)
    ]
    assert found == []


def test_ui_has_no_http_client_of_its_own() -> None:
    assert violations("app.ui", HTTP_CLIENTS) == []


def test_ui_reaches_the_sandbox_only_through_the_demo_entry_point() -> None:
    found = [
        f"{rel}:{line} imports {name}"
        for rel, line, name in package_imports("app.ui")
        if _matches(name, ("app.sandbox",)) and (name != DEMO_ENTRY or rel != DEMO_HOST)
    ]
    assert found == []
    # the demo host does import it (else the rule above would hold for a broken --demo)
    assert any(name == DEMO_ENTRY for rel, _, name in package_imports("app.ui") if rel == DEMO_HOST)


_IMPORT_ALL = """
import importlib, pkgutil, sys
for package in sys.argv[1:]:
    pkg = importlib.import_module(package)
    for info in pkgutil.walk_packages(pkg.__path__, package + "."):
        # Alembic scripts only run inside alembic's own context.
        if ".migrations" not in info.name:
            importlib.import_module(info.name)
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6", "qasync"))
print(",".join(bad))
"""


@pytest.mark.parametrize("package", ["app.core", "app.sync"])
def test_importing_does_not_load_qt(package: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL, package],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"{package} loads Qt: {result.stdout}"
