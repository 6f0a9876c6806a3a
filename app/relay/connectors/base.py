"""What every connector shares: its state in the lead item and the error that ends
a pass in ERROR with the original's `ErrorInfo`.

A connector's state is `Integrations.<Name>` = `{SyncStatus, Data?, LastSynced?,
ErrorInfo?}` with `ErrorInfo = {Message, Details?, ErrorDate}`, exactly as the
original stored it; the runner (`app.relay.leads`) records it after each pass.
"""

from __future__ import annotations

from typing import Any

from app.relay.connectors.records import Item, now_iso

#: the original's message for an exception a connector did not expect
SYNC_FAILED = "An error occurred during sync"


def kept() -> dict[str, Any]:
    """What a connector returns as its `Data` when it recorded `Data` itself, step
    by step (`progress.settle`): nothing for the runner to merge over it, so a pass
    holding an older copy can never take back what another one recorded."""
    return {}


CLOSE_FAILED = "An error occurred during close"


class IntegrationError(Exception):
    """End this pass with `SyncStatus: ERROR` and this `ErrorInfo`.

    `data`: `Data` to record with the error (connectors that record their `Data`
    step by step leave it None: what they recorded stays).
    `transient`: the far side was unreachable or busy; the runner tries the lead
    again later (bounded), otherwise it waits for the next sync (a message, a
    close, "Sync now").
    """

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.data = data
        self.transient = transient

    def error_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"Message": self.message}
        if self.details:
            info["Details"] = self.details
        info["ErrorDate"] = now_iso()
        return info


def integration_state(lead: Item, name: str) -> dict[str, Any]:
    return dict((lead.get("Integrations") or {}).get(name) or {})


def integration_data(lead: Item, name: str) -> dict[str, Any]:
    return dict(integration_state(lead, name).get("Data") or {})


def lead_type(lead: Item) -> str:
    return str(lead.get("LeadType") or "WEB2TEXT").upper()


def twilio_data(lead: Item) -> dict[str, Any]:
    return integration_data(lead, "Twilio")
