"""RLM (leads + SMS notes, location mappings) and DealerHQ (store inquiries +
comments): what the relay created there, inspectable by tests and the demo."""

from __future__ import annotations

import itertools
import threading
import uuid
from typing import Any


class RlmData:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1001)
        self.mappings: list[dict[str, Any]] = []
        self.leads: dict[str, dict[str, Any]] = {}  # by lead_uuid
        #: API keys RLM knows (retailer keys); empty: any non-empty key works
        self.api_keys: set[str] = set()

    def key_ok(self, api_key: str) -> bool:
        with self._lock:
            return bool(api_key) and (not self.api_keys or api_key in self.api_keys)

    def create_lead(self, api_key: str, lead: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            lead_id = next(self._ids)
            lead_uuid = str(uuid.uuid4())
            self.leads[lead_uuid] = {
                "lead_id": lead_id,
                "lead_uuid": lead_uuid,
                "api_key": api_key,
                "lead": dict(lead),
                "notes": [],
            }
            return {"result": "Success", "lead_id": lead_id, "lead_uuid": lead_uuid}

    def add_note(self, note: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            lead = self.leads.get(str(note.get("lead_uuid")))
            if lead is None:
                return {"result": "Error", "messages": "Lead not found"}
            lead["notes"].append(dict(note))
            return {"result": "Success", "lead_id": lead["lead_id"]}

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {**lead, "lead": dict(lead["lead"]), "notes": [dict(n) for n in lead["notes"]]}
                for lead in self.leads.values()
            ]

    def clear(self) -> None:
        with self._lock:
            self.mappings.clear()
            self.leads.clear()
            self.api_keys.clear()


class DhqData:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.inquiries: list[dict[str, Any]] = []

    def submit(self, retailer_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """A new inquiry and lead (like the real one, nothing says DHQ dedupes)."""
        inquiry = body.get("inquiry") or {}
        with self._lock:
            entry = {
                "id": str(uuid.uuid4()),
                "lead_id": str(uuid.uuid4()),
                "retailer_id": retailer_id,
                "external_id": str(inquiry.get("external_id", "")),
                "body": dict(body),
                "comments": [],
            }
            self.inquiries.append(entry)
        return {
            "status": "success",
            "data": {
                "store_inquiry": {
                    "id": entry["id"],
                    "external_id": entry["external_id"],
                    "name": inquiry.get("name", ""),
                    "email": inquiry.get("email", ""),
                    "message": inquiry.get("message", ""),
                    "phone_number": inquiry.get("phone_number", ""),
                    "store_address": body.get("store_address"),
                },
                "lead": {"id": entry["lead_id"], "page_url": inquiry.get("page_url", "")},
            },
        }

    def find(self, retailer_id: str, external_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {"id": i["id"], "external_id": i["external_id"], "lead_id": i["lead_id"]}
                for i in self.inquiries
                if i["retailer_id"] == retailer_id and i["external_id"] == external_id
            ]

    def comment(self, lead_id: str, comment: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            for inquiry in self.inquiries:
                if inquiry["lead_id"] == lead_id:
                    entry = {"id": str(uuid.uuid4()), "lead_id": lead_id, **comment}
                    inquiry["comments"].append(entry)
                    return entry
        return None

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{**i, "comments": [dict(c) for c in i["comments"]]} for i in self.inquiries]

    def clear(self) -> None:
        with self._lock:
            self.inquiries.clear()
