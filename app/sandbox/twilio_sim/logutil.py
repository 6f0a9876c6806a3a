"""Phone masking for logs (the project's `app.core.phones.mask_phone`)."""

from __future__ import annotations

from app.core.phones import mask_phone


def mask(phone: str | None) -> str:
    return mask_phone(phone) if phone else "-"
