"""Checking the fields of a simulator's `POST /_sim/faults` body, which the Twilio
and the lead-system simulators share: each bad value is refused with a message
that names its field."""

from __future__ import annotations

from typing import Any


class FaultError(ValueError):
    """An invalid fault setting; the message names the field."""


def check_known(body: Any, known: set[str], prefix: str = "") -> dict[str, Any]:
    """`body` as a JSON object of known fields only."""
    if not isinstance(body, dict):
        raise FaultError(f"{prefix}the faults must be a JSON object")
    unknown = sorted(set(body) - known)
    if unknown:
        raise FaultError(f"{prefix}unknown fault field(s): {', '.join(unknown)}")
    return body


def int_in(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FaultError(f"{name} must be an integer between {low} and {high}")
    return value


def rate(name: str, value: Any) -> float:
    """A probability, 0 to 1."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise FaultError(f"{name} must be a number between 0 and 1")
    return float(value)


def seed(value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise FaultError("seed must be an integer")
    return value
