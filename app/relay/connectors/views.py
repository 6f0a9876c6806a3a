"""A lead's integrations as staff see them (`LeadView.integrations`): enough for the
desktop to say "RLM ✓ 2 min ago" or "DHQ: retrying — 503"."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.relay.connectors.fields import PROGRESS_ATTR

ORDER = ("Twilio", "Botpress", "RLM", "DHQ", "ActOn", "FloorForce")


def _detail(info: dict[str, Any]) -> str | None:
    """The far side's answer in a word: an HTTP status, "timeout", a Twilio code."""
    details = info.get("Details")
    if isinstance(details, dict):
        for key in ("response", "Response", "Nexus"):
            answer = details.get(key)
            if isinstance(answer, dict):
                for field in ("Status", "Error"):
                    value = answer.get(field)
                    if isinstance(value, Decimal | int):  # DynamoDB's numbers
                        return str(int(value))
                    if isinstance(value, str) and len(value) <= 24:
                        return value
    code = info.get("Code")
    return str(code) if code is not None else None


def _progress(item: dict[str, Any], name: str) -> dict[str, Any]:
    return dict((item.get(PROGRESS_ATTR) or {}).get(name) or {})


def integration_views(item: dict[str, Any]) -> list[dict[str, Any]]:
    """`IntegrationView` JSON (camelCase) of each integration of a lead item."""
    states = item.get("Integrations") or {}
    names = sorted(states, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    pending = item.get("PendingShard") == "P"
    out = []
    for name in names:
        state = states.get(name) or {}
        status = str(state.get("SyncStatus") or "NOT SYNCED")
        info = state.get("ErrorInfo") if status == "ERROR" else None
        info = info if isinstance(info, dict) else {}
        out.append(
            {
                "name": name,
                "status": status,
                "lastSynced": state.get("LastSynced") or None,
                "error": str(info["Message"])[:300] if info.get("Message") else None,
                "errorAt": info.get("ErrorDate") or info.get("At") or None,
                "detail": _detail(info) if info else None,
                "retrying": bool(info) and pending,
                "unconfirmed": len(_progress(item, name).get("Unconfirmed") or []),
            }
        )
    return out
