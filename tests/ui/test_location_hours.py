"""The conversation header shows the location's opening hours (set by `admin
set-hours`, mirrored with the location), in the same words for every location."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from app.ui.fmt import hours_label
from app.ui.mainwindow import MainWindow
from tests.ui.conftest import open_lead
from tests.ui.fake_engine import FakeEngine, demo_engine


@pytest.fixture
def engine() -> FakeEngine:
    e = demo_engine()
    e.locations["loc-1"] = replace(
        e.locations["loc-1"], hours="mon-fri 09:00-18:00, sat 10:00-16:00"
    )
    return e


def test_the_header_shows_the_location_hours(window: MainWindow, qtbot: Any) -> None:
    open_lead(window, qtbot, "Maria Gonzalez")
    qtbot.waitUntil(
        lambda: "Open Mon–Fri 09:00–18:00, Sat 10:00–16:00" in window.pane.subtitle.text()
    )


def test_hours_labels() -> None:
    assert hours_label(None) == ""
    assert hours_label("not hours") == ""  # never shown half-understood
    assert hours_label("sun 12:00-16:00") == "Open Sun 12:00–16:00"
