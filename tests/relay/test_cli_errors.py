"""`web2text-relay` errors: one line on stderr with a stable reason and exit code, never
a traceback (usage, configuration, an unreachable DynamoDB)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ONE_LINE = "web2text-relay: error: {reason}: "


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("W2T_", "TWILIO_"))}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "app.relay.cli", *args], env=full,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("env", "args", "code", "reason"), [
    ({"W2T_TABLE_PREFIX": "TEST"}, ("admin", "frobnicate"), 2, "usage"),
    ({"W2T_TABLE_PREFIX": "TEST"}, ("admin", "add-pool-number", "12"), 2, "usage"),
    ({}, ("admin", "init-tables"), 78, "configuration"),
    ({"W2T_TABLE_PREFIX": "TEST", "W2T_DYNAMODB_ENDPOINT": "http://127.0.0.1:9",
      "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_DEFAULT_REGION": "us-east-1"},
     ("admin", "init-tables"), 1, "dynamodb_error"),
], ids=["unknown-command", "bad-phone", "no-configuration", "dynamodb-unreachable"])
def test_every_error_is_one_line_with_a_reason(env: dict[str, str], args: tuple[str, ...],
                                               code: int, reason: str) -> None:
    res = _cli(env, *args)
    assert res.returncode == code, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(ONE_LINE.format(reason=reason)), res.stderr
    assert res.stdout == ""
