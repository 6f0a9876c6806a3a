"""The sync engine keeps one room per job: small modules and functions, and callers of
the store go through what `app.sync.store` exports."""

from __future__ import annotations

import ast
from pathlib import Path

import app.sync as sync
from app.sync import store

SYNC_DIR = Path(sync.__file__).parent
#: "about 400": the largest is api.py, the UI's whole interface kept in one file
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(SYNC_DIR.rglob("*.py"))


def test_every_module_is_small() -> None:
    sizes = {p.relative_to(SYNC_DIR): len(p.read_text().splitlines()) for p in _modules()}
    assert len(sizes) > 25  # the walk found the package and the store's modules
    assert {str(p): n for p, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_every_function_is_short() -> None:
    long: dict[str, int] = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(SYNC_DIR)}:{node.name}"] = length
    assert long == {}


def test_the_engine_uses_the_store_through_its_exports() -> None:
    """Modules outside the store import the package, never its inner modules."""
    inner: dict[str, set[str]] = {}
    for path in _modules():
        if path.parent.name == "store":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "app.sync.store."):
                inner.setdefault(str(path.relative_to(SYNC_DIR)), set()).add(str(node.module))
    assert inner == {}
    assert all(hasattr(store, name) for name in store.__all__)
