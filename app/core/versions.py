"""Which desktop versions a relay accepts: the update banner's decision, pure.

The relay tells desktops its minimum and latest app version (`GET /v1/me`,
`minAppVersion` / `latestAppVersion`, from W2T_MIN_APP_VERSION and
W2T_LATEST_APP_VERSION); below the minimum the app must be updated before use,
below the latest an update is offered.
"""

from __future__ import annotations

import re
from enum import StrEnum

VERSION = re.compile(r"^\d+(\.\d+){0,3}$")


class UpdateState(StrEnum):
    CURRENT = "current"
    AVAILABLE = "available"  # a newer version exists: offered
    REQUIRED = "required"  # this version is below the relay's minimum: blocked


def is_version(text: str) -> bool:
    return bool(VERSION.match(text.strip()))


def parse_version(text: str) -> tuple[int, ...]:
    """`1.2.3` -> (1, 2, 3), padded to four parts so 1.2 == 1.2.0; ValueError otherwise."""
    text = text.strip()
    if not is_version(text):
        raise ValueError(f"not a version: {text!r} (digits and dots, e.g. 1.4.2)")
    parts = tuple(int(p) for p in text.split("."))
    return parts + (0,) * (4 - len(parts))


def update_state(current: str, minimum: str | None, latest: str | None) -> UpdateState:
    """What the app should say about updating; a value it cannot read is ignored."""
    try:
        mine = parse_version(current)
    except ValueError:
        return UpdateState.CURRENT
    for bound, state in ((minimum, UpdateState.REQUIRED), (latest, UpdateState.AVAILABLE)):
        if not bound:
            continue
        try:
            if mine < parse_version(bound):
                return state
        except ValueError:
            continue
    return UpdateState.CURRENT
