"""requirements/*.lock against pyproject.toml, offline.

Re-resolving needs the package index (scripts/lock does it); this checks what
can go stale without one: every requirement of each lock's extra (with the
extras it names, expanded) is pinned in that lock at a version its specifier
allows, every pin carries hashes, and the locks agree on each version.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCKS = {"dev": "dev", "desktop": "desktop", "relay": "relay", "packaging": "packaging"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^ ;\\]+)")


def _project() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]  # type: ignore[no-any-return]


def _requirements(extra: str) -> list[Requirement]:
    """The core dependencies plus `extra`'s, with web2text[...] self-references expanded."""
    project = _project()
    optional: dict[str, list[str]] = project["optional-dependencies"]  # type: ignore[assignment]
    out = [Requirement(r) for r in project["dependencies"]]  # type: ignore[attr-defined]
    todo, seen = [extra], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for raw in optional[name]:
            req = Requirement(raw)
            if canonicalize_name(req.name) == "web2text":
                todo.extend(req.extras)
            else:
                out.append(req)
    return out


def _pins(lock: str) -> dict[str, tuple[Version, set[str], list[str]]]:
    """name -> (version, extras, hashes) of each pinned line of requirements/<lock>.lock."""
    lines = (ROOT / "requirements" / f"{lock}.lock").read_text().splitlines()
    pins: dict[str, tuple[Version, set[str], list[str]]] = {}
    current = None
    for line in lines:
        match = PIN.match(line)
        if match:
            name, extras, version = match.groups()
            current = canonicalize_name(name)
            names = {e.strip() for e in (extras or "[]")[1:-1].split(",") if e.strip()}
            pins[current] = (Version(version), names, [])
        elif current and line.strip().startswith("--hash=sha256:"):
            pins[current][2].append(line.strip())
    return pins


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_lock_satisfies_pyproject(lock: str) -> None:
    pins = _pins(lock)
    assert pins, f"requirements/{lock}.lock pins nothing"
    for req in _requirements(LOCKS[lock]):
        name = canonicalize_name(req.name)
        assert name in pins, f"{req} (pyproject, {lock}) is not in requirements/{lock}.lock"
        version, extras, _ = pins[name]
        assert req.specifier.contains(version, prereleases=True), (
            f"requirements/{lock}.lock pins {name}=={version}, pyproject wants {req}: "
            "run scripts/lock"
        )
        assert set(req.extras) <= extras, f"{req}: the lock has {name}[{','.join(extras)}]"


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_pin_has_hashes(lock: str) -> None:
    for name, (_, _, hashes) in _pins(lock).items():
        assert hashes, f"{name} has no --hash in requirements/{lock}.lock"


def test_locks_agree_on_versions() -> None:
    dev = _pins("dev")
    for lock in ("desktop", "relay", "packaging"):
        for name, (version, _, _) in _pins(lock).items():
            assert name in dev and dev[name][0] == version, (lock, name, version)


def test_desktop_and_relay_stay_apart() -> None:
    desktop, relay = _pins("desktop"), _pins("relay")
    assert "pyside6-essentials" in desktop and "fastapi" in relay
    assert not {"fastapi", "boto3", "twilio", "moto"} & set(desktop)
    assert not {"pyside6-essentials", "qasync", "sqlalchemy", "moto"} & set(relay)
    # the demo needs moto's DynamoDB server, not its every-service extras
    unused = {"cfn-lint", "sympy", "graphql-core", "aws-xray-sdk", "openapi-spec-validator"}
    assert not unused & set(_pins("packaging"))
    assert not {"cfn-lint", "sympy", "aws-xray-sdk"} & set(_pins("dev"))


def test_no_unused_direct_dependencies() -> None:
    declared = {canonicalize_name(r.name) for r in _requirements("dev")}
    assert "aiohttp-retry" not in declared  # twilio brings its own
