"""RLM (WEB2TEXT, third): the lead and its SMS transcript as notes in the
retailer's Retail Lead Management (connectors.md §3).

`Data = {LeadId, LeadUUID, LocationName, SyncedMessageIds, SentBotpressSummary}`.
The create is sent once (`once.post_once`); RLM cannot be asked whether a lead or
note arrived, so one whose answer was lost is settled *unconfirmed* and never sent
again by itself (an unconfirmed create leaves RLM in ERROR until an operator runs
`admin connector-resend`). Closing flushes the notes not sent yet.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from app.relay.connectors.base import (
    SYNC_FAILED,
    IntegrationError,
    integration_data,
)
from app.relay.connectors.http import CallFailed, ConnectorHttp, Outcome, join_url
from app.relay.connectors.notes import TranscriptIntegration, transient
from app.relay.connectors.once import Unconfirmed, post_once
from app.relay.connectors.records import Item, now_iso
from app.relay.connectors.settings import RlmSettings
from app.relay.connectors.transcript import TranscriptMessage, summary_topics

if TYPE_CHECKING:
    from app.relay.context import RelayContext

log = logging.getLogger("app.relay.connectors")

NAME = "RLM"
DEFAULT_LOCATION = "Per Pipeline configuration"
MAPPING_TTL_S = 3600.0
SEPARATOR = "--------------------"
UNCONFIRMED = (
    "the create's answer was lost (timeout or restart) and RLM cannot be asked: "
    "not sent again (check RLM, then `web2text-relay admin connector-resend`)"
)


class RlmClient:
    def __init__(self, settings: RlmSettings, http: ConnectorHttp) -> None:
        self.settings = settings
        self.http = http
        self._lock = threading.Lock()
        self._mappings: tuple[float, list[dict[str, Any]]] | None = None

    def location_mappings(self) -> list[dict[str, Any]]:
        """DHQ store → RLM location, kept an hour (a read: retried in place)."""
        s = self.settings
        with self._lock:
            if self._mappings and self._mappings[0] > time.monotonic():
                return self._mappings[1]
        if not s.god_api_key:
            return []
        response = self.http.call(
            "rlm.location_mappings",
            "GET",
            join_url(s.api_url, "api/v1/dhq_store_rlm_location_mappings.json"),
            idempotent=True,
            headers={"X-Api-Key": s.god_api_key, "X-User-Email": s.god_email},
        )
        body = response.json()
        mappings = [m for m in body if isinstance(m, dict)] if isinstance(body, list) else []
        with self._lock:
            self._mappings = (time.monotonic() + MAPPING_TTL_S, mappings)
        return mappings

    def create_lead(self, api_key: str, lead: dict[str, str]) -> Any:
        url = join_url(self.settings.api_url, f"api/{api_key}/leads")
        return self.http.call(
            "rlm.create_lead", "POST", url, idempotent=False, json={"lead": lead}
        ).json()

    def add_note(self, note: dict[str, str]) -> Any:
        url = join_url(self.settings.api_url, "api/note_from_sms")
        return self.http.call("rlm.add_note", "POST", url, idempotent=False, json=note).json()


def lead_note(lead: Item) -> str:
    """The lead's details as RLM's first note (the original's layout, without the
    indentation its template literal leaked into every line)."""
    info = lead.get("Lead") or {}
    submitted = datetime.fromisoformat(str(lead.get("DateSubmitted")).replace("Z", "+00:00"))
    lines = [
        SEPARATOR,
        "Web2Text Lead Information",
        SEPARATOR,
        f"PageUrl: {info.get('PageUrl', '')}",
        f"Customer Name: {info.get('Name', '')}",
        f"Customer Phone: {info.get('PhoneNumber', '')}",
        f"Date Submitted: {format_datetime(submitted, usegmt=True)}",
        f"Preferred Method of Contact: {info.get('PreferredMethodOfContact', 'text')}",
    ]
    product = info.get("AssociatedProductInfo") or {}
    if product:
        lines.append(
            f"Customer was looking at {product.get('Product')} by {product.get('Brand')}"
            f" | {product.get('Variant')}"
        )
    lines += [SEPARATOR, "Customer Message:", "", str(info.get("CustomerMessage", ""))]
    return "\n".join(lines)


def lead_body(lead: Item, location_name: str) -> dict[str, str]:
    """The create body's `lead`: exactly the original's keys (`divison_name` sic)."""
    info = lead.get("Lead") or {}
    first, *rest = str(info.get("Name", "")).split() or [""]
    phone = str(info.get("PhoneNumber", ""))
    return {
        "location_name": location_name,
        "divison_name": DEFAULT_LOCATION,
        "source_name": "Web2Text",
        "first_name": first,
        "last_name": " ".join(rest),
        "phone": phone,
        "mobile_phone": phone,
        "website": urlparse(str(info.get("PageUrl", ""))).hostname or "",
        "note": lead_note(lead),
    }


def succeeded(answer: Any) -> bool:
    return isinstance(answer, dict) and answer.get("result") == "Success"


class RlmIntegration(TranscriptIntegration[RlmClient]):
    name = NAME
    remote_key = "LeadUUID"

    # ---- the note target (notes.flush) ----

    def accepted(self, answer: Any) -> bool:
        return succeeded(answer)

    def note_error(self, sid: str) -> str:
        return f"Error with RLM note endpoint syncing message '{sid}'"

    def send_note(self, lead: Item, data: dict[str, Any], note: TranscriptMessage) -> Any:
        return self.client.add_note(
            {
                "lead_uuid": str(data.get("LeadUUID", "")),
                "sender_phone": note.sender_phone,
                "sender_name": note.sender_name,
                "message": f"\n\n{note.text()}\n",
                "date": note.created_at,
            }
        )

    def send_summary(self, lead: Item, data: dict[str, Any], row: dict[str, Any]) -> Any:
        message = f"Fibi Chatbot:\n**Topics:** {summary_topics(row)}\n{row.get('summary', '')}"
        return self.client.add_note(
            {
                "lead_uuid": str(data.get("LeadUUID", "")),
                "sender_phone": "+10000000",
                "sender_name": "Dealer",
                "message": message,
                "date": now_iso(),
            }
        )

    def _create_remote(self, ctx: RelayContext, lead: Item) -> None:
        api_key = self._api_key(ctx, lead)
        if not api_key:
            raise IntegrationError("RLM API Key is missing")
        location = self._location_name(ctx, lead)
        body = lead_body(lead, location or DEFAULT_LOCATION)

        def record(answer: Any) -> Any:
            if not succeeded(answer) or not answer.get("lead_uuid"):
                return None
            return lambda data: {
                **data,
                "LeadId": answer.get("lead_id"),
                "LeadUUID": str(answer["lead_uuid"]),
                "LocationName": location or DEFAULT_LOCATION,
                "SyncedMessageIds": list(data.get("SyncedMessageIds") or []),
                "SentBotpressSummary": bool(data.get("SentBotpressSummary", False)),
            }

        try:
            answer = post_once(
                ctx,
                str(lead["LeadId"]),
                NAME,
                "create",
                "rlm_create",
                lambda: self.client.create_lead(api_key, body),
                record=record,
                on_unconfirmed=lambda key: None,
                done=lambda item: bool(integration_data(item, NAME).get("LeadUUID")),
            )
        except Unconfirmed:
            raise _create_error({"result": "Error", "Error": UNCONFIRMED}, False) from None
        except CallFailed as exc:
            error = UNCONFIRMED if exc.outcome is Outcome.UNKNOWN else exc.details()
            retry = exc.transient and exc.outcome is Outcome.NOT_APPLIED
            raise _create_error({"result": "Error", "Error": error}, retry) from None
        if answer is None:
            return  # created meanwhile by another holder of the lead
        if not succeeded(answer) or not answer.get("lead_uuid"):
            raise _create_error(answer, False)

    def _api_key(self, ctx: RelayContext, lead: Item) -> str | None:
        try:
            key = self.connectors.rlm_api_key(ctx.tables, str(lead.get("UniversalRetailerId")))
        except CallFailed as exc:
            raise IntegrationError(
                SYNC_FAILED, details={"Nexus": exc.details()}, transient=transient(exc)
            ) from None
        return key

    def _location_name(self, ctx: RelayContext, lead: Item) -> str | None:
        """The RLM location mapped to the lead's DHQ store; None (RLM's default)
        when anything is missing or failing, as the original."""
        try:
            store = self.connectors.store(
                ctx.tables, str((lead.get("Lead") or {}).get("LocationId"))
            )
            universal = (store or {}).get("universal_id")
            if not universal:
                return None
            for mapping in self.client.location_mappings():
                if mapping.get("dhq_store_id") == universal and mapping.get("location_name"):
                    return str(mapping["location_name"])
        except CallFailed:
            log.warning("RLM location mapping unavailable", extra={"lead": lead.get("LeadId")})
        return None


def _create_error(response: Any, retry: bool) -> IntegrationError:
    return IntegrationError(
        "Error with RLM lead endpoint", details={"response": response}, transient=retry
    )
