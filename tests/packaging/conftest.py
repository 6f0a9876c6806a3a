"""The packaging tests that build the real installers take minutes: they run only
when asked for, with `-m packaging` (or W2T_PACKAGING=1, or a ready build in
W2T_PACKAGING_DIST)."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    markexpr = config.getoption("markexpr", "") or ""
    wanted = (
        "packaging" in markexpr
        or os.environ.get("W2T_PACKAGING") == "1"
        or bool(os.environ.get("W2T_PACKAGING_DIST"))
    )
    if wanted:
        return
    skip = pytest.mark.skip(reason="builds the installers: run with -m packaging")
    for item in items:
        if item.get_closest_marker("packaging") is not None:
            item.add_marker(skip)
