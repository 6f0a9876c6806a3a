"""Crash tests with real processes against the fake relay port (the relay-and-simulator
version is in test_integration_send.py): the outbox survives SIGKILL at any moment,
and every message reaches the relay exactly once and in order per conversation."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.sync.crash import accepted_count, drill, queue_messages
from tests.sync.fake_relay import TOKEN, change, conv_data, lead_data


def _run(tmp_path: Path, fake_relay: Any, messages: int, kills: int, seed: int) -> None:
    relay, url = fake_relay
    relay.send_delay = 0.1
    for conv in ("CHa", "CHb"):
        relay.publish(change("conversation", conv_data(conv)),
                      change("lead", lead_data("lead-" + conv, conv)))
    plan = [("CHa" if i % 3 else "CHb", f"message {i:03d}") for i in range(messages)]
    data_dir = tmp_path / "desk"
    queue_messages(data_dir, plan)
    result = drill(data_dir, url, TOKEN, kills, accepted_count(data_dir, messages), seed=seed,
                   min_s=0.5, max_s=10.0, jitter_s=0.3)
    assert result.final_code == 0, result.final_status
    assert result.final_status["pending"] == 0 and result.final_status["failed"] == 0
    for conv in ("CHa", "CHb"):
        expected = [body for c, body in plan if c == conv]
        assert [body for c, body in relay.sent if c == conv] == expected  # once, in order
    assert result.killed_mid_delivery >= min(5, kills // 3), result  # kills landed mid-delivery


@pytest.mark.slow  # CI runs the same drill against the real relay (test_integration_send)
def test_sigkill_during_delivery_loses_and_duplicates_nothing(
        tmp_path: Path, fake_relay: Any) -> None:
    _run(tmp_path, fake_relay, messages=30, kills=15, seed=int(os.environ.get("SEED", 5)))


@pytest.mark.slow
def test_sigkill_long(tmp_path: Path, fake_relay: Any) -> None:
    _run(tmp_path, fake_relay, messages=150, kills=60, seed=11)
