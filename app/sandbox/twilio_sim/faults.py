"""Fault injection, set through `POST /_sim/faults` (an empty object clears everything)."""

from __future__ import annotations

import random
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from app.sandbox.fault_fields import FaultError, check_known, int_in, rate, seed

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_RATES = (
    "rate_429",
    "rate_5xx",
    "rate_5xx_after_commit",
    "webhook_duplicate_rate",
    "webhook_reorder_rate",
)


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
    body = check_known(body, set(Faults.__dataclass_fields__))
    faults = Faults()
    if "latency_ms" in body:
        faults.latency_ms = int_in("latency_ms", body["latency_ms"], 0, 60_000)
    for name in _RATES:
        if name in body:
            setattr(faults, name, rate(name, body[name]))
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
        faults.seed = seed(body["seed"])
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
