"""The proxy-number pool: which pool number a participant talks to.

Candidates are the pool ordered by area-code proximity to the participant's
address (`app.core.proxy.proxy_candidates`) minus the numbers already bound to
that address. A binding is an item `Pk=BIND#<address>, Sk=<proxy>` holding the
conversation sid, created with a conditional put: two leads racing for the same
number cannot both get it (the loser moves on to the next candidate). If Twilio
still answers 50416 (bound in a conversation the table does not know), the
claim is dropped and the next candidate tried; the code is kept for the error.

The pool members are loaded before the relay serves and refreshed periodically.

Health: `allocate(..., limit=N)` lets an address use only its N nearest pool
numbers, so a store (whose Web2Text number takes one proxy per open
conversation) holds at most N open conversations however many leads arrive
(`W2T_MAX_OPEN_CONVERSATIONS`); the conditional bindings make the cap exact
across instances. An allocation that leaves fewer than `low_water` free numbers
for its address logs a "proxy pool low" warning and counts `low_events`; an
exhausted one logs "proxy pool exhausted" and counts `exhausted_events` (both
exported by /metrics). The caller makes an exhausted lead wait and retry.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from app.core.proxy import proxy_candidates
from app.relay import directory
from app.relay.ddb import is_conditional_failure
from app.relay.versioned import now_iso

log = logging.getLogger("app.relay.pool")
T = TypeVar("T")


class PoolExhausted(Exception):
    def __init__(self, address_masked: str, codes: list[int]) -> None:
        super().__init__(f"no proxy number available for {address_masked} (codes {codes})")
        self.codes = codes


class BindingTaken(Exception):
    """Raised by an `attach` callback when Twilio reports 50416 for the candidate."""

    def __init__(self, code: int = 50416) -> None:
        super().__init__(f"binding exists ({code})")
        self.code = code


def _bind_pk(address: str) -> str:
    return f"BIND#{address}"


class ProxyPool:
    def __init__(self, tables: Any, *, low_water: int = 5) -> None:
        self.tables = tables
        self.low_water = low_water
        self._numbers: list[str] = []
        self._lock = threading.Lock()
        # health, read by /metrics (app.relay.metrics)
        self.low_events = 0
        self.exhausted_events = 0
        self.last_free: int | None = None

    @property
    def numbers(self) -> list[str]:
        with self._lock:
            return list(self._numbers)

    def refresh(self) -> list[str]:
        numbers = directory.pool_numbers(self.tables)
        with self._lock:
            self._numbers = numbers
        return numbers

    def bindings(self, address: str) -> list[dict[str, Any]]:
        resp = self.tables.pool.query(
            KeyConditionExpression=Key("Pk").eq(_bind_pk(address)), ConsistentRead=True
        )
        return [dict(i) for i in resp.get("Items", [])]

    def claim(self, address: str, proxy: str, conversation_sid: str) -> bool:
        try:
            self.tables.pool.put_item(
                Item={
                    "Pk": _bind_pk(address),
                    "Sk": proxy,
                    "ConversationSid": conversation_sid,
                    "BoundAt": now_iso(),
                },
                ConditionExpression="attribute_not_exists(Pk) OR ConversationSid = :sid",
                ExpressionAttributeValues={":sid": conversation_sid},
            )
            return True
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise

    def release(self, address: str, proxy: str, conversation_sid: str) -> None:
        try:
            self.tables.pool.delete_item(
                Key={"Pk": _bind_pk(address), "Sk": proxy},
                ConditionExpression="ConversationSid = :sid",
                ExpressionAttributeValues={":sid": conversation_sid},
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise

    def allocate(
        self,
        address: str,
        conversation_sid: str,
        attach: Callable[[str], T],
        *,
        limit: int | None = None,
        prefer: str | None = None,
    ) -> tuple[str, T]:
        """Bind `address` to a pool number for `conversation_sid` and `attach` it.

        `attach(proxy)` adds the Twilio participant; it raises `BindingTaken` on
        50416. A binding this conversation already holds (a resumed step) is
        reused first, then `prefer` (the number a customer texted) when it is free.
        `limit`: only the address's `limit` nearest pool numbers may be bound to
        it (its open conversations are capped at `limit`).
        """
        if not self._numbers:
            self.refresh()
        existing = self.bindings(address)
        mine = [str(b["Sk"]) for b in existing if b.get("ConversationSid") == conversation_sid]
        bound = {str(b["Sk"]) for b in existing}
        allowed = proxy_candidates(address, self.numbers)
        if limit is not None and limit > 0:
            allowed = allowed[:limit]
        free = [p for p in allowed if p not in bound]
        if prefer is not None and prefer in free:
            free = [prefer, *(p for p in free if p != prefer)]
        order = mine + free
        codes: list[int] = []
        for proxy in order:
            if not self.claim(address, proxy, conversation_sid):
                continue  # another lead took it a moment ago
            try:
                attached = attach(proxy)
            except BindingTaken as exc:
                codes.append(exc.code)
                log.info("proxy candidate already bound at Twilio", extra={"code": exc.code})
                self.release(address, proxy, conversation_sid)
                continue
            except Exception:
                self.release(address, proxy, conversation_sid)
                raise
            self._note_free(address, len([p for p in allowed if p not in bound]) - 1)
            return proxy, attached
        from app.relay.logs import mask_phone

        with self._lock:
            self.exhausted_events += 1
            self.last_free = 0
        log.warning(
            "proxy pool exhausted",
            extra={"address": mask_phone(address), "limit": limit, "pool": len(self._numbers)},
        )
        raise PoolExhausted(mask_phone(address), codes)

    def _note_free(self, address: str, free: int) -> None:
        """After a binding: the numbers still free for `address` (alert when low)."""
        free = max(free, 0)
        with self._lock:
            self.last_free = free
            low = free < self.low_water
            if low:
                self.low_events += 1
        if low:
            from app.relay.logs import mask_phone

            log.warning(
                "proxy pool low",
                extra={"address": mask_phone(address), "free": free, "pool": len(self._numbers)},
            )
