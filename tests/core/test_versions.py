"""app.core.versions: the update banner's decision."""

from __future__ import annotations

import pytest

from app.core.versions import UpdateState, is_version, parse_version, update_state


def test_parse_pads_and_rejects() -> None:
    assert parse_version("1.2") == parse_version("1.2.0") == (1, 2, 0, 0)
    assert parse_version(" 10.0.1 ") > parse_version("9.9.9")
    assert not is_version("1.2.3-beta") and not is_version("") and is_version("2")
    with pytest.raises(ValueError):
        parse_version("v1.2")


@pytest.mark.parametrize(
    ("current", "minimum", "latest", "state"),
    [
        ("1.0.0", None, None, UpdateState.CURRENT),
        ("1.0.0", "1.0", "1.0.0", UpdateState.CURRENT),
        ("1.0.0", None, "1.0.1", UpdateState.AVAILABLE),
        ("1.0.0", "1.1", "1.2", UpdateState.REQUIRED),
        ("1.0.0", "0.9", "1.10", UpdateState.AVAILABLE),  # numbers, not text
        ("1.0.0", "garbage", "1.0.1", UpdateState.AVAILABLE),  # an unreadable bound is ignored
        ("dev", "9", "9", UpdateState.CURRENT),
    ],
)
def test_update_state(current: str, minimum: str | None, latest: str | None,
                      state: UpdateState) -> None:
    assert update_state(current, minimum, latest) is state
