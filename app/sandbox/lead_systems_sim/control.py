"""A small client for the lead-systems simulator's `/_sim` plane, for code that only
has its URL (the demo, tests of a simulator run as a process)."""

from __future__ import annotations

from typing import Any

import httpx


class LeadSimControlError(RuntimeError):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status, self.reason, self.message = status, reason, message


class LeadSimControl:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self._http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LeadSimControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, "/_sim" + path, json=body)
        if response.status_code >= 400:
            data = response.json() if response.content else {}
            raise LeadSimControlError(
                response.status_code, str(data.get("reason", "error")), str(data.get("message", ""))
            )
        return response.json()

    def set_faults(self, faults: dict[str, Any]) -> None:
        self._call("POST", "/faults", faults)

    def clear_faults(self) -> None:
        self._call("POST", "/faults", {})

    def reset(self) -> None:
        self._call("POST", "/reset")

    def received(self, system: str) -> list[dict[str, Any]]:
        requests: list[dict[str, Any]] = self._call("GET", f"/received/{system}")["requests"]
        return requests

    def put_nexus_retailer(self, retailer: dict[str, Any]) -> None:
        self._call("POST", "/nexus/retailers", retailer)

    def put_nexus_store(self, store: dict[str, Any]) -> None:
        self._call("POST", "/nexus/stores", store)

    def add_botpress_row(self, row: dict[str, Any]) -> None:
        self._call("POST", "/botpress/rows", row)

    def set_rlm_mappings(self, mappings: list[dict[str, Any]]) -> None:
        self._call("POST", "/rlm/mappings", mappings)

    def rlm_leads(self) -> list[dict[str, Any]]:
        leads: list[dict[str, Any]] = self._call("GET", "/rlm/leads")["leads"]
        return leads

    def dhq_inquiries(self) -> list[dict[str, Any]]:
        inquiries: list[dict[str, Any]] = self._call("GET", "/dhq/inquiries")["inquiries"]
        return inquiries

    def acton_records(self) -> dict[str, list[dict[str, Any]]]:
        records: dict[str, list[dict[str, Any]]] = self._call("GET", "/acton/records")["records"]
        return records

    def floorforce_posts(self) -> list[dict[str, str]]:
        posts: list[dict[str, str]] = self._call("GET", "/floorforce/posts")["posts"]
        return posts
