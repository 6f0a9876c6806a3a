"""The simulator keeps one room per job: small modules and functions, state that knows
nothing of HTTP, and every router module mounted."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

from fastapi import APIRouter

import app.sandbox.twilio_sim as twilio_sim
from app.sandbox.twilio_sim import routes
from app.sandbox.twilio_sim.routes import CONTROL_ROUTERS, TWILIO_ROUTERS

SIM_DIR = Path(twilio_sim.__file__).parent
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(SIM_DIR.rglob("*.py"))


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_every_module_is_small() -> None:
    sizes = {p.relative_to(SIM_DIR): len(p.read_text().splitlines()) for p in _modules()}
    assert len(sizes) > 20  # the walk found the package
    assert {str(p): n for p, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_every_function_is_short() -> None:
    long: dict[str, int] = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(SIM_DIR)}:{node.name}"] = length
    assert long == {}


def test_state_knows_nothing_of_http_routes() -> None:
    """The account's parts are driven by routes, threads and tests alike."""
    state_files = sorted((SIM_DIR / "state").glob("*.py"))
    assert len(state_files) > 10
    for path in state_files:
        web = {
            name
            for name in _imports(path)
            if name.split(".")[0] in ("fastapi", "starlette")
            or name.startswith(("app.sandbox.twilio_sim.routes", "app.sandbox.twilio_sim.app"))
        }
        assert web == set(), path.name


def test_every_router_module_is_mounted() -> None:
    mounted = {id(r) for r in (*TWILIO_ROUTERS, *CONTROL_ROUTERS)}
    found = 0
    for info in pkgutil.iter_modules(routes.__path__):
        module = importlib.import_module(f"{routes.__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            found += 1
            assert id(router) in mounted, f"routes/{info.name}.py is not in routes/__init__.py"
    assert found == len(mounted)
