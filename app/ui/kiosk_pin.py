"""Each staff profile's kiosk PIN on this PC: `pins.json` in the data folder.

The file holds, per profile (`Profile.key_user`), only the PIN's salted hash
(`app.core.pin.PinHash`). `PinGate` answers the lock screen: whether a profile has
a PIN yet, setting one, checking one; hashing and the file are off the Qt thread.
Wrong tries are counted per profile in `pin-tries.json`, so a restart of the app
neither forgets them nor ends a wait (which runs on the wall clock for that reason).
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
TRIES_FILE = "pin-tries.json"


class PinStore:
    """The hashes in `pins.json` (blocking: call from a worker thread)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME
        self.tries_path = data_dir / TRIES_FILE

    def _load(self, path: Path | None = None) -> dict[str, Any]:
        try:
            raw = json.loads((path or self.path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return raw if isinstance(raw, dict) else {}

    def get_tries(self, profile: Profile) -> tuple[int, float]:
        """The profile's wrong tries in a row and the end of its wait (epoch s)."""
        entry = self._load(self.tries_path).get(profile.key_user)
        if not isinstance(entry, dict):
            return 0, 0.0
        try:
            return int(entry["wrong"]), float(entry["until"])
        except (KeyError, TypeError, ValueError):
            return 0, 0.0

    def put_tries(self, profile: Profile, wrong: int, until: float) -> None:
        entries = self._load(self.tries_path)
        if wrong or until:
            entries[profile.key_user] = {"wrong": wrong, "until": until}
        elif entries.pop(profile.key_user, None) is None:
            return
        self._write(entries, self.tries_path)

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
        self.put_tries(profile, 0, 0.0)

    def _write(self, entries: dict[str, Any], path: Path | None = None) -> None:
        target = path or self.path
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(entries, indent=2), encoding="utf-8")
        os.replace(tmp, target)


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
        clock: Callable[[], float] = time.time,
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

    async def _restored(self, profile: Profile) -> core_pin.PinThrottle:
        """The profile's throttle, with the tries kept from before a restart."""
        import asyncio

        if profile.key_user not in self._throttles:
            wrong, until = await asyncio.to_thread(self.store.get_tries, profile)
            self._throttle(profile).restore(wrong, until)
        return self._throttle(profile)

    async def _keep(self, profile: Profile, throttle: core_pin.PinThrottle) -> None:
        import asyncio

        await asyncio.to_thread(self.store.put_tries, profile, *throttle.snapshot())

    def wait_left(self, profile: Profile) -> float:
        return self._throttle(profile).wait_left(self._clock())

    async def has_pin(self, profile: Profile) -> bool:
        import asyncio

        await self._restored(profile)  # `wait_left` is asked next
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
        throttle = await self._restored(profile)
        throttle.succeeded()
        await self._keep(profile, throttle)
        return Answer(Outcome.UNLOCKED)

    async def check(self, profile: Profile, pin: str) -> Answer:
        import asyncio

        throttle = await self._restored(profile)
        wait = throttle.wait_left(self._clock())
        if wait > 0:
            return Answer(Outcome.WAIT, _wait_message(wait), wait)
        stored = await asyncio.to_thread(self.store.get, profile)
        if stored is None:  # removed meanwhile: the next unlock sets a new one
            return Answer(Outcome.INVALID, "This profile has no PIN yet.")
        if await asyncio.to_thread(core_pin.verify, pin, stored):
            throttle.succeeded()
            await self._keep(profile, throttle)
            return Answer(Outcome.UNLOCKED)
        wait = throttle.failed(self._clock())
        await self._keep(profile, throttle)  # before answering: a restart keeps it
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
