"""The lead and message repositories the connectors use (one import site, so the
connectors follow wherever the relay keeps them)."""

from __future__ import annotations

from app.relay.store import (
    Item,
    NotFound,
    Updates,
    get_conversation,
    get_lead,
    now_iso,
    update_lead,
)

__all__ = ["Item", "NotFound", "Updates", "get_conversation", "get_lead", "now_iso", "update_lead"]
