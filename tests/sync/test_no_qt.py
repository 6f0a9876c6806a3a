"""The engine must never pull in Qt: the desktop runs it on the Qt thread's loop but it
must also run headless (`web2text-sync`)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SYNC = Path(__file__).resolve().parents[2] / "app" / "sync"


def test_no_module_of_app_sync_imports_qt() -> None:
    offenders = []
    for path in SYNC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names
                          if n.split(".")[0] in {"PySide6", "PyQt5", "PyQt6", "qasync"}]
    assert offenders == []


def test_importing_the_engine_loads_no_qt() -> None:
    code = ("import sys, app.sync.engine, app.sync.cli, app.sync.api; "
            "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'qasync'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
