"""The dependency floors past known CVEs are pinned, and what is installed meets them."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
FLOORS = {"urllib3": "2.5", "starlette": "0.49.1"}


def _requirements() -> dict[str, Requirement]:
    """The core dependencies and every extra's (the floors sit in the `relay` extra)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    raw = [*project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        raw += extra
    reqs = [Requirement(r) for r in raw]
    return {r.name.lower(): r for r in reqs if r.name.lower() != "web2text"}


@pytest.mark.parametrize(("name", "floor"), sorted(FLOORS.items()))
def test_floor_is_pinned_and_installed(name: str, floor: str) -> None:
    req = _requirements()[name]
    release = Version(floor).release
    below = (*release[:-1], release[-1] - 1)  # the last version the floor excludes
    assert not req.specifier.contains(".".join(map(str, below)), prereleases=True), req
    assert req.specifier.contains(floor), req
    assert Version(version(name)) >= Version(floor)
