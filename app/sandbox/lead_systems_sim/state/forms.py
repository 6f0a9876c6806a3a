"""Botpress (chatbot summaries), Act-On (list records behind an OAuth password
grant) and FloorForce (form posts)."""

from __future__ import annotations

import secrets
import threading
from typing import Any


class BotpressData:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rows: dict[str, list[dict[str, Any]]] = {}  # by table

    def add_row(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            rows = self.rows.setdefault(table, [])
            stored = {"id": len(rows) + 1, **row}
            rows.append(stored)
            return dict(stored)

    def find(self, table: str, flt: dict[str, Any]) -> list[dict[str, Any]]:
        """Rows matching every `{column: {"$eq": value}}` of `flt`."""
        with self._lock:
            rows = list(self.rows.get(table, []))
        out = []
        for row in rows:
            if all(_matches(row.get(col), cond) for col, cond in flt.items()):
                out.append(dict(row))
        return out

    def clear(self) -> None:
        with self._lock:
            self.rows.clear()


def _matches(value: Any, cond: Any) -> bool:
    if isinstance(cond, dict) and "$eq" in cond:
        return bool(value == cond["$eq"])
    return bool(value == cond)


class ActOnData:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tokens: set[str] = set()
        self.tokens_issued = 0
        self.records: dict[str, list[dict[str, Any]]] = {}  # by list id

    def issue_token(self) -> str:
        token = "acton-" + secrets.token_urlsafe(12)
        with self._lock:
            self.tokens.add(token)
            self.tokens_issued += 1
        return token

    def token_ok(self, token: str) -> bool:
        with self._lock:
            return token in self.tokens

    def add_record(self, list_id: str, record: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            records = self.records.setdefault(list_id, [])
            records.append(dict(record))
            n = len(records)
        return {
            "status": "success",
            "message": "Record added",
            "id": f"{list_id}:{n}",
            "contact_id": f"{list_id}:{n}",
        }

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            return {k: [dict(r) for r in v] for k, v in self.records.items()}

    def clear(self) -> None:
        with self._lock:
            self.tokens.clear()
            self.tokens_issued = 0
            self.records.clear()


class FloorForceData:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.posts: list[dict[str, str]] = []

    def add(self, form: dict[str, str]) -> None:
        with self._lock:
            self.posts.append(dict(form))

    def snapshot(self) -> list[dict[str, str]]:
        with self._lock:
            return [dict(p) for p in self.posts]

    def clear(self) -> None:
        with self._lock:
            self.posts.clear()
