"""Each staff profile's kiosk PIN on this PC: `pins.json` in the data folder.

The file holds, per profile (`Profile.key_user`), only the PIN's salted hash
(`app.core.pin.PinHash`). `PinGate` answers the lock screen: whether a profile has
a PIN yet, setting one, checking one; hashing and the file are off the Qt thread.
Wrong tries are counted per profile for as long as the app runs.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple

from app.core import pin as core_pin
from app.ui.profiles import Profile

log = logging.getLogger(__name__)

FILE_NAME = "pins.json"


class PinStore:
    """The hashes in `pins.json` (blocking: call from a worker thread)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME

    def _load(self) -> dict[str, Any]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return raw if isinstance(raw, dict) else {}

    def get(self, profile: Profile) -> core_pin.PinHash | None:
        entry = self._load().get(profile.key_user)
        if not isinstance(entry, dict):
            return None
        try:
            return core_pin.PinHash.from_json(entry)
        except (KeyError, TypeError, ValueError):
            log.warning("unreadable PIN entry: the profile sets a new PIN")
            return None

    def put(self, profile: Profile, stored: core_pin.PinHash) -> None:
        self._write({**self._load(), profile.key_user: stored.to_json()})

    def remove(self, profile: Profile) -> None:
        entries = self._load()
        if entries.pop(profile.key_user, None) is not None:
            self._write(entries)

    def _write(self, entries: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(entries, indent=2), encoding="utf-8")
        os.replace(tmp, self.path)


class Outcome(Enum):
    UNLOCKED = "unlocked"
    WRONG = "wrong"
    WAIT = "wait"  # too many wrong tries: nothing is checked for a while
    INVALID = "invalid"  # a new PIN that cannot be set


class Answer(NamedTuple):
    outcome: Outcome
    message: str = ""
    wait_s: float = 0.0


class PinGate:
    """Sets and checks the PINs of the profiles on this PC."""

    def __init__(
        self,
        data_dir: Path,
        *,
        clock: Callable[[], float] = time.monotonic,
        wait_s: float = core_pin.WAIT_S,
    ) -> None:
        self.store = PinStore(data_dir)
        self._clock = clock
        self._wait_s = wait_s
        self._throttles: dict[str, core_pin.PinThrottle] = {}

    def _throttle(self, profile: Profile) -> core_pin.PinThrottle:
        return self._throttles.setdefault(
            profile.key_user, core_pin.PinThrottle(wait_s=self._wait_s)
        )

    def wait_left(self, profile: Profile) -> float:
        return self._throttle(profile).wait_left(self._clock())

    async def has_pin(self, profile: Profile) -> bool:
        import asyncio

        return await asyncio.to_thread(self.store.get, profile) is not None

    async def set_pin(self, profile: Profile, pin: str, repeated: str) -> Answer:
        """A first unlock: the profile's new PIN (only its salted hash is kept)."""
        import asyncio

        try:
            core_pin.check_new_pin(pin, repeated)
        except core_pin.PinError as exc:
            return Answer(Outcome.INVALID, str(exc))

        def save() -> None:
            self.store.put(profile, core_pin.hash_pin(pin))

        await asyncio.to_thread(save)
        self._throttle(profile).succeeded()
        return Answer(Outcome.UNLOCKED)

    async def check(self, profile: Profile, pin: str) -> Answer:
        import asyncio

        throttle = self._throttle(profile)
        wait = throttle.wait_left(self._clock())
        if wait > 0:
            return Answer(Outcome.WAIT, _wait_message(wait), wait)
        stored = await asyncio.to_thread(self.store.get, profile)
        if stored is None:  # removed meanwhile: the next unlock sets a new one
            return Answer(Outcome.INVALID, "This profile has no PIN yet.")
        if await asyncio.to_thread(core_pin.verify, pin, stored):
            throttle.succeeded()
            return Answer(Outcome.UNLOCKED)
        wait = throttle.failed(self._clock())
        if wait > 0:
            return Answer(Outcome.WAIT, _wait_message(wait), wait)
        left = throttle.tries_left()
        return Answer(Outcome.WRONG, f"Wrong PIN. {left} {'try' if left == 1 else 'tries'} left.")

    async def forget(self, profile: Profile) -> None:
        import asyncio

        await asyncio.to_thread(self.store.remove, profile)
        self._throttles.pop(profile.key_user, None)


def _wait_message(wait_s: float) -> str:
    return f"Too many wrong PINs. Try again in {max(1, round(wait_s))} s."
