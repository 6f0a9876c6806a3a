"""Twilio-style resource identifiers: a two-letter prefix and 32 hex digits."""

from __future__ import annotations

import re
import secrets

SID_PATTERN = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")


def new_sid(prefix: str) -> str:
    if len(prefix) != 2 or not prefix.isalpha() or not prefix.isupper():
        raise ValueError("a SID prefix is two capital letters")
    return prefix + secrets.token_hex(16)
