"""Moving a snapshot's times to now, and its Twilio SIDs to the ones a restore got.

A snapshot is made once and restored on every demo start; the seeded history
should look as recent as when it was made, so every time in it moves by the
same amount: ISO-8601 timestamps anywhere in a string (JSON inside an
attribute included) and epoch numbers (seconds or milliseconds) near the time
the snapshot was made. Pure functions on DynamoDB-JSON items.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

ISO = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}:\d{2})(?P<frac>\.\d{1,6})?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?"
)
SID = re.compile(r"\b[A-Z]{2}[0-9a-f]{32}\b")
# An epoch number counts as a time when it lies this close to the snapshot's making.
EPOCH_WINDOW_S = 400 * 24 * 3600


def shift_iso(text: str, delta: timedelta) -> str:
    """Every ISO-8601 timestamp in `text` moved by `delta`, written as it was."""

    def move(match: re.Match[str]) -> str:
        frac, zone = match["frac"] or "", match["zone"] or ""
        try:
            when = datetime.fromisoformat(f"{match['date']}T{match['time']}{frac}")
        except ValueError:
            return match[0]
        moved = when + delta
        out = moved.strftime("%Y-%m-%dT%H:%M:%S")
        if frac:
            out += "." + f"{moved.microsecond:06d}"[: len(frac) - 1]
        return out + zone

    return ISO.sub(move, text)


def shift_epoch(raw: str, made_at: float, delta_s: float) -> str:
    """A DynamoDB number moved by `delta_s` when it is a time in seconds or ms."""
    try:
        value = Decimal(raw)
    except ArithmeticError:
        return raw
    for scale in (1, 1000):
        if abs(value - Decimal(made_at * scale)) < EPOCH_WINDOW_S * scale:
            moved = value + Decimal(delta_s * scale)
            if "." not in raw and "e" not in raw.lower():
                return str(int(moved))
            places = len(raw.split(".", 1)[1]) if "." in raw else 3
            return f"{moved:.{places}f}"
    return raw


def shift_item(value: Any, made_at: float, delta_s: float) -> Any:
    """A DynamoDB-JSON value (item, map, list or scalar) with its times moved."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            if key == "S" and isinstance(inner, str):
                out[key] = shift_iso(inner, timedelta(seconds=delta_s))
            elif key == "N" and isinstance(inner, str):
                out[key] = shift_epoch(inner, made_at, delta_s)
            else:
                out[key] = shift_item(inner, made_at, delta_s)
        return out
    if isinstance(value, list):
        return [shift_item(inner, made_at, delta_s) for inner in value]
    return value


def replace_sids(text: str, mapping: Mapping[str, str]) -> str:
    """Every Twilio SID in `text` that `mapping` knows, replaced."""
    return SID.sub(lambda m: mapping.get(m[0], m[0]), text)


def now_epoch() -> float:
    return datetime.now(UTC).timestamp()
