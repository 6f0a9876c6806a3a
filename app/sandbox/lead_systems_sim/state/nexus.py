"""Nexus: retailers (+ subscriptions) on the Basic-auth API, stores on the AWS API,
and the Cognito client-credentials tokens that API takes."""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any


class NexusData:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.retailers: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, list[dict[str, Any]]] = {}
        self.stores: dict[str, dict[str, Any]] = {}

    def put_retailer(self, retailer: dict[str, Any]) -> dict[str, Any]:
        retailer_id = str(retailer["id"])
        with self._lock:
            self.retailers[retailer_id] = {
                "id": retailer_id,
                "name": retailer.get("name", "Retailer"),
                "status": retailer.get("status", "Customer"),
                **{k: v for k, v in retailer.items() if k not in ("subscriptions",)},
            }
            if "subscriptions" in retailer:
                self.subscriptions[retailer_id] = list(retailer["subscriptions"])
            return dict(self.retailers[retailer_id])

    def put_store(self, store: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.stores[str(store["location_id"])] = dict(store)
            return dict(store)

    def retailer(self, retailer_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.retailers.get(retailer_id)
            return dict(found) if found else None

    def subscriptions_of(self, retailer_id: str) -> list[dict[str, Any]] | None:
        with self._lock:
            if retailer_id not in self.retailers:
                return None
            return [dict(s) for s in self.subscriptions.get(retailer_id, [])]

    def store(self, location_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.stores.get(location_id)
            return dict(found) if found else None

    def stores_of(self, retailer_id: str) -> list[dict[str, Any]] | None:
        with self._lock:
            if retailer_id not in self.retailers:
                return None
            return [dict(s) for s in self.stores.values() if s.get("retailer_id") == retailer_id]

    def clear(self) -> None:
        with self._lock:
            self.retailers.clear()
            self.subscriptions.clear()
            self.stores.clear()


class CognitoTokens:
    """Access tokens with an expiry; `revoke_all` makes every issued one fail (401)."""

    def __init__(self, ttl_s: int) -> None:
        self._lock = threading.Lock()
        self.ttl_s = ttl_s
        self._tokens: dict[str, float] = {}
        self.issued = 0

    def issue(self) -> tuple[str, int]:
        token = "cog-" + secrets.token_urlsafe(16)
        with self._lock:
            self._tokens[token] = time.time() + self.ttl_s
            self.issued += 1
            return token, self.ttl_s

    def valid(self, token: str) -> bool:
        with self._lock:
            expires = self._tokens.get(token)
            return expires is not None and expires > time.time()

    def revoke_all(self) -> None:
        with self._lock:
            self._tokens.clear()

    def set_ttl(self, ttl_s: int) -> None:
        with self._lock:
            self.ttl_s = ttl_s

    def clear(self, ttl_s: int) -> None:
        with self._lock:
            self._tokens.clear()
            self.issued = 0
            self.ttl_s = ttl_s
