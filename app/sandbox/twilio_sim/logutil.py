"""Phone masking for logs: the project's `app.core.phones.mask_phone` when present."""

from __future__ import annotations

from collections.abc import Callable

_mask: Callable[[str], str] | None
try:  # app.core.phones is written in parallel by another engineer
    from app.core.phones import mask_phone as _core_mask

    _mask = _core_mask
except ImportError:  # pragma: no cover - depends on the other module landing
    _mask = None


def mask(phone: str | None) -> str:
    if not phone:
        return "-"
    if _mask is not None:
        try:
            return _mask(phone)
        except Exception:  # a malformed number must still be masked, never logged in full
            pass
    return phone[:3] + "*" * max(len(phone) - 5, 0) + phone[-2:] if len(phone) > 5 else "***"
