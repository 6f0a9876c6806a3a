"""Limits of the staff API, shared by every relay instance (`app.relay.ratelimit`).

- **Sends**: a staff member sends at most `W2T_STAFF_SEND_RATE` texts a minute
  and one conversation gets at most `W2T_CONVERSATION_SEND_RATE` (429
  `rate_limited` with `Retry-After`; the desktop's outbox waits and retries
  with the same Idempotency-Key).
- **Streams**: one staff key holds at most `W2T_STREAMS_PER_KEY` open
  `/v1/stream` connections (429 `too_many_streams`). Each holds a slot for
  `STREAM_HOLD_S`, renewed while it is open and released when it ends, so a
  crashed instance's streams free their slots once the hold runs out.
- **Revocation**: an open stream re-checks its key every `REVOCATION_CHECK_S`
  through the key cache (at most `W2T_KEY_CACHE_TTL` old): a revoked key's
  streams end within 5 s on every instance.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio
from starlette.concurrency import run_in_threadpool

from app.relay.auth import Principal, cached_lookup_key, key_cache_ttl
from app.relay.ratelimit import Limits, Refusal, Slot

if TYPE_CHECKING:
    from app.relay.context import RelayContext

log = logging.getLogger("app.relay.staff_limits")

STREAM_HOLD_S = 30.0
STREAM_RENEW_S = 10.0
REVOCATION_CHECK_S = 1.0


def check_send_rate(ctx: RelayContext, staff: Principal, conversation_sid: str) -> None:
    """Count one staff send; 429 `rate_limited` past either limit."""
    limits = ctx.limits
    if limits is None:
        return
    s = ctx.settings
    checks = (
        (f"send-conv:{conversation_sid}", s.conversation_send_rate_per_min, "this conversation"),
        (f"send-staff:{staff.retailer_id}:{staff.staff_id}", s.staff_send_rate_per_min, "you"),
    )
    for scope, rate, who in checks:
        refusal = limits.hit(scope, rate, 60.0)
        if refusal is not None:
            raise refusal.error(
                "rate_limited", f"Too many texts from {who}: at most {rate} a minute"
            )


def open_stream_slot(ctx: RelayContext, staff: Principal) -> Slot | None:
    """A stream slot of the staff key, or 429 `too_many_streams`."""
    if ctx.limits is None:
        return None
    count = ctx.settings.streams_per_key
    limits: Limits = ctx.limits
    taken = limits.take_slot(f"streams:{staff.key_ref}", count, STREAM_HOLD_S)
    if isinstance(taken, Refusal):
        raise taken.error(
            "too_many_streams", f"This key already has {count} open streams; close one first"
        )
    return taken


class StreamGuard:
    """What an open stream checks between its polls: its key still works (revocation)
    and its slot is still its own (renewed as it goes)."""

    def __init__(
        self, ctx: RelayContext, presented: str, slot: Slot | None, check_every: float
    ) -> None:
        self.ctx = ctx
        self.presented = presented
        self.slot = slot
        self.check_every = check_every
        now = anyio.current_time()
        self._checked = now
        self._renewed = now

    async def allowed(self) -> bool:
        """False when the stream must end (key revoked, slot lost)."""
        now = anyio.current_time()
        if now - self._checked >= self.check_every:
            self._checked = now
            if not await self._key_valid():
                log.info("stream closed: key revoked")
                return False
        if self.slot is not None and now - self._renewed >= STREAM_RENEW_S:
            self._renewed = now
            if not await self._renew():
                log.info("stream closed: its slot was lost")
                return False
        return True

    async def _key_valid(self) -> bool:
        ttl = key_cache_ttl(self.ctx.settings)
        try:
            item: Any = await run_in_threadpool(
                cached_lookup_key, self.ctx.caches.keys, self.ctx.tables, self.presented, ttl
            )
        except Exception:  # DynamoDB hiccup: keep the stream, check again later
            return True
        return item is not None

    async def _renew(self) -> bool:
        assert self.slot is not None and self.ctx.limits is not None
        try:
            return bool(
                await run_in_threadpool(self.ctx.limits.renew_slot, self.slot, STREAM_HOLD_S)
            )
        except Exception:
            return True

    async def close(self) -> None:
        """Free the slot (shielded: the stream is usually being cancelled)."""
        if self.slot is None or self.ctx.limits is None:
            return
        with anyio.CancelScope(shield=True):
            try:
                await run_in_threadpool(self.ctx.limits.release_slot, self.slot)
            except Exception:
                log.warning("stream slot not released (it runs out by itself)")
