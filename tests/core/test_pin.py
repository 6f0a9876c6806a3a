"""Kiosk PINs: format, salted hash, constant-time check, the slow-down after wrong tries."""

from __future__ import annotations

import pytest

from app.core import pin


def test_a_pin_is_four_to_eight_digits_typed_twice_alike() -> None:
    pin.check_new_pin("2468", "2468")
    pin.check_new_pin("12345678", "12345678")
    for bad in ("123", "123456789", "12a4", " 1234", "", "１２３４"):
        with pytest.raises(pin.PinError) as err:
            pin.check_new_pin(bad, bad)
        assert err.value.reason == "pin_format"
    with pytest.raises(pin.PinError) as err:
        pin.check_new_pin("2468", "2469")
    assert err.value.reason == "pin_mismatch"


def test_only_a_salted_hash_is_kept_and_it_verifies() -> None:
    a = pin.hash_pin("2468")
    b = pin.hash_pin("2468")
    assert a.salt != b.salt and a.digest != b.digest  # salted: same PIN, other hash
    assert pin.verify("2468", a) and pin.verify("2468", b)
    assert not pin.verify("2469", a)
    saved = a.to_json()
    assert "2468" not in repr(saved)
    assert saved["algorithm"] == "scrypt" and len(bytes.fromhex(saved["salt"])) == 16
    again = pin.PinHash.from_json(saved)
    assert again == a and pin.verify("2468", again)
    # the same salt gives the same hash (what verify relies on)
    assert pin.hash_pin("2468", a.salt).digest == a.digest
    with pytest.raises(ValueError):
        pin.PinHash.from_json({**saved, "algorithm": "md5"})


def test_five_wrong_tries_then_thirty_seconds_without_tries() -> None:
    t = pin.PinThrottle()
    assert (t.max_tries, t.wait_s) == (5, 30.0)
    now = 1000.0
    for left in (4, 3, 2, 1):
        assert t.failed(now) == 0.0 and t.tries_left() == left
        assert t.wait_left(now) == 0.0
    assert t.failed(now) == 30.0
    assert t.wait_left(now + 10) == 20.0
    assert t.wait_left(now + 30) == 0.0
    assert t.tries_left() == 5  # a fresh round after the wait
    # a right PIN resets the count
    t.failed(now + 31)
    t.succeeded()
    assert t.tries_left() == 5
