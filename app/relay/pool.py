"""The proxy-number pool: which pool number a participant talks to.

Candidates are the pool ordered by area-code proximity to the participant's
address (`app.core.proxy.proxy_candidates`) minus the numbers already bound to
that address. A binding is an item `Pk=BIND#<address>, Sk=<proxy>` holding the
conversation sid, created with a conditional put: two leads racing for the same
number cannot both get it (the loser moves on to the next candidate). If Twilio
still answers 50416 (bound in a conversation the table does not know), the
claim is dropped and the next candidate tried; the code is kept for the error.

The pool members are loaded before the relay serves and refreshed periodically.
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
from app.relay.store import now_iso

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
    def __init__(self, tables: Any) -> None:
        self.tables = tables
        self._numbers: list[str] = []
        self._lock = threading.Lock()

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
        self, address: str, conversation_sid: str, attach: Callable[[str], T]
    ) -> tuple[str, T]:
        """Bind `address` to a pool number for `conversation_sid` and `attach` it.

        `attach(proxy)` adds the Twilio participant; it raises `BindingTaken` on
        50416. A binding this conversation already holds (a resumed step) is
        reused first.
        """
        if not self._numbers:
            self.refresh()
        existing = self.bindings(address)
        mine = [b["Sk"] for b in existing if b.get("ConversationSid") == conversation_sid]
        bound = {str(b["Sk"]) for b in existing}
        order = [str(p) for p in mine] + proxy_candidates(address, self.numbers, bound)
        codes: list[int] = []
        for proxy in order:
            if not self.claim(address, proxy, conversation_sid):
                continue  # another lead took it a moment ago
            try:
                return proxy, attach(proxy)
            except BindingTaken as exc:
                codes.append(exc.code)
                log.info("proxy candidate already bound at Twilio", extra={"code": exc.code})
                self.release(address, proxy, conversation_sid)
            except Exception:
                self.release(address, proxy, conversation_sid)
                raise
        from app.relay.logs import mask_phone

        raise PoolExhausted(mask_phone(address), codes)
