"""Twilio's default opt-out keywords (Messaging Service "advanced opt-out" defaults).

Twilio matches the whole message, trimmed and case-insensitive.
"""

from __future__ import annotations

_STOP = {"STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
_START = {"START", "YES", "UNSTOP"}
_HELP = {"HELP", "INFO"}


def opt_out_type(body: str) -> str | None:
    """`STOP`, `START`, `HELP` or None: the `OptOutType` Twilio adds to the inbound webhook."""
    word = " ".join(body.strip().upper().split()).rstrip(".!")
    if word in _STOP:
        return "STOP"
    if word in _START:
        return "START"
    if word in _HELP:
        return "HELP"
    return None
