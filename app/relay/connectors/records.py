"""The lead and message repositories the connectors use (one import site, so the
connectors follow wherever the relay keeps them)."""

from __future__ import annotations

from app.relay.conversation_store import get_conversation
from app.relay.lead_store import get_lead, update_lead
from app.relay.versioned import Item, NotFound, Updates, now_iso

__all__ = ["Item", "NotFound", "Updates", "get_conversation", "get_lead", "now_iso", "update_lead"]
