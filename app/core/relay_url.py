"""Which relay URLs a desktop or `web2text-sync` may send a staff key to.

Public API:

- ``check_relay_url(url) -> str``: the URL without a trailing slash, when it is
  ``https://``, or ``http://`` to a loopback host (``localhost``, 127.0.0.0/8,
  ``::1``: the demo and the tests); else ``InsecureRelayUrl`` whose ``reason``
  is ``insecure_relay_url`` (plain http to another host: the key would cross
  the network in clear) or ``relay_url_invalid``.

Pure: the host is judged by its text, never resolved.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


class InsecureRelayUrl(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def is_loopback_host(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_relay_url(url: str) -> str:
    """`url` if a staff key may be sent there (see the module doc)."""
    text = (url or "").strip().rstrip("/")
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        host = None
    if not text or not host or parts.scheme.lower() not in ("http", "https"):
        raise InsecureRelayUrl(
            "relay_url_invalid", f"relay URL {text!r} is not an http(s) URL with a host"
        )
    if parts.scheme.lower() == "http" and not is_loopback_host(host):
        raise InsecureRelayUrl(
            "insecure_relay_url",
            f"relay URL {text!r} uses plain http: the staff key would travel unencrypted; "
            "use https:// (plain http is allowed only to this computer: localhost, 127.0.0.1, ::1)",
        )
    return text
