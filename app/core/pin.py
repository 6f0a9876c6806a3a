"""Kiosk PINs: what a PIN may be, its salted hash, and the slow-down after wrong tries.

A PIN is 4 to 8 digits. It is kept only as a scrypt hash with a random salt
(`PinHash`), never in plain text; `verify` compares in constant time.
`PinThrottle` counts wrong tries: after `MAX_TRIES` in a row, no PIN is checked
for `WAIT_S` seconds; a right PIN resets the count. Pure: the caller gives the
time and keeps the hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

MIN_DIGITS: Final = 4
MAX_DIGITS: Final = 8
MAX_TRIES: Final = 5
WAIT_S: Final = 30.0

_PIN_RE = re.compile(rf"^[0-9]{{{MIN_DIGITS},{MAX_DIGITS}}}$")
#: scrypt's cost: about as slow as a person can bear per try, far slower than a guesser wants
_N, _R, _P = 2**14, 8, 1
_SALT_BYTES = 16


class PinError(ValueError):
    """A PIN that cannot be set; `reason` is stable (`pin_format`, `pin_mismatch`)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_new_pin(pin: str, repeated: str) -> None:
    """Raise PinError unless `pin` is 4 to 8 digits and `repeated` is the same."""
    if not _PIN_RE.match(pin):
        raise PinError("pin_format", f"A PIN is {MIN_DIGITS} to {MAX_DIGITS} digits.")
    if not hmac.compare_digest(pin.encode(), repeated.encode()):
        raise PinError("pin_mismatch", "The two PINs are not the same.")


@dataclass(frozen=True)
class PinHash:
    """A PIN's salted scrypt hash and its parameters (hex strings in JSON)."""

    salt: bytes
    digest: bytes
    n: int = _N
    r: int = _R
    p: int = _P

    def to_json(self) -> dict[str, Any]:
        return {
            "algorithm": "scrypt",
            "salt": self.salt.hex(),
            "hash": self.digest.hex(),
            "n": self.n,
            "r": self.r,
            "p": self.p,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PinHash:
        """ValueError for anything but a well-formed scrypt entry."""
        if raw.get("algorithm") != "scrypt":
            raise ValueError("unknown PIN hash algorithm")
        return cls(
            salt=bytes.fromhex(str(raw["salt"])),
            digest=bytes.fromhex(str(raw["hash"])),
            n=int(raw["n"]),
            r=int(raw["r"]),
            p=int(raw["p"]),
        )


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024)


def hash_pin(pin: str, salt: bytes | None = None) -> PinHash:
    """The salted hash to keep (a fresh random salt unless one is given)."""
    salt = os.urandom(_SALT_BYTES) if salt is None else salt
    return PinHash(salt, _scrypt(pin, salt, _N, _R, _P))


def verify(pin: str, stored: PinHash) -> bool:
    return hmac.compare_digest(
        _scrypt(pin, stored.salt, stored.n, stored.r, stored.p), stored.digest
    )


class PinThrottle:
    """Wrong tries of one PIN: `MAX_TRIES` in a row, then `WAIT_S` without tries."""

    def __init__(self, max_tries: int = MAX_TRIES, wait_s: float = WAIT_S) -> None:
        self.max_tries = max_tries
        self.wait_s = wait_s
        self._wrong = 0
        self._until = 0.0

    def wait_left(self, now: float) -> float:
        """Seconds before the next try is checked (0: now); never more than a whole
        wait, even when the clock was set back after it started."""
        return max(0.0, min(self._until - now, self.wait_s))

    def tries_left(self) -> int:
        return self.max_tries - self._wrong

    def failed(self, now: float) -> float:
        """Count a wrong PIN; the wait it starts (0 while tries are left)."""
        self._wrong += 1
        if self._wrong < self.max_tries:
            return 0.0
        self._wrong = 0
        self._until = now + self.wait_s
        return self.wait_s

    def succeeded(self) -> None:
        self._wrong = 0
        self._until = 0.0

    def snapshot(self) -> tuple[int, float]:
        """The wrong tries in a row and the end of the wait (to keep across restarts)."""
        return self._wrong, self._until

    def restore(self, wrong: int, until: float) -> None:
        self._wrong = max(0, min(int(wrong), self.max_tries - 1))
        self._until = float(until)
