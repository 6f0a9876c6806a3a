"""Fault injection, set through `POST /_sim/faults` (an empty object clears everything)."""

from __future__ import annotations

import random
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_RATES = (
    "rate_429",
    "rate_5xx",
    "rate_5xx_after_commit",
    "webhook_duplicate_rate",
    "webhook_reorder_rate",
)


class FaultError(ValueError):
    """An invalid fault setting; the message names the field."""


@dataclass
class Faults:
    latency_ms: int = 0
    rate_429: float = 0.0
    rate_5xx: float = 0.0
    # Like rate_5xx, but the request takes effect before the error is answered: the
    # caller cannot tell whether it happened (the "unknown outcome" case).
    rate_5xx_after_commit: float = 0.0
    carrier_errors: dict[str, int] = field(default_factory=dict)
    webhook_duplicate_rate: float = 0.0
    webhook_reorder_rate: float = 0.0
    seed: int | None = None


def parse_faults(body: Any) -> Faults:
    if not isinstance(body, dict):
        raise FaultError("the body must be a JSON object")
    known = set(Faults.__dataclass_fields__)
    unknown = sorted(set(body) - known)
    if unknown:
        raise FaultError(f"unknown fault field(s): {', '.join(unknown)}")
    faults = Faults()
    if "latency_ms" in body:
        value = body["latency_ms"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 60_000:
            raise FaultError("latency_ms must be an integer between 0 and 60000")
        faults.latency_ms = value
    for name in _RATES:
        if name in body:
            value = body[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise FaultError(f"{name} must be a number between 0 and 1")
            setattr(faults, name, float(value))
    if "carrier_errors" in body:
        value = body["carrier_errors"]
        if not isinstance(value, dict):
            raise FaultError("carrier_errors must map E.164 numbers to error codes")
        for number, code in value.items():
            if not isinstance(number, str) or not _E164.match(number):
                raise FaultError("carrier_errors keys must be E.164 numbers")
            if isinstance(code, bool) or not isinstance(code, int) or code <= 0:
                raise FaultError("carrier_errors values must be positive integer error codes")
        faults.carrier_errors = dict(value)
    if "seed" in body:
        value = body["seed"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise FaultError("seed must be an integer")
        faults.seed = value
    return faults


class FaultState:
    """The active faults and the (seedable) random source that rolls them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults = Faults()
        self._rng = random.Random()

    def set(self, faults: Faults) -> None:
        with self._lock:
            self._faults = faults
            self._rng = random.Random(faults.seed)

    def clear(self) -> None:
        self.set(Faults())

    def snapshot(self) -> Faults:
        with self._lock:
            return Faults(
                **{**asdict(self._faults), "carrier_errors": dict(self._faults.carrier_errors)}
            )

    def roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def choice(self, options: list[int]) -> int:
        with self._lock:
            return self._rng.choice(options)

    def carrier_error(self, number: str) -> int | None:
        with self._lock:
            return self._faults.carrier_errors.get(number)
