"""Per-system fault injection (`POST /_sim/faults`), like the Twilio simulator's.

`{"rlm": {"rate_5xx": 1}, "dhq": {"latency_ms": 200}}` sets the faults of the
systems named (others keep theirs); `{}` clears every system's. A system's
settings: `latency_ms`, `rate_5xx` (answers 500 or 503 without acting),
`rate_timeout` (hangs `hang_s` without acting: the caller times out),
`rate_timeout_after_commit` (acts, then hangs: the caller cannot tell that it
happened), `fail_next` (the next N requests answer `fail_status`, default 503),
`path_contains` (only requests whose path contains it), `seed`.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass
from typing import Any

from app.sandbox.fault_fields import FaultError, check_known, int_in, rate, seed

SYSTEMS = ("nexus", "cognito", "botpress", "rlm", "dhq", "acton", "floorforce")
_RATES = ("rate_5xx", "rate_timeout", "rate_timeout_after_commit")


@dataclass
class SystemFaults:
    latency_ms: int = 0
    rate_5xx: float = 0.0
    rate_timeout: float = 0.0
    rate_timeout_after_commit: float = 0.0
    fail_next: int = 0
    fail_status: int = 503
    #: when set, the faults apply only to requests whose path contains it
    path_contains: str | None = None
    seed: int | None = None


def parse_system_faults(system: str, body: Any) -> SystemFaults:
    body = check_known(body, set(SystemFaults.__dataclass_fields__), f"{system}: ")
    faults = SystemFaults()
    if "latency_ms" in body:
        faults.latency_ms = int_in("latency_ms", body["latency_ms"], 0, 60_000)
    if "fail_next" in body:
        faults.fail_next = int_in("fail_next", body["fail_next"], 0, 10_000)
    if "fail_status" in body:
        faults.fail_status = int_in("fail_status", body["fail_status"], 400, 599)
    for name in _RATES:
        if name in body:
            setattr(faults, name, rate(name, body[name]))
    if "path_contains" in body:
        value = body["path_contains"]
        if value is not None and (not isinstance(value, str) or not value):
            raise FaultError("path_contains must be a non-empty string")
        faults.path_contains = value
    if "seed" in body:
        faults.seed = seed(body["seed"])
    return faults


def parse_faults(body: Any) -> dict[str, SystemFaults]:
    if not isinstance(body, dict):
        raise FaultError("the body must be a JSON object of system: faults")
    unknown = sorted(set(body) - set(SYSTEMS))
    if unknown:
        raise FaultError(f"unknown system(s): {', '.join(unknown)} (known: {', '.join(SYSTEMS)})")
    return {system: parse_system_faults(system, value) for system, value in body.items()}


class Decision:
    """What to do with one request: wait, then answer an error, hang, or act."""

    def __init__(self, latency_s: float, action: str, status: int = 0) -> None:
        self.latency_s = latency_s
        self.action = action  # "pass" | "error" | "hang" | "hang_after"
        self.status = status


class FaultState:
    """Every system's active faults, with one seedable random source each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, SystemFaults] = {}
        self._rngs: dict[str, random.Random] = {}

    def set(self, faults: dict[str, SystemFaults]) -> None:
        with self._lock:
            if not faults:
                self._faults.clear()
                self._rngs.clear()
            for system, value in faults.items():
                self._faults[system] = value
                self._rngs[system] = random.Random(value.seed)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {system: asdict(value) for system, value in self._faults.items()}

    def decide(self, system: str, path: str = "") -> Decision:
        with self._lock:
            faults = self._faults.get(system)
            if faults is None or (faults.path_contains and faults.path_contains not in path):
                return Decision(0.0, "pass")
            latency = faults.latency_ms / 1000
            if faults.fail_next > 0:
                faults.fail_next -= 1
                return Decision(latency, "error", faults.fail_status)
            rng = self._rngs[system]
            if faults.rate_5xx and rng.random() < faults.rate_5xx:
                return Decision(latency, "error", rng.choice([500, 503]))
            if faults.rate_timeout and rng.random() < faults.rate_timeout:
                return Decision(latency, "hang")
            if faults.rate_timeout_after_commit and rng.random() < faults.rate_timeout_after_commit:
                return Decision(latency, "hang_after")
            return Decision(latency, "pass")
