"""The kiosk's wrong-PIN throttle outlives the app: five wrong PINs start a wait that
a restart (a new `PinGate` on the same data folder) neither forgets nor ends, and
the tries left are kept too. Real files in a temporary data folder."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.core.pin import MAX_TRIES, WAIT_S, hash_pin
from app.ui.kiosk_pin import Outcome, PinGate
from app.ui.profiles import Profile

BO = Profile("s-bo", "Bo Diaz", "https://relay.example")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_restart_keeps_the_wait_after_too_many_wrong_pins(tmp_path: Path) -> None:
    clock = Clock()
    gate = PinGate(tmp_path, clock=clock)
    gate.store.put(BO, hash_pin("1357"))
    answers = [asyncio.run(gate.check(BO, "0000")) for _ in range(MAX_TRIES)]
    assert [a.outcome for a in answers] == [Outcome.WRONG] * (MAX_TRIES - 1) + [Outcome.WAIT]

    restarted = PinGate(tmp_path, clock=clock)
    assert asyncio.run(restarted.has_pin(BO))
    assert restarted.wait_left(BO) == WAIT_S  # shown at once on the lock screen
    refused = asyncio.run(restarted.check(BO, "1357"))  # even the right PIN waits
    assert refused.outcome is Outcome.WAIT

    clock.now += WAIT_S
    assert asyncio.run(restarted.check(BO, "1357")).outcome is Outcome.UNLOCKED
    assert PinGate(tmp_path, clock=clock).store.get_tries(BO) == (0, 0.0)


def test_a_restart_keeps_the_tries_left(tmp_path: Path) -> None:
    clock = Clock()
    gate = PinGate(tmp_path, clock=clock)
    gate.store.put(BO, hash_pin("1357"))
    asyncio.run(gate.check(BO, "0000"))
    asyncio.run(gate.check(BO, "1111"))
    restarted = PinGate(tmp_path, clock=clock)
    wrong = asyncio.run(restarted.check(BO, "2222"))
    assert wrong.outcome is Outcome.WRONG
    assert f"{MAX_TRIES - 3} tries left" in wrong.message


def test_a_clock_set_back_never_makes_the_wait_longer(tmp_path: Path) -> None:
    clock = Clock()
    gate = PinGate(tmp_path, clock=clock)
    gate.store.put(BO, hash_pin("1357"))
    for _ in range(MAX_TRIES):
        asyncio.run(gate.check(BO, "0000"))
    clock.now -= 3600
    restarted = PinGate(tmp_path, clock=clock)
    asyncio.run(restarted.has_pin(BO))
    assert restarted.wait_left(BO) == WAIT_S


def test_forgetting_a_profile_forgets_its_tries(tmp_path: Path) -> None:
    gate = PinGate(tmp_path, clock=Clock())
    gate.store.put(BO, hash_pin("1357"))
    asyncio.run(gate.check(BO, "0000"))
    asyncio.run(gate.forget(BO))
    assert gate.store.get_tries(BO) == (0, 0.0)
    assert not asyncio.run(PinGate(tmp_path).has_pin(BO))
